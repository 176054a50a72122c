"""Benchmark: `csrebind candidates` (every result of the project that fits one slot, measured and
ranked) on a generated project, whole processes, with a simulated latency per job.json read.

    python tests/bench_candidates.py [--jobs 5000] [--schema v5] [--latencies 0,1,5] [--repeat 3]
                                     [--dir /tmp/scale-bench]

The slot is the first bound slot of the project's last job that has one (printed). Each run is a fresh
``python -c`` that wraps ``tui.core.jobread.read_job_file`` (the one function that opens a
job.json) with ``time.sleep(latency)`` and runs ``tui.cli.main(["candidates", …, "--json"])`` with
stdout to /dev/null; so start-up and imports count. Measured in the same run, per latency:

csrebind     the command as it is (documents read ahead by the pool's threads when reads are slow)
sequential   the same with ``jobread.reading_ahead`` replaced by a plain pass (every document read
             when its outputs are parsed, one after another: how the search read before)

Medians of ``--repeat`` runs (the sequential one with 5 ms per read takes ~30 s at 5,000 jobs, so
it runs once); ratios to the sequential run. No target: figures for the README's Speed table.
``--dir``: projects are kept and reused there (``DIR/<schema>-<jobs>``, the names bench_scale uses).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from projectgen import generate_project  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

CHILD = """
import sys, time
from tui.core import jobread, candidates
latency = {latency!r} / 1000
original = jobread.read_job_file
def slow(path):
    time.sleep(latency)
    return original(path)
jobread.read_job_file = slow
if {sequential!r}:
    candidates.reading_ahead = lambda jobs: iter(list(jobs))
import tui.cli
with open("/dev/null", "w") as sink:
    sys.stdout = sink
    code = tui.cli.main(["candidates", {project!r}, {job!r}, {slot!r}, "--json"])
sys.exit(code)
"""


def first_bound_slot(project: Path) -> tuple[str, str]:
    """The last job with a bound slot (job uid, INPUT.N.SLOT): a slot with many candidates."""
    from tui.core.project import load_project

    loaded = load_project(project)
    for job in reversed(loaded.jobs.values()):
        if job.broken:
            continue
        for group in job.inputs:
            for index, connection in enumerate(group.connections):
                for binding in connection.slot_bindings:
                    return job.uid, f"{group.name}.{index}.{binding.slot}"
    raise SystemExit(f"{project}: no job has a bound slot")


def run(project: Path, job: str, slot: str, latency: float, sequential: bool) -> float:
    code = CHILD.format(latency=latency, sequential=sequential, project=str(project), job=job, slot=slot)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=5000)
    parser.add_argument("--schema", choices=("v4", "v5"), default="v5")
    parser.add_argument("--latencies", default="0,1,5", help="ms per job.json read, comma list")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dir", help="keep generated projects here and reuse them")
    options = parser.parse_args()
    folder = Path(options.dir) if options.dir else Path(tempfile.mkdtemp(prefix="bench-candidates-"))
    project = folder / f"{options.schema}-{options.jobs}"
    if not (project / "project.json").exists():
        generate_project(project, num_jobs=options.jobs, schema=options.schema)
    job, slot = first_bound_slot(project)
    print(f"python {sys.version.split()[0]}; {options.jobs} jobs ({options.schema}) at {project}; "
          f"candidates for {job} {slot}")
    run(project, job, slot, 0.0, False)  # warm the file cache and the summary cache
    print(f"\n{'latency':>8}  {'csrebind':>12}  {'sequential':>12}  {'ratio':>6}")
    for latency in (float(value) for value in options.latencies.split(",")):
        ours = statistics.median(run(project, job, slot, latency, False) for _ in range(options.repeat))
        theirs = statistics.median(run(project, job, slot, latency, True)
                                   for _ in range(1 if latency >= 5 else options.repeat))
        print(f"{latency:>6g} ms  {ours * 1000:>9.0f} ms  {theirs * 1000:>9.0f} ms  {ours / theirs:>5.2f}×")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

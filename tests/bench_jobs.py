"""Benchmark: listing a 5,000-job project (`csrebind jobs --json`) against merely parsing the
same 5,000 job.json files with orjson, measured in the same run.

    python tests/bench_jobs.py [--jobs 5000] [--schema v4|v5] [--repeat 5]

Both sides run in this process on a warm file cache (the baseline reads and parses every file;
csrebind also lists the folder, builds its model and writes the JSON to /dev/null). Target: ratio ≤ 1.5.
A subprocess measurement of the real command is printed too, for reference (it includes
Python start-up and imports, which the baseline does not pay).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from projectgen import generate_project  # noqa: E402

from tui.cli import main  # noqa: E402


def parse_only(project: Path) -> int:
    count = 0
    for job_json in sorted(project.glob("J*/job.json")):
        orjson.loads(job_json.read_bytes())
        count += 1
    return count


def csrebind_jobs(project: Path) -> int:
    sink = io.TextIOWrapper(open(os.devnull, "wb"))
    with contextlib.redirect_stdout(sink):
        code = main(["jobs", str(project), "--json"])
    sink.flush()
    return code


def timed(function, *args) -> float:
    start = time.perf_counter()
    function(*args)
    return time.perf_counter() - start


def main_bench() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=5000)
    parser.add_argument("--schema", choices=["v4", "v5"], default="v4")
    parser.add_argument("--repeat", type=int, default=5)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["XDG_CACHE_HOME"] = str(Path(tmp) / "cache")  # its summary cache goes with it, not into the user's
        project = generate_project(Path(tmp) / "P1", num_jobs=options.jobs, schema=options.schema)
        size = sum(p.stat().st_size for p in project.glob("J*/job.json"))
        assert parse_only(project) == options.jobs
        csrebind_jobs(project)  # warm caches and imports on both sides
        baseline, ours = [], []
        for _ in range(options.repeat):
            baseline.append(timed(parse_only, project))
            ours.append(timed(csrebind_jobs, project))
        command = [sys.executable, "-m", "tui.cli", "jobs", str(project), "--json"]
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        process_time = time.perf_counter() - start
    base, mine = statistics.median(baseline), statistics.median(ours)
    ratio = mine / base
    print(f"project: {options.jobs} jobs ({options.schema}), {size / 1e6:.1f} MB of job.json")
    print(f"orjson parse of every job.json (median of {options.repeat}): {base * 1000:8.1f} ms")
    print(f"csrebind jobs --json, in process  (median of {options.repeat}): {mine * 1000:8.1f} ms")
    print(f"ratio: {ratio:.2f} (target <= 1.5)  {'PASS' if ratio <= 1.5 else 'FAIL'}")
    print(f"csrebind jobs --json as a new process (incl. start-up): {process_time * 1000:.0f} ms")
    return 0 if ratio <= 1.5 else 1


if __name__ == "__main__":
    sys.exit(main_bench())

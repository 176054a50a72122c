"""Benchmark: `csrebind jobs --json` on projects of 5,000 / 20,000 / 50,000 jobs, whole processes,
against the orjson-parse baseline, with a simulated per-open latency, the summary cache and peak
RSS (issue 12, item 6). Run on demand; not a pytest module (no test functions).

    python tests/bench_scale.py [--jobs 5000,20000,50000] [--schema v4|v5] [--repeat 5]
                                [--dir /tmp/scale-bench] [--latency-max-jobs 5000]
                                [--latencies 1,5] [--latency-repeat 3]

``--jobs`` takes a comma list and may be repeated (default 5000). Projects are generated with
``tests/projectgen.py``'s ``generate_project`` in a child process (50,000 jobs take a while); with
``--dir`` they are kept there (``DIR/<schema>-<jobs>/``) and reused by later runs (delete the folder
to regenerate), otherwise they go to a temporary folder removed at the end.

Every measured command is a fresh process started by a tiny wrapper process (``python -c``) that
spawns it with stdout to /dev/null, times it from spawn to exit and reads the child's own peak RSS
from ``os.wait4``; so Python start-up and imports count on both sides, and no peak carries over
from this (larger) process to the measured one. All runs read a warm page cache (one untimed
warm-up run of each command first). Figures are medians of ``--repeat`` runs; RSS is the largest
of them. Measured, per job count, rounds interleaved:

floor       ``python -c``: list the J* folders (os.scandir) and read the bytes of every job.json
baseline    the same, and orjson-parse every job.json ("the orjson-parse baseline")
first open  ``python -m tui.cli jobs PROJECT --json`` with an empty summary cache (a fresh
            ``XDG_CACHE_HOME`` per run)
no-cache    the same with ``--no-cache``
warm        reopen: the same command with the ``XDG_CACHE_HOME`` of that round's first open
start-up    ``python -c``: import what ``jobs --json`` imports (the CLI, project reading, the views)
            and do nothing: what no reopen can go under

and, for job counts ≤ ``--latency-max-jobs`` (default 5000; 5 ms × 50,000 sequential opens would
be 250 s), with a simulated latency of ``--latencies`` ms per open (default 1 and 5):

baseline    the orjson baseline reading sequentially, ``time.sleep(latency)`` before each open
            (run once: its time is mostly the sleeps)
csrebind    a ``python -c`` that wraps ``tui.core.jobread.read_job_file`` (the one function that
            opens a job.json) and ``tui.core.jobread._stamp_or_none`` (the stat that validates the
            cache) with the same sleep, then runs ``tui.cli.main(["jobs", PROJECT, "--json"])``;
            with ``--no-cache`` and with a warm cache, ``--latency-repeat`` runs each (default 3).
            The wrapper counts its calls and the benchmark checks every job went through it.

Times are wall milliseconds; ratios are to the baseline of the same job count (or latency);
RSS in MiB. Targets (issue 12), printed with PASS/FAIL next to the figures: warm ≤ 1.0× the
baseline at 5,000 and 50,000 jobs; with 5 ms per open ≤ 0.15× the sequential baseline; reopen
≤ 0.25× the first open at 50,000 jobs (the project size the issue's summary cache is for; below
it, the start-up alone is a large part of a reopen, and its share of the first open is printed
beside the ratio); peak RSS ≤ 150 MiB at 50,000 jobs. Exit status 1 when a target that was
measured fails.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable

WARM_TARGET = 1.0  # warm reopen / baseline, at 5,000 and 50,000 jobs
WARM_TARGET_JOBS = (5000, 50000)
LATENCY_TARGET = 0.15  # csrebind / sequential baseline, at 5 ms per open
LATENCY_TARGET_MS = 5.0
REOPEN_TARGET = 0.25  # warm reopen / first open, at 50,000 jobs
REOPEN_TARGET_JOBS = 50000
RSS_TARGET_MIB = 150  # at 50,000 jobs
RSS_TARGET_JOBS = 50000

# Spawns argv[1:] with stdout to /dev/null; prints exit status, wall seconds and the child's peak
# RSS (KiB). Only os, sys and time are imported, so the child's peak starts from this small
# process, not from the benchmark's.
WRAPPER = r"""
import os, sys, time
null = os.open(os.devnull, os.O_WRONLY)
argv = sys.argv[1:]
start = time.perf_counter()
pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=[(os.POSIX_SPAWN_DUP2, null, 1)])
_, status, usage = os.wait4(pid, 0)
wall = time.perf_counter() - start
print(os.waitstatus_to_exitcode(status), wall, usage.ru_maxrss)
"""

STARTUP_ARGV = [PYTHON, "-c", "import tui.cli, tui.core.project, tui.core.views"]

# argv: PROJECT EXPECTED_JOBS PARSE(0/1) LATENCY_SECONDS. Exit 3 when it found another number of jobs.
BASELINE = r"""
import os, sys
root, expected, parse, latency = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1", float(sys.argv[4])
if parse:
    import orjson
if latency:
    import time
count = 0
with os.scandir(root) as entries:
    for entry in entries:
        if entry.name[:1] == "J" and entry.name[1:].isdigit() and entry.is_dir():
            if latency:
                time.sleep(latency)
            with open(os.path.join(root, entry.name, "job.json"), "rb") as f:
                data = f.read()
            if parse:
                orjson.loads(data)
            count += 1
sys.exit(0 if count == expected else 3)
"""

# argv: LATENCY_SECONDS csrebind-arguments... Counts the wrapped calls and prints them to stderr.
CSREBIND_LATENCY = r"""
import atexit, itertools, sys, time
import tui.core.jobread as r
latency = float(sys.argv[1])
read, stamp = r.read_job_file, r._stamp_or_none
reads, stats = itertools.count(), itertools.count()
def read_job_file(path):
    next(reads)
    time.sleep(latency)
    return read(path)
def _stamp_or_none(*args):
    next(stats)
    time.sleep(latency)
    return stamp(*args)
r.read_job_file, r._stamp_or_none = read_job_file, _stamp_or_none
atexit.register(lambda: print(f"wrapped calls: reads={next(reads)} stats={next(stats)}", file=sys.stderr))
from tui.cli import main
sys.exit(main(sys.argv[2:]))
"""


@dataclass
class Sample:
    seconds: float
    rss_kib: int
    stderr: str


@dataclass
class Series:
    samples: list[Sample] = field(default_factory=list)

    def add(self, sample: Sample) -> None:
        self.samples.append(sample)

    @property
    def ms(self) -> float:
        return statistics.median(s.seconds for s in self.samples) * 1000

    @property
    def rss_mib(self) -> float:
        return max(s.rss_kib for s in self.samples) / 1024

    def runs(self) -> str:
        return " ".join(f"{s.seconds * 1000:.0f}" for s in self.samples)


@dataclass
class Row:
    jobs: int
    json_mb: float
    floor: Series = field(default_factory=Series)
    startup: Series = field(default_factory=Series)
    baseline: Series = field(default_factory=Series)
    first: Series = field(default_factory=Series)
    nocache: Series = field(default_factory=Series)
    warm: Series = field(default_factory=Series)
    # latency (ms) → series
    lat_baseline: dict[float, Series] = field(default_factory=dict)
    lat_nocache: dict[float, Series] = field(default_factory=dict)
    lat_warm: dict[float, Series] = field(default_factory=dict)


def measure(argv: list[str], env_extra: dict[str, str] | None = None) -> Sample:
    env = dict(os.environ, **(env_extra or {}))
    done = subprocess.run([PYTHON, "-c", WRAPPER, *argv], cwd=REPO, env=env, capture_output=True, text=True)
    if done.returncode != 0 or not done.stdout.strip():
        raise SystemExit(f"measuring wrapper failed for {argv[:4]}…:\n{done.stderr}")
    code, wall, rss = done.stdout.split()
    if int(code) != 0:
        raise SystemExit(f"measured command exited {code}: {' '.join(argv[:3])} … {' '.join(argv[-4:])}\n{done.stderr}")
    return Sample(float(wall), int(rss), done.stderr)


def baseline_argv(project: Path, jobs: int, parse: bool, latency_ms: float = 0.0) -> list[str]:
    return [PYTHON, "-c", BASELINE, str(project), str(jobs), "1" if parse else "0", str(latency_ms / 1000)]


def csrebind_argv(project: Path, no_cache: bool) -> list[str]:
    return [PYTHON, "-m", "tui.cli", "jobs", str(project), "--json", *(["--no-cache"] if no_cache else [])]


def csrebind_latency_argv(project: Path, latency_ms: float, no_cache: bool) -> list[str]:
    return [PYTHON, "-c", CSREBIND_LATENCY, str(latency_ms / 1000), "jobs", str(project), "--json",
            *(["--no-cache"] if no_cache else [])]


def cache_files(xdg: Path) -> list[Path]:
    return sorted((xdg / "csrebind" / "summaries").glob("*.msgpack"))


# --- projects ----------------------------------------------------------------------------------


def ensure_project(base: Path, jobs: int, schema: str) -> Path:
    """A generated project of ``jobs`` jobs under ``base``, reused when a complete one is there."""
    project = base / f"{schema}-{jobs}"
    marker = base / f"{schema}-{jobs}.complete"
    stamp = f"generate_project(num_jobs={jobs}, schema={schema!r}, seed=0)\n"
    if project.is_dir() and marker.is_file() and marker.read_text() == stamp:
        print(f"reusing {project}", flush=True)
        return project
    if project.exists():
        shutil.rmtree(project)
    marker.unlink(missing_ok=True)
    print(f"generating {jobs} jobs ({schema}) in {project} …", flush=True)
    # In a child: the generator's memory must not stay in this process.
    subprocess.run([PYTHON, __file__, "--generate-only", str(project), "--jobs", str(jobs), "--schema", schema],
                   check=True, cwd=REPO)
    marker.write_text(stamp)
    return project


def generate_only(path: Path, jobs: int, schema: str) -> None:
    sys.path.insert(0, str(REPO / "tests"))
    sys.path.insert(0, str(REPO))
    from projectgen import generate_project

    generate_project(path, num_jobs=jobs, schema=schema)


def job_json_bytes(project: Path) -> tuple[int, int]:
    total = count = 0
    with os.scandir(project) as entries:
        for entry in entries:
            if entry.name[:1] == "J" and entry.name[1:].isdigit() and entry.is_dir():
                total += os.stat(os.path.join(entry.path, "job.json")).st_size
                count += 1
    return count, total


def check_listing(project: Path, jobs: int, tmp: Path) -> None:
    """One untimed run whose output is read: every job listed, none broken."""
    import orjson

    out = tmp / "listing.json"
    with open(out, "wb") as stream:
        subprocess.run(csrebind_argv(project, no_cache=True), cwd=REPO, stdout=stream, check=True,
                       env=dict(os.environ, XDG_CACHE_HOME=str(tmp / "xdg-check")))
    listed = orjson.loads(out.read_bytes())["jobs"]
    broken = [j["uid"] for j in listed if j["error"]]
    out.unlink()
    if len(listed) != jobs or broken:
        raise SystemExit(f"csrebind listed {len(listed)} of {jobs} jobs, {len(broken)} broken: {broken[:5]}")


# --- measuring ---------------------------------------------------------------------------------


def run_count(project: Path, jobs: int, options: argparse.Namespace, tmp: Path) -> Row:
    count, size = job_json_bytes(project)
    if count != jobs:
        raise SystemExit(f"{project}: {count} job folders, expected {jobs}")
    row = Row(jobs, size / 1e6)
    print(f"\n== {jobs} jobs ({options.schema}), {row.json_mb:.1f} MB of job.json: {project}", flush=True)

    # warm-up (page cache, .pyc files) and a check of what is measured
    measure(baseline_argv(project, jobs, parse=False))
    measure(baseline_argv(project, jobs, parse=True))
    check_listing(project, jobs, tmp)

    xdg_last = None
    for round_ in range(options.repeat):
        row.floor.add(measure(baseline_argv(project, jobs, parse=False)))
        row.startup.add(measure(STARTUP_ARGV))
        row.baseline.add(measure(baseline_argv(project, jobs, parse=True)))
        xdg = tmp / f"xdg-{jobs}-{round_}"
        xdg.mkdir()
        row.first.add(measure(csrebind_argv(project, no_cache=False), {"XDG_CACHE_HOME": str(xdg)}))
        if not cache_files(xdg):
            raise SystemExit(f"the first open wrote no summary cache under {xdg}")
        row.warm.add(measure(csrebind_argv(project, no_cache=False), {"XDG_CACHE_HOME": str(xdg)}))
        empty = tmp / f"xdg-{jobs}-{round_}-nocache"
        empty.mkdir()
        row.nocache.add(measure(csrebind_argv(project, no_cache=True), {"XDG_CACHE_HOME": str(empty)}))
        if any(empty.iterdir()):
            print(f"  note: --no-cache wrote into XDG_CACHE_HOME: {[str(p) for p in empty.rglob('*')]}")
        shutil.rmtree(empty)
        if xdg_last is not None:
            shutil.rmtree(xdg_last)
        xdg_last = xdg
    for name, series in (("floor", row.floor), ("baseline", row.baseline), ("first open", row.first),
                         ("no-cache", row.nocache), ("warm", row.warm), ("start-up", row.startup)):
        print(f"  {name:<11} median {series.ms:7.0f} ms  runs [{series.runs()}] ms  peak RSS {series.rss_mib:.0f} MiB",
              flush=True)

    if jobs <= options.latency_max_jobs:
        for latency in options.latencies:
            base = row.lat_baseline[latency] = Series()
            base.add(measure(baseline_argv(project, jobs, parse=True, latency_ms=latency)))
            nocache = row.lat_nocache[latency] = Series()
            warm = row.lat_warm[latency] = Series()
            for _ in range(options.latency_repeat):
                nocache.add(checked_latency(project, jobs, latency, no_cache=True, xdg=xdg_last))
                warm.add(checked_latency(project, jobs, latency, no_cache=False, xdg=xdg_last))
            print(f"  {latency:g} ms/open: baseline {base.ms:.0f} ms; csrebind no-cache [{nocache.runs()}] ms, "
                  f"warm [{warm.runs()}] ms", flush=True)
    if xdg_last is not None:
        shutil.rmtree(xdg_last)
    return row


def checked_latency(project: Path, jobs: int, latency: float, no_cache: bool, xdg: Path) -> Sample:
    """One csrebind run with the latency wrapper; every job must have gone through it (a read
    without the cache, a stat with it)."""
    sample = measure(csrebind_latency_argv(project, latency, no_cache), {"XDG_CACHE_HOME": str(xdg)})
    line = next((ln for ln in sample.stderr.splitlines() if ln.startswith("wrapped calls:")), "")
    counts = dict(part.split("=") for part in line.split(":", 1)[1].split()) if line else {}
    needed = "reads" if no_cache else "stats"
    if int(counts.get(needed, 0)) < jobs:
        raise SystemExit(f"latency wrapper saw {counts or 'nothing'}; expected {needed} ≥ {jobs}: not measuring it")
    if not no_cache and int(counts.get("reads", 0)) > 0:
        print(f"  note: warm run at {latency:g} ms read {counts['reads']} job.json files (cache not fully used)")
    return sample


# --- report ------------------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [headers, *rows]) for i in range(len(headers))]
    line = lambda r: "  ".join(c.rjust(w) for c, w in zip(r, widths))  # noqa: E731
    return "\n".join([line(headers), "  ".join("-" * w for w in widths), *(line(r) for r in rows)])


def report(rows: list[Row], options: argparse.Namespace) -> bool:
    ok = True
    print(f"\n=== csrebind jobs --json, whole processes ({options.schema}; medians of {options.repeat}; "
          f"RSS = largest peak; ratios to the orjson baseline)")
    body = []
    for r in rows:
        b = r.baseline.ms
        body.append([
            f"{r.jobs:,}", f"{r.json_mb:.0f}", f"{r.floor.ms:.0f}", f"{b:.0f}",
            f"{r.first.ms:.0f} ({r.first.ms / b:.2f}x)", f"{r.nocache.ms:.0f} ({r.nocache.ms / b:.2f}x)",
            f"{r.warm.ms:.0f} ({r.warm.ms / b:.2f}x)", f"{r.warm.ms / r.first.ms:.2f}",
            f"{r.baseline.rss_mib:.0f}", f"{r.first.rss_mib:.0f} / {r.warm.rss_mib:.0f}",
        ])
    print(table(["jobs", "MB json", "floor ms", "baseline ms", "first open ms", "no-cache ms", "warm ms",
                 "reopen/first", "RSS base MiB", "RSS first/warm MiB"], body))

    print("\ntargets:")
    for r in rows:
        b = r.baseline.ms
        checks = []
        if r.jobs in WARM_TARGET_JOBS:
            good = r.warm.ms / b <= WARM_TARGET
            checks.append(f"warm {r.warm.ms / b:.2f}x <= {WARM_TARGET:.1f}x baseline {verdict(good)}")
            ok &= good
        reopen = r.warm.ms / r.first.ms
        if r.jobs >= REOPEN_TARGET_JOBS:
            good = reopen <= REOPEN_TARGET
            checks.append(f"reopen {reopen:.2f}x <= {REOPEN_TARGET}x first open {verdict(good)}")
            ok &= good
        else:
            checks.append(f"reopen {reopen:.2f}x first open (target at {REOPEN_TARGET_JOBS:,} jobs; start-up alone "
                          f"{r.startup.ms:.0f} ms = {r.startup.ms / r.first.ms:.2f}x the first open)")
        if r.jobs >= RSS_TARGET_JOBS:
            peak = max(r.first.rss_mib, r.warm.rss_mib, r.nocache.rss_mib)
            good = peak <= RSS_TARGET_MIB
            checks.append(f"peak RSS {peak:.0f} MiB <= {RSS_TARGET_MIB} MiB {verdict(good)}")
            ok &= good
        print(f"  {r.jobs:>6,} jobs: " + "; ".join(checks))

    latency_rows = [r for r in rows if r.lat_baseline]
    if latency_rows:
        print(f"\n=== simulated latency per open (baseline sequential, run once; csrebind medians of "
              f"{options.latency_repeat}; ratios to the sequential baseline; target at "
              f"{LATENCY_TARGET_MS:g} ms <= {LATENCY_TARGET}x)")
        body = []
        for r in latency_rows:
            for latency in sorted(r.lat_baseline):
                b = r.lat_baseline[latency].ms
                nc, wm = r.lat_nocache[latency].ms, r.lat_warm[latency].ms
                target = ""
                if latency == LATENCY_TARGET_MS:
                    good_nc, good_wm = nc / b <= LATENCY_TARGET, wm / b <= LATENCY_TARGET
                    ok &= good_nc and good_wm
                    target = f"no-cache {verdict(good_nc)}, warm {verdict(good_wm)}"
                body.append([f"{r.jobs:,}", f"{latency:g} ms", f"{b:.0f}", f"{nc:.0f} ({nc / b:.3f}x)",
                             f"{wm:.0f} ({wm / b:.3f}x)", target])
        print(table(["jobs", "latency", "baseline ms", "no-cache ms", "warm ms", f"<= {LATENCY_TARGET}x"], body))
    else:
        print(f"\n(no latency rows: no job count <= --latency-max-jobs {options.latency_max_jobs})")
    print(f"\noverall: {verdict(ok)}")
    return ok


def numbers(values: list[str], kind=int) -> list:
    out = []
    for value in values:
        out.extend(kind(part) for part in value.split(",") if part.strip())
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", action="append", default=[], help="job counts, comma list, repeatable (5000)")
    parser.add_argument("--schema", choices=["v4", "v5"], default="v5")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--dir", type=Path, help="keep generated projects here and reuse them")
    parser.add_argument("--latency-max-jobs", type=int, default=5000)
    parser.add_argument("--latencies", action="append", default=[], help="ms per open, comma list (1,5)")
    parser.add_argument("--latency-repeat", type=int, default=3)
    parser.add_argument("--generate-only", type=Path, help=argparse.SUPPRESS)
    options = parser.parse_args()
    options.jobs = sorted(set(numbers(options.jobs))) or [5000]
    options.latencies = sorted(set(numbers(options.latencies, float))) or [1.0, 5.0]
    if options.generate_only is not None:
        generate_only(options.generate_only, options.jobs[0], options.schema)
        return 0

    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores; jobs {options.jobs}, schema {options.schema}, "
          f"repeat {options.repeat}, latencies {options.latencies} ms for <= {options.latency_max_jobs} jobs", flush=True)
    with tempfile.TemporaryDirectory(prefix="csrebind-scale-") as scratch:
        tmp = Path(scratch)
        base = options.dir.resolve() if options.dir else tmp / "projects"
        base.mkdir(parents=True, exist_ok=True)
        rows = []
        for jobs in options.jobs:
            project = ensure_project(base, jobs, options.schema)
            rows.append(run_count(project, jobs, options, tmp))
    return 0 if report(rows, options) else 1


if __name__ == "__main__":
    sys.exit(main())

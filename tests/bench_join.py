"""Benchmark: the uid join csrebind shows while an input is edited, on a 2,000,000-row file and a
1,000,000-row file, against ``np.intersect1d`` on arrays already in memory, measured in the same run.

    python tests/bench_join.py [--rows 2000000] [--other 1000000] [--shared 750000] [--repeat 5] [--dir DIR]

Writes, in a temporary folder, a minimal CryoSPARC project:

    J1  extraction: ``particles`` = blob + ctf in ``J1/extracted_particles.cs`` (ROWS rows)
    J2  refinement: ``particles`` = blob + ctf + alignments3D in ``J2/J2_007_particles.cs`` (OTHER
        rows, in another order: SHARED of them are J1 particles, the rest have uids J1 lacks)
    J3  local refinement, *building*: input ``particles`` connected to J2.particles, its blob slot
        rebound to J1.particles.blob (the 2M file), ctf and alignments3D from J2 (the 1M file)

and times, each the median of REPEAT runs:

    cold          ``uid_column`` of both files + ``shared()`` (tui/core/uids.py), with csrebind's uid
                  cache missed: before every run both files' mtimes move by 1 µs, so their cache
                  keys (path, size, mtime) are new, as after a re-run job. The file pages stay in
                  the OS page cache (this is csrebind's own work: reading the uid column out of
                  ~300 MiB of rows, sorting, searching).
    cold disk     the same after dropping both files from the OS page cache (posix_fadvise
                  DONTNEED after an fsync): what the very first look at a project costs. Depends on
                  the disk more than on csrebind; printed for reference.
    warm          the same with both columns cached (the UI's case after the first put).
    baseline      ``np.intersect1d(a, b)`` on the two uid arrays, preloaded (read, not timed); and
                  ``np.intersect1d(a, b, assume_unique=True)``, the fairer one for uids: numpy 2.4's
                  ``np.unique``, which the default runs on each array, costs far more than the sort.
    preview cold  ``preview_connection`` (tui/core/preview.py, what the inputs pane shows) of J3's
                  connection: layout from the headers + the join, caches missed as above.
    preview warm  the same, caches filled.

Checks that every count equals SHARED (and the preview's total equals OTHER), prints ms and
ratios against both baselines, and whether cold < 1 s (issue 7: "A 2,000,000-row uid join must
show within 1 s on this machine"). Exit status 1 when a count is wrong or cold ≥ 1 s.
Not a pytest module (no test functions).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import numpy as np
import orjson

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tui.core import uids as uid_cache  # noqa: E402
from tui.core.preview import preview_connection  # noqa: E402
from tui.core.project import load_project  # noqa: E402
from tui.demo.docgen import (  # noqa: E402
    DocConnection, DocConnResult, DocInput, DocJob, DocOutput, DocProject, DocResult, doc_slots, job_document,
    project_document, with_children,
)

TARGET_S = 1.0
PROJECT_UID = "P9"
CREATED = datetime(2025, 5, 1, 9, 0, tzinfo=timezone.utc)
BIG_FILE, SMALL_FILE = "J1/extracted_particles.cs", "J2/J2_007_particles.cs"
PSIZE = 0.83

BLOB = [
    ("blob/path", "S96"), ("blob/idx", "<u4"), ("blob/shape", "<u4", (2,)), ("blob/psize_A", "<f4"),
    ("blob/sign", "<f4"), ("blob/import_sig", "<u8"),
]
CTF = [
    ("ctf/type", "S9"), ("ctf/exp_group_id", "<u4"), ("ctf/accel_kv", "<f4"), ("ctf/cs_mm", "<f4"),
    ("ctf/amp_contrast", "<f4"), ("ctf/df1_A", "<f4"), ("ctf/df2_A", "<f4"), ("ctf/df_angle_rad", "<f4"),
    ("ctf/phase_shift_rad", "<f4"), ("ctf/scale", "<f4"), ("ctf/shift_A", "<f4", (2,)), ("ctf/tilt_A", "<f4", (2,)),
]
ALIGN = [
    ("alignments3D/split", "<u4"), ("alignments3D/shift", "<f4", (2,)), ("alignments3D/pose", "<f4", (3,)),
    ("alignments3D/psize_A", "<f4"), ("alignments3D/error", "<f4"), ("alignments3D/error_min", "<f4"),
    ("alignments3D/resid_pow", "<f4"), ("alignments3D/slice_pow", "<f4"), ("alignments3D/image_pow", "<f4"),
    ("alignments3D/cross_cor", "<f4"), ("alignments3D/alpha", "<f4"), ("alignments3D/weight", "<f4"),
    ("alignments3D/pose_ess", "<f4"), ("alignments3D/shift_ess", "<f4"), ("alignments3D/class_posterior", "<f4"),
    ("alignments3D/class", "<u4"), ("alignments3D/class_ess", "<f4"),
]


# --- data --------------------------------------------------------------------------------------


def _fresh_uids(rng: np.random.Generator, count: int) -> np.ndarray:
    """``count`` distinct random 64-bit uids in random order (CryoSPARC's are random too)."""
    uids = np.unique(rng.integers(1, 2**64 - 1, size=count + count // 100 + 16, dtype=np.uint64))
    rng.shuffle(uids)
    return uids[:count]


def _fill_blob_ctf(table: np.ndarray, rng: np.random.Generator) -> None:
    rows = len(table)
    mic = np.sort(rng.integers(0, max(1, rows // 400), rows))
    stems = np.char.add(np.char.mod("J1/extract/%021d", mic.astype(np.int64) * 7919 + 10**18),
                        "_grid2_patch_aligned_doseweighted_particles.mrc")
    table["blob/path"] = stems.astype("S96")
    table["blob/idx"] = np.arange(rows) - np.searchsorted(mic, mic)
    table["blob/shape"] = 400
    table["blob/psize_A"] = PSIZE
    table["blob/sign"] = -1
    table["ctf/type"] = b"spline"
    table["ctf/exp_group_id"] = 1
    table["ctf/accel_kv"] = 300
    table["ctf/cs_mm"] = 2.7
    table["ctf/amp_contrast"] = 0.1
    df = rng.uniform(8000, 25000, rows).astype("f4")
    table["ctf/df1_A"] = df + 150
    table["ctf/df2_A"] = df - 150
    table["ctf/df_angle_rad"] = rng.uniform(-1.5, 1.5, rows)
    table["ctf/scale"] = 1


def _save(path: Path, table: np.ndarray) -> None:
    """np.save through a handle (a path would get .npy appended), flushed to disk so that the
    pages can later be dropped from the page cache."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        np.save(f, table)
        f.flush()
        os.fsync(f.fileno())


def write_files(root: Path, rows: int, other: int, shared: int, seed: int = 0) -> None:
    """The 2M extraction file and the 1M refinement file; exactly ``shared`` uids in both."""
    if not 0 <= shared <= min(rows, other):
        raise SystemExit(f"--shared must be between 0 and {min(rows, other)}")
    rng = np.random.default_rng(seed)
    uids = _fresh_uids(rng, rows + other - shared)
    big_uids = uids[:rows]
    picked = rng.choice(rows, shared, replace=False)  # J1 particles that reached the refinement
    small_uids = np.concatenate([big_uids[picked], uids[rows:]])
    rng.shuffle(small_uids)  # another order

    big = np.zeros(rows, dtype=[("uid", "<u8"), *BLOB, *CTF])
    big["uid"] = big_uids
    _fill_blob_ctf(big, rng)
    _save(root / BIG_FILE, big)
    del big

    small = np.zeros(other, dtype=[("uid", "<u8"), *BLOB, *CTF, *ALIGN])
    small["uid"] = small_uids
    _fill_blob_ctf(small, rng)
    small["blob/psize_A"] = PSIZE * 2  # the refinement ran on 2×-binned particles
    small["alignments3D/split"] = rng.integers(0, 2, other)
    small["alignments3D/shift"] = rng.normal(0, 2, (other, 2))
    small["alignments3D/pose"] = rng.normal(0, 1, (other, 3))
    small["alignments3D/psize_A"] = PSIZE * 2
    small["alignments3D/error"] = rng.normal(7000, 100, other)
    small["alignments3D/alpha"] = rng.uniform(0.7, 1.3, other)
    small["alignments3D/class_posterior"] = 1
    small["alignments3D/class_ess"] = 1
    _save(root / SMALL_FILE, small)


def write_project(root: Path, rows: int, other: int) -> None:
    def result(name: str, metafile: str, count: int, version: int = 0) -> DocResult:
        return DocResult(name, name, (version,), (metafile,), (count,))

    extract = DocOutput("particles", "particle", "Extracted particles",
                        (result("blob", BIG_FILE, rows), result("ctf", BIG_FILE, rows)))
    refine = DocOutput("particles", "particle", "Refined particles", tuple(
        result(name, SMALL_FILE, other, 7) for name in ("blob", "ctf", "alignments3D")), "particles")
    connection = DocConnection("J2", "particles", (
        DocConnResult("blob", "J1", "particles", "blob", "blob"),  # the rebinding: full-size blob from J1
        DocConnResult("ctf", "J2", "particles", "ctf", "ctf"),
        DocConnResult("alignments3D", "J2", "particles", "alignments3D", "alignments3D"),
    ))
    target = DocInput("particles", "particle", "Particle stacks", doc_slots("blob", "ctf", "alignments3D"),
                      (connection,))
    jobs = with_children([
        DocJob("J1", "extract_micrographs_multi", "Extract", "completed", CREATED, outputs=(extract,)),
        DocJob("J2", "homo_refine_new", "Refine (binned)", "completed", CREATED, parents=("J1",), outputs=(refine,)),
        DocJob("J3", "new_local_refine", "Local refine", "building", CREATED, parents=("J1", "J2"), inputs=(target,)),
    ])
    for job in jobs:
        path = root / job.uid / "job.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(orjson.dumps(job_document(job, PROJECT_UID, "v4")))
    project = DocProject(PROJECT_UID, "join benchmark", str(root), CREATED)
    (root / "project.json").write_bytes(orjson.dumps(project_document(project, "v4")))


# --- measuring ---------------------------------------------------------------------------------


def miss_cache(paths: list[Path]) -> None:
    """Give every file a new cache key (path, size, mtime_ns) by moving its mtime 1 µs on."""
    for path in paths:
        stat = path.stat()
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1000))


def drop_pages(paths: list[Path]) -> None:
    """Evict the files' (clean) pages from the OS page cache; no root needed."""
    for path in paths:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def timed(run: Callable[[], int], repeat: int, before: Callable[[], None] = lambda: None) -> tuple[float, int]:
    """Median seconds of ``repeat`` runs (``before`` runs untimed ahead of each) and the count
    the runs returned (all must agree)."""
    times, counts = [], set()
    for _ in range(repeat):
        before()
        start = time.perf_counter()
        counts.add(run())
        times.append(time.perf_counter() - start)
    if len(counts) != 1:
        raise SystemExit(f"runs disagree: counts {sorted(counts)}")
    return statistics.median(times), counts.pop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=2_000_000, help="rows of the extraction file")
    parser.add_argument("--other", type=int, default=1_000_000, help="rows of the refinement file")
    parser.add_argument("--shared", type=int, default=750_000, help="uids in both files")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--dir", help="work folder (default: a new temporary folder, removed afterwards)")
    options = parser.parse_args(argv)
    work = Path(options.dir) if options.dir else Path(tempfile.mkdtemp(prefix="csrebind-bench-join-"))
    try:
        project_dir = work / PROJECT_UID
        shutil.rmtree(project_dir, ignore_errors=True)
        started = time.perf_counter()
        write_files(project_dir, options.rows, options.other, options.shared)
        write_project(project_dir, options.rows, options.other)
        big, small = project_dir / BIG_FILE, project_dir / SMALL_FILE
        files = [big, small]
        print(f"generated in {time.perf_counter() - started:.1f} s:")
        for path, rows in ((big, options.rows), (small, options.other)):
            print(f"  {path.relative_to(project_dir)}: {rows:,} rows, {path.stat().st_size / 2**20:,.0f} MiB")
        print(f"  uids in both: {options.shared:,}")

        def join() -> int:  # what the UI does: both uid columns (cached or read), then the overlap
            return uid_cache.shared(uid_cache.uid_column(big), uid_cache.uid_column(small))

        a = np.array(np.load(big, mmap_mode="r")["uid"])  # preloaded, untimed
        b = np.array(np.load(small, mmap_mode="r")["uid"])
        project = load_project(project_dir)
        group = project.job("J3").input("particles")

        def preview() -> int:
            found = preview_connection(project, group, 0, "J3")
            if found.total != options.other:
                raise SystemExit(f"preview total {found.total}, expected {options.other}: {found.lines()}")
            return found.kept if found.kept is not None else -1

        join()  # imports, first-touch page faults of the interpreter
        np.intersect1d(a[:1000], b[:1000])
        results = {
            "baseline": timed(lambda: len(np.intersect1d(a, b)), options.repeat),
            "unique": timed(lambda: len(np.intersect1d(a, b, assume_unique=True)), options.repeat),
            "cold": timed(join, options.repeat, lambda: miss_cache(files)),
            "cold disk": timed(join, options.repeat, lambda: (miss_cache(files), drop_pages(files))),
            "warm": timed(join, options.repeat),
            "preview cold": timed(preview, options.repeat, lambda: miss_cache(files)),
            "preview warm": timed(preview, options.repeat),
        }
    finally:
        if options.dir:
            print(f"work folder kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    base, unique = results["baseline"][0], results["unique"][0]
    labels = {
        "baseline": "np.intersect1d, preloaded arrays",
        "unique": "same, assume_unique=True",
        "cold": "cold: uid_column ×2 + shared()",
        "cold disk": "cold disk: same, pages dropped",
        "warm": "warm: cached columns + shared()",
        "preview cold": "preview_connection, cold",
        "preview warm": "preview_connection, warm",
    }
    width = max(len(v) for v in labels.values())
    print(f"\n{options.rows:,} × {options.other:,} rows, median of {options.repeat}: ms, ratio to np.intersect1d, "
          "ratio to np.intersect1d(assume_unique=True)")
    wrong = []
    for key, (seconds, count) in results.items():
        ok = count == options.shared
        if not ok:
            wrong.append(f"{key} counted {count:,}")
        print(f"  {labels[key].ljust(width)}  {seconds * 1000:8.1f} ms  {seconds / base:6.2f}×  {seconds / unique:6.2f}×  "
              f"{count:,} shared{'' if ok else '  WRONG'}")
    cold = results["cold"][0]
    cold_ok = cold < TARGET_S
    print(f"\ncold < {TARGET_S:.0f} s (issue 7)      {cold * 1000:.0f} ms  {'PASS' if cold_ok else 'FAIL'}")
    print(f"preview cold < {TARGET_S:.0f} s     {results['preview cold'][0] * 1000:.0f} ms  "
          f"{'PASS' if results['preview cold'][0] < TARGET_S else 'FAIL'}")
    print(f"counts = {options.shared:,}        {'PASS' if not wrong else 'FAIL: ' + '; '.join(wrong)}")
    return 0 if cold_ok and not wrong else 1


if __name__ == "__main__":
    raise SystemExit(main())

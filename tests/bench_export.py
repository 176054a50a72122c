"""Benchmark: csrebind's export against the cryosparc-tools way of doing the same join, and
against the floor of any export: reading the inputs and writing + fsyncing the output once.

    python tests/bench_export.py [--rows 2000000] [--repeat N] [--keep] [--dir DIR]
    python tests/bench_export.py --rows 10000000

Writes, in a temporary folder, a minimal CryoSPARC project with three jobs:

    J1  extraction: ``particles`` = blob + ctf in ``J1/extracted_particles.cs`` (ROWS rows) and
        location + pick_stats in the passthrough ``J1/J1_passthrough_particles.cs`` (ROWS rows,
        another row order)
    J2  refinement: ``particles`` = alignments3D in ``J2/J2_007_particles.cs`` (ROWS/2 rows: a
        random subset of the particles, in a third order, found on 2×-binned images)
    J3  local refinement, *building*: input ``particles`` connected to J2.particles with blob and
        ctf rebound to J1, alignments3D from J2 and location/pick_stats passed through from J1

then runs, each in a fresh process (wall time and peak RSS from ``os.wait4``), with the page
cache warm (the files were just written):

    floor      ``python -c`` reading the three files start to end (``readinto``, one 8 MiB
               buffer) and writing as many bytes as the export's output, then fsync: what any
               export of these files costs at least (no numpy import, no work)
    csrebind   ``csrebind export PROJECT J3 particles --out OUT`` (the CLI's own entry function)
    baseline   cryosparc-tools: ``Dataset.load(path, prefixes=[...])`` per file, ``Dataset.innerjoin``,
               ``save``

(floor and csrebind ``--repeat`` times, the median kept), checks that both outputs hold the same
rows and values (compared sorted by uid) and prints the table with PASS/FAIL against the
targets: time ≤ 0.5 × baseline, peak RSS ≤ 0.75 × output size, and, for 2,000,000 and
10,000,000 rows, time ≤ 1.5 s and ≤ 6 s. The ratio to the floor is printed, with no target. The
RSS target is meant for the default size and larger; far smaller runs fail it on the fixed
~40 MiB of an interpreter with numpy. Exit status 1 when a target or the comparison fails.
Not a pytest module (no test functions).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import orjson

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tui.demo.docgen import (  # noqa: E402
    DocConnection, DocConnResult, DocInput, DocJob, DocOutput, DocProject, DocResult, doc_slots, job_document,
    project_document, with_children,
)

PROJECT_UID = "P7"
TIME_TARGET, RSS_TARGET = 0.5, 0.75
SECONDS_TARGET = {2_000_000: 1.5, 10_000_000: 6.0}  # --rows → wall seconds of the export, warm
PSIZE_BLOB, PSIZE_ALIGN = 0.83, 1.66
CREATED = datetime(2025, 5, 1, 9, 0, tzinfo=timezone.utc)

BLOB_FILE, PASS_FILE, ALIGN_FILE = "J1/extracted_particles.cs", "J1/J1_passthrough_particles.cs", "J2/J2_007_particles.cs"

CSREBIND_CHILD = """
import sys
from tui.cli import main
# The real command: csrebind export PROJECT J3 particles --out OUT --name J3_particles_rebound
code = main(["export", sys.argv[1], "J3", "particles", "--out", sys.argv[2], "--name", "J3_particles_rebound"])
sys.exit(code)
"""

BASELINE_CHILD = """
import sys
from cryosparc.dataset import Dataset
root, out = sys.argv[1], sys.argv[2]
passthrough = Dataset.load(f"{root}/%s", prefixes=["location", "pick_stats"])
blob = Dataset.load(f"{root}/%s", prefixes=["blob", "ctf"])
align = Dataset.load(f"{root}/%s", prefixes=["alignments3D"])
joined = Dataset.innerjoin(passthrough, blob, align)  # passthrough first, new data last (cryosparc-data.md §10.3)
joined.save(f"{out}/baseline.cs")
print(len(joined))
""" % (PASS_FILE, BLOB_FILE, ALIGN_FILE)


FLOOR_CHILD = """
import os, sys
root, out, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
buffer = bytearray(os.urandom(2**20) * 8)  # 8 MiB, the export's read block
view = memoryview(buffer)
for name in ("%s", "%s", "%s"):
    with open(f"{root}/{name}", "rb") as f:
        while f.readinto(view):
            pass
with open(f"{out}/floor.cs", "wb") as f:
    left = size
    while left:
        left -= f.write(view[:min(left, len(view))])
    f.flush()
    os.fsync(f.fileno())
""" % (BLOB_FILE, PASS_FILE, ALIGN_FILE)


# --- data --------------------------------------------------------------------------------------


def _uids(rng: np.random.Generator, count: int) -> np.ndarray:
    uids = np.unique(rng.integers(1, 2**64 - 1, size=count + count // 100 + 16, dtype=np.uint64))
    rng.shuffle(uids)
    return uids[:count]


def _save(path: Path, table: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:  # a handle: np.save would append .npy to a path
        np.save(f, table)


def _stems(rng: np.random.Generator, count: int) -> np.ndarray:
    mic_uids = _uids(rng, count)
    return np.array(
        [f"{u:021d}_grid2_sq{i // 40 % 100:02d}_hole{i % 300:03d}_{i % 4}_fractions" for i, u in enumerate(mic_uids)]
    ), mic_uids


def write_files(root: Path, rows: int, seed: int = 0) -> dict[str, int]:
    rng = np.random.default_rng(seed)
    n_mics = max(1, rows // 400)
    stems, mic_uids = _stems(rng, n_mics)
    mic_of = np.sort(rng.integers(0, n_mics, rows))
    idx_in_mic = np.arange(rows) - np.searchsorted(mic_of, mic_of)
    uids = _uids(rng, rows)
    particle_paths = np.char.add(np.char.add("J1/extract/", stems), "_patch_aligned_doseweighted_particles.mrc")
    mic_paths = np.char.add(np.char.add("J0/motioncorrected/", stems), "_patch_aligned_doseweighted.mrc")
    counts = {}

    # extraction: blob + ctf, in extraction order
    blob = np.zeros(rows, dtype=[
        ("uid", "<u8"), ("blob/path", f"S{particle_paths.dtype.itemsize // 4}"), ("blob/idx", "<u4"),
        ("blob/shape", "<u4", (2,)), ("blob/psize_A", "<f4"), ("blob/sign", "<f4"), ("blob/import_sig", "<u8"),
        ("ctf/type", "S9"), ("ctf/exp_group_id", "<u4"), ("ctf/accel_kv", "<f4"), ("ctf/cs_mm", "<f4"),
        ("ctf/amp_contrast", "<f4"), ("ctf/df1_A", "<f4"), ("ctf/df2_A", "<f4"), ("ctf/df_angle_rad", "<f4"),
        ("ctf/phase_shift_rad", "<f4"), ("ctf/scale", "<f4"), ("ctf/scale_const", "<f4"), ("ctf/shift_A", "<f4", (2,)),
        ("ctf/tilt_A", "<f4", (2,)), ("ctf/trefoil_A", "<f4", (2,)), ("ctf/tetra_A", "<f4", (4,)),
        ("ctf/anisomag", "<f4", (4,)), ("ctf/bfactor", "<f4"),
    ])
    blob["uid"] = uids
    blob["blob/path"] = particle_paths.astype("S")[mic_of]
    blob["blob/idx"] = idx_in_mic
    blob["blob/shape"] = 400
    blob["blob/psize_A"] = PSIZE_BLOB
    blob["blob/sign"] = -1
    blob["ctf/type"] = b"spline"
    blob["ctf/exp_group_id"] = 1
    blob["ctf/accel_kv"] = 300
    blob["ctf/cs_mm"] = 2.7
    blob["ctf/amp_contrast"] = 0.1
    df = rng.uniform(8000, 25000, rows).astype("f4")
    blob["ctf/df1_A"] = df + 150
    blob["ctf/df2_A"] = df - 150
    blob["ctf/df_angle_rad"] = rng.uniform(-1.5, 1.5, rows)
    blob["ctf/scale"] = 1
    blob["ctf/tilt_A"] = rng.normal(0, 0.1, (rows, 2))
    _save(root / BLOB_FILE, blob)
    counts[BLOB_FILE] = rows
    del blob, df

    # passthrough: location + pick_stats, another order
    order = rng.permutation(rows)
    passthrough = np.zeros(rows, dtype=[
        ("uid", "<u8"), ("location/micrograph_uid", "<u8"), ("location/exp_group_id", "<u4"),
        ("location/micrograph_path", f"S{mic_paths.dtype.itemsize // 4}"), ("location/micrograph_shape", "<u4", (2,)),
        ("location/micrograph_psize_A", "<f4"), ("location/center_x_frac", "<f4"), ("location/center_y_frac", "<f4"),
        ("location/min_dist_A", "<f4"), ("pick_stats/ncc_score", "<f4"), ("pick_stats/power", "<f4"),
        ("pick_stats/template_idx", "<u4"), ("pick_stats/angle_rad", "<f4"),
    ])
    passthrough["uid"] = uids[order]
    passthrough["location/micrograph_uid"] = mic_uids[mic_of[order]]
    passthrough["location/exp_group_id"] = 1
    passthrough["location/micrograph_path"] = mic_paths.astype("S")[mic_of[order]]
    passthrough["location/micrograph_shape"] = (4092, 5760)
    passthrough["location/micrograph_psize_A"] = PSIZE_BLOB
    passthrough["location/center_x_frac"] = rng.uniform(0, 1, rows)
    passthrough["location/center_y_frac"] = rng.uniform(0, 1, rows)
    passthrough["location/min_dist_A"] = 120
    passthrough["pick_stats/ncc_score"] = rng.uniform(0.1, 0.7, rows)
    passthrough["pick_stats/power"] = rng.uniform(40, 300, rows)
    passthrough["pick_stats/angle_rad"] = rng.uniform(0, 6.28, rows)
    _save(root / PASS_FILE, passthrough)
    counts[PASS_FILE] = rows
    del passthrough, order

    # refinement: alignments3D of a random half, a third order
    n_align = rows // 2
    subset = rng.choice(rows, n_align, replace=False)
    align = np.zeros(n_align, dtype=[
        ("uid", "<u8"), ("alignments3D/split", "<u4"), ("alignments3D/shift", "<f4", (2,)),
        ("alignments3D/pose", "<f4", (3,)), ("alignments3D/psize_A", "<f4"), ("alignments3D/error", "<f4"),
        ("alignments3D/error_min", "<f4"), ("alignments3D/resid_pow", "<f4"), ("alignments3D/slice_pow", "<f4"),
        ("alignments3D/image_pow", "<f4"), ("alignments3D/cross_cor", "<f4"), ("alignments3D/alpha", "<f4"),
        ("alignments3D/alpha_min", "<f4"), ("alignments3D/weight", "<f4"), ("alignments3D/pose_ess", "<f4"),
        ("alignments3D/shift_ess", "<f4"), ("alignments3D/class_posterior", "<f4"), ("alignments3D/class", "<u4"),
        ("alignments3D/class_ess", "<f4"),
    ])
    align["uid"] = uids[subset]
    align["alignments3D/split"] = rng.integers(0, 2, n_align)
    align["alignments3D/shift"] = rng.normal(0, 2, (n_align, 2))
    align["alignments3D/pose"] = rng.normal(0, 1, (n_align, 3))
    align["alignments3D/psize_A"] = PSIZE_ALIGN
    align["alignments3D/error"] = rng.normal(7000, 100, n_align)
    align["alignments3D/alpha"] = rng.uniform(0.7, 1.3, n_align)
    align["alignments3D/class_posterior"] = 1
    align["alignments3D/class_ess"] = 1
    _save(root / ALIGN_FILE, align)
    counts[ALIGN_FILE] = n_align
    return counts


def write_project(root: Path, counts: dict[str, int]) -> None:
    def result(name: str, metafile: str, passthrough: bool = False, version: int = 0) -> DocResult:
        return DocResult(name, name, (version,), (metafile,), (counts[metafile],), passthrough)

    extract = DocOutput("particles", "particle", "Extracted particles", (
        result("blob", BLOB_FILE), result("ctf", BLOB_FILE),
        result("location", PASS_FILE, True), result("pick_stats", PASS_FILE, True)), "particles")
    refine = DocOutput("particles", "particle", "Refined particles", (result("alignments3D", ALIGN_FILE, version=7),),
                       "particles")
    connection = DocConnection("J2", "particles", (
        DocConnResult("blob", "J1", "particles", "blob", "blob"),
        DocConnResult("ctf", "J1", "particles", "ctf", "ctf"),
        DocConnResult("alignments3D", "J2", "particles", "alignments3D", "alignments3D"),
        DocConnResult(None, "J1", "particles", "location", "location"),
        DocConnResult(None, "J1", "particles", "pick_stats", "pick_stats"),
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
    project = DocProject(PROJECT_UID, "export benchmark", str(root), CREATED)
    (root / "project.json").write_bytes(orjson.dumps(project_document(project, "v4")))


# --- running -----------------------------------------------------------------------------------


def generate(project: Path, rows: int) -> None:
    """Write the data in a child process. Linux starts a child's peak RSS (ru_maxrss) at the
    high-water mark of the process that spawned it, so this process must stay small for the
    measurements of its children to mean anything."""
    subprocess.run([sys.executable, __file__, "--rows", str(rows), "--generate-only", str(project)], check=True)


def run_measured(code: str, *args: str) -> tuple[float, int, str]:
    """Wall seconds, peak RSS (bytes, the child's own, from os.wait4) and stdout of
    ``python -c code args`` run in a fresh process."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        child = subprocess.Popen([sys.executable, "-c", code, *args], cwd=REPO, env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if child.returncode != 0:
            raise SystemExit(f"child failed ({child.returncode}):\n{err.read().decode(errors='replace')}")
        return wall, usage.ru_maxrss * 1024, out.read().decode()


def compare(ours: Path, theirs: Path) -> list[str]:
    """Differences between the two outputs, compared row by row after sorting by uid."""
    a = np.load(ours, mmap_mode="r")
    b = np.load(theirs, mmap_mode="r")
    problems = []
    if set(a.dtype.names) != set(b.dtype.names):
        problems.append(f"columns differ: only csrebind {sorted(set(a.dtype.names) - set(b.dtype.names))}, "
                        f"only baseline {sorted(set(b.dtype.names) - set(a.dtype.names))}")
    if len(a) != len(b):
        return problems + [f"row counts differ: csrebind {len(a)}, baseline {len(b)}"]
    ia = np.argsort(a["uid"])
    ib = np.argsort(b["uid"])
    for name in a.dtype.names:
        if name in b.dtype.names and not np.array_equal(np.asarray(a[name])[ia], np.asarray(b[name])[ib]):
            problems.append(f"values differ in {name}")
    return problems


def median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=2_000_000, help="rows of the blob and passthrough files")
    parser.add_argument("--repeat", type=int, default=1, help="runs of the floor and of csrebind (median kept)")
    parser.add_argument("--dir", help="work folder (default: a new temporary folder)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument("--generate-only", metavar="PROJECT", help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    if options.generate_only:  # the data are made in a child: see generate()
        project = Path(options.generate_only)
        counts = write_files(project, options.rows)
        write_project(project, counts)
        return 0
    work = Path(options.dir) if options.dir else Path(tempfile.mkdtemp(prefix="csrebind-bench-"))
    try:
        project = work / "P7"
        out_ours, out_theirs, out_floor = work / "out-csrebind", work / "out-baseline", work / "out-floor"
        for folder in (project, out_ours, out_theirs, out_floor):
            shutil.rmtree(folder, ignore_errors=True)
        out_theirs.mkdir(parents=True)
        out_floor.mkdir(parents=True)
        print(f"writing {options.rows:,} + {options.rows:,} + {options.rows // 2:,} rows into {project} …", flush=True)
        started = time.perf_counter()
        generate(project, options.rows)
        for name in (BLOB_FILE, PASS_FILE, ALIGN_FILE):
            rows = len(np.load(project / name, mmap_mode="r"))
            print(f"  {name}: {rows:,} rows, {(project / name).stat().st_size / 2**20:,.0f} MiB")
        print(f"  ({time.perf_counter() - started:.1f} s)", flush=True)

        ours, floors = [], []
        output = out_ours / "J3_particles_rebound.cs"
        for _ in range(max(1, options.repeat)):
            shutil.rmtree(out_ours, ignore_errors=True)
            ours.append(run_measured(CSREBIND_CHILD, str(project), str(out_ours)))
            size = output.stat().st_size
            floors.append(run_measured(FLOOR_CHILD, str(project), str(out_floor), str(size)))
            (out_floor / "floor.cs").unlink()
        t_base, rss_base, rows_base = run_measured(BASELINE_CHILD, str(project), str(out_theirs))
        problems = compare(output, out_theirs / "baseline.cs")

        t_ours, rss_ours = median([w for w, _, _ in ours]), max(r for _, r, _ in ours)
        t_floor, rss_floor = median([w for w, _, _ in floors]), max(r for _, r, _ in floors)
        time_ratio, rss_ratio, floor_ratio = t_ours / t_base, rss_ours / size, t_ours / t_floor
        mib = 2**20
        rows = [
            ("", "wall s", "peak RSS MiB", "rows"),
            ("csrebind export", f"{t_ours:.2f}", f"{rss_ours / mib:,.0f}", str(len(np.load(output, mmap_mode="r")))),
            ("cryosparc-tools", f"{t_base:.2f}", f"{rss_base / mib:,.0f}", rows_base.strip()),
            ("floor (read + write + fsync)", f"{t_floor:.2f}", f"{rss_floor / mib:,.0f}", ""),
        ]
        widths = [max(len(r[i]) for r in rows) for i in range(4)]
        print()
        for r in rows:
            print("  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))))
        if len(ours) > 1:
            print(f"  (median of {len(ours)} runs; csrebind {', '.join(f'{w:.2f}' for w, _, _ in ours)} s, "
                  f"floor {', '.join(f'{w:.2f}' for w, _, _ in floors)} s)")
        time_ok, rss_ok = time_ratio <= TIME_TARGET, rss_ratio <= RSS_TARGET
        seconds = SECONDS_TARGET.get(options.rows)
        seconds_ok = seconds is None or t_ours <= seconds
        print()
        print(f"output size        {size / mib:,.0f} MiB ({size:,} bytes)")
        print(f"time ratio         {time_ratio:.3f} (target ≤ {TIME_TARGET})  {'PASS' if time_ok else 'FAIL'}")
        if seconds is not None:
            print(f"time               {t_ours:.2f} s (target ≤ {seconds} s)  {'PASS' if seconds_ok else 'FAIL'}")
        print(f"ratio to floor     {floor_ratio:.2f} (csrebind / floor)")
        print(f"RSS / output size  {rss_ratio:.3f} (target ≤ {RSS_TARGET})  {'PASS' if rss_ok else 'FAIL'}")
        print(f"same rows/values   {'PASS' if not problems else 'FAIL: ' + '; '.join(problems)}")
        return 0 if time_ok and rss_ok and seconds_ok and not problems else 1
    finally:
        if options.keep or options.dir:
            print(f"work folder kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())

"""Benchmark: every read command on one job whose job.json is about 50 MB (120,000 results), in
both schemas, as whole processes, against a process that only orjson-parses that document
(issue 11: "a 50 MB document under 1 s"). Run on demand; not a pytest module.

    python tests/bench_bigdoc.py [--results 120000] [--repeat 5] [--schema v4,v5] [--dir DIR]

Writes a two-job project per schema (in a temporary folder, or DIR/<schema>-<results>/ kept for
later runs): J1 "extract" with one output group ``particles`` of RESULTS results, each with three
versions, three metafiles, per-version counts, a title and a 100-character description (the
size of a real result entry); J2 a building job whose input ``particles`` is connected to
J1.particles. The final metafile of the last result is a real numpy ``.cs`` file, so that
``resolve`` reads a header. Then times, each a fresh process (start-up and imports count), with a
warm page cache and the summary cache off (``--no-cache``: the document is read every time):

    baseline          python -c: read the document and orjson.loads it
    jobs              csrebind jobs P
    outputs           csrebind outputs P J1            (the human table: 120,000 rows)
    outputs --json    csrebind outputs P J1 --json
    inputs            csrebind inputs P J2
    resolve           csrebind resolve P J1.particles.<last>.F

Medians of ``--repeat`` runs, interleaved; PASS/FAIL against the target of 1 s each, and the ratio
to the baseline of the same run. Exit status 1 when a command fails or misses the target.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TARGET_SECONDS = 1.0
BASELINE = "import orjson, sys; orjson.loads(open(sys.argv[1], 'rb').read())"


def _result_v4(index: int) -> dict:
    return {
        "uid": f"J1-R{index}", "group_name": "particles", "name": f"res{index}", "type": "particle.blob",
        **_versions(index), "passthrough": False, "title": "Particle data", "description": "x" * 100,
    }


def _result_v5(index: int) -> dict:
    return {"name": f"res{index}", "dtype": "blob", "passthrough": False, **_versions(index)}


def _versions(index: int) -> dict:
    return {
        "versions": [0, 1, 2],
        "metafiles": [f"J1/J1_00{v}_particles_{index}.cs" for v in range(3)],
        "num_items": [1000, 1000, 1000],
    }


def _documents(schema: str, results: int) -> tuple[dict, dict]:
    """J1 (the big one) and J2 (building, connected to J1.particles) of one schema."""
    common = {"status": "completed", "children": ["J2"], "parents": [], "title": "big extraction"}
    if schema == "v4":
        big = {"uid": "J1", "job_type": "extract_micrographs_multi", **common, "input_slot_groups": [],
               "output_result_groups": [{"name": "particles", "type": "particle", "title": "Particles",
                                         "num_items": 1000}],
               "output_results": [_result_v4(i) for i in range(results)]}
        target = {"uid": "J2", "job_type": "homo_refine_new", "status": "building", "parents": ["J1"],
                  "children": [], "title": "refine", "output_result_groups": [], "output_results": [],
                  "input_slot_groups": [{
                      "name": "particles", "type": "particle", "title": "Particles", "count_min": 1,
                      "count_max": None, "repeat_allowed": False,
                      "slots": [{"name": "blob", "type": "particle.blob", "title": "Blob", "optional": False}],
                      "connections": [{"job_uid": "J1", "group_name": "particles",
                                       "slots": [{"slot_name": "blob", "job_uid": "J1", "group_name": "particles",
                                                  "result_name": f"res{results - 1}", "result_type": "particle.blob",
                                                  "version": "F"}]}]}]}
        return big, target
    outputs = {"particles": {"type": "particle", "title": "Particles", "description": "", "passthrough": None,
                             "slots": [], "num_items": 1000, "results": [_result_v5(i) for i in range(results)]}}
    big = {"uid": "J1", "project_uid": "P1", "workspace_uids": ["W1"], "job_dir": "J1", **common,
           "spec": {"type": "extract_micrographs_multi", "params": {}, "inputs": {}, "outputs": outputs}}
    target = {"uid": "J2", "project_uid": "P1", "workspace_uids": ["W1"], "job_dir": "J2", "status": "building",
              "parents": ["J1"], "children": [], "title": "refine",
              "spec": {"type": "homo_refine_new", "params": {}, "outputs": {}, "inputs": {"particles": {
                  "type": "particle", "title": "Particles", "description": "", "count_min": 1, "count_max": None,
                  "repeat_allowed": False,
                  "slots": [{"name": "blob", "dtype": "blob", "required": True}],
                  "connections": [{"job_uid": "J1", "output": "particles", "type": "particle",
                                   "results": [{"name": "blob", "dtype": "blob", "job_uid": "J1",
                                                "output": "particles", "result": f"res{results - 1}",
                                                "version": "F"}]}]}}}}
    return big, target


def write_project(root: Path, schema: str, results: int) -> Path:
    import numpy as np

    project = root / f"{schema}-{results}"
    if (project / "complete").exists():
        return project
    shutil.rmtree(project, ignore_errors=True)
    for uid, document in zip(("J1", "J2"), _documents(schema, results)):
        (project / uid).mkdir(parents=True)
        (project / uid / "job.json").write_text(json.dumps(document))
    (project / "project.json").write_text(json.dumps({"uid": "P1", "title": "big document"}))
    rows = np.zeros(1000, dtype=[("uid", "<u8"), ("blob/path", "S32"), ("blob/idx", "<u4")])
    rows["uid"] = np.arange(1, 1001)
    with open(project / "J1" / f"J1_002_particles_{results - 1}.cs", "wb") as f:
        np.save(f, rows)
    (project / "complete").write_text("")
    return project


def run(argv: list[str]) -> tuple[float, int, str]:
    start = time.perf_counter()
    done = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=REPO)
    return time.perf_counter() - start, done.returncode, done.stderr


def commands(project: Path, results: int) -> dict[str, list[str]]:
    cli = [sys.executable, "-m", "tui.cli"]
    return {
        "baseline": [sys.executable, "-c", BASELINE, str(project / "J1" / "job.json")],
        "jobs": [*cli, "jobs", str(project), "--no-cache"],
        "outputs": [*cli, "outputs", str(project), "J1", "--no-cache"],
        "outputs --json": [*cli, "outputs", str(project), "J1", "--json", "--no-cache"],
        "inputs": [*cli, "inputs", str(project), "J2", "--no-cache"],
        "resolve": [*cli, "resolve", str(project), f"J1.particles.res{results - 1}.F", "--no-cache"],
    }


def measure(project: Path, results: int, repeat: int) -> tuple[dict[str, float], list[str]]:
    named = commands(project, results)
    times: dict[str, list[float]] = {name: [] for name in named}
    problems = []
    for round_ in range(repeat + 1):  # the first round warms the page cache and is not kept
        for name, argv in named.items():
            seconds, status, stderr = run(argv)
            if status != 0 and round_ == 0:
                problems.append(f"{name}: exit {status}: {stderr.strip()[:300]}")
            if round_:
                times[name].append(seconds)
    return {name: statistics.median(values) for name, values in times.items()}, problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=int, default=120_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--schema", default="v4,v5")
    parser.add_argument("--dir", type=Path, help="keep the generated projects here")
    options = parser.parse_args()
    root = options.dir or Path(tempfile.mkdtemp(prefix="csrebind-bigdoc-"))
    failed = False
    try:
        for schema in options.schema.split(","):
            project = write_project(root, schema, options.results)
            size = (project / "J1" / "job.json").stat().st_size / 1e6
            medians, problems = measure(project, options.results, options.repeat)
            print(f"\n{schema}: J1/job.json {size:.1f} MB, {options.results:,} results; medians of {options.repeat}")
            base = medians["baseline"]
            for name, seconds in medians.items():
                verdict = "" if name == "baseline" else ("PASS" if seconds <= TARGET_SECONDS else "FAIL")
                failed |= verdict == "FAIL"
                print(f"  {name:<15} {seconds * 1000:7.0f} ms  {seconds / base:5.2f}× baseline  {verdict}")
            for problem in problems:
                failed = True
                print(f"  problem: {problem}")
    finally:
        if options.dir is None:
            shutil.rmtree(root, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

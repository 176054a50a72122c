"""A project built around the real J744 refinement files (not a test module).

``../shared/realdata/kttn8769__cryopicls/`` holds a CryoSPARC v2.15 refinement's particles in all
six versions (version 000 holds 2,270 of the 5,908 rows), its passthrough file and the .csg
CryoSPARC wrote. No job.json of it is public, so the documents are ours (tui.demo.docgen, the
model the reference describes); the .cs files are copied unchanged: J744 is the refinement,
J745 a Local Refinement being built on its particles.
"""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

import orjson

from tui.core.csfile import read_header
from tui.demo.docgen import (
    DocInput, DocJob, DocOutput, DocProject, DocResult, DocWorkspace, connect_output, doc_slots, job_document,
    project_document, with_children, workspaces_document,
)

J744_DIR = Path(__file__).resolve().parents[2] / "shared" / "realdata" / "kttn8769__cryopicls" / "tests" / "cryosparc_consensus"
VERSIONS = tuple(range(6))
VERSION_FILES = tuple(f"cryosparc_P2_J744_{v:03d}_particles.cs" for v in VERSIONS)
PASSTHROUGH_FILE = "P2_J744_passthrough_particles.cs"
START = datetime(2021, 1, 20, 22, 0, tzinfo=timezone.utc)


def j744_project(root: Path, schema: str = "v4") -> Path:
    """Write project P2 with J744 (completed refinement, real .cs files) and J745 (building,
    its particles input connected to J744.particles at F)."""
    job_dir = root / "J744"
    job_dir.mkdir(parents=True)
    for name in (*VERSION_FILES, PASSTHROUGH_FILE):
        shutil.copyfile(J744_DIR / name, job_dir / name)
        (job_dir / name).chmod(0o644)
    rows = tuple(read_header(job_dir / f).num_rows for f in VERSION_FILES)
    passthrough_rows = read_header(job_dir / PASSTHROUGH_FILE).num_rows
    own = tuple(
        DocResult(name, name, VERSIONS, tuple(f"J744/{f}" for f in VERSION_FILES), rows)
        for name in ("blob", "ctf", "alignments3D")
    )
    carried = tuple(
        DocResult(name, name, (0,), (f"J744/{PASSTHROUGH_FILE}",), (passthrough_rows,), passthrough=True)
        for name in ("alignments2D", "location", "pick_stats")
    )
    particles = DocOutput("particles", "particle", "All particles", own + carried, passthrough_input="particles",
                          description="All particles that were processed, including alignments")
    refinement = DocJob("J744", "homo_refine_new", "Homogeneous Refinement", "completed", START,
                        outputs=(particles,), events={"completed_at": START + timedelta(hours=2)})
    slots = doc_slots("blob", "ctf", "alignments3D")
    local = DocJob(
        "J745", "new_local_refine", "Local Refinement", "building", START + timedelta(hours=3), parents=("J744",),
        inputs=(DocInput("particles", "particle", "Particles", slots, (connect_output("J744", particles, slots),)),),
    )
    jobs = with_children([refinement, local])
    for job in jobs:
        _write(root / job.uid / "job.json", job_document(job, "P2", schema))
    project = DocProject("P2", "cryopicls consensus", str(root.resolve()), START - timedelta(days=1))
    _write(root / "project.json", project_document(project, schema, updated_at=local.created_at))
    _write(root / "workspaces.json", workspaces_document("P2", [DocWorkspace("W1", "Main", project.created_at)], schema))
    return root


def _write(path: Path, document: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2))

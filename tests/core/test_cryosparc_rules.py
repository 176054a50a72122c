"""Where csrebind follows CryoSPARC's own rules: a job never takes its own outputs, nor those of
a job built on it (a cycle; cryosparc-tools and CryoSPARC refuse both), and a stored version
that is no stored iteration is explained as CryoSPARC 4.x would read it."""

from __future__ import annotations

import pytest

from tui.core.candidates import list_candidates
from tui.core.errors import EditError
from tui.core.project import load_project
from tui.core.refs import ResultRef, SlotAddress
from tui.core.session import EditSession, lineage_conflict


@pytest.fixture
def project(demo_project):
    return load_project(demo_project)


def test_a_job_cannot_take_its_own_outputs(project):
    session = EditSession(project, "J9")
    with pytest.raises(EditError, match="J9 cannot take its own outputs: a job is never connected to itself"):
        session.put("particles.0.blob", "J9.particles.blob.F")
    with pytest.raises(EditError, match="J9 cannot take its own outputs"):
        session.put_group("particles", "J9", "particles")
    assert not session.dirty


def test_a_job_cannot_take_the_outputs_of_a_job_built_on_it(project):
    """J9 is built on J7 (J7 → J9, and J7 → J8 → J9): J7 taking J9's particles would be a cycle."""
    session = EditSession(project, "J7")
    with pytest.raises(EditError, match="J9 is built on J7's outputs: connecting it to J7 would make a cycle"):
        session.put("particles.0.alignments2D", "J9.particles.alignments2D.F")
    assert session.compatible_slots(ResultRef.parse("J9.particles.alignments2D.F")) == []
    assert session.compatible_slots(ResultRef.parse("J6.particles.alignments2D.F"))  # its own parent is fine
    assert session.compatible_inputs("J9", "particles") == []
    assert not session.dirty


def test_unrelated_and_ancestor_jobs_are_allowed(project):
    assert lineage_conflict(project, "J12", "J5") is None  # an ancestor
    assert lineage_conflict(project, "J10", "J9") is None  # a sibling branch
    assert lineage_conflict(project, "J5", "J12") is not None  # J5 → … → J9 → J12


def test_candidates_leave_out_the_target_and_its_descendants(project):
    session = EditSession(project, "J7")
    jobs = {c.job for c in list_candidates(session, SlotAddress("particles", 0, "alignments2D"))}
    assert "J6" in jobs and not jobs & {"J7", "J8", "J9", "J11", "J12"}


def test_a_stored_version_that_is_not_an_iteration_says_how_an_index_would_read(tmp_path):
    """J9's alignments3D holds iterations 0, 1, 2, 3, 5, 7: a connection recorded at version 4
    is no stored iteration, but CryoSPARC 4.x's load_output would read 4 as a list index (issue 10
    item 8)."""
    import json

    from tui.demo import write_demo

    root = write_demo(tmp_path / "demo", schema="v4")
    path = root / "J12" / "job.json"
    document = json.loads(path.read_text())
    slots = document["input_slot_groups"][0]["connections"][0]["slots"]
    next(s for s in slots if s["slot_name"] == "alignments3D")["version"] = 4
    path.write_text(json.dumps(document))
    session = EditSession(load_project(root), "J12")
    versions = session.project.result(ResultRef.parse("J9.particles.alignments3D")).versions
    assert versions == (0, 1, 2, 3, 5, 7)
    (issue,) = [i for i in session.validate() if "alignments3D" in i.message]
    assert issue.severity == "error"
    assert issue.message == (
        "particles.0.alignments3D: J9.particles.alignments3D.4: version 4 is not stored; stored versions: "
        "0, 1, 2, 3, 5, 7 (or F). Version 4 is not a stored iteration; as a list index (how CryoSPARC 4.x's "
        "load_output reads it) it would be iteration 5"
    )

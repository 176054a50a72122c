"""A job never takes its own outputs, nor those of a job built on it (a cycle): cryosparc-tools
and CryoSPARC refuse both, so csrebind refuses them with the reason (issue 10, item 6)."""

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

"""Candidates for a slot: every result in the project that fits it, measured (rows the join on
uid keeps, first fact) and ranked by rows kept, then the newest job."""

from __future__ import annotations

import numpy as np
import pytest

from realproject import j744_project
from tui.core.candidates import check_slot, find_candidates, list_candidates, rank
from tui.core.csfile import load, save
from tui.core.errors import CsRebindError
from tui.core.project import load_project
from tui.core.refs import SlotAddress
from tui.core.session import EditSession

BLOB = SlotAddress.parse("particles.0.blob")


def file_uids(project, metafile: str) -> np.ndarray:
    return np.asarray(load(project.absolute(metafile), fields=("uid",))["uid"])


def expected_kept(session: EditSession, address: SlotAddress, metafile: str) -> int:
    """The join, counted here from the raw files: the candidate's uids and those of every other
    file the connection reads (its other slots and passthroughs), intersected."""
    project = session.project
    connection = session.input(address.input).connections[address.connection]
    others = {project.resolve(b.ref).metafile for b in connection.bindings if b.slot != address.slot}
    kept = file_uids(project, metafile)
    for other in others:
        kept = np.intersect1d(kept, file_uids(project, other))
    return len(kept)


def test_every_fitting_result_of_another_job_is_listed(demo_project):
    session = EditSession(load_project(demo_project), "J12")
    listed = {str(c.ref) for c in list_candidates(session, BLOB)}
    expected = {
        str(result.ref())
        for job in session.project.jobs.values() if job.uid != "J12" and not job.broken
        for output in job.outputs if output.type == "particle"
        for result in output.results if result.dtype == "blob" and result.complete
    }
    assert listed == expected
    assert "J5.particles.blob.F" in listed and "J9.particles.blob.F" in listed
    assert not any(ref.startswith("J12.") for ref in listed)


def test_candidates_are_measured_and_ranked_by_rows_kept_then_newest(demo_project):
    session = EditSession(load_project(demo_project), "J12")
    found = find_candidates(session, BLOB)
    project = session.project
    for candidate in found:
        metafile = project.resolve(candidate.ref).metafile
        assert candidate.measured
        assert candidate.kept == expected_kept(session, BLOB, metafile), candidate.ref
        assert candidate.rows == len(file_uids(project, metafile))
    kept = [c.kept for c in found]
    assert kept == sorted(kept, reverse=True)
    assert kept[0] > 0 and kept[-1] == 0  # J7's excluded particles share no uid with J9's
    assert str(found[-1].ref) == "J7.particles_excluded.blob.F"
    assert "different particle lineage" in found[-1].empty
    current = next(c for c in found if c.current)
    assert str(current.ref) == "J9.particles.blob.F"
    ties = [c for c in found if c.kept == kept[0] and not c.current and c.status == "completed"]
    created = [c.created_at for c in ties]
    assert created == sorted(created, reverse=True)  # among equals: newest job first
    assert found.index(current) > max(found.index(c) for c in ties)  # the current binding last of its equals


def test_measuring_reads_no_job_document_again(demo_project, monkeypatch):
    """A search lists every job's outputs, more than the parsed documents kept (here: one), and
    measures afterwards from the results as listed: each job.json is read once, and the
    candidates come out as measured with every document kept."""
    from tui.core import jobread

    expected = find_candidates(EditSession(load_project(demo_project), "J12"), BLOB)
    monkeypatch.setattr(jobread.PARSED, "size", 1)
    session = EditSession(load_project(demo_project), "J12")
    reads: list[str] = []
    original = jobread.read_job_file
    monkeypatch.setattr(jobread, "read_job_file", lambda path: reads.append(str(path)) or original(path))
    found = find_candidates(session, BLOB)
    assert found == expected and len(found) >= 3 and all(c.measured for c in found)
    own = session.input(BLOB.input).connections[BLOB.connection].job  # its other slots: read again once, then kept
    read_jobs = [path.split("/")[-2] for path in reads]
    assert all(read_jobs.count(c.job) == 1 + (c.job == own) for c in found), " ".join(read_jobs)
    assert all(c.result is None for c in found)  # measured: the listed result is let go


def test_listing_reports_progress_through_the_jobs(demo_project, monkeypatch):
    from tui.core import candidates

    expected = list_candidates(EditSession(load_project(demo_project), "J12"), BLOB)
    monkeypatch.setattr(candidates, "PROGRESS_EVERY", 3)
    seen: list[tuple[int, int]] = []
    session = EditSession(load_project(demo_project), "J12")
    assert list_candidates(session, BLOB, progress=lambda read, total: seen.append((read, total))) == expected
    total = len([j for j in session.project.jobs.values() if not j.broken]) - 1  # all but J12 (nothing is built on it)
    assert seen == [(read, total) for read in range(3, total + 1, 3)] and len(seen) >= 3


def test_the_fact_is_the_blob_box_and_pixel_size(demo_project):
    session = EditSession(load_project(demo_project), "J12")
    by_ref = {str(c.ref): c for c in find_candidates(session, BLOB)}
    table = load(session.project.absolute(session.project.resolve("J5.particles.blob.F").metafile),
                 fields=("blob/shape", "blob/psize_A"))
    box = int(np.asarray(table["blob/shape"])[0][0])
    assert by_ref["J5.particles.blob.F"].fact.startswith(f"box {box} px, ")
    assert box != int(np.asarray(load(session.project.absolute(session.project.resolve(
        "J9.particles.blob.F").metafile), fields=("blob/shape",))["blob/shape"])[0][0])  # full size vs cropped


def test_a_missing_file_leaves_the_rows_unknown_and_ranks_last(demo_project):
    (demo_project / "J5/extracted_particles.cs").unlink()
    session = EditSession(load_project(demo_project), "J12")
    found = find_candidates(session, BLOB)
    j5 = next(c for c in found if str(c.ref) == "J5.particles.blob.F")
    assert j5.kept is None and "J5/extracted_particles.cs" in j5.unknown and j5.fact is None
    assert found[-1] is j5 or all(c.kept is None for c in found[found.index(j5):])


def test_a_new_lineage_keeps_no_row(demo_project):
    path = demo_project / "J5/extracted_particles.cs"
    table = np.array(load(path))
    table["uid"] += np.uint64(10**12)
    save(path, table)
    session = EditSession(load_project(demo_project), "J12")
    j5 = next(c for c in find_candidates(session, BLOB) if str(c.ref) == "J5.particles.blob.F")
    assert j5.kept == 0
    assert j5.empty.startswith(f"0 of {len(table):,} J5 uids are in J9.particles")


def test_candidates_on_the_real_j744_refinement(tmp_path):
    """J745 is built on J744's particles (real files): pinning nothing, the refinement's own
    poses keep every row of its final version."""
    project = load_project(j744_project(tmp_path))
    session = EditSession(project, "J745")
    address = SlotAddress.parse("particles.0.alignments3D")
    found = find_candidates(session, address)
    j744 = next(c for c in found if str(c.ref) == "J744.particles.alignments3D.F")
    final_rows = len(file_uids(project, project.resolve("J744.particles.alignments3D.F").metafile))
    assert j744.current and j744.rows == final_rows == 5908
    assert j744.kept == expected_kept(session, address, project.resolve(j744.ref).metafile)
    assert j744.fact.startswith("shifts in ")


def test_rank_puts_unknown_rows_last():
    from datetime import datetime, timezone

    from tui.core.candidates import Candidate
    from tui.core.refs import ResultRef

    def made(job, kept, day, status="completed"):
        return Candidate(ResultRef(job, "particles", "blob", "F"), "t", status,
                         datetime(2024, 1, day, tzinfo=timezone.utc), False, 10, False, True, kept, 10)

    ranked = rank([made("J1", None, 9), made("J2", 5, 1), made("J3", 5, 2), made("J4", 9, 1), made("J5", 5, 3, "failed")])
    assert [c.job for c in ranked] == ["J4", "J3", "J2", "J5", "J1"]


@pytest.mark.parametrize("text, message", [
    ("particles.0.nope", "input particles has no slot 'nope'"),
    ("particles.3.blob", "input particles has no connection 3; it has connections 0–0"),
    ("J9.particles.0.blob", "J9.particles.0.blob is a slot of J9, but the target is J12"),
    ("nothere.0.blob", "nothere"),
])
def test_a_slot_that_is_not_there_is_refused(demo_project, text, message):
    session = EditSession(load_project(demo_project), "J12")
    with pytest.raises(CsRebindError, match=message.replace("(", r"\(").replace(")", r"\)")):
        check_slot(session, SlotAddress.parse(text))

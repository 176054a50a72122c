"""The join preview: what CryoSPARC would load for an input as it is edited, from the uid
columns alone, and the same join as the export's pre-flight."""

from __future__ import annotations

import re

import numpy as np
import pytest

from realproject import j744_project
from tui.cli import main
from tui.core import preview, routes, uids
from tui.core.csfile import load, save
from tui.core.errors import CsRebindError, ExportError
from tui.core.project import load_project
from tui.core.session import EditSession

FULL_SIZE = "particles.0.blob=J5.particles.blob.F"


def session_for(project_dir, target: str, *edits: str) -> EditSession:
    session = EditSession(load_project(project_dir), target)
    for edit in edits:
        slot, _, ref = edit.partition("=")
        session.put(slot, ref)
    return session


def file_uids(path) -> np.ndarray:
    return np.asarray(load(path, fields=("uid",))["uid"])


def particles(previews) -> preview.ConnectionPreview:
    return next(p for p in previews if p.input == "particles")


def new_lineage(path) -> None:
    """Rewrite a .cs file as a re-extraction would: the same rows under new uids."""
    table = np.array(load(path))
    table["uid"] = table["uid"] + np.uint64(10**12)
    save(path, table)


def test_full_size_blob_keeps_every_particle_of_the_connection(demo_project):
    session = session_for(demo_project, "J12", FULL_SIZE)
    found = particles(preview.preview_session(session))
    j5 = file_uids(demo_project / "J5/extracted_particles.cs")
    j9 = file_uids(demo_project / "J9/J9_007_particles.cs")
    shared = len(np.intersect1d(j5, j9))
    assert (found.kept, found.total) == (shared, len(j9))
    by_file = {s.metafile: s for s in found.sources}
    assert by_file["J5/extracted_particles.cs"].rows == len(j5)
    assert by_file["J5/extracted_particles.cs"].dropped == len(j5) - shared > 0  # J9 kept a selection of J5
    assert found.keeps_text == f"keeps {shared:,} of {len(j9):,}"
    assert found.rows_text == f"{shared:,} rows"
    assert found.empty is None and found.unknown is None


def test_preview_and_export_preflight_agree(demo_project, tmp_path):
    session = session_for(demo_project, "J12", FULL_SIZE)
    found = particles(preview.preview_session(session))
    pending = routes.prepare_export(session, "particles", tmp_path / "out")
    report = pending.prepared.report
    assert report.rows == found.kept
    assert {s.metafile: (s.rows, s.kept) for s in report.sources} == {
        s.metafile: (s.rows, s.kept) for s in found.sources
    }


@pytest.fixture
def j744(tmp_path, schema):
    return j744_project(tmp_path / f"P2_{schema}", schema)


def test_real_refinement_pinned_to_iteration_0_keeps_its_2270_particles(j744):
    session = session_for(j744, "J745", "particles.0.alignments3D=J744.particles.alignments3D.0")
    (found,) = preview.preview_session(session)
    assert (found.kept, found.total) == (2270, 5908)  # version 000 of the real J744 holds 2,270 rows
    assert found.keeps_text == "keeps 2,270 of 5,908"
    (issue,) = preview.join_issues(session)
    assert issue.severity == "warning" and "keeps 2,270 of 5,908 rows (3,638 dropped)" in issue.message


def test_real_refinement_as_loaded_keeps_every_row(j744):
    (found,) = preview.preview_session(EditSession(load_project(j744), "J745"))
    assert (found.kept, found.total) == (5908, 5908)
    assert {s.metafile: s.rows for s in found.sources} == {
        "J744/cryosparc_P2_J744_005_particles.cs": 5908, "J744/P2_J744_passthrough_particles.cs": 5908,
    }


def test_a_different_lineage_keeps_nothing_and_every_route_refuses(demo_project, tmp_path, capsys):
    new_lineage(demo_project / "J5/extracted_particles.cs")
    session = session_for(demo_project, "J12", FULL_SIZE)
    found = particles(preview.preview_session(session))
    rows = len(file_uids(demo_project / "J5/extracted_particles.cs"))
    reason = f"0 of {rows:,} J5 uids are in J9.particles: different particle lineage (re-extracted or imported?)"
    assert found.kept == 0 and found.empty == reason
    (issue,) = [i for i in preview.join_issues(session) if i.severity == "error"]
    assert issue.message == f"particles.0 ← J9.particles: the join on uid keeps 0 rows: {reason}"
    assert reason in routes.write_heading(session)
    for route, write in (("plan", lambda: routes.write_plan(session, tmp_path / "p.json")),
                         ("script", lambda: routes.write_script(session, tmp_path / "s.py"))):
        with pytest.raises(CsRebindError, match=f"^{route} not written: .*{re.escape(reason)}"):
            write()
    assert not (tmp_path / "p.json").exists() and not (tmp_path / "s.py").exists()
    with pytest.raises(CsRebindError, match=f"^not applied: .*{re.escape(reason)}.*nothing was sent"):
        routes.prepare_apply(session, {})
    with pytest.raises(ExportError, match="no rows left after joining on uid"):
        routes.prepare_export(session, "particles", tmp_path / "out")
    capsys.readouterr()
    assert main(["preview", str(demo_project), "J12", "--set", FULL_SIZE]) == 1
    assert reason in capsys.readouterr().err
    assert main(["plan", str(demo_project), "J12", "--set", FULL_SIZE, "--out", str(tmp_path / "p.json")]) == 1
    assert reason in capsys.readouterr().err


def test_a_missing_file_leaves_rows_unknown_and_only_warns(demo_project):
    (demo_project / "J5/extracted_particles.cs").unlink()
    session = session_for(demo_project, "J12", FULL_SIZE)
    found = particles(preview.preview_session(session))
    assert found.kept is None and found.empty is None
    assert found.rows_text == "rows unknown (J5/extracted_particles.cs: missing)"
    issues = preview.join_issues(session)
    assert [i.severity for i in issues] == ["warning"]
    assert "rows unknown (J5/extracted_particles.cs: missing)" in issues[0].message


def test_a_missing_file_is_named_once_however_many_results_it_holds(demo_project):
    """The passthrough file gives three results of J9.particles: one file missing, said once."""
    (demo_project / "J9/J9_passthrough_particles.cs").unlink()
    found = particles(preview.preview_session(session_for(demo_project, "J12")))
    assert found.rows_text == "rows unknown (J9/J9_passthrough_particles.cs: missing)"


def test_preview_json_shape(demo_project, capsys):
    assert main(["preview", str(demo_project), "J12", "--json", "--set", FULL_SIZE]) == 0
    import json

    document = json.loads(capsys.readouterr().out)
    assert document["job"] == "J12"
    first = document["connections"][0]
    assert set(first) == {"input", "connection", "source", "rows", "of", "unknown", "error", "files"}
    assert set(first["files"][0]) == {"metafile", "rows", "kept", "dropped", "order_only", "provides"}
    assert first["source"] == "J9.particles" and first["rows"] == first["of"]


def test_uid_columns_are_cached_until_the_file_changes(demo_project):
    path = demo_project / "J5/extracted_particles.cs"
    first = uids.uid_column(path)
    assert uids.uid_column(path) is first
    assert not first.uids.flags.writeable
    new_lineage(path)
    again = uids.uid_column(path)
    assert again is not first and int(again.uids[0]) == int(first.uids[0]) + 10**12
    assert uids.shared(first, again) == 0 and uids.shared(again, again) == len(again)

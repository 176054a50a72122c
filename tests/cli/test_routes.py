"""The write-out routes: one set of checks and refusals, the same words from the CLI and the UI."""

from __future__ import annotations

import pytest

from tui.cli import main
from tui.core import routes
from tui.core.destination import default_output_dir
from tui.core.errors import CsRebindError, ExportError
from tui.core.project import load_project
from tui.core.session import EditSession


def session_for(project_dir, target: str, *edits: str) -> EditSession:
    session = EditSession(load_project(project_dir), target)
    for edit in edits:
        slot, _, ref = edit.partition("=")
        session.clear(slot) if ref == "" else session.put(slot, ref)
    return session


REFUSALS = {
    "draft": (("J11", "particles.0.blob=J5.particles.blob"),
              "J11 is failed: only a job in building status can be changed in a live CryoSPARC; write export or plan instead"),
    "problems": (("J12", "particles.0.ctf=", "particles.0.blob="),
                 "not applied: particles.0.blob: required slot is empty (and 1 more); nothing was sent"),
    "no edits": (("J12",), "nothing to apply: no edits against the job as loaded"),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_apply_refusals_are_the_same_in_core_and_cli(case, demo_project, tmp_path, capsys):
    (target, *edits), message = REFUSALS[case]
    session = session_for(demo_project, target, *edits)
    with pytest.raises(CsRebindError) as refused:
        routes.prepare_apply(session, {})
    assert str(refused.value) == message
    (plan,) = routes.write_plan(session, tmp_path / "plan.json")
    capsys.readouterr()
    assert main(["apply", str(plan)]) == 1
    assert f"csrebind: {message}\n" in capsys.readouterr().err


def test_prepared_apply_describes_what_it_will_send(demo_project):
    session = session_for(demo_project, "J12", "particles.0.alignments3D=J9.particles.alignments3D.3")
    pending = routes.prepare_apply(session, {"url": "http://cs.example.org:39000"})
    assert pending.question == "Apply 1 change(s) to J12 at http://cs.example.org:39000?"
    assert "connect J9.particles.alignments3D.3" in pending.details


def test_export_route_reports_before_writing(demo_project, tmp_path):
    session = session_for(demo_project, "J12", "particles.0.blob=J5.particles.blob")
    pending = routes.prepare_export(session, "particles", tmp_path / "out")
    assert pending.stem == "J12_particles_rebound"
    assert pending.question == f"Write {pending.prepared.report.rows:,} rows to {tmp_path / 'out' / 'J12_particles_rebound'}.cs and .csg?"
    assert pending.report_lines[0].startswith("export of J12 particles: ")
    assert not (tmp_path / "out").exists()  # nothing written until asked
    report = pending.write()
    assert report.cs_path.exists() and report.csg_path.exists() and report.rows == pending.prepared.report.rows


def test_export_route_refuses_inside_the_project(demo_project):
    session = session_for(demo_project, "J12")
    with pytest.raises(ExportError, match="inside the CryoSPARC project directory"):
        routes.prepare_export(session, "particles", demo_project / "exports")


@pytest.mark.parametrize("case", ["folder exists", "imports is a link", "bad name"])
def test_into_imports_refusals_are_the_same_in_core_and_cli(case, demo_project, tmp_path, capsys):
    from digest import tree_digest

    name = "mine"
    if case == "folder exists":
        (demo_project / "imports" / name).mkdir(parents=True)
    elif case == "imports is a link":
        (tmp_path / "elsewhere").mkdir()
        (demo_project / "imports").symlink_to(tmp_path / "elsewhere")
    else:
        name = "../mine"
    before = tree_digest(demo_project)
    with pytest.raises(ExportError) as refused:
        routes.prepare_export(session_for(demo_project, "J12"), "particles", name=name, into_imports=True)
    assert main(["export", str(demo_project), "J12", "particles", "--into-imports", "--name", name]) == 1
    assert capsys.readouterr().err == f"csrebind: {refused.value}\n"
    assert tree_digest(demo_project) == before
    assert case != "imports is a link" or not list((tmp_path / "elsewhere").iterdir())


def test_plan_and_script_all_or_nothing(demo_project, tmp_path):
    session = session_for(demo_project, "J12", "particles.0.blob=J5.particles.blob")
    (tmp_path / "apply.py").write_text("keep me")
    with pytest.raises(CsRebindError, match="already exists"):
        routes.write_plan(session, tmp_path / "plan.json", script=tmp_path / "apply.py")
    assert not (tmp_path / "plan.json").exists()
    assert (tmp_path / "apply.py").read_text() == "keep me"
    written = routes.write_plan(session, tmp_path / "plan.json", script=tmp_path / "apply.py", force=True)
    assert written == [tmp_path / "plan.json", tmp_path / "apply.py"]
    assert "keep me" not in (tmp_path / "apply.py").read_text()


def test_default_destinations_are_beside_the_project(demo_project):
    session = session_for(demo_project, "J12")
    folder = default_output_dir(demo_project)
    assert routes.default_destination(session, "export", "particles") == [
        "export", str(folder), "J12_particles_rebound"]
    assert routes.default_destination(session, "plan", "") == ["plan", str(folder / "J12_plan.json")]
    assert routes.default_destination(session, "script", "") == ["script", str(folder / "J12_apply.py")]
    assert routes.default_destination(session, "apply", "") == ["apply"]
    assert routes.default_destination(session, "imports", "particles") == [
        "export", "--into-imports", "J12_particles_rebound"]


def test_write_heading_lists_problems(demo_project):
    session = session_for(demo_project, "J12", "particles.0.ctf=")
    heading = routes.write_heading(session)
    assert heading.splitlines() == ["Write J12 (1 edit) as…", "  error: particles.0.ctf: required slot is empty"]

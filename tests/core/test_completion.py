"""The : line's tab completion and history (issue 9, friction ": line"), without a terminal:
commands, job uids (j5 and 5 too), references part by part, slot addresses, write's routes,
flags and paths; the history file (deduplicated, the last 500, atomic, unreadable = empty) and
walking it with up/down."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tui.core import history
from tui.core.commands import LINE_COMMANDS
from tui.core.completion import CompletionContext, complete, job_uid_prefix, matching_jobs, paths
from tui.core.history import HISTORY_SIZE, HistoryWalk, load_history, remember, save_history, with_command
from tui.core.project import load_project
from tui.core.session import EditSession


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from tui.demo import write_demo

    return write_demo(tmp_path_factory.mktemp("demo") / "CS-demo", schema="v4")


@pytest.fixture
def context(demo, tmp_path) -> CompletionContext:
    project = load_project(demo)
    return CompletionContext(project, EditSession(project, "J12"), cwd=tmp_path)


def completed(text: str, context: CompletionContext | None = None) -> tuple[str, list[str]]:
    found = complete(text, context)
    return found.text, found.labels


# --- commands and job uids --------------------------------------------------------------------------


def test_commands_complete_from_the_command_table():
    assert completed("ya") == ("yank ", ["yank"])
    assert completed(":ya") == (":yank ", ["yank"])  # the : line takes ":yank" too
    assert completed("put") == ("put", ["put", "put!"])  # nothing more they agree on
    assert completed("")[1] == [spec.name for spec in LINE_COMMANDS]
    assert completed("zz") == ("zz", [])
    assert completed("nosuch J") == ("nosuch J", [])  # an unknown command: nothing to offer


def test_job_uids_take_j5_and_5(context):
    assert completed("target 1", context) == ("target J1", ["J1", "J10", "J11", "J12"])
    assert completed("job j9", context) == ("job J9 ", ["J9"])
    assert completed("t 5", context) == ("t J5 ", ["J5"])  # an alias names the command too
    assert completed("target 77", context) == ("target 77", [])
    assert completed("target J9 ", context) == ("target J9 ", [])  # one argument only
    assert completed("target 1", CompletionContext()) == ("target 1", [])  # no project read yet


def test_job_uid_prefix_and_matching_jobs(context):
    assert [job_uid_prefix(w) for w in ("J5", "j5", "5", "", "x5", "J5.")] == ["J5", "J5", "J5", "J", None, None]
    assert matching_jobs(context.project, "J1") == ["J1", "J10", "J11", "J12"]  # by number, not as text
    assert matching_jobs(context.project, "J", limit=3) == ["J1", "J2", "J3"]


# --- references -------------------------------------------------------------------------------------


def test_references_complete_part_by_part(context):
    assert [c.value for c in complete("yank J", context).candidates][:3] == ["J1.", "J2.", "J3."]
    assert completed("yank J5.par", context) == ("yank J5.particles", ["particles.", "particles_fcrop."])
    assert completed("yank J5.particles_", context) == ("yank J5.particles_fcrop.", ["particles_fcrop."])
    assert completed("yank 5.particles.b", context) == ("yank J5.particles.blob", ["blob"])  # a version may follow
    assert completed("yank j9.particles.al", context) == ("yank J9.particles.alignments", ["alignments3D", "alignments2D"])


def test_versions_are_listed_by_value_F_first(context):
    text, labels = completed("yank J9.particles.alignments3D.", context)
    assert labels == ["F", "7", "5", "3", "2", "1", "0"] and text == "yank J9.particles.alignments3D."
    assert completed("yank J9.particles.alignments3D.7", context) == ("yank J9.particles.alignments3D.7 ", ["7"])
    assert completed("yank J9.particles.alignments3D.F", context)[0].endswith(".F ")


def test_references_that_lead_nowhere_offer_nothing(context):
    for text in ("yank J99.", "yank J9.nothing.", "yank J9.particles.nothing.", "yank J9.particles.blob.F.x",
                 "yank x.particles"):
        assert completed(text, context)[1] == [], text


def test_only_the_named_jobs_outputs_are_read(demo):
    """Completing J5.par must not parse the outputs of every job (50,000 in a large project)."""
    project = load_project(demo)
    parsed = lambda: {uid for uid, job in project.jobs.items() if job._outputs is not None}  # noqa: E731
    before = parsed()
    complete("yank J5.par", CompletionContext(project))
    complete("yank J", CompletionContext(project))
    assert parsed() - before <= {"J5"}


# --- slots and inputs of the target -----------------------------------------------------------------


def test_slot_addresses_come_from_the_target(context):
    text, labels = completed("put ", context)
    assert labels == ["particles.0.blob", "particles.0.ctf", "particles.0.alignments3D", "particles.0.sym_expand",
                      "volume.0.map"]
    assert completed("put particles.0.a", context) == ("put particles.0.alignments3D ", ["particles.0.alignments3D"])
    assert completed("clear vol", context) == ("clear volume.0.map ", ["volume.0.map"])
    assert completed("put! particles.0.c", context)[0] == "put! particles.0.ctf "
    assert completed("candidates particles.0.b", context)[0] == "candidates particles.0.blob "
    assert completed("put J12.particles.0.b", context)[0] == "put J12.particles.0.blob "
    assert completed("put particles.0.blob ", context)[1] == []
    assert completed("put ", CompletionContext(context.project))[1] == []  # no target


def test_connect_takes_an_input_then_a_connection(context):
    assert completed("connect p", context) == ("connect particles ", ["particles"])
    assert completed("connect particles ", context) == ("connect particles 0 ", ["0"])
    assert completed("connect mask ", context)[1] == []  # no connection yet


# --- write: routes, flags, paths ----------------------------------------------------------------------


def test_write_routes_and_flags(context):
    assert completed("write ", context)[1] == ["export", "plan", "script", "apply"]
    assert completed("write ex", context)[0] == "write export "
    assert completed("write export --i", context)[0] == "write export --into-imports "
    assert completed("write plan --", context)[1] == ["--force"]  # --into-imports is for export only
    assert completed("write --into-imports ", context)[1] == ["export"]
    assert completed("write export --into-imports ", context)[1] == []  # then a NAME, typed
    assert completed("write apply ", context)[1] == []


@pytest.fixture
def folder(tmp_path) -> Path:
    (tmp_path / "exports").mkdir()
    (tmp_path / "ex files").mkdir()
    (tmp_path / "notes.txt").write_text("")
    (tmp_path / ".cache").mkdir()
    return tmp_path


def test_write_export_completes_folders_and_plan_files(context, folder):
    assert completed("write export ", context)[1] == ["ex files/", "exports/"]  # folders only, no hidden one
    assert completed("write export exp", context) == ("write export exports/", ["exports/"])  # no space: go on
    assert completed("write plan ", context)[1] == ["ex files/", "exports/", "notes.txt"]
    assert completed("write plan n", context) == ("write plan notes.txt ", ["notes.txt"])
    assert completed("write plan .", context)[1] == [".cache/"]  # hidden ones when a dot is typed
    assert completed("write export ex", context) == ("write export ex", ["ex files/", "exports/"])
    assert completed("write export out NAME", context)[1] == []
    assert completed("write export nowhere/x", context)[1] == []


def test_paths_with_spaces_are_escaped_or_stay_in_their_quote(context, folder):
    assert completed("write export ex\\ ", context)[0] == "write export ex\\ files/"
    assert completed("write plan 'ex f", context)[0] == "write plan 'ex files/"
    assert completed("write plan \"ex files/", context)[1] == []
    (folder / "ex files" / "plan.json").write_text("")
    assert completed("write plan \"ex files/p", context)[0] == 'write plan "ex files/plan.json" '
    assert completed(f"write plan {folder}/no", context)[0] == f"write plan {folder}/notes.txt "  # absolute


def test_home_is_kept_as_typed(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "exports").mkdir()
    assert [c.value for c in paths("~")] == ["~/"]
    assert [c.value for c in paths("~/ex", folders_only=True)] == ["~/exports/"]


def test_choose_gives_each_candidate_in_turn(context):
    found = complete("target 1", context)
    assert [found.choose(i) for i in range(4)] == ["target J1 ", "target J10 ", "target J11 ", "target J12 "]
    found = complete("yank J5.par", context)
    assert found.choose(0) == "yank J5.particles."  # not complete: no space


# --- history --------------------------------------------------------------------------------------


def test_history_is_deduplicated_and_keeps_the_last_500():
    entries = with_command([], ["yank J5.particles.blob", "  ", "undo", "yank J5.particles.blob"])
    assert entries == ["undo", "yank J5.particles.blob"]
    many = with_command([], (f"job J{n}" for n in range(HISTORY_SIZE + 20)))
    assert len(many) == HISTORY_SIZE and many[0] == "job J20" and many[-1] == f"job J{HISTORY_SIZE + 19}"


def test_history_is_kept_in_the_state_directory():
    assert load_history() == []
    assert remember("yank J5.particles.blob") is None
    assert remember("undo") is None
    assert remember("yank J5.particles.blob") is None
    path = history.history_path()
    assert path.parent == Path(os.environ["XDG_STATE_HOME"]) / "csrebind"
    assert load_history() == ["undo", "yank J5.particles.blob"]
    assert [p.name for p in path.parent.iterdir()] == ["history.json"]  # written atomically: no part file left


@pytest.mark.parametrize("content", [b"\xff\xfe not json", b"[1, 2]", b'{"format": "other", "commands": ["x"]}',
                                     b'{"format": "csrebind-history", "commands": "undo"}', b""])
def test_an_unreadable_history_is_empty(content):
    path = history.history_path()
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    assert load_history() == []
    assert remember("undo") is None and load_history() == ["undo"]  # and replaced by the next command


def test_a_history_that_is_a_folder_or_cannot_be_written_is_not_an_error(tmp_path, monkeypatch):
    history.history_path().mkdir(parents=True)
    assert load_history() == []
    assert "command history not saved" in remember("undo")
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("XDG_STATE_HOME", str(blocker))
    assert "command history not saved" in remember("undo")


def test_saved_history_keeps_only_strings():
    save_history(["undo"])
    path = history.history_path()
    path.write_text('{"format": "csrebind-history", "commands": ["undo", 3, null, "redo"]}')
    assert load_history() == ["undo", "redo"]


def test_up_and_down_walk_the_commands_that_begin_with_the_typed_text():
    walk = HistoryWalk(["yank J5.particles.blob", "undo", "yank J9.particles.alignments3D.3", "write plan p.json"])
    assert walk.older("") == "write plan p.json"
    assert walk.older("ignored while walking") == "yank J9.particles.alignments3D.3"
    assert walk.newer() == "write plan p.json"
    assert walk.newer() == ""  # past the newest: the text typed before walking
    assert walk.newer() is None and not walk.walking
    assert walk.older("ya") == "yank J9.particles.alignments3D.3"
    assert walk.older("") == "yank J5.particles.blob"
    assert walk.older("") is None  # no older one: the line stays
    assert walk.newer() == "yank J9.particles.alignments3D.3"
    assert walk.newer() == "ya"
    walk.reset()
    assert walk.older("zz") is None and HistoryWalk([]).older("") is None

"""Issue 11 item 7: the journal is named from the project's resolved path, so it is found whatever
path was typed (``cd PROJECT && csrebind``, ``.``, a relative path, a symbolic link); and one
window's quit, or an "n" to a restore prompt, never deletes the journal of another window that is
still running with unsaved edits (one journal per window, each held by a lock)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tui.core import journal as journal_module
from tui.core.journal import JournalWriter, find_journals, journal_dir, load_journal
from tui.core.project import load_project
from tui.core.workbench import Workbench


def plan(target: str, *changes: str) -> dict:
    return {"format": "csrebind-plan", "target": target, "changes": list(changes)}


@pytest.fixture
def project_dir(tmp_path) -> Path:
    from tui.demo import write_demo

    return write_demo(tmp_path / "data" / "CS-named", schema="v5")


@pytest.fixture
def link(project_dir, tmp_path) -> Path:
    link = tmp_path / "elsewhere" / "shortcut"
    link.parent.mkdir()
    link.symlink_to(project_dir, target_is_directory=True)
    return link


# --- naming ------------------------------------------------------------------------------------------


def test_every_way_of_typing_the_project_names_one_journal(project_dir, link, tmp_path, monkeypatch):
    resolved = journal_dir(project_dir)
    assert resolved.name.startswith("CS-named-")
    monkeypatch.chdir(project_dir)
    assert journal_dir(Path("")) == journal_dir(Path(".")) == resolved  # cd PROJECT && csrebind
    monkeypatch.chdir(project_dir.parent)
    assert journal_dir(Path("CS-named")) == journal_dir(Path("./CS-named/")) == resolved
    monkeypatch.chdir(tmp_path)
    assert journal_dir(link) == journal_dir(Path("elsewhere/shortcut")) == resolved  # through a symlink
    assert journal_dir(Path("data/../data/CS-named")) == resolved
    assert journal_dir(tmp_path / "data") != resolved  # another directory, another journal


@pytest.mark.parametrize("typed", ["", ".", "cwd-relative", "symlink", "symlink-relative"])
def test_a_journal_written_through_any_path_is_restored_through_any_other(project_dir, link, tmp_path, monkeypatch,
                                                                          typed):
    """The app journals under project.path and restores from it: a window opened with the path
    typed one way ends without quitting; a window opened another way is offered its edits."""
    cwd, path = {
        "": (project_dir, ""),
        ".": (project_dir, "."),
        "cwd-relative": (project_dir.parent, "CS-named"),
        "symlink": (tmp_path, str(link)),
        "symlink-relative": (link.parent, "shortcut"),
    }[typed]
    monkeypatch.chdir(cwd)
    first = Workbench(load_project(path))  # as MainScreen builds it
    first.journal.write(first.journal.snapshot([plan("J12", "a")]))
    first.journal.close()  # ended without quitting
    for other in ("", str(link), str(project_dir)):
        monkeypatch.chdir(project_dir if other == "" else tmp_path)
        (found,) = find_journals(load_project(other).path)
        assert found.path == first.journal.path and found.targets == ["J12"]
        found.release()
        (found,) = find_journals(Path(other))  # the path as typed, unresolved, finds it too
        assert found.path == first.journal.path
        found.release()
    assert [p["target"] for p in load_journal(link)] == ["J12"]


def test_the_journal_records_the_resolved_project_path(project_dir, link):
    writer = JournalWriter(link)
    assert writer.project_path == project_dir.resolve()
    writer.write(writer.snapshot([plan("J12", "a")]))
    assert str(project_dir.resolve()) in writer.path.read_text()
    writer.discard()


# --- another window's journal -------------------------------------------------------------------------

RUNNING = """
import sys
from pathlib import Path
from tui.core.journal import JournalWriter
writer = JournalWriter(Path(sys.argv[1]))
writer.write(writer.snapshot([{"format": "csrebind-plan", "target": "J11", "changes": ["unsaved"]}]))
print(writer.path, flush=True)
sys.stdin.readline()  # runs, with its unsaved edit, until told to end
"""


@pytest.fixture
def running_window(project_dir):
    """Another csrebind process on the project, running with an unsaved edit (its lock held)."""
    process = subprocess.Popen([sys.executable, "-c", RUNNING, str(project_dir)], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    path = Path(process.stdout.readline().strip())
    assert path.exists()
    yield process, path
    if process.poll() is None:
        process.kill()
        process.wait()


def test_quitting_one_window_keeps_another_running_windows_journal(project_dir, running_window):
    _, other = running_window
    mine = Workbench(load_project(project_dir))
    mine.journal.write(mine.journal.snapshot([plan("J12", "mine")]))
    assert sorted(p["target"] for p in load_journal(project_dir)) == ["J11", "J12"]
    mine.journal.discard()  # q with nothing unwritten, or "quit and discard them? y"
    assert not mine.journal.path.exists()
    assert other.exists() and [p["target"] for p in load_journal(project_dir)] == ["J11"]


def test_n_to_a_restore_prompt_keeps_another_running_windows_journal(project_dir, running_window):
    process, other = running_window
    ended = JournalWriter(project_dir)
    ended.write(ended.snapshot([plan("J12", "ended")]))
    ended.close()  # a window that ended without quitting
    offered = find_journals(project_dir)
    assert [j.path for j in offered] == [ended.path]  # the running window's journal is not offered
    for journal in offered:  # "n": discard what was offered (restore.py's answered([]))
        journal.remove()
    assert not ended.path.exists() and other.exists()
    assert other.with_suffix(".lock").exists()
    process.kill()  # now that window ends without quitting: its journal is offered
    process.wait()
    (found,) = find_journals(project_dir)
    assert found.path == other and found.targets == ["J11"] and found.changes() == ["J11: unsaved"]
    found.release()


def test_without_working_locks_a_running_windows_journal_is_still_never_offered(project_dir, running_window,
                                                                                monkeypatch):
    """On a file system that cannot lock (some network file systems), the pid in the journal
    decides: the running window's journal is neither offered nor deleted."""
    _, other = running_window

    def no_locks(fd, operation):
        raise OSError(37, "No locks available")

    monkeypatch.setattr(journal_module.fcntl, "flock", no_locks)
    assert find_journals(project_dir) == []
    assert other.exists()


def test_a_window_that_undoes_every_edit_and_another_that_looks_at_that_moment(project_dir):
    """A window whose edits are all undone removes its journal and lock; its next edit journals
    again under a lock, and a finder running in between offers nothing of it."""
    window = JournalWriter(project_dir)
    window.write(window.snapshot([plan("J12", "a")]))
    window.write(window.snapshot([]))  # every edit undone
    assert not window.path.exists() and not window.path.with_suffix(".lock").exists()
    assert find_journals(project_dir) == []
    window.write(window.snapshot([plan("J12", "b")]))
    deadline = time.monotonic() + 1
    while time.monotonic() < deadline and not window.path.exists():
        time.sleep(0.01)
    assert find_journals(project_dir) == []  # running again: its lock is held
    window.discard()
    assert load_journal(project_dir) == []

"""The journal of each running csrebind (issue 9 bug 3): one file per instance, held by a lock;
only the journals of instances that have ended are offered; damaged ones are reported in one line;
the old one-file-per-project journal is read once."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta

import orjson

from tui.core.journal import (JOURNAL_VERSION, JournalWriter, find_journals, journal_dir, journal_path,
                              load_journal, save_journal)


def plan(target: str, *changes: str) -> dict:
    return {"format": "csrebind-plan", "target": target, "changes": list(changes)}


def test_two_instances_on_one_project_keep_two_journals(tmp_path):
    first, second = JournalWriter(tmp_path), JournalWriter(tmp_path)
    assert first.write(first.snapshot([plan("J11", "a")]))
    assert second.write(second.snapshot([plan("J12", "b")]))
    assert sorted(p["target"] for p in load_journal(tmp_path)) == ["J11", "J12"]  # neither overwrote the other
    assert first.path != second.path and first.path.parent == second.path.parent == journal_dir(tmp_path)
    document = orjson.loads(first.path.read_bytes())
    assert document["format_version"] == JOURNAL_VERSION
    assert document["instance"]["pid"] == os.getpid() and document["instance"]["started"]
    assert first.path.name.startswith(f"{os.getpid()}-")
    assert datetime.fromisoformat(document["saved"]) <= datetime.now().astimezone()


def test_a_running_instances_journal_is_never_offered(tmp_path):
    live, ended = JournalWriter(tmp_path), JournalWriter(tmp_path)
    live.write(live.snapshot([plan("J11", "a")]))
    ended.write(ended.snapshot([plan("J12", "b", "c"), plan("J9", "d")]))
    assert find_journals(tmp_path) == []  # both still running
    ended.close()  # the app ended without a quit (a crash, a dropped connection)
    (found,) = find_journals(tmp_path)
    assert found.path == ended.path and found.problem is None
    assert found.targets == ["J12", "J9"] and found.edits == 3
    assert found.changes() == ["J12: b", "J12: c", "J9: d"]
    assert found.summary().startswith(f"J12, J9 · 3 edit(s) · saved at {found.saved.astimezone():%H:%M} · pid ")
    assert find_journals(tmp_path) == []  # claimed by the first finder: not offered twice at once
    found.release()  # kept for later
    (again,) = find_journals(tmp_path)
    again.remove()
    assert not ended.path.exists() and live.path.exists()
    assert [p["target"] for p in load_journal(tmp_path)] == ["J11"]


def test_a_journal_of_a_process_that_died_is_offered(tmp_path):
    """A real second process writes its journal and is killed: its lock goes with it."""
    script = ("import sys, os; from pathlib import Path; from tui.core.journal import JournalWriter;"
              "w = JournalWriter(Path(sys.argv[1])); w.write(w.snapshot([{'target': 'J12', 'changes': ['x']}]));"
              "print(w.path, flush=True); os._exit(0)")
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True, check=True,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    (found,) = find_journals(tmp_path)
    assert str(found.path) == done.stdout.strip() and found.targets == ["J12"]
    found.release()


def test_discard_removes_only_this_instances_journal(tmp_path):
    mine, other = JournalWriter(tmp_path), JournalWriter(tmp_path)
    mine.write(mine.snapshot([plan("J11")]))
    other.write(other.snapshot([plan("J12")]))
    mine.discard()
    assert not mine.path.exists() and other.path.exists()
    assert not mine.write(mine.snapshot([plan("J11")]))  # a late write after the quit brings nothing back


def test_damaged_journals_are_reported_in_one_line_and_skipped(tmp_path):
    folder = journal_dir(tmp_path)
    folder.mkdir(parents=True)
    (folder / "1-a.json").write_text("{broken")
    (folder / "2-b.json").write_text('["not", "a", "journal"]')
    (folder / "3-c.json").write_text('{"format": "csrebind-journal", "format_version": 9, "sessions": []}')
    (folder / "4-d.json").write_text('{"format": "csrebind-journal", "format_version": 2, "sessions": 5}')
    (folder / "5-e.json").write_text('{"format": "csrebind-journal", "format_version": 2, "sessions": [1, "x"]}')
    (folder / "6-f.json").write_bytes(b"\xff\xfe")
    ok = JournalWriter(tmp_path)
    ok.write(ok.snapshot([plan("J12", "a")]))
    ok.close()
    found = find_journals(tmp_path)
    assert [j.path.name for j in found if j.problem is None] == [ok.path.name]
    problems = sorted(j.problem for j in found if j.problem)
    assert len(problems) == 6 and all("\n" not in p and p.endswith("; skipped") for p in problems)
    assert "1-a.json is not valid JSON" in problems[0]
    assert "2-b.json is not a csrebind journal" in problems[1]
    assert "3-c.json has format version 9" in problems[2]
    assert "4-d.json has no list of \"sessions\"" in problems[3]
    assert "5-e.json has no usable session (sessions[0]: expected a session (an object), found 1; and 1 more)" in problems[4]
    assert "6-f.json is not valid JSON" in problems[5]
    assert sorted(p["target"] for p in load_journal(tmp_path)) == ["J12"]
    for journal in found:
        journal.release()


def test_the_old_single_file_journal_is_offered_once(tmp_path):
    save_journal(tmp_path, [plan("J12", "a", "b")])  # as csrebind wrote it before per-instance journals
    (found,) = find_journals(tmp_path)
    assert found.path == journal_path(tmp_path) and found.version == 1
    assert found.targets == ["J12"] and found.edits == 2 and "an earlier csrebind" in found.summary()
    found.remove()
    assert not journal_path(tmp_path).exists() and find_journals(tmp_path) == []


def test_a_journal_whose_sessions_partly_restored_keeps_the_rest(tmp_path):
    ended = JournalWriter(tmp_path)
    ended.write(ended.snapshot([plan("J12", "a"), plan("J404", "b")]))
    ended.close()
    (found,) = find_journals(tmp_path)
    found.keep_only([found.sessions[1]])
    (again,) = find_journals(tmp_path)
    assert again.targets == ["J404"]
    again.keep_only([])
    assert find_journals(tmp_path) == [] and load_journal(tmp_path) == []


def test_saved_time_reads_as_today_or_a_date(tmp_path):
    ended = JournalWriter(tmp_path)
    ended.write(ended.snapshot([plan("J12", "a")]))
    ended.close()
    (found,) = find_journals(tmp_path)
    assert found.when().startswith("at ")
    assert found.when(now=found.saved + timedelta(days=2)).startswith("on ")
    found.release()

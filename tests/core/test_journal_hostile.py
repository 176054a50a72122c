"""Journals are untrusted documents (issue 11 items 1 and 7): a journal of the wrong shape never
crashes the restore; a damaged file is reported in one line naming it and kept (never deleted); a
malformed session is refused in one line naming the journal and its key path, stays in the file,
and never costs another, valid session of the same journal. Hand-picked mutations first, then
Hypothesis mutating a real journal (profile "ci": small and derandomized)."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tui.core.errors import CsRebindError
from tui.core.journal import FoundJournal, JournalWriter, find_journals, journal_dir
from tui.core.project import load_project
from tui.core.session import EditSession
from tui.core.untrusted import load_json
from tui.core.workbench import Workbench

from test_planfile import dump_fuzzed, mutated  # the same mutations as plan files get

INFINITY = "__INFINITY__"


@pytest.fixture(scope="module")
def project_dir(tmp_path_factory) -> Path:
    from tui.demo import write_demo

    return write_demo(tmp_path_factory.mktemp("journals") / "CS-journals", schema="v5")


@pytest.fixture(scope="module")
def project(project_dir):
    return load_project(project_dir)


@pytest.fixture(scope="module")
def sessions(project) -> list[dict]:
    """Two journaled sessions as the app writes them: J12 (valid, left alone) and J11 (mutated)."""
    good = EditSession(project, "J12")
    good.put("particles.0.blob", "J5.particles.blob")
    other = EditSession(project, "J11")
    other.put("particles.0.alignments3D", "J9.particles.alignments3D.3")
    return json.loads(json.dumps([good.to_plan(), other.to_plan()]))


def ended_journal(project_dir: Path, sessions: list) -> JournalWriter:
    writer = JournalWriter(project_dir)
    writer.write(writer.snapshot(sessions))
    writer.close()
    return writer


def rewrite(path: Path, document, text: str | bytes | None = None) -> bytes:
    if text is None:
        text = json.dumps(document).replace(f'"{INFINITY}"', "Infinity")
    data = text.encode("utf-8", errors="surrogatepass") if isinstance(text, str) else text
    path.write_bytes(data)
    return data


def restore(project, offered: list[FoundJournal]) -> tuple[Workbench, list[str]]:
    """What restore.py does when every offered journal is restored: each session opened (a
    refusal said in one line), this window's journal written, the failures kept in theirs."""
    bench = Workbench(project)
    notes: list[str] = []
    for journal in offered:
        failed = []
        for entry in journal.sessions:
            try:
                bench.restore(entry)
            except CsRebindError as exc:
                failed.append(entry)
                notes.append(f"journal {journal.path}: {entry.get('target')} not restored: {exc}")
        journal.summary(), journal.changes()  # what the prompt shows
        bench.journal.write(bench.journal_snapshot())
        journal.keep_only(failed)
    return bench, notes


def one_line(message: str, path: Path) -> None:
    assert "\n" not in message and message.startswith(f"journal {path}"), message
    assert len(message) < 700, message


# (id, mutation of the journal document, what the one-line message must say)
SESSION = lambda d: d["sessions"][1]  # noqa: E731

SESSION_MUTATIONS = [
    # refused when the journal is read (not offered; kept in the file)
    ("session-5", lambda d: d["sessions"].__setitem__(1, 5), "a session not restored: sessions[1]: expected a session"),
    ("session-null", lambda d: d["sessions"].__setitem__(1, None), "sessions[1]: expected a session"),
    ("session-list", lambda d: d["sessions"].__setitem__(1, [SESSION(d)]), "sessions[1]: expected a session"),
    ("target-list", lambda d: SESSION(d).update(target=["J11"]), "sessions[1].target: expected a job uid"),
    ("target-missing", lambda d: SESSION(d).pop("target"), "sessions[1].target: expected a job uid"),
    ("target-surrogate", lambda d: SESSION(d).update(target="J1\ud800"), "sessions[1].target: the job uid 'J1\\ud800'"),
    ("target-escape", lambda d: SESSION(d).update(target="\x1b[2J"), "sessions[1].target: the job uid '\\x1b[2J'"),
    ("target-path", lambda d: SESSION(d).update(target="../J11"), "sessions[1].target: '../J11' is not a job uid"),
    ("changes-5", lambda d: SESSION(d).update(changes=5), "J11 not restored: sessions[1].changes: expected a list"),
    ("change-object", lambda d: SESSION(d).update(changes=[{}]), "J11 not restored: sessions[1].changes[0]: expected text"),
    # refused when the session is restored (offered, then kept in the file)
    ("project-text", lambda d: SESSION(d).update(project="P3"), "J11 not restored: sessions[1].project: expected an object"),
    ("project-other", lambda d: SESSION(d)["project"].update(uid="P77"), "sessions[1].project.uid: plan is for project P77"),
    ("inputs-5", lambda d: SESSION(d).update(inputs=5), "J11 not restored: sessions[1].inputs: expected a list, found 5"),
    ("connections-5", lambda d: SESSION(d)["inputs"][0].update(connections=5), "sessions[1].inputs[0].connections: expected a list"),
    ("input-name-nul", lambda d: SESSION(d)["inputs"][0].update(name="a\x00b"), "sessions[1].inputs[0].name: the input name"),
    ("ref-infinity", lambda d: SESSION(d)["inputs"][0]["connections"][0]["bindings"][0].update(ref=INFINITY),
     "sessions[1].inputs[0].connections[0].bindings[0].ref: expected a result reference (text), found Infinity"),
    ("version-huge", lambda d: SESSION(d)["inputs"][0]["connections"][0]["bindings"][0].update(
        ref="J9.particles.blob." + "9" * 30), "sessions[1].inputs[0].connections[0].bindings[0].ref"),
    ("format-version", lambda d: SESSION(d).update(format_version=INFINITY), "sessions[1]: plan format version Infinity"),
    ("no-such-job", lambda d: SESSION(d).update(target="J404"), "J404 not restored"),
]


@pytest.mark.parametrize("mutate, said", [m[1:] for m in SESSION_MUTATIONS], ids=[m[0] for m in SESSION_MUTATIONS])
def test_a_malformed_session_is_refused_and_the_valid_one_restored(project, project_dir, sessions, mutate, said):
    ended = ended_journal(project_dir, sessions)
    document = orjson.loads(ended.path.read_bytes())
    mutate(document)
    data = rewrite(ended.path, document)
    bad_session = json.loads(data)["sessions"][1]
    found = find_journals(project_dir)
    problems = [j.problem for j in found if j.problem]
    (offered,) = [j for j in found if not j.problem]
    assert offered.targets[0] == "J12"
    bench, notes = restore(project, [offered])
    messages = problems + notes
    assert len(messages) == 1, messages
    one_line(messages[0], ended.path)
    assert said in messages[0], (said, messages[0])
    # the valid session is restored into this window's journal ...
    assert bench.sessions["J12"].dirty and str(bench.sessions["J12"].binding("particles.0.blob").ref) == "J5.particles.blob.F"
    assert [p["target"] for p in orjson.loads(bench.journal.path.read_bytes())["sessions"]] == ["J12"]
    bench.journal.discard()
    aside = ended.path.parent / "refused" / ended.path.name
    if problems:  # ... and one refused when read was copied aside, byte for byte, before its journal went
        assert messages[0].endswith(f"; kept aside in {aside}")
        assert aside.read_bytes() == data and not ended.path.exists()
        assert find_journals(project_dir) == []  # not offered again, not reported again
    else:  # ... and one refused when restored stays in its journal, as it was, to be offered again
        assert not aside.exists() and json.loads(ended.path.read_text())["sessions"] == [bad_session]
        (again,) = find_journals(project_dir)
        assert again.targets == [bad_session["target"]]
        again.release()


@pytest.mark.parametrize("said, mutate", [
    ("is not valid JSON", lambda d: "{" * 3),
    ("is not valid JSON", lambda d: ""),
    ("is not valid JSON", lambda d: json.dumps(d)[:-40]),
    ("is nested more than 1024 levels deep; not a csrebind journal", lambda d: "[" * 100_000),
    ("is not a csrebind journal", lambda d: "[]"),
    ("is not a csrebind journal", lambda d: d.update(format=None)),
    ("has format version Infinity", lambda d: d.update(format_version=INFINITY)),
    ("has format version true", lambda d: d.update(format_version=True)),
    ("has format version '2'", lambda d: d.update(format_version="2")),
    ('has no list of "sessions"', lambda d: d.update(sessions={"0": d["sessions"][0]})),
    ('has no list of "sessions"', lambda d: d.pop("sessions") and None),
    ("has no usable session (sessions[0]: expected a session (an object), found 'J12'; and 1 more)",
     lambda d: d.update(sessions=["J12", 5])),
])
def test_a_damaged_journal_is_reported_in_one_line_and_kept(project_dir, sessions, said, mutate):
    ended = ended_journal(project_dir, sessions)
    document = orjson.loads(ended.path.read_bytes())
    text = mutate(document)
    data = rewrite(ended.path, document, text)
    (found,) = find_journals(project_dir)
    one_line(found.problem, ended.path)
    assert f"journal {ended.path} {said}" in found.problem and found.problem.endswith("; skipped")
    assert ended.path.read_bytes() == data  # kept as it was: never deleted, never rewritten
    found.release()
    assert find_journals(project_dir)[0].problem == found.problem  # and said again at the next start


@pytest.mark.parametrize("instance, saved", [
    ({"pid": 2**70, "host": "\x1b[2Jhost\ud800"}, "9999-12-31T23:59:59-23:59"),
    ({"pid": -1, "host": ["h"]}, 5),
    ({"pid": 0, "host": None}, "0001-01-01T00:00:00+14:00"),
    ({"pid": "4242", "host": "x" * 10_000}, "x" * 10_000),
    ("instance", INFINITY),
])
def test_odd_instance_and_time_fields_are_read_safely(project_dir, sessions, instance, saved):
    """A pid that os.kill cannot take (or that names a process group), a host with escapes, a
    time that cannot be shown: the journal is still offered, and its summary is safe to print."""
    ended = ended_journal(project_dir, sessions)
    document = orjson.loads(ended.path.read_bytes())
    document["instance"], document["saved"] = instance, saved
    rewrite(ended.path, document)
    os.unlink(ended.path.with_suffix(".lock"))  # no lock file: the pid decides
    (found,) = find_journals(project_dir)
    summary = found.summary()
    assert summary.startswith("J12, J11 · 2 edit(s) · saved ") and summary.isprintable() and len(summary) < 400
    assert found.pid is None and found.saved is not None  # the file's time stands in
    found.release()


def test_a_fifo_or_directory_in_the_journal_folder_never_blocks(project_dir):
    folder = journal_dir(project_dir)
    folder.mkdir(parents=True)
    os.mkfifo(folder / "1-fifo.json")
    (folder / "2-dir.json").mkdir()
    problems = sorted(j.problem for j in find_journals(project_dir))
    assert problems == [f"journal {folder / '1-fifo.json'} is not a regular file; skipped",
                        f"journal {folder / '2-dir.json'} is not a regular file; skipped"]


# --- Hypothesis: a real journal mutated at random key paths ----------------------------------------------

FUZZ = settings(
    max_examples=settings.default.max_examples if settings.get_current_profile_name() != "ci" else 50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                           HealthCheck.data_too_large, HealthCheck.large_base_example],
)


def canonical(value) -> str:
    """JSON text to compare documents read back (NaN equal to NaN, key order ignored)."""
    return json.dumps(value, sort_keys=True, allow_nan=True, ensure_ascii=True)


@FUZZ
@given(data=st.data())
def test_mutated_journals_never_crash_and_never_lose_the_valid_session(project, project_dir, sessions, data):
    """The second session and the journal's other fields (instance, saved, project_path) mutated;
    the first session, valid, is always offered and restored (unless the file as a whole is nested
    too deeply to read: then it is reported and left as it was); the second is restored, or stays
    in its journal, or is kept aside byte for byte: never lost, never a traceback."""
    shutil.rmtree(journal_dir(project_dir), ignore_errors=True)
    ended = ended_journal(project_dir, sessions)
    document = orjson.loads(ended.path.read_bytes())
    first = document["sessions"][0]
    open_to_mutation = {key: value for key, value in document.items() if key not in ("format", "format_version", "sessions")}
    damaged = data.draw(mutated({**open_to_mutation, "second": document["sessions"][1]}), label="journal")
    has_second = "second" in damaged
    second = damaged.pop("second", None)
    written = dump_fuzzed({**damaged, "format": "csrebind-journal", "format_version": 2,
                           "sessions": [first, second] if has_second else [first]})
    if written.startswith(b"[[["):  # an integer too long to write: not a case of this test
        return
    ended.path.write_bytes(written)
    found = find_journals(project_dir)
    for journal in found:
        if journal.problem:
            one_line(journal.problem, ended.path)
    offered = [j for j in found if not j.problem]
    if not offered:  # the file as a whole cannot be read (nested too deeply): reported and left as it was
        (damaged_file,) = found
        assert re.search(r"is nested (more than 1024 levels deep|too deeply); not a csrebind journal; skipped$",
                         damaged_file.problem), damaged_file.problem
        assert ended.path.read_bytes() == written
        return
    assert [j.targets[0] for j in offered] == ["J12"]  # the valid session is always offered ...
    offered[0].summary(), offered[0].changes()
    bench, notes = restore(project, offered)
    for note in notes:
        one_line(note, ended.path)
    assert str(bench.sessions["J12"].binding("particles.0.blob").ref) == "J5.particles.blob.F"  # ... and restored
    restored = [p["target"] for p in orjson.loads(bench.journal.path.read_bytes())["sessions"]]
    bench.journal.discard()
    if not has_second:
        return
    as_written = load_json(written)["sessions"][1]  # as csrebind reads it (integers beyond 64 bits: floats)
    aside = ended.path.parent / "refused" / ended.path.name
    if aside.exists():  # refused when read: the journal as it was, byte for byte
        assert aside.read_bytes() == written
    elif ended.path.exists():  # refused when restored: still in its journal, as it was read
        kept = json.loads(ended.path.read_bytes())["sessions"]
        assert [canonical(k) for k in kept] == [canonical(as_written)]
    else:  # restored, or opened with no edit left to journal
        target = as_written["target"]
        assert target in restored or not bench.sessions[target].dirty, (as_written, restored)


def test_a_journal_whose_refused_session_cannot_be_kept_aside_is_left_alone(project_dir, sessions, monkeypatch):
    """No copy aside, no rewrite: the journal is skipped as it is (said why), its sessions all
    kept for a later start."""
    from tui.core import journal as journal_module

    ended = ended_journal(project_dir, [sessions[0], 5])

    def disk_full(path, data, overwrite=False):
        raise OSError(28, "No space left on device")

    room = journal_module.write_bytes_atomic
    monkeypatch.setattr(journal_module, "write_bytes_atomic", disk_full)
    data = ended.path.read_bytes()
    (found,) = find_journals(project_dir)
    one_line(found.problem, ended.path)
    assert found.problem.endswith(f"cannot be kept aside in {ended.path.parent / 'refused'} "
                                  "(No space left on device); skipped")
    assert ended.path.read_bytes() == data
    monkeypatch.setattr(journal_module, "write_bytes_atomic", room)
    found = find_journals(project_dir)  # the disk has room again: offered, the refused one kept aside
    assert [j.targets for j in found if not j.problem] == [["J12"]]
    assert (ended.path.parent / "refused" / ended.path.name).read_bytes() == data
    for journal in found:
        journal.release()

"""Faults during writing (issue 11, item 6): signals, kills between the two renames of an
export, a failed .csg under --force, a read-only script destination, a FIFO for a job.json.

The signal tests run the CLI in a subprocess, stopped at a known moment by a hook that only this
test installs (a wrapper script that patches the export and then calls ``tui.cli.main``)."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from conftest import REPO
from tui.cli import main
from tui.core import atomic
from tui.core.errors import ExportError
from tui.core.export import run_export
from tui.core.export import write as export_write
from tui.core.project import load_project
from tui.core.session import EditSession

NAME = "J12_particles_rebound"
SET = "particles.0.blob=J5.particles.blob.F"

# Patches the export so that it stops at the moment named by CSREBIND_TEST_STOP, writes the file
# named by CSREBIND_TEST_READY and sleeps there (a signal ends the sleep), then runs the CLI.
RUNNER = textwrap.dedent("""
    import os, sys, time
    from pathlib import Path
    from tui.core import atomic
    from tui.core.export import rows
    ready, stop = Path(os.environ["CSREBIND_TEST_READY"]), os.environ["CSREBIND_TEST_STOP"]

    def wait_here():
        ready.write_text("ready")
        time.sleep(20)

    if stop == "writing":
        rows.CHUNK_BYTES, rows.MAX_PASSES = 20_000, 10**6
        real_fill, calls = rows._fill, []
        def fill(*args):
            calls.append(1)
            if len(calls) == 3:
                wait_here()
            return real_fill(*args)
        rows._fill = fill
    elif stop == "between-renames":
        real_rename = atomic.PendingFile.rename
        def rename(self):
            real_rename(self)
            if self.target.suffix == ".cs":
                wait_here()
        atomic.PendingFile.rename = rename
    from tui.cli import main
    sys.exit(main(sys.argv[1:]))
""")


def _default_signals() -> None:
    """The export under test starts with the default action for the signals sent to it: a test
    run from `nohup` or as a background job (`&`) would hand it SIGHUP or SIGINT ignored, and
    csrebind rightly leaves an ignored signal ignored."""
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_DFL)


def start_export(tmp_path: Path, project: Path, out: Path, stop: str, *extra: str) -> tuple[subprocess.Popen, Path]:
    runner, ready = tmp_path / "runner.py", tmp_path / f"ready-{time.monotonic_ns()}"
    runner.write_text(RUNNER)
    env = {**os.environ, "CSREBIND_TEST_READY": str(ready), "CSREBIND_TEST_STOP": stop,
           "PYTHONPATH": str(REPO)}
    process = subprocess.Popen(
        [sys.executable, str(runner), "export", str(project), "J12", "particles", "--set", SET, "--out", str(out),
         *extra], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=_default_signals,
    )
    deadline = time.monotonic() + 30
    while not ready.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"the export never reached {stop}: {process.communicate()}")
        time.sleep(0.02)
    return process, ready


def parts(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".part"))


@pytest.mark.parametrize("schema", ["v4"])
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_a_signal_during_export_leaves_no_file(demo_project, tmp_path, signum):
    out = tmp_path / "out"
    out.mkdir()
    process, _ = start_export(tmp_path, demo_project, out, "writing")
    assert len(parts(out)) == 2  # NAME.cs and NAME.csg, both under temporary names
    process.send_signal(signum)
    _, err = process.communicate(timeout=20)
    assert process.returncode == (130 if signum == signal.SIGINT else 128 + signum), err
    assert "interrupted" in err and "Traceback" not in err
    assert list(out.iterdir()) == []


@pytest.mark.parametrize("schema", ["v4"])
def test_a_killed_export_leaves_parts_that_the_next_export_removes(demo_project, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    process, _ = start_export(tmp_path, demo_project, out, "writing")
    process.kill()
    process.communicate(timeout=20)
    left = parts(out)
    assert len(left) == 2 and all(n.startswith((f".{NAME}.cs.", f".{NAME}.csg.")) for n in left)
    (out / ".other.cs.0123456789abcdef.part").write_text("stale from another export")
    (out / ".mine.cs.part").write_text("not of our naming: kept")
    assert main(["export", str(demo_project), "J12", "particles", "--set", SET, "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == [".mine.cs.part", f"{NAME}.cs", f"{NAME}.csg"]


def test_a_part_being_written_is_not_stale(tmp_path):
    with atomic.pending_output(tmp_path / "x.cs") as pending:
        assert atomic.stale_parts(tmp_path) == []  # locked by its writer
        os.link(pending.temp, tmp_path / ".x.csg.0123456789abcdef.part")  # same file: same lock
        assert atomic.stale_parts(tmp_path) == []
    (tmp_path / ".x.csg.0123456789abcdef.part").unlink()
    (tmp_path / ".y.cs.fedcba9876543210.part").write_bytes(b"left by a killed writer")
    assert atomic.stale_parts(tmp_path) == [tmp_path / ".y.cs.fedcba9876543210.part"]


@pytest.mark.parametrize("schema", ["v4"])
def test_a_kill_between_the_renames_leaves_an_incomplete_pair_that_the_next_export_replaces(demo_project, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    process, _ = start_export(tmp_path, demo_project, out, "between-renames")
    process.send_signal(signal.SIGTERM)  # deferred while the pair is renamed: cannot split it
    process.kill()
    process.communicate(timeout=20)
    names = sorted(p.name for p in out.iterdir())
    assert f"{NAME}.csg" not in names and f"{NAME}.cs" in names  # the .csg appears last
    assert any(n.startswith(f".{NAME}.csg.") for n in names)
    # The lone NAME.cs is recognised as ours, incomplete: replaced without --force.
    assert main(["export", str(demo_project), "J12", "particles", "--set", SET, "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == [f"{NAME}.cs", f"{NAME}.csg"]


@pytest.mark.parametrize("schema", ["v4"])
def test_a_lone_cs_that_is_not_ours_is_refused(demo_project, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / f"{NAME}.cs").write_bytes(b"someone else's file")
    code = main(["export", str(demo_project), "J12", "particles", "--set", SET, "--out", str(out)])
    assert code == 1 and f"without {NAME}.csg (an incomplete export?)" in capsys.readouterr().err
    assert (out / f"{NAME}.cs").read_bytes() == b"someone else's file"


def _digest(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.mark.parametrize("schema", ["v4"])
def test_a_failed_csg_during_force_keeps_the_old_pair_and_says_so(demo_project, tmp_path, monkeypatch):
    project = load_project(demo_project)
    session = EditSession(project, "J12")
    session.put("particles.0.blob", "J5.particles.blob.F")
    out = tmp_path / "out"
    run_export(project, session.input("particles"), out, NAME)
    before = _digest(out)

    def disk_full(*_args):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(export_write, "csg_text", disk_full)
    with pytest.raises(ExportError) as info:
        run_export(project, session.input("particles"), out, NAME, force=True)
    assert str(info.value) == (f"{out / NAME}.csg: cannot write (No space left on device); nothing was written; "
                               f"the existing {NAME}.cs and {NAME}.csg are unchanged")
    assert _digest(out) == before


@pytest.mark.parametrize("schema", ["v4"])
def test_force_replaces_the_old_pair_only_once_the_new_one_is_complete(demo_project, tmp_path, monkeypatch):
    project = load_project(demo_project)
    session = EditSession(project, "J12")
    out = tmp_path / "out"
    run_export(project, session.input("particles"), out, NAME)  # the job as loaded
    old = _digest(out)
    session.put("particles.0.blob", "J5.particles.blob.F")
    seen = []
    real_rename = atomic.PendingFile.rename

    def rename(self):
        seen.append((self.target.name, _digest(out)))
        real_rename(self)

    monkeypatch.setattr(atomic.PendingFile, "rename", rename)
    run_export(project, session.input("particles"), out, NAME, force=True)
    # Before the .cs is renamed both new files are complete; the old .csg has been moved away first.
    (first, at_first), (last, at_last) = seen
    assert (first, last) == (f"{NAME}.cs", f"{NAME}.csg")
    assert at_first[f"{NAME}.cs"] == old[f"{NAME}.cs"] and f"{NAME}.csg" not in at_first
    new = _digest(out)
    assert sorted(new) == [f"{NAME}.cs", f"{NAME}.csg"] and new[f"{NAME}.cs"] != old[f"{NAME}.cs"]


@pytest.mark.parametrize("schema", ["v4"])
def test_plan_and_script_are_written_all_or_nothing(demo_project, tmp_path, monkeypatch, capsys):
    from tui.core import live

    plan, script = tmp_path / "plans" / "p.json", tmp_path / "scripts" / "s.py"

    def read_only(*_args, **_kwargs):
        raise atomic.CsRebindError(f"{script.parent}: cannot write here (Read-only file system)")

    monkeypatch.setattr(live, "write_script", read_only)
    code = main(["plan", str(demo_project), "J12", "--set", SET, "--out", str(plan), "--script", str(script)])
    err = capsys.readouterr().err
    assert code == 1 and "Read-only file system" in err and "the plan was not written either" in err
    assert not plan.exists() and not script.exists()
    # With --force over an existing plan, the old plan is put back.
    plan.write_text('{"old": true}')
    code = main(["plan", str(demo_project), "J12", "--set", SET, "--out", str(plan), "--script", str(script),
                 "--force"])
    assert code == 1 and plan.read_text() == '{"old": true}' and f"{plan} is as it was" in capsys.readouterr().err


@pytest.mark.parametrize("schema", ["v4"])
def test_a_read_only_script_folder_is_refused_before_anything_is_written(demo_project, tmp_path, monkeypatch, capsys):
    from tui.core import routes

    plan, script = tmp_path / "plans" / "p.json", tmp_path / "ro" / "s.py"
    (tmp_path / "ro").mkdir()
    real_access = os.access
    monkeypatch.setattr(routes.os, "access", lambda p, mode: False if Path(p) == tmp_path / "ro" else real_access(p, mode))
    code = main(["plan", str(demo_project), "J12", "--set", SET, "--out", str(plan), "--script", str(script)])
    err = capsys.readouterr().err
    assert code == 1 and f"{script}: cannot write into {tmp_path / 'ro'} (read-only" in err
    assert not plan.exists() and not (tmp_path / "plans").exists()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
@pytest.mark.parametrize("schema", ["v4"])
def test_a_fifo_as_job_json_or_metafile_does_not_block(demo_project, tmp_path):
    (demo_project / "J13").mkdir()
    os.mkfifo(demo_project / "J13" / "job.json")
    metafile = demo_project / "J5" / "extracted_particles.cs"
    metafile.unlink()
    os.mkfifo(metafile)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    for args, expected in [(["jobs", str(demo_project)], "job.json is a named pipe"),
                           (["resolve", str(demo_project), "J5.particles.blob"], "is a named pipe (FIFO)")]:
        result = subprocess.run([sys.executable, "-m", "tui.cli", *args], env=env, capture_output=True, text=True,
                                timeout=20)
        assert expected in result.stdout + result.stderr, result
        assert "Traceback" not in result.stderr

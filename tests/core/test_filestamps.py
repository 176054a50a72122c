"""FileStamps: the stamps of many job.json files a batch at a time, the last ones stat'ed by a
forked child on a reopen of a big project; the same stamps as stat'ing each here, whatever the
child does, and no child left behind."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from forks import forking
from tui.core import jobread
from tui.core.jobread import FileStamps, Readers, stat_all


@pytest.fixture
def folder(tmp_path) -> tuple[int, list[str]]:
    """A project-like folder of 60 job folders (an open handle on it, and the job.json paths
    relative to it): J7's job.json is missing, J20's is a folder, the rest files of 1..60 bytes."""
    paths = []
    for n in range(1, 61):
        job = tmp_path / f"J{n}"
        job.mkdir()
        if n == 20:
            (job / "job.json").mkdir()
        elif n != 7:
            (job / "job.json").write_bytes(b"x" * n)
        paths.append(f"J{n}/job.json")
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    yield fd, paths
    os.close(fd)


@pytest.fixture
def one_thread(monkeypatch) -> list[int]:
    """As in a command-line process, with 10 files enough to fork for: the pids forked."""
    return forking(monkeypatch, 10)


def reaped(pid: int) -> bool:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return False


def batches(stamps: FileStamps, sizes: list[int]) -> list:
    found, start = [], 0
    for size in sizes:
        found += stamps.between(start, start + size)
        start += size
    return found


@pytest.mark.parametrize("sizes", [[60], [5, 10, 20, 25], [19, 1, 1, 39], [40, 40]])
def test_batches_have_the_stamps_of_their_files(folder, one_thread, sizes):
    fd, paths = folder
    expected = stat_all(paths, Readers(), fd)
    assert expected[6] is None and expected[19] is None and expected[0][0] == 1 and expected[59][0] == 60
    with FileStamps(paths, fd, Readers()) as stamps:
        stamps.fork_ahead()
        assert stamps.split == 20  # the child has the last two thirds
        assert batches(stamps, sizes) == expected
    assert len(one_thread) == 1 and reaped(one_thread[0])


def test_a_child_that_fails_costs_only_the_stats_made_here(folder, one_thread, monkeypatch):
    fd, paths = folder
    expected = stat_all(paths, Readers(), fd)
    parent = os.getpid()
    original = jobread._stamp_or_none

    def failing_in_the_child(path, dir_fd=None):
        if os.getpid() != parent:
            raise RuntimeError("the child fails")
        return original(path, dir_fd)

    monkeypatch.setattr(jobread, "_stamp_or_none", failing_in_the_child)
    with FileStamps(paths, fd, Readers()) as stamps:
        stamps.fork_ahead()
        assert one_thread and batches(stamps, [30, 30]) == expected
    assert reaped(one_thread[0])


def test_a_child_whose_stamps_are_not_used_is_reaped(folder, one_thread):
    fd, paths = folder
    with FileStamps(paths, fd, Readers()) as stamps:
        stamps.fork_ahead()
        assert stamps.between(0, 5) == stat_all(paths[:5], Readers(), fd)  # the child's are not needed yet
    assert len(one_thread) == 1 and reaped(one_thread[0])


@pytest.mark.parametrize("why", ["few files", "threads", "a slow filesystem", "not Linux"])
def test_no_child_when_it_would_not_pay_or_is_not_safe(folder, one_thread, monkeypatch, why):
    fd, paths = folder
    readers = Readers()
    if why == "few files":
        monkeypatch.setattr(jobread, "AHEAD_FROM", 61)
    elif why == "threads":
        monkeypatch.setattr(jobread.threading, "active_count", lambda: 2)
    elif why == "a slow filesystem":
        readers.parallel = True  # as decided after slow first files: the pool's threads read
    else:
        monkeypatch.setattr(jobread.sys, "platform", "darwin")
    with FileStamps(paths, fd, readers) as stamps:
        stamps.fork_ahead()
        assert stamps.pid is None and stamps.split == len(paths)
        assert batches(stamps, [30, 30]) == stat_all(paths, Readers(), fd)
    assert one_thread == []


def test_a_project_read_abandoned_midway_leaves_no_child(tmp_path, one_thread, monkeypatch):
    """A reader that stops after the first batch (a UI closed while loading) reaps the child."""
    from projectgen import generate_project

    from tui.core.project import open_project, read_job_batches

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    root = generate_project(tmp_path / "P", num_jobs=300, schema="v5", seed=4)
    list(read_job_batches(open_project(root)))  # the first open writes the cache
    reading = read_job_batches(open_project(root), first=20)
    jobs, done, total = next(reading)
    assert (len(jobs), done, total) == (20, 20, 300) and len(one_thread) == 1
    reading.close()
    assert reaped(one_thread[0])


def test_the_child_writes_nothing_of_its_own(folder, tmp_path):
    """Output still in the parent's buffer when it forks is written once: the child ends with
    os._exit (a process whose stdout is a pipe, as the command line's is under a pager)."""
    import subprocess
    import sys

    _, paths = folder
    script = f"""
import os, sys
from tui.core import jobread
jobread.AHEAD_FROM = 10
print("written once", end="")  # buffered: stdout is a pipe
fd = os.open({str(tmp_path)!r}, os.O_RDONLY)
with jobread.FileStamps({paths!r}, fd, jobread.Readers()) as stamps:
    stamps.fork_ahead()
    assert stamps.pid is not None, "no child"
    stamps.between(0, {len(paths)})
"""
    env = {name: value for name, value in os.environ.items() if name != "PYTHONUNBUFFERED"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env,
                          cwd=Path(jobread.__file__).parents[2])
    assert done.returncode == 0, done.stderr
    assert done.stdout == "written once"


@pytest.mark.parametrize("answer", [b"", b"\xff\x00garbage", "short"])
def test_an_answer_that_is_not_the_stamps_costs_only_the_stats_made_here(folder, one_thread, monkeypatch, answer):
    """The pipe read short or came back garbled (the child ended well): its files are stat'ed here."""
    fd, paths = folder
    expected = stat_all(paths, Readers(), fd)
    with FileStamps(paths, fd, Readers()) as stamps:
        stamps.fork_ahead()
        assert one_thread
        real = os.read(stamps.pipe, 1 << 20)  # what the child wrote: taken, and replaced
        data = real[:len(real) // 2] if answer == "short" else answer
        monkeypatch.setattr(jobread, "open", lambda *args, **kwargs: __import__("io").BytesIO(data), raising=False)
        assert batches(stamps, [20, 40]) == expected
    assert reaped(one_thread[0])

"""The forked stat child of a reopen (``jobread.FileStamps``), made to fork in a test process."""

from __future__ import annotations

from tui.core import jobread


def forking(monkeypatch, ahead_from: int) -> list[int]:
    """Fork for ``ahead_from`` files or more, as a command-line process would (the test process
    has threads, which otherwise rule a fork out): the pids of the children forked."""
    pids: list[int] = []
    original = jobread._forked_stats

    def forked(paths, dir_fd):
        pid, pipe = original(paths, dir_fd)
        pids.append(pid)
        return pid, pipe

    monkeypatch.setattr(jobread, "AHEAD_FROM", ahead_from)
    monkeypatch.setattr(jobread.threading, "active_count", lambda: 1)
    monkeypatch.setattr(jobread, "_forked_stats", forked)
    return pids

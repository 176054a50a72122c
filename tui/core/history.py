"""The ``:`` line's history: the commands entered, newest last, kept across runs in the state
directory (``$XDG_STATE_HOME/csrebind/history.json``), and walked with up/down.

A command entered again moves to the end (no duplicates); the last :data:`HISTORY_SIZE` are
kept. The file is written atomically; one that cannot be read is treated as empty, never as an
error, and a failure to write it is reported, never raised.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Sequence

import orjson

from .atomic import write_bytes_atomic
from .config import state_dir
from .errors import CsRebindError

HISTORY_FORMAT = "csrebind-history"
HISTORY_SIZE = 500


def history_path() -> Path:
    return state_dir() / "history.json"


def load_history(path: Path | None = None) -> list[str]:
    """The saved commands, oldest first; [] when there is no file or it cannot be read."""
    path = path or history_path()
    try:
        document = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return []
    if not isinstance(document, dict) or document.get("format") != HISTORY_FORMAT:
        return []
    commands = document.get("commands")
    if not isinstance(commands, list):
        return []
    return with_command([], (c for c in commands if isinstance(c, str)))


def with_command(history: Sequence[str], commands: Iterable[str]) -> list[str]:
    """``history`` with ``commands`` appended: blank ones skipped, an earlier copy of each
    removed, the newest :data:`HISTORY_SIZE` kept."""
    entries = list(history)
    for command in commands:
        command = command.strip()
        if not command or "\n" in command:
            continue
        if command in entries:
            entries.remove(command)
        entries.append(command)
    return entries[-HISTORY_SIZE:]


def save_history(entries: Sequence[str], path: Path | None = None) -> Path:
    path = path or history_path()
    document = {"format": HISTORY_FORMAT, "commands": list(entries)[-HISTORY_SIZE:]}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CsRebindError(f"{path.parent}: cannot create the state folder ({exc.strerror or exc})") from None
    return write_bytes_atomic(path, orjson.dumps(document, option=orjson.OPT_INDENT_2), overwrite=True)


def remember(command: str, path: Path | None = None) -> str | None:
    """Add ``command`` to the saved history (read again first, so two windows do not lose each
    other's commands). Returns why it could not be saved, or None."""
    path = path or history_path()
    try:
        save_history(with_command(load_history(path), [command]), path)
    except (OSError, CsRebindError) as exc:
        return f"command history not saved: {exc}"
    return None


class HistoryWalk:
    """Up and down through earlier commands, as vim's ``:`` line does: only those that begin
    with what was typed before the first up; down past the newest gives that text back."""

    def __init__(self, entries: Sequence[str]) -> None:
        self.entries = list(entries)
        self.position: int | None = None  # index in entries; None: at the text being typed
        self.draft = ""

    @property
    def walking(self) -> bool:
        return self.position is not None

    def older(self, current: str) -> str | None:
        """The previous matching command, or None when there is none (the line stays)."""
        if self.position is None:
            self.draft = current
            start = len(self.entries)
        else:
            start = self.position
        for index in range(start - 1, -1, -1):
            if self.entries[index].startswith(self.draft):
                self.position = index
                return self.entries[index]
        return None

    def newer(self) -> str | None:
        """The next matching command; past the newest, the text typed before walking; None when
        not walking."""
        if self.position is None:
            return None
        for index in range(self.position + 1, len(self.entries)):
            if self.entries[index].startswith(self.draft):
                self.position = index
                return self.entries[index]
        self.position = None
        return self.draft

    def reset(self) -> None:
        """The user typed: the next up starts again from the newest, matching the new text."""
        self.position = None

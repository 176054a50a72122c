"""The edit journal: every session with pending edits, saved after each change, so a crash or a
dropped SSH connection loses nothing. One file per project directory."""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from .atomic import write_bytes_atomic
from .config import state_dir

JOURNAL_FORMAT = "csrebind-journal"


def journal_path(project_path: Path) -> Path:
    key = hashlib.sha256(str(project_path.resolve()).encode()).hexdigest()[:16]
    return state_dir() / "journal" / f"{project_path.name}-{key}.json"


def save_journal(project_path: Path, plans: list[dict[str, Any]]) -> Path | None:
    """Write the plans of all dirty sessions; with none left, remove the journal."""
    path = journal_path(project_path)
    if not plans:
        clear_journal(project_path)
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {"format": JOURNAL_FORMAT, "project_path": str(project_path), "sessions": plans}
    return write_bytes_atomic(path, orjson.dumps(document, option=orjson.OPT_INDENT_2), overwrite=True)


def load_journal(project_path: Path) -> list[dict[str, Any]]:
    """The plans saved for this project, or [] when there is none or it is unreadable."""
    path = journal_path(project_path)
    try:
        document = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return []
    if not isinstance(document, dict) or document.get("format") != JOURNAL_FORMAT:
        return []
    sessions = document.get("sessions")
    return [s for s in sessions if isinstance(s, dict)] if isinstance(sessions, list) else []


def clear_journal(project_path: Path) -> None:
    journal_path(project_path).unlink(missing_ok=True)


@dataclass(frozen=True)
class JournalSnapshot:
    """The unsaved plans at one moment, numbered so that an older one never replaces a newer one."""

    generation: int
    plans: list[dict[str, Any]]


class JournalWriter:
    """The journal of one project, written from worker threads: snapshots are taken on the UI
    thread (``snapshot``), written one at a time elsewhere (``write``); a deliberate quit
    (``discard``) removes the file and lets no pending write bring it back."""

    def __init__(self, project_path: Path) -> None:
        self.project_path = project_path
        self._lock = threading.Lock()
        self._generation = 0
        self._written: float = 0

    def snapshot(self, plans: list[dict[str, Any]]) -> JournalSnapshot:
        self._generation += 1
        return JournalSnapshot(self._generation, plans)

    def write(self, snapshot: JournalSnapshot) -> bool:
        """Write ``snapshot`` unless a newer one was written (or the journal discarded) first."""
        with self._lock:
            if snapshot.generation < self._written:
                return False
            self._written = snapshot.generation
            save_journal(self.project_path, snapshot.plans)
            return True

    def discard(self) -> None:
        with self._lock:
            self._written = float("inf")
            clear_journal(self.project_path)

    def resume(self) -> None:
        """After a declined restore: later edits are journaled again."""
        with self._lock:
            self._written = 0

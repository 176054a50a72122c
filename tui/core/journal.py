"""The edit journal: every session with edits, saved after each change, so a crash or a dropped
SSH connection loses nothing.

One journal per running csrebind (an *instance*), so two windows on one project never overwrite
each other's edits::

    $XDG_STATE_HOME/csrebind/journal/<project-name>-<key>/<pid>-<start time>-<random>.json
                                                         /<pid>-<start time>-<random>.lock

The instance holds an exclusive ``flock`` on its ``.lock`` file from its first write until it
ends, so another csrebind never offers or deletes a live instance's journal. At start-up the
journals whose lock is free (their instance has ended without quitting) are offered for restore,
each with its targets, edit count and time; the one offering a journal holds its lock (a
*claim*) until it is restored, discarded or kept for later. An instance removes its own journal
only when it quits with nothing left unwritten (or the user discards it).

The journal is untrusted input: a damaged one is reported in one line and skipped. Version 1 (a
single file per project, ``<project-name>-<key>.json``, from before per-instance journals) is
read too and offered once like any other ended instance's.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import secrets
import socket
import threading
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from .atomic import write_bytes_atomic
from .config import state_dir

JOURNAL_FORMAT = "csrebind-journal"
JOURNAL_VERSION = 2  # 1: one file per project (read and offered, never written by the app)


def _key(project_path: Path) -> str:
    digest = hashlib.sha256(str(project_path.resolve()).encode()).hexdigest()[:16]
    return f"{project_path.name}-{digest}"


def journal_dir(project_path: Path) -> Path:
    """Where the instances' journals of one project live."""
    return state_dir() / "journal" / _key(project_path)


def journal_path(project_path: Path) -> Path:
    """The version-1 journal: one file per project, as csrebind wrote it before per-instance journals."""
    return state_dir() / "journal" / f"{_key(project_path)}.json"


def _now() -> datetime:
    return datetime.now().astimezone()


def _dumps(document: dict[str, Any]) -> bytes:
    return orjson.dumps(document, option=orjson.OPT_INDENT_2)


# --- locks ---------------------------------------------------------------------------------------


@dataclass
class _Lock:
    """An open lock file. ``locked`` is False where the file system cannot lock (some network
    file systems): then the pid in the journal decides whether its instance still runs."""

    path: Path
    fd: int
    locked: bool
    created: bool

    def release(self, remove: bool = False) -> None:
        if remove:
            with contextlib.suppress(OSError):
                self.path.unlink()
        with contextlib.suppress(OSError):
            os.close(self.fd)


def _take_lock(path: Path) -> _Lock | None:
    """Hold ``path`` exclusively, or None when another process (or another open file in this one)
    holds it. ``flock`` locks belong to the open file, so two instances in one process exclude
    each other too, and the kernel releases them when a process ends however it ends."""
    created = not path.exists()
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    except OSError:
        return _Lock(path, fd, locked=False, created=created)
    return _Lock(path, fd, locked=True, created=created)


def _running(pid: Any, host: Any) -> bool:
    """Whether process ``pid`` on ``host`` still runs, as far as this machine can tell."""
    if not isinstance(pid, int) or host != socket.gethostname():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


# --- reading a journal (untrusted) -----------------------------------------------------------------


class DamagedJournal(Exception):
    """Why a journal file cannot be used, in words."""


def _read(path: Path) -> dict[str, Any]:
    """The document of a journal file, checked; raises DamagedJournal."""
    try:
        document = orjson.loads(path.read_bytes())
    except OSError as exc:
        raise DamagedJournal(f"cannot be read ({exc.strerror or exc})") from None
    except orjson.JSONDecodeError:
        raise DamagedJournal("is not valid JSON") from None
    if not isinstance(document, dict) or document.get("format") != JOURNAL_FORMAT:
        raise DamagedJournal(f'is not a csrebind journal (no "format": "{JOURNAL_FORMAT}")')
    version = document.get("format_version", 1)
    if version not in (1, JOURNAL_VERSION):
        raise DamagedJournal(f"has format version {version!r}; this csrebind reads 1 and {JOURNAL_VERSION}")
    sessions = document.get("sessions")
    if not isinstance(sessions, list):
        raise DamagedJournal('has no list of "sessions"')
    document["sessions"] = [s for s in sessions if isinstance(s, dict) and isinstance(s.get("target"), str)]
    if sessions and not document["sessions"]:
        raise DamagedJournal("has no readable session")
    return document


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.astimezone()


@dataclass
class FoundJournal:
    """The journal of an instance that has ended without quitting, offered for restore. The
    finder holds its lock until ``remove`` (restored or discarded) or ``release`` (kept for later)."""

    path: Path
    sessions: list[dict[str, Any]] = field(default_factory=list)
    saved: datetime | None = None
    pid: int | None = None
    host: str | None = None
    version: int = JOURNAL_VERSION
    problem: str | None = None  # a damaged journal: why, in one line; it is skipped
    document: dict[str, Any] = field(default_factory=dict, repr=False)
    _lock: _Lock | None = field(default=None, repr=False)

    @property
    def targets(self) -> list[str]:
        return [str(s["target"]) for s in self.sessions]

    def changes(self) -> list[str]:
        """Each journaled edit as ``J12: particles.0.blob: J9.particles.blob.F → J5.particles.blob.F``."""
        return [f"{s['target']}: {change}" for s in self.sessions
                for change in (s["changes"] if isinstance(s.get("changes"), list) else ())]

    @property
    def edits(self) -> int:
        return len(self.changes())

    def when(self, now: datetime | None = None) -> str:
        if self.saved is None:
            return "at an unknown time"
        local, today = self.saved.astimezone(), (now or _now()).astimezone().date()
        return f"at {local:%H:%M}" if local.date() == today else f"on {local:%Y-%m-%d %H:%M}"

    def summary(self, now: datetime | None = None) -> str:
        """``J12, J11 · 3 edit(s) · saved at 14:03 · pid 4242``"""
        who = "an earlier csrebind" if self.version == 1 else f"pid {self.pid}" if self.pid else "csrebind"
        if self.host and self.host != socket.gethostname():
            who += f" on {self.host}"
        return f"{', '.join(self.targets) or 'no target'} · {self.edits} edit(s) · saved {self.when(now)} · {who}"

    def release(self) -> None:
        """Keep the journal (offered again at the next start) and let others claim it."""
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def keep_only(self, sessions: list[dict[str, Any]]) -> None:
        """Rewrite the journal with only ``sessions`` (those that could not be restored), and keep it."""
        if not sessions:
            return self.remove()
        self.sessions = sessions
        write_bytes_atomic(self.path, _dumps({**self.document, "sessions": sessions}), overwrite=True)
        self.release()

    def remove(self) -> None:
        """Delete the journal (restored into this instance's journal, or discarded)."""
        self.path.unlink(missing_ok=True)
        if self._lock is not None:
            self._lock.release(remove=True)
            self._lock = None


def _claim(path: Path, lock_path: Path) -> FoundJournal | None:
    """The journal at ``path`` if its instance has ended and nobody else has claimed it."""
    try:
        lock = _take_lock(lock_path)
    except OSError as exc:
        return FoundJournal(path, problem=f"journal {path}: its lock cannot be opened ({exc.strerror or exc}); skipped")
    if lock is None:
        return None  # a running instance's own, or being offered by another
    found = FoundJournal(path, _lock=lock)
    if not path.exists():  # removed by its instance between the listing and the lock
        found.remove()
        return None
    try:
        document = _read(path)
    except DamagedJournal as exc:
        lock.release(remove=lock.created)  # a lock file made only to read it goes again
        found._lock = None
        found.problem = f"journal {path} {exc}; skipped"
        return found
    instance = document.get("instance") if isinstance(document.get("instance"), dict) else {}
    found.document = document
    found.version = document.get("format_version", 1)
    found.sessions = document["sessions"]
    found.pid = instance.get("pid") if isinstance(instance.get("pid"), int) else None
    found.host = instance.get("host") if isinstance(instance.get("host"), str) else None
    found.saved = _time(document.get("saved"))
    if found.saved is None:
        with contextlib.suppress(OSError):
            found.saved = datetime.fromtimestamp(path.stat().st_mtime).astimezone()
    # Without a working lock (or a lock file its instance never made), the pid decides.
    if (not lock.locked or lock.created) and found.version != 1 and _running(found.pid, found.host):
        found.release()
        return None
    if not found.sessions:
        found.remove()  # an empty journal holds nothing to restore
        return None
    return found


def find_journals(project_path: Path) -> list[FoundJournal]:
    """Every journal of this project whose instance has ended, newest first, each claimed; damaged
    ones come with ``problem`` set (and are not claimed). A live instance's journal is never listed."""
    found: list[FoundJournal] = []
    legacy = journal_path(project_path)
    if legacy.exists():
        journal = _claim(legacy, legacy.with_suffix(".lock"))
        if journal is not None:
            found.append(journal)
    folder = journal_dir(project_path)
    if not folder.is_dir():
        return found
    for path in sorted(folder.glob("*.json")):
        journal = _claim(path, path.with_suffix(".lock"))
        if journal is not None:
            found.append(journal)
    for lock_path in folder.glob("*.lock"):  # left by instances that ended with nothing journaled
        if not lock_path.with_suffix(".json").exists():
            with contextlib.suppress(OSError):
                lock = _take_lock(lock_path)
                if lock is not None and lock.locked:
                    lock.release(remove=True)
                elif lock is not None:
                    lock.release()
    found.sort(key=lambda j: (j.problem is None, j.saved.timestamp() if j.saved else 0), reverse=True)
    return found


# --- the whole project (tools and tests) -----------------------------------------------------------


def load_journal(project_path: Path) -> list[dict[str, Any]]:
    """Every session journaled for this project, by any instance, running or not (damaged
    journals skipped). The app itself restores through ``find_journals``."""
    folder = journal_dir(project_path)
    paths = [journal_path(project_path), *(sorted(folder.glob("*.json")) if folder.is_dir() else [])]
    sessions: list[dict[str, Any]] = []
    for path in paths:
        if path.exists():
            with contextlib.suppress(DamagedJournal):
                sessions.extend(_read(path)["sessions"])
    return sessions


def save_journal(project_path: Path, plans: list[dict[str, Any]]) -> Path | None:
    """Write a version-1 journal (one file per project, as csrebind wrote it before per-instance
    journals); with no plans, remove it. For tests and tools: the app writes JournalWriter's."""
    path = journal_path(project_path)
    if not plans:
        clear_journal(project_path)
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {"format": JOURNAL_FORMAT, "project_path": str(project_path), "sessions": plans}
    return write_bytes_atomic(path, _dumps(document), overwrite=True)


def clear_journal(project_path: Path) -> None:
    """Remove the version-1 journal."""
    journal_path(project_path).unlink(missing_ok=True)


# --- this instance's journal -----------------------------------------------------------------------


@dataclass(frozen=True)
class JournalSnapshot:
    """The sessions to journal at one moment, numbered so that an older one never replaces a newer one."""

    generation: int
    plans: list[dict[str, Any]]


class JournalWriter:
    """The journal of this instance, written from worker threads: snapshots are taken on the UI
    thread (``snapshot``), written one at a time elsewhere (``write``). The file and its lock
    appear with the first session to journal. A quit with nothing unwritten (``discard``) removes
    them; an exit without one (``close``) leaves the journal for the next start to offer. After
    either, no pending write brings anything back."""

    def __init__(self, project_path: Path) -> None:
        self.project_path = project_path
        self.pid = os.getpid()
        self.host = socket.gethostname()
        self.started = _now()
        self.instance = f"{self.pid}-{self.started:%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"
        self.path = journal_dir(project_path) / f"{self.instance}.json"
        self._lock = threading.Lock()
        self._generation = 0
        self._written: float = 0
        self._held: _Lock | None = None

    def snapshot(self, plans: list[dict[str, Any]]) -> JournalSnapshot:
        self._generation += 1
        return JournalSnapshot(self._generation, plans)

    def write(self, snapshot: JournalSnapshot) -> bool:
        """Write ``snapshot`` unless a newer one was written (or the journal ended) first."""
        with self._lock:
            if snapshot.generation < self._written:
                return False
            self._written = snapshot.generation
            if not snapshot.plans:
                self._remove()
                return True
            if self._held is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._held = _take_lock(self.path.with_suffix(".lock"))
            write_bytes_atomic(self.path, _dumps(self._document(snapshot.plans)), overwrite=True)
            return True

    def _document(self, plans: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "format": JOURNAL_FORMAT,
            "format_version": JOURNAL_VERSION,
            "project_path": str(self.project_path),
            "instance": {"id": self.instance, "pid": self.pid, "host": self.host,
                         "started": self.started.isoformat(timespec="seconds")},
            "saved": _now().isoformat(timespec="milliseconds"),
            "sessions": plans,
        }

    def _remove(self) -> None:
        self.path.unlink(missing_ok=True)  # the journal first: a listed journal always has its lock
        if self._held is not None:
            self._held.release(remove=True)
            self._held = None

    def discard(self) -> None:
        """A quit with nothing unwritten (or the edits given up): remove this instance's journal."""
        with self._lock:
            self._written = float("inf")
            self._remove()

    def close(self) -> None:
        """The app ends without a quit: keep the journal and free it for the next start to offer."""
        with self._lock:
            self._written = float("inf")
            if self._held is not None:
                self._held.release()
                self._held = None

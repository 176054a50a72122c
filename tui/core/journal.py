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

The directory is named from the project's resolved path (``<key>`` is a hash of it), so
``cd PROJECT && csrebind``, a relative path and a symbolic link all find the same journals.

The journal is untrusted input, read through :mod:`tui.core.untrusted`: a damaged file is
reported in one line and skipped (never deleted); a session in it that cannot be offered (not an
object, no job uid as its target, changes that are not text) is refused in one line naming the
file and its key path (``sessions[1].target``), and the file is first copied byte for byte to
``refused/`` beside it; the other sessions are offered as usual. What a session changes is
checked when it is restored (``planfile.plan_state``); one that does not fit stays in the
journal, written back as it was read. Version 1 (a single file per project,
``<project-name>-<key>.json``, from before per-instance journals) is read too and offered once
like any other ended instance's.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import secrets
import socket
import stat
import threading
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from . import untrusted
from .atomic import write_bytes_atomic
from .config import state_dir
from .planfile import JOB_UID, PlanDocument

JOURNAL_FORMAT = "csrebind-journal"
JOURNAL_VERSION = 2  # 1: one file per project (read and offered, never written by the app)


def _key(project_path: str | os.PathLike) -> str:
    """``<name>-<hash>`` of the project's resolved path, whatever path was typed to reach it (the
    empty path or ``.`` from inside it, a relative path, a symbolic link)."""
    resolved = Path(project_path).resolve()
    digest = hashlib.sha256(os.fsencode(resolved)).hexdigest()[:16]
    return f"{resolved.name}-{digest}"


def journal_dir(project_path: Path) -> Path:
    """Where the instances' journals of one project live (named from its resolved path)."""
    return state_dir() / "journal" / _key(project_path)


def journal_path(project_path: Path) -> Path:
    """The version-1 journal: one file per project, as csrebind wrote it before per-instance journals."""
    return state_dir() / "journal" / f"{_key(project_path)}.json"


def _now() -> datetime:
    return datetime.now().astimezone()


def _dumps(document: dict[str, Any]) -> bytes:
    return orjson.dumps(document, option=orjson.OPT_INDENT_2)


def _encode(document: Any) -> bytes:
    """JSON of what was read from a journal, written back as it was read: lone surrogates
    escaped, NaN, Infinity and integers beyond 64 bits kept (orjson would refuse or change them).
    Raises RecursionError for a document nested too deeply to write."""
    return json.dumps(document, ensure_ascii=True, allow_nan=True).encode()


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


@dataclass
class _Refused:
    """A session of a journal that is not a session csrebind can offer: said why, and kept aside
    with the journal as it was (never dropped when the journal is rewritten or removed)."""

    label: str  # its target (``J11``), or "a session"
    reason: str  # ``sessions[1].changes: expected a list, found 5``


def _read(path: Path) -> tuple[dict[str, Any], list[_Refused]]:
    """The document of a journal file, checked like any untrusted document (through
    :mod:`tui.core.untrusted`), and the sessions refused; raises DamagedJournal. The usable
    sessions (``document["sessions"]``) are plan documents that know their key path in the
    journal (``sessions[2]``), so a later refusal (``plan_state``) names it too."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise DamagedJournal("is not a regular file")
        document = untrusted.load_document(path.read_bytes(), "csrebind journal")
    except OSError as exc:
        raise DamagedJournal(f"cannot be read ({exc.strerror or exc})") from None
    except untrusted.Invalid as exc:  # not JSON (said without the parser's details), too deep, not UTF-8
        raise DamagedJournal("is not valid JSON" if exc.problem.startswith("not valid JSON") else f"is {exc}") from None
    if not isinstance(document, dict) or document.get("format") != JOURNAL_FORMAT:
        raise DamagedJournal(f'is not a csrebind journal (no "format": "{JOURNAL_FORMAT}")')
    version = document.get("format_version", 1)
    if type(version) is not int or version not in (1, JOURNAL_VERSION):
        raise DamagedJournal(f"has format version {untrusted.describe(version)}; "
                             f"this csrebind reads 1 and {JOURNAL_VERSION}")
    sessions = document.get("sessions")
    if not isinstance(sessions, list):
        raise DamagedJournal('has no list of "sessions"')
    usable: list[dict[str, Any]] = []
    refused: list[_Refused] = []
    for index, session in enumerate(sessions):
        try:
            usable.append(_session(session, f"sessions[{index}]"))
        except untrusted.Invalid as exc:
            target = session.get("target") if isinstance(session, dict) else None
            label = target if isinstance(target, str) and JOB_UID.fullmatch(target) else "a session"
            refused.append(_Refused(label, str(exc)))
    if refused and not usable:
        more = f"; and {len(refused) - 1} more" if len(refused) > 1 else ""
        raise DamagedJournal(f"has no usable session ({refused[0].reason}{more})")
    document["sessions"] = usable
    return document, refused


def _session(session: Any, where: str) -> dict[str, Any]:
    """One journaled session, as far as offering it needs: an object with a job uid as its target
    and its changes as text (cleaned when shown), that can be written back as it was read. The
    rest is checked when it is restored."""
    if not isinstance(session, dict):
        raise untrusted.Invalid(where, f"expected a session (an object), found {untrusted.describe(session)}")
    target = untrusted.name(session.get("target"), f"{where}.target", "job uid")
    if not JOB_UID.fullmatch(target):
        raise untrusted.Invalid(f"{where}.target", f"{untrusted.escape(target)} is not a job uid (J followed by a number)")
    for i, change in enumerate(untrusted.items(session.get("changes"), f"{where}.changes")):
        untrusted.text(change, f"{where}.changes[{i}]")
    try:
        _encode(session)  # a session that cannot be restored stays in the journal: it must be writable
    except (RecursionError, ValueError):
        raise untrusted.Invalid(where, "nested too deeply to be written back") from None
    return PlanDocument.of(session, at=where)


def _pid(value: Any) -> int | None:
    """A process id that ``os.kill`` can be asked about (not 0 or negative: those name groups)."""
    return value if type(value) is int and 0 < value < 2**31 else None


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        moment = datetime.fromisoformat(value)
        moment = moment if moment.tzinfo else moment.astimezone()
        moment.astimezone().timestamp()  # a time that the screen can show and sort
    except (ValueError, OverflowError, OSError):
        return None
    return moment


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
    problem: str | None = None  # a damaged journal (or refused sessions): why, in one line; it is skipped
    document: dict[str, Any] = field(default_factory=dict, repr=False)
    refusal: str | None = None  # sessions refused when it was read: why, in one line, and where they are kept
    _lock: _Lock | None = field(default=None, repr=False)

    @property
    def targets(self) -> list[str]:
        return [str(s["target"]) for s in self.sessions]

    def changes(self) -> list[str]:
        """Each journaled edit as ``J12: particles.0.blob: J9.particles.blob.F → J5.particles.blob.F``."""
        return [f"{s['target']}: {untrusted.text(change, 'changes', 1000)}" for s in self.sessions
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
        """Rewrite the journal with only ``sessions`` (those that could not be restored), and keep
        it. They are written back as they were read (:func:`_encode`)."""
        if not sessions:
            return self.remove()
        self.sessions = sessions
        header = {key: value for key, value in self.document.items() if key != "sessions"}
        try:
            data = _encode({**header, "sessions": sessions})
        except (RecursionError, ValueError):  # a header nested too deeply: only what is needed
            data = _encode({"format": JOURNAL_FORMAT, "format_version": self.version, "sessions": sessions})
        write_bytes_atomic(self.path, data, overwrite=True)
        self.release()

    def remove(self) -> None:
        """Delete the journal (restored into this instance's journal, or discarded). Sessions
        refused when it was read have been copied aside already (``refused/``), never deleted."""
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
        document, refused = _read(path)
    except DamagedJournal as exc:
        return _skipped(found, lock, exc)
    instance = document.get("instance") if isinstance(document.get("instance"), dict) else {}
    found.document = document
    found.version = document.get("format_version", 1)
    found.sessions = document["sessions"]
    found.pid = _pid(instance.get("pid"))
    host = instance.get("host")
    found.host = untrusted.text(host, "instance.host", 255) if isinstance(host, str) and host else None
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
    if refused:  # find_journals lists it as a problem beside the journal offered
        try:
            aside = _keep_aside(path)
        except DamagedJournal as exc:
            return _skipped(found, lock, exc)
        first = refused[0]
        more = f" (and {len(refused) - 1} more session(s))" if len(refused) > 1 else ""
        found.refusal = f"journal {path}: {first.label} not restored: {first.reason}{more}; kept aside in {aside}"
    return found


def _skipped(found: FoundJournal, lock: _Lock, why: DamagedJournal) -> FoundJournal:
    """A journal that cannot be offered: said why, left as it is, its lock let go."""
    lock.release(remove=lock.created)  # a lock file made only to read it goes again
    found._lock = None
    found.problem = f"journal {found.path} {why}; skipped"
    return found


def _keep_aside(path: Path) -> Path:
    """A journal with refused sessions is copied, byte for byte, to ``refused/`` beside it before
    anything rewrites or removes it: what csrebind cannot read is never deleted. Raises
    DamagedJournal when the copy cannot be made (the journal is then skipped, untouched)."""
    aside = path.parent / "refused" / path.name
    try:
        aside.parent.mkdir(exist_ok=True)
        write_bytes_atomic(aside, path.read_bytes(), overwrite=True)
    except OSError as exc:
        raise DamagedJournal(f"has sessions that cannot be restored, and they cannot be kept aside in "
                             f"{aside.parent} ({exc.strerror or exc})") from None
    return aside


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
    if folder.is_dir():
        found.extend(_claim_folder(folder))
    for journal in list(found):  # refused sessions: reported like a damaged journal, one line each
        if journal.refusal:
            found.append(FoundJournal(journal.path, problem=journal.refusal))
    found.sort(key=lambda j: (j.problem is None, j.saved.timestamp() if j.saved else 0), reverse=True)
    return found


def _claim_folder(folder: Path) -> list[FoundJournal]:
    found: list[FoundJournal] = []
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
                sessions.extend(_read(path)[0]["sessions"])
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
        self.project_path = Path(project_path).resolve()
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

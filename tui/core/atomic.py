"""Atomic file output: a file appears complete under its final name, or not at all.

Everything csrebind writes (exports, plans, scripts, journals) goes through here, so an error,
Ctrl-C, SIGTERM or SIGHUP never leaves a partial file and an existing file is only replaced when
asked; a pair of files (an export's NAME.cs + NAME.csg) appears together or not at all. Reading
untrusted paths goes through :func:`open_regular` (never a FIFO or a device).
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import signal
import stat
import threading
from functools import partial
from pathlib import Path
from typing import IO, Iterator, Sequence

from .errors import CsRebindError

try:
    import fcntl
except ImportError:  # not POSIX: no locks, so no .part file is ever taken for stale
    fcntl = None  # type: ignore[assignment]


def already_exists(existing: Sequence[Path], replace: str = "replace it") -> str:
    """The refusal to replace files that exist, in the one wording used everywhere."""
    verb = "exists" if len(existing) == 1 else "exist"
    return f"{', '.join(str(p) for p in existing)} already {verb}; choose another name or pass --force to {replace}"


# ``.NAME.<hex>.part``: our temporary files. A writer holds an exclusive flock on its file for as
# long as it may still rename it, so a .part file that can be locked is stale (its writer died,
# e.g. killed with SIGKILL) and may be removed (:func:`remove_stale_parts`).
PART_RE = re.compile(r"\.(?P<name>.+)\.[0-9a-f]{16}\.part")


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP while csrebind writes: raised like Ctrl-C's KeyboardInterrupt, so that every
    temporary file is removed on the way out; ``exit_code`` is 128 + the signal number."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
        self.exit_code = 128 + signum


_CAUGHT = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))


def _raise_terminated(signum: int, _frame: object) -> None:
    raise Terminated(signum)


@contextlib.contextmanager
def signals_as_interrupts() -> Iterator[None]:
    """While writing, SIGTERM and SIGHUP raise :class:`Terminated` (SIGINT already raises
    KeyboardInterrupt) so the temporary files are cleaned up. Only in the main thread, and only
    for signals still at their default action (an application's own handlers are kept)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {}
    for signum in _CAUGHT:
        if signal.getsignal(signum) == signal.SIG_DFL:
            previous[signum] = signal.signal(signum, _raise_terminated)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@contextlib.contextmanager
def _signals_deferred() -> Iterator[None]:
    """Renames that must happen together: SIGINT, SIGTERM and SIGHUP wait until they are done."""
    blockable = hasattr(signal, "pthread_sigmask") and threading.current_thread() is threading.main_thread()
    if not blockable:
        yield
        return
    caught = {signal.SIGINT, *_CAUGHT}
    old = signal.pthread_sigmask(signal.SIG_BLOCK, caught)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _create_temporary(folder: Path, name: str) -> tuple[int, Path]:
    """A new file beside the target, locked (see PART_RE). Created with mode 0o666 so the kernel
    applies the user's umask, as for any ordinary new file (tempfile.mkstemp's 0o600 would hide the
    result from CryoSPARC's service user)."""
    temp = folder / f".{name}.{os.urandom(8).hex()}.part"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)
    handle = os.open(temp, flags, 0o666)
    _try_lock(handle)
    return handle, temp


def _try_lock(handle: int) -> bool:
    if fcntl is None:
        return False
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


class PendingFile:
    """A temporary file beside ``target``, open (and locked) until it is renamed or removed."""

    def __init__(self, target: Path, binary: bool) -> None:
        self.target = target
        handle, self.temp = _create_temporary(target.parent, target.name)
        self.stream: IO = os.fdopen(handle, "wb" if binary else "w", encoding=None if binary else "utf-8")
        self.renamed = False

    def finish(self) -> None:
        """Everything written reaches the disk (before any rename)."""
        self.stream.flush()
        os.fsync(self.stream.fileno())

    def rename(self) -> None:
        os.replace(self.temp, self.target)  # still open, so still locked: no cleaner takes it
        self.renamed = True

    def close(self) -> None:
        """Remove the temporary file unless it was renamed; release it."""
        if not self.renamed:
            with contextlib.suppress(OSError):
                self.temp.unlink()
        with contextlib.suppress(OSError):
            self.stream.close()


@contextlib.contextmanager
def pending_output(path: str | os.PathLike, *, overwrite: bool = False, binary: bool = True
                   ) -> Iterator[PendingFile]:
    """A :class:`PendingFile` for ``path``, never renamed here: the caller renames it (see
    :func:`commit_pair`); whatever is not renamed when the block ends, by an error, Ctrl-C,
    SIGTERM or SIGHUP included, is removed."""
    target = Path(path)
    if target.exists() and not overwrite:
        raise CsRebindError(already_exists([target]))
    if not target.parent.is_dir():
        raise CsRebindError(f"{target.parent}: output folder does not exist")
    with signals_as_interrupts():
        try:
            pending = PendingFile(target, binary)
        except OSError as exc:
            raise CsRebindError(f"{target.parent}: cannot write here ({exc.strerror or exc})") from None
        try:
            yield pending
        finally:
            pending.close()


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike, *, overwrite: bool = False, binary: bool = True) -> Iterator[IO]:
    """Yield a temporary file beside ``path``; on success it is flushed and renamed over
    ``path``. On any exception (KeyboardInterrupt, SIGTERM and SIGHUP included) it is removed."""
    with pending_output(path, overwrite=overwrite, binary=binary) as pending:
        yield pending.stream
        pending.finish()
        if not overwrite and pending.target.exists():  # appeared while we were writing
            raise CsRebindError(f"{pending.target} appeared while writing; nothing was replaced")
        pending.rename()


def commit_pair(first: PendingFile, last: PendingFile, *, overwrite: bool = False,
                incomplete: Sequence[Path] = ()) -> None:
    """Rename two finished files so that the pair appears together: ``last`` (the file whose presence
    says the pair is complete, e.g. NAME.csg) disappears first and appears last. With ``overwrite``
    an existing pair is replaced only now that the new one is complete; ``incomplete`` lists files
    that may be replaced anyway (a lone first file of an earlier, interrupted pair). Signals wait
    until the renames are done; a SIGKILL between them leaves a lone first file and a stale .part,
    which :func:`lone_first_file_is_ours` recognises."""
    first.finish()
    last.finish()
    if not overwrite:
        existing = [t for t in (first.target, last.target) if t.exists() and t not in incomplete]
        if existing:
            raise CsRebindError(f"{', '.join(map(str, existing))} appeared while writing; nothing was replaced")
    with _signals_deferred():
        aside = None
        if last.target.exists():  # the old pair, from here on incomplete until the new one is in place
            aside = last.target.with_name(f".{last.target.name}.{os.urandom(8).hex()}.part")
            os.replace(last.target, aside)
        try:
            first.rename()
        except OSError as exc:
            if aside is not None:
                with contextlib.suppress(OSError):
                    os.replace(aside, last.target)
            raise CsRebindError(
                f"{first.target}: cannot be renamed into place ({exc.strerror or exc}); nothing was replaced"
            ) from None
        try:
            last.rename()
        except OSError as exc:
            with contextlib.suppress(OSError):
                first.target.unlink()
            raise CsRebindError(
                f"{last.target}: cannot be renamed into place ({exc.strerror or exc}); {first.target} was removed "
                "again" + (", and the export it replaced is lost" if aside is not None else "")
            ) from None
        if aside is not None:
            with contextlib.suppress(OSError):
                aside.unlink()


def stale_parts(folder: Path, names: Sequence[str] | None = None, suffixes: tuple[str, ...] = ()) -> list[Path]:
    """Our ``.NAME.<hex>.part`` files in ``folder`` (only those of ``names``, or whose NAME ends with
    one of ``suffixes``, if given) whose writer is gone: no process holds their lock. Never follows
    a symbolic link."""
    found = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return []
    for entry in entries:
        match = PART_RE.fullmatch(entry.name)
        if match is None or (names is not None and match["name"] not in names):
            continue
        if suffixes and not match["name"].endswith(suffixes):
            continue
        try:
            if not entry.is_file(follow_symlinks=False):
                continue
            handle = os.open(entry.path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0))
        except OSError:
            continue
        try:
            if _try_lock(handle):
                found.append(Path(entry.path))
        finally:
            os.close(handle)
    return sorted(found)


def remove_stale_parts(folder: Path, names: Sequence[str] | None = None, suffixes: tuple[str, ...] = ()
                       ) -> list[Path]:
    """Remove what :func:`stale_parts` finds; returns what was removed."""
    removed = []
    for path in stale_parts(folder, names, suffixes):
        with contextlib.suppress(OSError):
            path.unlink()
            removed.append(path)
    return removed


def lone_first_file_is_ours(first: Path, last: Path) -> bool:
    """``first`` without ``last`` (NAME.cs without NAME.csg) is the trace of a pair interrupted
    between its renames when a stale ``.part`` of ``last`` is beside it."""
    return first.exists() and not os.path.lexists(last) and bool(stale_parts(first.parent, [last.name]))


def open_regular(path: str | os.PathLike) -> int:
    """A read-only descriptor of ``path``, only if it is a regular file: a FIFO, a socket or a
    device would block or never end, so it is refused (``OSError`` with a readable ``strerror``)
    without ever being opened for reading (checked with ``stat`` first, opened non-blocking, and
    checked again on the open descriptor in case it was swapped meanwhile)."""
    fd, _ = _opened_regular(path)
    try:
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)  # a regular file: ordinary reads from here on
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_regular_bytes(path: str | os.PathLike) -> bytes:
    """The bytes of ``path`` when it is a regular file (see :func:`open_regular`)."""
    return read_regular(path)[0]


def read_regular(path: str | os.PathLike) -> tuple[bytes, os.stat_result]:
    """The bytes of ``path`` and the stat of what was read, when it is a regular file, checked
    as :func:`open_regular` does. Five system calls (stat, open, fstat, one read, close) where a
    Python file object makes thirteen: a project's 50,000 job.json files are read this way."""
    fd, st = _opened_regular(path)  # non-blocking: no effect on a regular file's reads
    try:
        data = os.read(fd, st.st_size + 1)  # the whole file, and the end found, in one read
        if len(data) != st.st_size:  # it grew or shrank meanwhile, or a short read: on to the end
            data = b"".join([data, *iter(partial(os.read, fd, 1 << 20), b"")])
        return data, st
    finally:
        os.close(fd)


_READ_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)


def _opened_regular(path: str | os.PathLike) -> tuple[int, os.stat_result]:
    """A non-blocking read-only descriptor of ``path`` and its fstat, once both the path and
    the descriptor are found to be a regular file (see :func:`open_regular`)."""
    _check_regular(path, os.stat(path).st_mode)
    fd = os.open(path, _READ_FLAGS)
    try:
        st = os.fstat(fd)
        _check_regular(path, st.st_mode)
    except BaseException:
        os.close(fd)
        raise
    return fd, st


def _check_regular(path: str | os.PathLike, mode: int) -> None:
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
    kind = _not_regular(mode)
    if kind:
        raise OSError(errno.EINVAL, f"is {kind}, not a regular file; csrebind reads only regular files", str(path))


def _not_regular(mode: int) -> str:
    if stat.S_ISREG(mode):
        return ""
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def write_bytes_atomic(path: str | os.PathLike, data: bytes, *, overwrite: bool = False) -> Path:
    with atomic_output(path, overwrite=overwrite) as stream:
        stream.write(data)
    return Path(path)


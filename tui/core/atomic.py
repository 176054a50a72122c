"""Atomic file output: a file appears complete under its final name, or not at all.

Everything csrebind writes (exports, plans, scripts, journals) goes through here, so an error
or Ctrl-C never leaves a partial file and an existing file is only replaced when asked.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from pathlib import Path
from typing import IO, Iterator, Sequence

from .errors import CsRebindError


def already_exists(existing: Sequence[Path], replace: str = "replace it") -> str:
    """The refusal to replace files that exist, in the one wording used everywhere."""
    verb = "exists" if len(existing) == 1 else "exist"
    return f"{', '.join(str(p) for p in existing)} already {verb}; choose another name or pass --force to {replace}"


def _create_temporary(folder: Path, name: str) -> tuple[int, Path]:
    """A new file beside the target. Created with mode 0o666 so the kernel applies the user's
    umask, as for any ordinary new file (tempfile.mkstemp's 0o600 would hide the result from
    CryoSPARC's service user)."""
    temp = folder / f".{name}.{secrets.token_hex(8)}.part"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    return os.open(temp, flags, 0o666), temp


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike, *, overwrite: bool = False, binary: bool = True) -> Iterator[IO]:
    """Yield a temporary file beside ``path``; on success it is flushed and renamed over
    ``path``. On any exception (KeyboardInterrupt included) it is removed."""
    target = Path(path)
    if target.exists() and not overwrite:
        raise CsRebindError(already_exists([target]))
    if not target.parent.is_dir():
        raise CsRebindError(f"{target.parent}: output folder does not exist")
    try:
        handle, temp = _create_temporary(target.parent, target.name)
    except OSError as exc:
        raise CsRebindError(f"{target.parent}: cannot write here ({exc.strerror or exc})") from None
    try:
        with os.fdopen(handle, "wb" if binary else "w", encoding=None if binary else "utf-8") as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        if not overwrite and target.exists():  # appeared while we were writing
            raise CsRebindError(f"{target} appeared while writing; nothing was replaced")
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise


def open_regular(path: str | os.PathLike) -> int:
    """A read-only descriptor of ``path``, only if it is a regular file: a FIFO, a socket or a
    device would block or never end, so it is refused (``OSError`` with a readable ``strerror``)
    without ever being opened for reading (checked with ``stat`` first, opened non-blocking, and
    checked again on the open descriptor in case it was swapped meanwhile)."""
    _check_regular(path, os.stat(path).st_mode)
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
                 | getattr(os, "O_BINARY", 0))
    try:
        _check_regular(path, os.fstat(fd).st_mode)
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)  # a regular file: ordinary reads from here on
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_regular_bytes(path: str | os.PathLike) -> bytes:
    """The bytes of ``path`` when it is a regular file (see :func:`open_regular`)."""
    with open(open_regular(path), "rb") as stream:
        return stream.read()


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


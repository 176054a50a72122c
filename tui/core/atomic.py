"""Atomic file output: a file appears complete under its final name, or not at all.

Everything csrebind writes (exports, plans, scripts, journals) goes through here, so an error
or Ctrl-C never leaves a partial file and an existing file is only replaced when asked.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import IO, Iterator

from .errors import CsRebindError


def _umask() -> int:
    # os.umask can only be read by setting it; put it straight back.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def ordinary_file_mode() -> int:
    """What ``open(path, "w")`` would give: 0o666 less the umask (a temp file gets 0o600,
    which CryoSPARC's service user could not read)."""
    return 0o666 & ~_umask()


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike, *, overwrite: bool = False, binary: bool = True) -> Iterator[IO]:
    """Yield a temporary file beside ``path``; on success it is flushed, given ordinary
    permissions and renamed over ``path``. On any exception (KeyboardInterrupt included) it is removed."""
    target = Path(path)
    if target.exists() and not overwrite:
        raise CsRebindError(f"{target} already exists; choose another name or pass --force to replace it")
    if not target.parent.is_dir():
        raise CsRebindError(f"{target.parent}: output folder does not exist")
    try:
        handle, temp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    except OSError as exc:
        raise CsRebindError(f"{target.parent}: cannot write here ({exc.strerror or exc})") from None
    temp = Path(temp_name)
    try:
        with os.fdopen(handle, "wb" if binary else "w", encoding=None if binary else "utf-8") as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temp, ordinary_file_mode())
        if not overwrite and target.exists():  # appeared while we were writing
            raise CsRebindError(f"{target} appeared while writing; nothing was replaced")
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise


def write_bytes_atomic(path: str | os.PathLike, data: bytes, *, overwrite: bool = False) -> Path:
    with atomic_output(path, overwrite=overwrite) as stream:
        stream.write(data)
    return Path(path)


def write_text_atomic(path: str | os.PathLike, text: str, *, overwrite: bool = False) -> Path:
    return write_bytes_atomic(path, text.encode("utf-8"), overwrite=overwrite)

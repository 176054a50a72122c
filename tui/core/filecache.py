"""A small thread-safe LRU cache of values computed from files, keyed by the file's path, size
and mtime: a file rewritten on disk (a job re-run, a cleared job re-made) is read again, an
unchanged one costs a stat. Used for facts, uid columns and version differences."""

from __future__ import annotations

import os
from collections import OrderedDict
from threading import Lock
from typing import Callable, Generic, Hashable, TypeVar

from .errors import CsFileError

T = TypeVar("T")


def file_key(path: str | os.PathLike) -> tuple[str, int, int]:
    """(path, size, mtime_ns) of a file, or a CsFileError saying why it cannot be read."""
    try:
        stat = os.stat(path)
    except OSError as exc:
        missing = " (missing: the job was cleared or its files moved)" if isinstance(exc, FileNotFoundError) else ""
        raise CsFileError(path, f"cannot be read{missing} ({exc.strerror or exc})") from None
    return os.fspath(path), stat.st_size, stat.st_mtime_ns


class FileCache(Generic[T]):
    """Values per (file key, extra key), the least recently used dropped past ``max_items``
    entries or ``max_bytes`` of their ``size_of``."""

    def __init__(self, max_items: int = 256, max_bytes: int | None = None,
                 size_of: Callable[[T], int] | None = None) -> None:
        self.max_items, self.max_bytes, self.size_of = max_items, max_bytes, size_of
        self._values: OrderedDict[tuple, tuple[T, int]] = OrderedDict()
        self._bytes = 0
        self._lock = Lock()

    def get(self, path: str | os.PathLike, extra: Hashable, compute: Callable[[], T]) -> T:
        """The cached value for this file as it is now, else ``compute()`` (outside the lock, so
        two threads may compute the same value once each; the last one is kept)."""
        key = (*file_key(path), extra)
        with self._lock:
            if key in self._values:
                self._values.move_to_end(key)
                return self._values[key][0]
        value = compute()
        size = self.size_of(value) if self.size_of else 0
        with self._lock:
            if key in self._values:
                self._bytes -= self._values.pop(key)[1]
            self._values[key] = (value, size)
            self._bytes += size
            while len(self._values) > self.max_items or (
                self.max_bytes is not None and self._bytes > self.max_bytes and len(self._values) > 1
            ):
                self._bytes -= self._values.popitem(last=False)[1][1]
        return value

    def peek(self, path: str | os.PathLike, extra: Hashable) -> T | None:
        key = (*file_key(path), extra)
        with self._lock:
            found = self._values.get(key)
        return found[0] if found is not None else None

    def clear(self) -> None:
        with self._lock:
            self._values.clear()
            self._bytes = 0

    def __len__(self) -> int:
        return len(self._values)

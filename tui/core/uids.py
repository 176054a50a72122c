"""The ``uid`` column of a .cs file, read alone and cached by the file's (path, size, mtime):
what the join preview, the candidates for a slot and the export's join all start from.

Overlaps are counted on sorted arrays (``np.searchsorted``), never with Python sets: a
2,000,000-row join is a few tens of milliseconds once the columns are read.
"""

from __future__ import annotations

import os

import numpy as np

from .csfile import load
from .errors import CsFileError
from .filecache import FileCache

CACHE_BYTES = 512 * 2**20  # uid columns kept: ~65 million rows


def _nbytes(column: "UidColumn") -> int:
    return 2 * column.uids.nbytes  # the uids, and their sorted copy once asked for


class UidColumn:
    """A file's uids in file order and sorted (both read-only). The sorted copy is made when
    first asked for: the export's join, which caches the columns it reads, never needs it."""

    __slots__ = ("uids", "_sorted")

    def __init__(self, uids: np.ndarray) -> None:
        self.uids = np.ascontiguousarray(uids, dtype=np.uint64)
        self.uids.flags.writeable = False
        self._sorted: np.ndarray | None = None

    @property
    def sorted(self) -> np.ndarray:
        if self._sorted is None:  # two threads may both sort: the same values either way
            ordered = np.sort(self.uids)
            ordered.flags.writeable = False
            self._sorted = ordered
        return self._sorted

    def __len__(self) -> int:
        return len(self.uids)

    @property
    def repeated(self) -> int:
        """How many rows repeat a uid of an earlier row."""
        return int(np.count_nonzero(self.sorted[1:] == self.sorted[:-1]))


_cache: FileCache[UidColumn] = FileCache(max_items=4096, max_bytes=CACHE_BYTES, size_of=_nbytes)


def uid_column(path: str | os.PathLike) -> UidColumn:
    """The uids of the .cs file at ``path`` (CsFileError when it cannot be read)."""
    return _cache.get(path, "uid", lambda: _read(path))


def remember(path: str | os.PathLike, uids: np.ndarray) -> UidColumn:
    """Cache uids read by someone else (the export reads them with other columns in one pass)."""
    return _cache.get(path, "uid", lambda: UidColumn(uids))


def _read(path: str | os.PathLike) -> UidColumn:
    table = load(path, fields=("uid",))
    try:
        return UidColumn(np.array(table["uid"], dtype=np.uint64))
    except (ValueError, TypeError, OverflowError) as exc:
        raise CsFileError(path, f"its uid column cannot be read as 64-bit integers ({exc})") from None


def shared(a: UidColumn, b: UidColumn) -> int:
    """How many uids of ``b`` are in ``a`` (rows of ``b``; uids unique in ``a``)."""
    if len(a) == 0 or len(b) == 0:
        return 0
    pos = np.searchsorted(a.sorted, b.sorted)
    np.minimum(pos, len(a) - 1, out=pos)
    return int(np.count_nonzero(a.sorted[pos] == b.sorted))


def peek(path: str | os.PathLike) -> UidColumn | None:
    """The cached uids of ``path`` if the file is unchanged since they were read; None otherwise."""
    return _cache.peek(path, "uid")

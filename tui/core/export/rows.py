"""Filling an export's rows: where each source row goes (an inverse scatter), the passes that
stage files read in another order than the output's, the byte runs copied as slices, and the
writer thread that appends each chunk to the output while the next is filled."""

from __future__ import annotations

import math
import os
import queue
import threading
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterator, Literal

import numpy as np

from .join import BLOCK_BYTES, JoinedConnection, parallel, read_blocks
from .layout import Column, ConnectionLayout, ExportLayout, SourceLayout

PathMode = Literal["keep", "absolute"]
PATH_MODES: tuple[str, ...] = ("keep", "absolute")

# Output rows go to the writer in chunks of about CHUNK_BYTES. A file read in the output's row
# order (the pivot file) is read along with the chunks, once. A file in another order is read in
# passes: each pass reads it once, start to end, and stages the bytes the output takes from it,
# for the next rows of the output, in output order; the chunks of those rows copy them out as
# slices. The staging arrays are the bulk of the memory the write takes: STAGE_SHARE of the
# output's size, or as much as keeps the process under MEMORY_SHARE of it if that is more (large
# exports, where the fixed costs weigh less), at least STAGE_BYTES, and more if that took over
# MAX_PASSES passes. Fewer passes read less: each one reads the whole of those files.
CHUNK_BYTES = 4 * 2**20
STAGE_BYTES = 32 * 2**20
STAGE_SHARE = 0.3
MEMORY_SHARE = 0.6
MAX_PASSES = 8


# copying rows ---------------------------------------------------------------------------------


@dataclass
class _SourceCopy:
    index: int
    runs: list[tuple[int, int, int]]  # (source byte offset, output byte offset, length)
    convert: list[Column]  # columns copied field by field (string width differs)
    rewrite: list[Column]  # path columns made absolute
    src_dir: bytes = b""


def dir_bytes(path: Path | str) -> bytes:
    return os.fsencode(str(path).rstrip("/") + "/")


def _rewritten(src: SourceLayout, paths: PathMode) -> list[Column]:
    if paths != "absolute":
        return []
    return [c for c in src.columns if _is_path(c.output) and src.header.dtype.fields[c.source][0].base.kind == "S"]


def path_widths(joined: list[JoinedConnection], layout: ExportLayout, paths: PathMode) -> dict[str, int]:
    """Output width of every rewritten path column: wide enough for the longest possible value."""
    widths: dict[str, int] = {}
    project_dir = len(dir_bytes(layout.project_path))
    for join in joined:
        for src in join.layout.sources:
            if src.order_only:
                continue
            src_dir = len(dir_bytes(Path(src.header.path).parent))
            for col in _rewritten(src, paths):
                width = src.header.dtype.fields[col.source][0].itemsize + max(project_dir, src_dir)
                widths[col.output] = max(widths.get(col.output, 0), width)
    return widths


def output_dtype(base: np.dtype, widths: dict[str, int]) -> np.dtype:
    if not widths:
        return base
    fields = []
    for name in base.names:
        dt = base.fields[name][0]
        if name in widths:
            dt = np.dtype(f"S{max(widths[name], dt.itemsize)}")
        fields.append((name, dt))
    return np.dtype(fields)


def source_copies(conn: ConnectionLayout, dtype: np.dtype, paths: PathMode) -> list[_SourceCopy]:
    """How each source of one connection maps onto output bytes."""
    copies = []
    for i, src in enumerate(conn.sources):
        if src.order_only:
            continue
        rewrite = _rewritten(src, paths)
        runs, convert = [], []
        for col in src.columns:
            if col in rewrite:
                continue
            (sdt, s_off, *_), (odt, o_off, *_) = src.header.dtype.fields[col.source], dtype.fields[col.output]
            if sdt == odt:
                runs.append((s_off, o_off, sdt.itemsize))
            else:
                convert.append(col)
        copies.append(_SourceCopy(i, _merge_runs(runs), convert, rewrite, dir_bytes(Path(src.header.path).parent)))
    return copies


def _is_path(name: str) -> bool:
    leaf = name.rsplit("/", 1)[-1]
    return leaf == "path" or leaf.endswith("_path")


def _write_chunk(handle: BinaryIO, chunk: np.ndarray) -> None:
    """Append one chunk of rows to the open output (tests replace this to simulate Ctrl-C).
    A plain write of the chunk's bytes: ``ndarray.tofile`` on a Python file is ~10× slower."""
    handle.write(memoryview(chunk.view(np.uint8)))


def _merge_runs(runs: list[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
    """Adjacent columns (in both the source and the output) are copied as one byte run."""
    merged: list[list[int]] = []
    for s, o, n in sorted(runs, key=lambda r: r[1]):
        if merged and merged[-1][0] + merged[-1][2] == s and merged[-1][1] + merged[-1][2] == o:
            merged[-1][2] += n
        else:
            merged.append([s, o, n])
    return [tuple(r) for r in merged]  # type: ignore[misc]


def _voids(table: np.ndarray, offset: int, length: int) -> np.ndarray:
    """Bytes [offset, offset+length) of every row, as one opaque value per row."""
    raw = table.view(np.uint8).reshape(len(table), table.dtype.itemsize)
    return raw[:, offset:offset + length].view(np.dtype((np.void, length)))[:, 0]


def _chunk_rows(dtype: np.dtype, total: int) -> int:
    return max(1, min(total, CHUNK_BYTES // max(dtype.itemsize, 1)))


SPARSE = 16  # a file giving fewer than 1/SPARSE of its rows has them sorted in each pass, not inverted


@dataclass
class _Placement:
    """Where the rows of one source go in one connection's output, worked out once for all chunks.

    ``rows[k]`` is the source row of output row k. When the rows ascend (the pivot file, or a file
    in the same order) the rows of a chunk are read in file order as they are. Otherwise each
    source row is given its output row (``inverse``, -1 for rows not exported): an inverse scatter,
    a tenth of the time of sorting the rows of every pass. Rows repeated (a matched file's row may
    serve several output rows) have no inverse, nor have a few rows of a large file (the inverse
    would cost more than they): the rows of a pass are sorted (stable) instead."""

    rows: np.ndarray
    ascending: bool
    inverse: np.ndarray | None = None


def _place(src: SourceLayout, rows: np.ndarray) -> _Placement:
    if len(rows) < 2 or bool(np.all(rows[1:] >= rows[:-1])):
        return _Placement(rows, True)
    if len(rows) * SPARSE < src.rows:  # a few rows of a large file: sorting them is cheaper than an inverse
        return _Placement(rows, False)
    inverse = np.full(src.rows, -1, dtype=np.int32 if len(rows) < 2**31 else np.int64)
    inverse[rows] = np.arange(len(rows), dtype=inverse.dtype)
    if np.count_nonzero(inverse >= 0) != len(rows):  # repeated rows: the last one written won
        return _Placement(rows, False)
    return _Placement(rows, False, inverse)


@dataclass
class _Stage:
    """The bytes one source (rows in another order than the output's) gives the rows of a pass, in
    output order: ``segments`` of each source row, packed; ``copy`` maps a staged row onto the
    output as ``_SourceCopy`` maps a source row (converted columns keep their names)."""

    segments: list[tuple[int, int, int]]  # (source byte offset, staged byte offset, length)
    copy: _SourceCopy
    dtype: np.dtype
    array: np.ndarray | None = None
    first: int = 0  # output row of the staged row 0


def _stage(src: SourceLayout, copy: _SourceCopy) -> _Stage:
    fields = src.header.dtype.fields
    pieces = [(s, n) for s, _, n in copy.runs]
    pieces += [(fields[col.source][1], fields[col.source][0].itemsize) for col in (*copy.convert, *copy.rewrite)]
    spans: list[list[int]] = []
    for s, n in sorted(pieces):
        if spans and s <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], s + n)
        else:
            spans.append([s, s + n])
    segments, size = [], 0
    for s, e in spans:
        segments.append((s, size, e - s))
        size += e - s

    def staged(offset: int) -> int:
        for s, t, n in segments:
            if s <= offset < s + n:
                return t + offset - s
        raise AssertionError(offset)

    names = list(dict.fromkeys(col.source for col in (*copy.convert, *copy.rewrite)))
    dtype = np.dtype({"names": names, "formats": [fields[name][0] for name in names],
                      "offsets": [staged(fields[name][1]) for name in names], "itemsize": max(size, 1)})
    runs = [(staged(s), o, n) for s, o, n in copy.runs]
    return _Stage(segments, _SourceCopy(copy.index, runs, copy.convert, copy.rewrite, copy.src_dir), dtype)


def _pass_rows(step: int, count: int, staged_bytes: int, budget: int) -> int:
    """Output rows staged in one pass (``staged_bytes`` a row, ``budget`` bytes at most): a whole
    number of chunks, in passes of even size."""
    passes = min(MAX_PASSES, max(1, math.ceil(count * staged_bytes / max(budget, 1))))
    return min(count, math.ceil(math.ceil(count / passes) / step) * step)


def _stage_budget(writer: "ChunkWriter", readers: int) -> int:
    """Bytes the staging arrays may take: STAGE_SHARE of the output's size, or what keeps the
    process under MEMORY_SHARE of it (counting the chunk buffers and the ``readers`` read buffers
    still to be filled), whichever is more."""
    output = writer.total * writer.dtype.itemsize
    budget = max(STAGE_BYTES, int(STAGE_SHARE * output))
    resident = _resident_bytes()
    if resident is None:
        return budget
    to_come = (2 - writer.allocated) * writer.step * writer.dtype.itemsize + readers * BLOCK_BYTES
    return max(budget, int(MEMORY_SHARE * output) - resident - to_come)


def _resident_bytes() -> int | None:
    """The process's resident memory now (Linux), or None."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def write_connection(writer: "ChunkWriter", join: JoinedConnection, copies: list[_SourceCopy], project_dir: bytes
                      ) -> Iterator[int]:
    """Fill one connection's rows chunk by chunk and hand them to the writer; yields rows per chunk."""
    sources = join.layout.sources
    placements = {copy.index: _place(sources[copy.index], join.rows[copy.index]) for copy in copies}
    stages = {copy.index: _stage(sources[copy.index], copy) for copy in copies if not placements[copy.index].ascending}
    reading = np.empty(BLOCK_BYTES, dtype=np.uint8)  # the blocks of the pivot file are read into this
    # the staged files are read and staged side by side (reading and numpy's copies release the
    # GIL), each into a buffer of its own
    stage_reading = {index: reading if k == 0 else np.empty(BLOCK_BYTES, dtype=np.uint8)
                     for k, index in enumerate(stages)}
    staged = sum(stage.dtype.itemsize for stage in stages.values())
    per_pass = _pass_rows(writer.step, join.count, staged, _stage_budget(writer, len(stages)) if staged else 0)
    for first in range(0, join.count, per_pass):
        last = min(first + per_pass, join.count)
        parallel([
            (lambda i=index, stage=stage: _fill_stage(stage, sources[i], placements[i], first, last, per_pass,
                                                      stage_reading[i]))
            for index, stage in stages.items()
        ])
        for start in range(first, last, writer.step):
            stop = min(start + writer.step, last)
            out = writer.buffer()[: stop - start]
            for copy in copies:
                _fill(out, sources[copy.index], placements[copy.index], start, copy, project_dir,
                      stages.get(copy.index), reading)
            writer.put(out)
            yield stop - start


class ChunkWriter:
    """Writes filled chunks on a background thread while the next one is filled (two buffers at
    most). Errors, KeyboardInterrupt included, come back to the caller of put/close."""

    def __init__(self, handle: BinaryIO, dtype: np.dtype, total: int) -> None:
        self.handle = handle
        self.dtype = dtype
        self.total = total
        self.written = 0  # bytes of the file whose writing to disk has been started
        self.step = _chunk_rows(dtype, total)
        self.chunks = max(1, math.ceil(total / self.step))
        self.allocated = 0
        self.free: queue.Queue[np.ndarray] = queue.Queue()
        self.todo: queue.Queue[np.ndarray | None] = queue.Queue()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="csrebind-export-writer", daemon=True)
        self.thread.start()

    def buffer(self) -> np.ndarray:
        self._check()
        if self.free.empty() and self.allocated < min(2, self.chunks):
            self.allocated += 1
            return np.zeros(self.step, dtype=self.dtype)
        chunk = self.free.get()
        self._check()
        return chunk.base if chunk.base is not None and chunk.base.dtype == self.dtype else chunk

    def put(self, chunk: np.ndarray) -> None:
        self._check()
        self.todo.put(chunk)

    def close(self) -> None:
        self.todo.put(None)
        self.thread.join()
        self._check()

    def abort(self) -> None:
        self.error = self.error or KeyboardInterrupt()
        self.todo.put(None)
        self.thread.join()

    def _check(self) -> None:
        if self.error is not None:
            raise self.error

    def _run(self) -> None:
        while True:
            chunk = self.todo.get()
            if chunk is None:
                return
            if self.error is None:
                try:
                    _write_chunk(self.handle, chunk)
                    self._start_writeback()
                except BaseException as exc:  # handed to the main thread
                    self.error = exc
            self.free.put(chunk)

    def _start_writeback(self) -> None:
        """Have the kernel start writing what was written so far to disk (posix_fadvise
        DONTNEED starts the writeback of dirty pages, and drops them from the cache once written):
        the fsync at the end then waits for the last chunks only, not for the whole file, and an
        export of gigabytes does not fill the page cache with pages that must be written first."""
        if not hasattr(os, "posix_fadvise"):
            return
        with suppress(OSError, ValueError, AttributeError):
            fd = self.handle.fileno()
            end = os.lseek(fd, 0, os.SEEK_CUR)  # what reached the kernel (a short tail may sit in the buffer)
            if end > self.written:
                os.posix_fadvise(fd, self.written, end - self.written, os.POSIX_FADV_DONTNEED)
                self.written = end


def _fill(out: np.ndarray, src: SourceLayout, place: _Placement, start: int, copy: _SourceCopy,
          project_dir: bytes, stage: _Stage | None = None, reading: np.ndarray | None = None) -> None:
    """Copy the rows of one source into ``out``, output rows [start, start + len(out)) of the
    connection (row k of out ← source row place.rows[start + k]): from the file, read along, or
    from the rows staged by the pass."""
    if stage is not None:  # staged in output order: every run is one slice
        at = start - stage.first
        staged = stage.array[at:at + len(out)]
        for s, target, _ in _targets(out, stage.copy.runs):
            target[:] = _voids(staged, s, target.dtype.itemsize)
        for col in copy.convert:
            out[col.output] = staged[col.source]
        for col in copy.rewrite:
            out[col.output] = _absolute(staged[col.source], copy.src_dir, project_dir)
        return
    targets = _targets(out, copy.runs)
    for block, local, dest in _placed(src, place, start, start + len(out), reading):
        _copy_rows(out, block, local, dest, targets, copy, project_dir)


def _fill_stage(stage: _Stage, src: SourceLayout, place: _Placement, first: int, last: int, per_pass: int,
                reading: np.ndarray | None = None) -> None:
    """Stage the bytes of output rows [first, last) from one pass over ``src``."""
    if stage.array is None:
        stage.array = np.empty(per_pass, dtype=stage.dtype)
    stage.first = first
    table = stage.array[: last - first]
    targets = _targets(table, stage.segments)
    for block, local, dest in _placed(src, place, first, last, reading):
        _copy_rows(table, block, local, dest, targets, _NOTHING_ELSE, b"")


_NOTHING_ELSE = _SourceCopy(-1, [], [], [])


def _targets(table: np.ndarray, runs: list[tuple[int, int, int]]) -> list[tuple[int, np.ndarray, int]]:
    return [(s, _voids(table, o, n), n) for s, o, n in runs]


def _placed(src: SourceLayout, place: _Placement, start: int, stop: int, reading: np.ndarray | None = None
            ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The blocks of ``src`` holding rows of output rows [start, stop), each with the block rows
    needed (``local``) and the output rows, counted from ``start``, they go to (``dest``); the
    blocks are read into ``reading`` (see read_blocks)."""
    rows = place.rows[start:stop]
    if place.inverse is not None:  # every block holding a needed row; its rows find their output row
        count = stop - start
        unsigned = np.uint32 if place.inverse.itemsize == 4 else np.uint64
        for first, block in read_blocks(src, 0, 0, _blocks_of(src, rows), buffer=reading):
            dest = place.inverse[first:first + len(block)] - start  # out of [0, count): not in these rows
            local = np.flatnonzero(dest.view(unsigned) < count)
            if len(local):
                yield block, local, dest[local]
        return
    if place.ascending:
        order = None
        ascending = rows
    else:  # repeated rows, not ascending: a stable sort keeps the order of repeats
        order = np.argsort(rows, kind="stable")
        ascending = rows[order]
    for first, block in read_blocks(src, 0, 0, _ranges(src, ascending), buffer=reading):
        a = int(np.searchsorted(ascending, first))
        b = int(np.searchsorted(ascending, first + len(block)))
        if a < b:
            yield block, ascending[a:b] - first, np.arange(a, b) if order is None else order[a:b]


def _copy_rows(out: np.ndarray, block: np.ndarray, local: np.ndarray, dest: np.ndarray,
               targets: list[tuple[int, np.ndarray, int]], copy: _SourceCopy, project_dir: bytes) -> None:
    """out[dest] ← block[local], byte run by byte run (``targets``: source offset, the run's view
    of ``out``, length), then the converted and rewritten columns of ``copy``. Where consecutive
    rows of the block go to consecutive rows of ``out`` (a file kept whole, or in the output's
    order, or staged rows) each run of rows is copied as one slice, not row by row."""
    runs = _row_runs(local, dest)
    if runs is not None:
        for (l0, d0, k) in runs:
            rows = block[l0:l0 + k]
            for s, target, n in targets:
                target[d0:d0 + k] = _voids(rows, s, n)
            for col in copy.convert:
                out[col.output][d0:d0 + k] = rows[col.source]
            for col in copy.rewrite:
                out[col.output][d0:d0 + k] = _absolute(rows[col.source], copy.src_dir, project_dir)
        return
    for s, target, n in targets:
        target[dest] = _voids(block, s, n)[local]
    for col in copy.convert:
        out[col.output][dest] = block[col.source][local]
    for col in copy.rewrite:
        out[col.output][dest] = _absolute(block[col.source][local], copy.src_dir, project_dir)


# A run of rows is copied as one slice when runs are this many rows long on average or longer;
# shorter ones cost more as Python-level slices than as one fancy-indexed copy.
MIN_RUN = 32


def _row_runs(local: np.ndarray, dest: np.ndarray) -> list[tuple[int, int, int]] | None:
    """(first block row, first output row, rows) of every run of consecutive rows going to
    consecutive output rows, or None when the runs are too short to be worth copying apiece."""
    n = len(local)
    if n < MIN_RUN:
        return None
    breaks = np.diff(local) != 1
    breaks |= np.diff(dest) != 1
    breaks = np.flatnonzero(breaks) + 1
    if (len(breaks) + 1) * MIN_RUN > n:
        return None
    starts = np.concatenate(([0], breaks))
    ends = np.concatenate((breaks, [n]))
    return list(zip(local[starts].tolist(), dest[starts].tolist(), (ends - starts).tolist()))


def _ranges(src: SourceLayout, ascending: np.ndarray) -> list[tuple[int, int]]:
    """Row ranges worth reading: the span of the needed rows, cut where a gap of more than a
    block would otherwise be read for nothing."""
    if len(ascending) == 0:
        return []
    block_rows = max(1, BLOCK_BYTES // max(src.header.dtype.itemsize, 1))
    gaps = np.flatnonzero(np.diff(ascending) > block_rows)
    starts = np.concatenate(([0], gaps + 1))
    ends = np.concatenate((gaps, [len(ascending) - 1]))
    return [(int(ascending[s]), int(ascending[e]) + 1) for s, e in zip(starts, ends)]


def _blocks_of(src: SourceLayout, rows: np.ndarray) -> list[tuple[int, int]]:
    """Row ranges worth reading for rows in any order: the blocks (of BLOCK_BYTES, from row 0)
    holding at least one of ``rows``, consecutive ones merged; found without sorting the rows."""
    if len(rows) == 0:
        return []
    block_rows = max(1, BLOCK_BYTES // max(src.header.dtype.itemsize, 1))
    needed = np.zeros(-(-src.rows // block_rows) + 2, dtype=np.int8)  # blocks 1..n, a 0 either side
    needed[rows // block_rows + 1] = 1
    edges = np.diff(needed)
    firsts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return [(f * block_rows, min(e * block_rows, src.rows)) for f, e in zip(firsts.tolist(), ends.tolist())]


def _absolute(values: np.ndarray, src_dir: bytes, project_dir: bytes) -> np.ndarray:
    """``>rest`` → source folder/rest; relative → project folder/value; absolute and empty unchanged."""
    relative_to_file = np.strings.startswith(values, b">")
    keep = np.strings.startswith(values, b"/") | (np.strings.str_len(values) == 0)
    rest = np.where(relative_to_file, np.strings.slice(values, 1, None), values)
    base = np.where(relative_to_file, np.bytes_(src_dir), np.bytes_(project_dir))
    return np.where(keep, values, np.strings.add(base, rest))

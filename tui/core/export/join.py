"""The join of an export, from the uid columns alone: per connection, the inner join on ``uid``
of every file it reads, in the order of the connection's source output; the rows kept and
dropped per file, and the warnings (uid lineages, pixel sizes, uids repeated across connections).

The join is numpy sorting and searching on uint64 uids (no per-row Python); files are read
block by block with ``readinto`` (:func:`read_blocks`), never loaded whole nor mapped. The
preview caches the uid columns it reads (:mod:`tui.core.uids`) and the export uses them, so the
join preview of an input being edited and the export of it read each file once.
:func:`join_connection` is both the preview's count and the export's pre-flight.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from .. import uids as uid_cache
from ..atomic import open_regular
from ..errors import CsFileError, ExportError
from .layout import ConnectionLayout, ExportLayout, SourceLayout
from .notices import LINEAGE_HINT, lineage_warnings, no_rows_message, psize_fields, psize_warnings
from .match import KEY_FIELDS, MatchReport, match_keys, match_location, path_keys, pick_position

BLOCK_BYTES = 4 * 2**20  # size of the block read at a time when scanning a source file (1-8 MiB read alike; 32 MiB is slower)



@dataclass
class SourceReport:
    connection: int
    metafile: str
    rows: int  # rows in the file
    kept: int  # rows of this file in the export
    provides: tuple[str, ...]
    order_only: bool = False
    match: str | None = None  # how a matched file's rows were matched, and how many

    @property
    def dropped(self) -> int:
        return 0 if self.order_only else self.rows - self.kept


@dataclass
class ExportReport:
    """What an export reads, keeps and drops; after writing, also what it wrote."""

    input: str
    target: str | None
    sources: list[SourceReport]
    rows_per_connection: list[int]
    columns: tuple[str, ...]
    types: dict[str, str]
    description: str
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # passthroughs left out: no stored files
    dropped: list[str] = field(default_factory=list)  # fields left out of stacked connections, with why
    cs_path: Path | None = None
    csg_path: Path | None = None
    bytes_written: int = 0

    @property
    def rows(self) -> int:
        return sum(self.rows_per_connection)

    def lines(self) -> list[str]:
        """A plain-text summary, one line per item."""
        head = f"{self.target} {self.input}" if self.target else self.input
        out = [f"export of {head}: {self.rows} rows, {len(self.columns)} columns"]
        for s in self.sources:
            if s.order_only:
                out.append(f"  c{s.connection} {s.metafile}: {s.rows} rows (row order only)")
            else:
                out.append(f"  c{s.connection} {s.metafile}: {s.rows} rows, {s.kept} kept, {s.dropped} dropped")
            if s.match:
                out.append(f"      {s.match}")
            out.extend(f"      {p}" for p in s.provides)
        if len(self.rows_per_connection) > 1:
            out.append("  rows per connection: " + ", ".join(str(n) for n in self.rows_per_connection))
        out.extend(f"  note: {n}" for n in self.notes)
        out.extend(f"  skipped: {s}" for s in self.skipped)
        out.extend(f"  dropped: {d}" for d in self.dropped)
        out.extend(f"  warning: {w}" for w in self.warnings)
        if self.cs_path is not None:
            out.append(f"  wrote {self.cs_path} ({self.bytes_written} bytes) and {self.csg_path}")
        return out


@dataclass
class JoinedConnection:
    """Per connection: the source row of every output row, for each contributing source."""

    layout: ConnectionLayout
    rows: dict[int, np.ndarray]  # source index → source row per output row (int64)
    count: int
    uids: np.ndarray | None = None  # output uids (only kept to check repeats across connections)
    warnings: list[str] = field(default_factory=list)
    overlaps: list[tuple[SourceLayout, int]] = field(default_factory=list)  # per other source: uids shared with the pivot
    psizes: dict[str, list[float]] = field(default_factory=dict)  # psize_A column → [min, max], when compared
    matches: dict[int, MatchReport] = field(default_factory=dict)  # per matched source index

    def kept_of(self, index: int) -> int:
        """Rows of source ``index`` in the export (a matched file's row may serve several rows)."""
        if index in self.matches:
            return int(np.unique(self.rows[index]).size) if index in self.rows else 0
        return self.count

    @property
    def total(self) -> int:
        """Rows of the pivot file: the connection's own rows, as CryoSPARC counts them."""
        return self.layout.sources[self.layout.primary].rows

    def no_rows_message(self) -> str:
        return no_rows_message(self.layout, self.layout.sources[self.layout.primary], self.overlaps, self.matches)


def join_export(layout: ExportLayout) -> tuple[ExportReport, list[JoinedConnection]]:
    """Read the uid columns, join them and report rows kept and dropped. Nothing is written.
    Raises ExportError when no row would be left."""
    joined: list[JoinedConnection] = []
    sources: list[SourceReport] = []
    warnings: list[str] = []
    for conn in layout.connections:
        # uses the columns the preview cached but adds none: a one-shot export (the CLI) would
        # keep 8 bytes per source row for nobody, memory the write's staging does better with
        join = join_connection(conn, layout, cache=False)
        if join.count == 0:
            raise ExportError(join.no_rows_message())
        joined.append(join)
        warnings.extend(join.warnings)
        warnings.extend(psize_warnings(conn, join.psizes))
        for i, src in enumerate(conn.sources):
            found = join.matches.get(i)
            sources.append(SourceReport(conn.index, src.metafile, src.rows, join.kept_of(i), src.provides,
                                        src.order_only, found.text() if found else None))
    warnings.extend(lineage_warnings(layout))
    repeated = _repeated_uids(joined)
    if repeated and not layout.repeat_allowed:
        raise ExportError(
            f"input {layout.input}: {repeated} uid(s) appear in more than one connection, and the input does not "
            "allow repeats (repeat_allowed is false); cryosparc-tools' Dataset.append_many refuses to stack "
            "repeated uids unless repeat_allowed. Remove the connection that repeats particles, or export one "
            "connection at a time (--connection N); nothing written"
        )
    if repeated:
        warnings.append(
            f"{repeated} uid(s) appear in more than one connection; kept, since input {layout.input} allows "
            "repeats (repeat_allowed), as cryosparc-tools' Dataset.append_many(repeat_allowed=True) keeps them"
        )
    for join in joined:
        join.uids = None
    report = ExportReport(
        input=layout.input, target=layout.target, sources=sources, rows_per_connection=[j.count for j in joined],
        columns=layout.columns, types=dict(layout.types), description=layout.description, warnings=warnings,
        notes=list(layout.notes), skipped=list(layout.skipped), dropped=list(layout.dropped),
    )
    return report, joined


def join_connection(conn: ConnectionLayout, layout: ExportLayout, psizes: dict[str, list[float]] | None = None,
                    cache: bool = True) -> JoinedConnection:
    """The inner join on uid of every file ``conn`` reads (none of them may repeat a uid); zero
    rows left is a result here (``count == 0``), for the caller to refuse. The pixel sizes of the
    blob and of alignments taken from another output than the blob (a swap) are read on the way
    (``JoinedConnection.psizes``; also merged into ``psizes`` when given). Uid columns read are
    cached (:mod:`tui.core.uids`) unless ``cache`` is false; cached ones are used either way."""
    primary = conn.sources[conn.primary]
    stats = psize_fields(conn, layout)
    others = [i for i, src in enumerate(conn.sources)
              if i != conn.primary and not src.order_only and src.match == "uid"]
    matched = [i for i, src in enumerate(conn.sources) if src.match != "uid"]
    indices = [conn.primary, *others, *matched]
    # All sources at once, on threads (reading and numpy release the GIL): each uid column is read,
    # sorted as soon as read (the pivot and the files joined on uid; matched files are not), and
    # a file joined on uid is looked up in the pivot's sorted uids as soon as those are ready.
    found_stats: list[dict[str, list[float]]] = [{} for _ in indices]
    sorts = 1 + len(others)
    pivot: dict[str, object] = {}
    pivot_ready = threading.Event()

    def read(k: int, i: int) -> tuple[np.ndarray, tuple[np.ndarray, int] | None]:
        try:
            uids = _read_uids(conn.sources[i], stats.get(i, {}), found_stats[k], cache)
            if k == 0:  # uids are unique (checked below), so no stable sort is needed
                pivot["perm"], pivot["sorted"] = perm, sorted_uids = _sort_order(uids)
                pivot["duplicates"] = int(np.count_nonzero(sorted_uids[1:] == sorted_uids[:-1]))
                return uids, None
            if k >= sorts:
                return uids, None
            presorted = _sort_order(uids)
            pivot_ready.wait()
            if pivot.get("duplicates", 1):  # the pivot cannot be joined on: refused below
                return uids, None
            return uids, _join_on_pivot(pivot["perm"], pivot["sorted"], uids, presorted)  # type: ignore[arg-type]
        finally:
            if k == 0:
                pivot_ready.set()

    columns = parallel([(lambda i=i, k=k: read(k, i)) for k, i in enumerate(indices)])
    uid_columns = [uids for uids, _ in columns]
    lookups = [found for _, found in columns]
    del columns
    spans: dict[str, list[float]] = {}
    for collected in found_stats:
        for name, (low, high) in collected.items():
            for into in (spans, psizes) if psizes is not None else (spans,):
                span = into.setdefault(name, [low, high])
                span[0], span[1] = min(span[0], low), max(span[1], high)
    u_primary = uid_columns[0]
    duplicates = pivot["duplicates"]
    if duplicates:
        raise ExportError(f"{primary.metafile}: {duplicates} uid(s) occur more than once; rows cannot be joined on uid")
    pivot.clear()
    keep = np.ones(len(u_primary), dtype=bool)
    maps: dict[int, np.ndarray] = {}
    overlaps: list[tuple[SourceLayout, int]] = []
    for k, i in enumerate(others, start=1):
        src = conn.sources[i]
        index, hits = lookups[k]  # type: ignore[misc]
        lookups[k] = None
        if np.count_nonzero(index >= 0) != hits:
            raise ExportError(f"{src.metafile}: some uids occur more than once; rows cannot be joined on uid")
        overlaps.append((src, hits))
        keep &= index >= 0
        maps[i] = index
    matches: dict[int, MatchReport] = {}
    for i, uids in zip(matched, uid_columns[1 + len(others):]):
        index, matches[i] = _match_source(conn, conn.sources[i], uids, u_primary, keep)
        keep &= index >= 0
        maps[i] = index
    del uid_columns, lookups
    kept = np.flatnonzero(keep)
    rows = {conn.primary: kept}
    for i, index in maps.items():
        rows[i] = index[kept]
    del maps
    out_uids = u_primary[kept]
    if len(kept) == 0:
        return JoinedConnection(conn, rows, 0, out_uids, [], overlaps, spans, matches)
    warnings = []
    order_source = conn.sources[conn.order]
    if order_source.order_only:
        order, found = _order_by(order_source, out_uids, cache)
        rows = {i: r[order] for i, r in rows.items()}
        out_uids = out_uids[order]
        if found == 0:
            warnings.append(
                f"{conn.label}: the output's own file {order_source.metafile} shares no uid with the bound results, "
                f"so rows follow {primary.metafile}. {LINEAGE_HINT}"
            )
        elif found < len(out_uids):
            warnings.append(
                f"{conn.label}: {len(out_uids) - found} row(s) are not in {order_source.metafile}; "
                "they follow the others in the order of the first bound file"
            )
    return JoinedConnection(conn, rows, len(kept), out_uids, warnings, overlaps, spans, matches)


# matching on other keys than uid (--match) ----------------------------------------------------


def _match_source(conn: ConnectionLayout, src: SourceLayout, src_uids: np.ndarray, u_primary: np.ndarray,
                  keep: np.ndarray) -> tuple[np.ndarray, MatchReport]:
    """Per pivot row, the row of ``src`` it matches (-1: none, ambiguous, or already dropped)."""
    mode = src.match
    wanted_q, wanted_s = KEY_FIELDS[mode]
    rows_q = np.flatnonzero(keep)
    q, valid_q = _keys_by_uid(conn.keys_for(mode), wanted_q, u_primary[rows_q])
    if mode == "src_uid":
        s, valid_s = {"uid": src_uids}, np.ones(len(src_uids), dtype=bool)
    else:
        s, valid_s = _keys_by_uid(src.keys or src, wanted_s, src_uids)
    usable = np.flatnonzero(valid_s)  # bound rows with a key
    s = {name: values[usable] for name, values in s.items()}
    if mode == "src_uid":
        found = match_keys(q["sym_expand/src_uid"], s["uid"], valid_q)
    elif mode == "path":
        key_q, key_s = path_keys(q["blob/path"], q["blob/idx"], s["blob/path"], s["blob/idx"])
        found = match_keys(key_q, key_s, valid_q)
    else:
        x_q, y_q = pick_position(q["location/micrograph_shape"], q["location/center_x_frac"], q["location/center_y_frac"])
        x_s, y_s = pick_position(s["location/micrograph_shape"], s["location/center_x_frac"], s["location/center_y_frac"])
        found = match_location(q["location/micrograph_uid"], x_q, y_q, s["location/micrograph_uid"], x_s, y_s,
                               conn.tolerance, valid_q)
    index = np.full(len(u_primary), -1, dtype=np.int64)
    hit = found.rows >= 0
    index[rows_q[hit]] = usable[found.rows[hit]]
    report = MatchReport(mode, len(rows_q), found.matched, found.ambiguous, found.unmatched,
                         conn.tolerance if mode == "location" else None)
    return index, report


def _keys_by_uid(provider: SourceLayout, fields: tuple[str, ...], uids: np.ndarray
                 ) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """``fields`` of ``provider`` for each of ``uids`` (rows it lacks: ``valid`` False)."""
    columns = _read_fields(provider, ("uid", *fields))
    own = columns.pop("uid")
    perm = np.argsort(own)
    found, pos = _lookup(own[perm], uids)
    at = np.zeros(len(uids), dtype=np.int64)
    at[found] = perm[pos]
    valid = np.zeros(len(uids), dtype=bool)
    valid[found] = True
    return {name: values[at] for name, values in columns.items()}, valid


def _read_fields(src: SourceLayout, fields: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Whole columns of a source, copied out block by block."""
    dtype = src.header.dtype
    out = {name: np.empty((src.rows, *dtype[name].shape), dtype=dtype[name].base) for name in fields}
    for start, block in read_blocks(src, 0, src.rows):
        for name in fields:
            out[name][start:start + len(block)] = block[name]
    return out


def _join_on_pivot(perm: np.ndarray, pivot_sorted: np.ndarray, uids: np.ndarray,
                   presorted: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, int]:
    """Per pivot row, the row of ``uids`` with its uid (-1: none), and how many rows of ``uids``
    have a uid of the pivot (more than the pivot rows found when one of them repeats). Both sides
    are sorted (``perm``, ``pivot_sorted``; ``presorted`` as :func:`_sort_order` gives it), so
    the fewer uids are searched among the more (sorted queries search fastest)."""
    order, ordered = presorted
    index = np.full(len(perm), -1, dtype=np.int64)
    if len(ordered) < len(pivot_sorted):
        rows, pos = _lookup(pivot_sorted, uids, presorted)
        index[perm[pos]] = rows
        return index, len(rows)
    if len(pivot_sorted) == 0:
        return index, 0
    pos = np.searchsorted(ordered, pivot_sorted)
    np.minimum(pos, len(ordered) - 1, out=pos)
    found = np.flatnonzero(ordered[pos] == pivot_sorted)
    pos = pos[found]
    index[perm[found]] = order[pos]
    after = pos[pos + 1 < len(ordered)] + 1  # a repeat of a found uid sorts right after it
    repeats = int(np.count_nonzero(ordered[after] == ordered[after - 1]))
    return index, len(found) + repeats


def _lookup(sorted_uids: np.ndarray, uids: np.ndarray,
            presorted: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """For the uids found in ``sorted_uids``: their rows in ``uids`` and their positions in
    ``sorted_uids``. The queries are sorted first (or given sorted: ``presorted``, their order
    and values, as :func:`_sort_order` gives them): a binary search with ascending keys stays in
    cache and is ~7× faster than with random ones, which more than pays for the sort. They are
    searched a block at a time, each in the stretch of ``sorted_uids`` its keys span, which stays
    in cache too, and keeps the temporaries small."""
    if len(sorted_uids) == 0 or len(uids) == 0:
        empty = np.zeros(0, dtype=np.intp)
        return empty, empty
    order, queries = presorted if presorted is not None else _sort_order(uids)
    rows, positions = [], []
    for start in range(0, len(queries), LOOKUP_BLOCK):
        block = queries[start:start + LOOKUP_BLOCK]
        low = int(np.searchsorted(sorted_uids, block[0]))
        high = int(np.searchsorted(sorted_uids, block[-1], side="right"))
        if low == high:
            continue
        stretch = sorted_uids[low:high]
        pos = np.searchsorted(stretch, block)
        np.minimum(pos, len(stretch) - 1, out=pos)
        found = stretch[pos] == block
        rows.append(order[start:start + LOOKUP_BLOCK][found])
        positions.append(pos[found] + low)
    if not rows:
        empty = np.zeros(0, dtype=np.intp)
        return empty, empty
    return np.concatenate(rows), np.concatenate(positions)


LOOKUP_BLOCK = 2**16  # queries searched at a time


def _sort_order(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.argsort(values)`` and the values in that order, for uids. Equal values may come in any
    order (as with argsort), so this is for columns whose repeats are refused or do not matter.

    A plain sort of integers is several times faster than an argsort (numpy sorts them with
    SIMD), so each uid is packed with its row number into one key: the uid's high bits above, the
    row below. Uids that share those high bits (rare for CryoSPARC's random 64-bit uids; never
    when they span fewer than 2^(64 - row bits) values) come out in row order and are put in
    order after."""
    n = len(values)
    if values.dtype != np.uint64 or n < 2**12:
        order = np.argsort(values)
        return order, values[order]
    bits = (n - 1).bit_length()
    low = values.min()
    span = int(values.max() - low)
    shift = max(0, span.bit_length() + bits - 64)  # low bits of the uids dropped to make room
    keys = values - low
    if shift:
        keys >>= np.uint64(shift)
    keys <<= np.uint64(bits)
    for start in range(0, n, 2**20):  # the rows, without an n-long temporary
        keys[start:start + 2**20] |= np.arange(start, min(n, start + 2**20), dtype=np.uint64)
    keys.sort()
    keys &= np.uint64((1 << bits) - 1)
    order = keys.view(np.int64)  # rows < 2^63: the same bits
    del keys
    ordered = values[order]
    descents = np.flatnonzero(ordered[1:] < ordered[:-1])  # uids sharing their high bits, in row order
    if len(descents) > 1000:  # many shared high bits (uids spread unevenly): sort them all
        fix = np.argsort(ordered, kind="stable")
        return order[fix], ordered[fix]
    for at in descents.tolist():  # sort each group of uids with the same high bits
        same = (ordered[at] - low) >> np.uint64(shift)
        first, last = at, at + 1
        while first > 0 and (ordered[first - 1] - low) >> np.uint64(shift) == same:
            first -= 1
        while last + 1 < n and (ordered[last + 1] - low) >> np.uint64(shift) == same:
            last += 1
        fix = np.argsort(ordered[first:last + 1], kind="stable")
        order[first:last + 1] = order[first:last + 1][fix]
        ordered[first:last + 1] = ordered[first:last + 1][fix]
    return order, ordered


def _workers() -> int:
    return max(1, min(8, os.cpu_count() or 1))


def parallel(tasks: list[Callable[[], object]]) -> list:
    """Run ``tasks`` on threads (numpy and file reads release the GIL); results in order."""
    if len(tasks) <= 1 or _workers() == 1:
        return [task() for task in tasks]
    with ThreadPoolExecutor(max_workers=min(len(tasks), _workers())) as pool:
        futures = [pool.submit(task) for task in tasks]
        return [f.result() for f in futures]


def _order_by(order_source: SourceLayout, uids: np.ndarray, cache: bool = True) -> tuple[np.ndarray, int]:
    """Permutation putting ``uids`` in the order of the order file (uids it lacks go last, as
    they were) and how many of them it holds."""
    reference = _read_uids(order_source, {}, {}, cache)
    perm = np.argsort(reference)
    rows, pos = _lookup(reference[perm], uids)
    rank = len(reference) + np.arange(len(uids))  # uids the order file lacks keep their order, last
    rank[rows] = perm[pos]
    # the ranks are distinct (the uids are), so their order is an inverse scatter, not a sort
    slots = np.full(len(reference) + len(uids), -1, dtype=np.int64)
    slots[rank] = np.arange(len(uids))
    return slots[slots >= 0], len(rows)


def _repeated_uids(joined: list[JoinedConnection]) -> int:
    if len(joined) < 2:
        return 0
    uids = np.concatenate([j.uids for j in joined if j.uids is not None])
    uids.sort()
    return int(np.count_nonzero(uids[1:] == uids[:-1]))


def _read_uids(src: SourceLayout, psize_fields: dict[str, str], psizes: dict[str, list[float]],
               cache: bool = True) -> np.ndarray:
    """The whole uid column of a source (plus min/max of its psize columns), read block by block
    in one pass, or taken from the cache (then only psize columns, if any, are read); what is read
    is cached when ``cache``."""
    header = src.header
    cached = _cached_uids(src)
    if cached is not None and not psize_fields:
        return cached
    uids = np.empty(header.num_rows, dtype=np.uint64) if cached is None else None
    for start, block in read_blocks(src, 0, header.num_rows):
        if uids is not None:
            uids[start:start + len(block)] = block["uid"]
        for name, out in psize_fields.items():
            values = block[name]
            if len(values):
                low, high = float(values.min()), float(values.max())
                span = psizes.setdefault(out, [low, high])
                span[0], span[1] = min(span[0], low), max(span[1], high)
    if uids is None:
        return cached
    if not cache:
        return uids
    try:
        return uid_cache.remember(header.path, uids).uids
    except CsFileError:  # gone since it was read: use what was read, cache nothing
        return uids


def _cached_uids(src: SourceLayout) -> np.ndarray | None:
    """The cached uid column of a numpy-format source whose file is unchanged, if any."""
    if src.table is not None:
        return np.ascontiguousarray(src.table["uid"], dtype=np.uint64)
    try:
        column = uid_cache.peek(src.header.path)
    except CsFileError:
        return None
    return column.uids if column is not None and len(column) == src.header.num_rows else None


def read_blocks(src: SourceLayout, start: int, stop: int, ranges: list[tuple[int, int]] | None = None,
                block_bytes: int | None = None, buffer: np.ndarray | None = None) -> Iterator[tuple[int, np.ndarray]]:
    """Rows [start, stop) of a source in blocks of about ``block_bytes`` (BLOCK_BYTES by default;
    ``ranges`` limits it to those (first, stop) row ranges), read into ``buffer`` (bytes, uint8)
    when it is given and large enough, else into a buffer of their own.

    NPY files are read block by block with ``readinto`` (only the rows asked for), never
    memory-mapped: a map of a file truncated while it is read kills the process with SIGBUS. A
    file that ends before its header says is reported as changed while reading. Every block is
    read into the same buffer (fresh memory for each block costs a page fault per 4 KiB): a block
    is valid until the next one is asked for, so callers copy out what they keep."""
    header = src.header
    if src.table is not None:  # CSDAT, decoded when planned
        for first, end in ranges or [(start, stop)]:
            yield first, src.table[first:end]
        return
    itemsize = header.dtype.itemsize
    block_rows = max(1, (block_bytes or BLOCK_BYTES) // max(itemsize, 1))
    ranges = [(first, end) for first, end in ranges or [(start, stop)] if end > first]
    if not ranges:
        return
    rows = min(block_rows, max(end - first for first, end in ranges))
    if buffer is not None and buffer.nbytes >= rows * itemsize and itemsize:
        buffer = buffer[: rows * itemsize].view(header.dtype)
    else:
        buffer = np.empty(rows, dtype=header.dtype)
    try:
        with open(open_regular(header.path), "rb") as f:
            position = -1
            for first, end in ranges:
                row = first
                while row < end:
                    count = min(block_rows, end - row)
                    block = buffer[:count]
                    if position != row:  # consecutive ranges and blocks: no seek, the file is read straight on
                        f.seek(header.data_offset + row * itemsize)
                    view, done = memoryview(block.view(np.uint8)), 0
                    while done < len(view):
                        got = f.readinto(view[done:])
                        if not got:
                            raise ExportError(
                                f"{src.metafile}: changed while reading: the header says {header.num_rows:,} rows "
                                f"but the data ends in row {row + done // max(itemsize, 1):,} (truncated or still "
                                "being written); nothing was written"
                            )
                        done += got
                    row += count
                    position = row
                    yield row - count, block
                    del block
    except (OSError, ValueError) as exc:
        raise ExportError(f"{src.metafile}: cannot read ({getattr(exc, 'strerror', None) or exc}); nothing written") from None

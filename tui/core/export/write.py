"""Writing an export: the rows produced in chunks (the pivot file read along with them, the files
in another order read in passes and staged in output order; only the needed bytes copied, as
byte runs, runs of consecutive rows as slices), a writer thread appending each chunk to the
temporary output while the next is filled, path columns rewritten when asked, and the ``.csg``
document. Both files appear complete under their final names, or not at all.
"""

from __future__ import annotations

import math
import os
import queue
import sys
import threading
import warnings
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Callable, Iterator, Literal

import numpy as np
import yaml
from numpy.lib import format as npformat

from ..atomic import commit_pair, lone_first_file_is_ours, pending_output, remove_stale_parts
from ..destination import check_export_destination, check_imports_destination, create_imports_folder
from ..errors import CsRebindError, ExportError
from ..model import InputGroup
from ..project import Project
from .join import BLOCK_BYTES, ExportReport, JoinedConnection, _parallel, join_export, read_blocks
from .layout import Column, ConnectionLayout, ExportLayout, SourceLayout, lay_out_export

PathMode = Literal["keep", "absolute"]
PATH_MODES: tuple[str, ...] = ("keep", "absolute")
Progress = Callable[[int, int], None]  # (rows written, rows in total)

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


@dataclass
class PreparedExport:
    """A joined export, ready to write; ``report`` lists rows kept and dropped per file."""

    project: Project
    layout: ExportLayout
    report: ExportReport
    joined: list[JoinedConnection]

    def write(
        self, out_dir: str | os.PathLike, name: str, *, paths: PathMode = "keep", force: bool = False,
        progress: Progress | None = None,
    ) -> ExportReport:
        return _write(self, out_dir, name, paths=paths, force=force, progress=progress)

    def write_into_imports(self, name: str, *, paths: PathMode = "keep", progress: Progress | None = None
                           ) -> ExportReport:
        """Write ``NAME.cs`` + ``NAME.csg`` into a new folder ``<project>/imports/NAME/`` (for Import
        Result Group), made exclusively: an existing folder is refused, and a failure leaves no folder."""
        return _write(self, None, name, paths=paths, force=False, progress=progress)


def prepare_export(project: Project, layout: ExportLayout) -> PreparedExport:
    """Join ``layout`` (see :func:`join_export`) and hold it ready to write; nothing is written yet."""
    report, joined = join_export(layout)
    return PreparedExport(project, layout, report, joined)


def run_export(
    project: Project, group: InputGroup, out_dir: str | os.PathLike, name: str, *,
    connection: int | None = None, target: str | None = None, paths: PathMode = "keep", force: bool = False,
    progress: Progress | None = None,
) -> ExportReport:
    """Lay out, join and write ``out_dir/NAME.cs`` + ``NAME.csg`` in one go; returns the report."""
    out, stem = check_export_destination(project.path, out_dir, name, force=force)
    layout = lay_out_export(project, group, connection=connection, target=target)
    prepared = prepare_export(project, layout)
    return prepared.write(out, stem, paths=paths, force=force, progress=progress)


def default_name(target: str | None, input_name: str) -> str:
    return f"{target}_{input_name}_rebound" if target else f"{input_name}_rebound"


def _write(prepared: PreparedExport, out_dir: str | os.PathLike | None, name: str, *, paths: PathMode, force: bool,
           progress: Progress | None) -> ExportReport:
    """Into ``out_dir`` (outside the project), or with ``out_dir`` None into a new ``<project>/imports/NAME/``."""
    if paths not in PATH_MODES:
        raise ExportError(f"paths must be one of {', '.join(PATH_MODES)}, not {paths!r}")
    layout = prepared.layout
    into_imports = out_dir is None
    if into_imports:
        out, stem = check_imports_destination(prepared.project.path, name)
        force = False  # files in a folder made just now: nothing to replace
    else:
        out, stem = check_export_destination(prepared.project.path, out_dir, name, force=force)
    cs_path, csg_path = out / f"{stem}.cs", out / f"{stem}.csg"
    dtype = _output_dtype(layout.dtype, _path_widths(prepared.joined, layout, paths))
    project_dir = _dir_bytes(layout.project_path)
    total = sum(j.count for j in prepared.joined)
    created = create_imports_folder(prepared.project.path, stem)[2] if into_imports else _make_dirs(out)
    incomplete = [cs_path] if not into_imports and lone_first_file_is_ours(cs_path, csg_path) else []
    # .part files of .cs/.csg exports whose writer died (killed): nobody holds their lock any more
    removed = [] if into_imports else remove_stale_parts(out, suffixes=(".cs", ".csg"))
    try:
        # Both files are written under temporary names, then renamed .cs first and .csg last (an
        # existing .csg is moved away first): NAME.csg exists only beside its complete NAME.cs.
        with pending_output(cs_path, overwrite=force or bool(incomplete)) as cs_file, \
                pending_output(csg_path, overwrite=force, binary=False) as csg_file:
            handle = cs_file.stream
            _write_header(handle, dtype, total)
            _release_free_memory()
            writer = _ChunkWriter(handle, dtype, total)
            try:
                done = 0
                for join in prepared.joined:
                    copies = _copies(join.layout, dtype, paths)
                    for count in _write_connection(writer, join, copies, project_dir):
                        done += count
                        if progress is not None:
                            progress(done, total)
            except BaseException:
                writer.abort()  # the thread must be done with the file before it is removed
                raise
            writer.close()
            try:
                csg_file.stream.write(csg_text(_csg_document(layout, stem, total)))
                csg_file.finish()
            except OSError as exc:
                raise ExportError(f"{csg_path}: cannot write ({exc.strerror or exc}); nothing was written"
                                  + _unchanged(cs_path, csg_path, force)) from None
            commit_pair(cs_file, csg_file, overwrite=force, incomplete=incomplete)
    except CsRebindError as exc:
        _remove_dirs(created)
        if isinstance(exc, ExportError):
            raise
        raise ExportError(str(exc)) from None
    except OSError as exc:
        _remove_dirs(created)
        raise ExportError(f"{out}: cannot write the export ({exc.strerror or exc}); nothing was written"
                          + _unchanged(cs_path, csg_path, force)) from None
    except BaseException:
        _remove_dirs(created)
        raise
    report = prepared.report
    if removed:
        report.notes.append(f"removed {len(removed)} temporary file(s) left in {out} by an interrupted export: "
                            + ", ".join(p.name for p in removed))
    if incomplete:
        report.notes.append(f"replaced {cs_path.name}, left without {csg_path.name} by an interrupted export")
    report.cs_path, report.csg_path = cs_path, csg_path
    report.bytes_written = cs_path.stat().st_size
    report.columns = tuple(dtype.names or ())
    return report


def _release_free_memory() -> None:
    """Give the memory the join freed back to the system before the write takes its own: glibc
    keeps freed blocks of a few MiB (the join's index arrays, up to its 32 MiB mmap threshold) in
    its heaps, so without this they add to the peak memory of the write. Elsewhere a no-op."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None)
        trim = getattr(libc, "malloc_trim", None)  # glibc only (not musl)
        if trim is not None:
            trim(0)
    except (OSError, AttributeError):
        pass


def _unchanged(cs_path: Path, csg_path: Path, force: bool) -> str:
    """What a failed write left of an export it was to replace: exactly what was there."""
    if force and (cs_path.exists() or csg_path.exists()):
        return f"; the existing {cs_path.name} and {csg_path.name} are unchanged"
    return ""


def _make_dirs(out: Path) -> list[Path]:
    """Create the missing folders of ``out``; returns them (deepest first) to remove on failure."""
    missing: list[Path] = []
    path = out
    while not path.exists() and path.parent != path:
        missing.append(path)
        path = path.parent
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExportError(f"{out}: cannot create the folder ({exc.strerror or exc})") from None
    return missing


def _remove_dirs(created: list[Path]) -> None:
    for path in created:
        with suppress(OSError):
            path.rmdir()


def _write_header(handle: BinaryIO, dtype: np.dtype, rows: int) -> None:
    header = {"descr": npformat.dtype_to_descr(dtype), "fortran_order": False, "shape": (rows,)}
    try:
        npformat.write_array_header_1_0(handle, header)
    except ValueError:  # more than 64 KiB of header (hundreds of columns): format 2.0
        with warnings.catch_warnings():  # numpy notes that readers need numpy >= 1.9
            warnings.simplefilter("ignore", UserWarning)
            npformat.write_array_header_2_0(handle, header)


def _write_chunk(handle: BinaryIO, chunk: np.ndarray) -> None:
    """Append one chunk of rows to the open output (tests replace this to simulate Ctrl-C).
    A plain write of the chunk's bytes: ``ndarray.tofile`` on a Python file is ~10× slower."""
    handle.write(memoryview(chunk.view(np.uint8)))


def _csg_document(layout: ExportLayout, stem: str, rows: int) -> dict:
    """The result group as CryoSPARC writes it beside a job's files (kttn8769/cryopicls
    ``P2_J744_particles.csg``, ``P2_J809_particles.csg``): ``created`` a timestamp,
    ``group: {description, name, title, type}``, ``results: {NAME: {metafile: '>FILE.cs',
    num_items, type: GROUPTYPE.DTYPE}}``, ``version: vX.Y.Z``."""
    return {
        # a datetime, so that YAML writes an unquoted timestamp (2021-01-21 02:43:57.516360), as
        # CryoSPARC does; local time without a zone, like the real files (whose zone is unknown)
        "created": datetime.now(),
        "group": {
            "description": layout.description, "name": layout.input, "title": layout.title, "type": layout.group_type,
        },
        "results": {
            prefix: {"metafile": f">{stem}.cs", "num_items": int(rows), "type": kind}
            for prefix, kind in layout.types.items()
        },
        # CryoSPARC's own version goes here; see layout._cryosparc_version for what csrebind writes and why.
        "version": layout.version,
    }


def csg_text(document: dict) -> str:
    """Block-style YAML with every mapping's keys in alphabetical order and one line per value
    (no folding of long descriptions), as in the .csg files CryoSPARC writes. PyYAML quotes what
    needs quoting (``'true'``, ``'- x'``); ASCII only: anything else is escaped in a double-quoted
    scalar (``"\\U0001F600"``, ``"\\e[31m"``), because with ``allow_unicode`` PyYAML writes some
    characters (NEL) raw that it then reads back differently."""
    return yaml.safe_dump(document, sort_keys=True, default_flow_style=False, allow_unicode=False, width=2**30)


# copying rows ---------------------------------------------------------------------------------


@dataclass
class _SourceCopy:
    index: int
    runs: list[tuple[int, int, int]]  # (source byte offset, output byte offset, length)
    convert: list[Column]  # columns copied field by field (string width differs)
    rewrite: list[Column]  # path columns made absolute
    src_dir: bytes = b""


def _dir_bytes(path: Path | str) -> bytes:
    return os.fsencode(str(path).rstrip("/") + "/")


def _rewritten(src: SourceLayout, paths: PathMode) -> list[Column]:
    if paths != "absolute":
        return []
    return [c for c in src.columns if _is_path(c.output) and src.header.dtype.fields[c.source][0].base.kind == "S"]


def _path_widths(joined: list[JoinedConnection], layout: ExportLayout, paths: PathMode) -> dict[str, int]:
    """Output width of every rewritten path column: wide enough for the longest possible value."""
    widths: dict[str, int] = {}
    project_dir = len(_dir_bytes(layout.project_path))
    for join in joined:
        for src in join.layout.sources:
            if src.order_only:
                continue
            src_dir = len(_dir_bytes(Path(src.header.path).parent))
            for col in _rewritten(src, paths):
                width = src.header.dtype.fields[col.source][0].itemsize + max(project_dir, src_dir)
                widths[col.output] = max(widths.get(col.output, 0), width)
    return widths


def _output_dtype(base: np.dtype, widths: dict[str, int]) -> np.dtype:
    if not widths:
        return base
    fields = []
    for name in base.names:
        dt = base.fields[name][0]
        if name in widths:
            dt = np.dtype(f"S{max(widths[name], dt.itemsize)}")
        fields.append((name, dt))
    return np.dtype(fields)


def _copies(conn: ConnectionLayout, dtype: np.dtype, paths: PathMode) -> list[_SourceCopy]:
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
        copies.append(_SourceCopy(i, _merge_runs(runs), convert, rewrite, _dir_bytes(Path(src.header.path).parent)))
    return copies


def _is_path(name: str) -> bool:
    leaf = name.rsplit("/", 1)[-1]
    return leaf == "path" or leaf.endswith("_path")


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


def _stage_budget(writer: "_ChunkWriter", readers: int) -> int:
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


def _write_connection(writer: "_ChunkWriter", join: JoinedConnection, copies: list[_SourceCopy], project_dir: bytes
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
        _parallel([
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


class _ChunkWriter:
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

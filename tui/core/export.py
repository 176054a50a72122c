"""Export one input of a target job as CryoSPARC would load it: ``NAME.cs`` + ``NAME.csg``.

The result can be brought back into CryoSPARC with Import Result Group (cryosparc-data.md §9,
§11.4). Per connection of the input, every slot binding and every passthrough binding is
resolved to its metafile (by version value, §4); the columns of that result (prefix = result
name, exact ``name/`` match) are taken and renamed to the slot name where they differ
(``alignments_class_2/…`` → ``alignments3D/…``); passthroughs keep their result name and never
override an explicitly bound slot. Files shared by several results are read once. Rows are
inner-joined on ``uid`` in the order of the connection's source output; several connections
are stacked in connection order, as CryoSPARC appends them.

Three steps, each usable alone (the UI shows the report before anything is written):

``plan_export``     headers only: which files, which columns, renames, row counts.
``prepare_export``  reads the ``uid`` columns and joins them: rows kept and dropped per file.
``PreparedExport.write`` / ``run_export``  streams the rows out and writes the ``.csg``.

Speed and memory: sources are never loaded whole. Files are read through short-lived
memory-mapped windows (nothing copied, only touched rows read, each window unmapped after use),
the join is numpy sorting and searching on uint64 uids (no per-row Python), and the output is
produced in row chunks: for each chunk every source is scanned window by window and only the
needed rows are copied, as contiguous byte runs, into the chunk, which a writer thread appends
to the temporary output file while the next chunk is filled. Peak memory is two output chunks
plus a few index arrays (8-16 bytes per source row), whatever the width of the files.
"""

from __future__ import annotations

import math
import mmap
import os
import queue
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Callable, Iterator, Literal

import numpy as np
import yaml
from numpy.lib import format as npformat

from .atomic import atomic_output
from .csfile import CsHeader, load as load_cs, read_header
from .errors import CsFileError, CsRebindError, ExportError, RefError
from .model import Binding, Connection, InputGroup
from .project import Project, check_outside_project

PathMode = Literal["keep", "absolute"]
PATH_MODES: tuple[str, ...] = ("keep", "absolute")
Progress = Callable[[int, int], None]  # (rows written, rows in total)

# Output rows are produced in chunks of about this many bytes; every chunk re-reads the files
# whose order differs from the output's, so very large exports get bigger chunks rather than
# more than MAX_PASSES passes over their sources.
CHUNK_BYTES = 128 * 2**20
MAX_PASSES = 8
BLOCK_BYTES = 8 * 2**20  # size of the memory-mapped window when scanning a source file
ALIGNMENT_DTYPES = ("alignments2D", "alignments3D")


# --- the plan (headers only) ---------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    source: str  # field name in the source file
    output: str  # field name in the export


@dataclass(frozen=True)
class SourcePlan:
    """One file read for one connection, and the columns it contributes."""

    path: Path
    metafile: str  # as job.json names it (relative to the project directory)
    header: CsHeader
    columns: tuple[Column, ...]
    provides: tuple[str, ...]  # human-readable: "blob ← J5.particles.blob.F"
    order_only: bool = False  # read only for its uid order (contributes no columns, drops no rows)
    table: np.ndarray | None = field(default=None, repr=False, compare=False)  # decoded CSDAT file

    @property
    def rows(self) -> int:
        return self.header.num_rows


@dataclass(frozen=True)
class ConnectionPlan:
    index: int
    job: str
    output: str
    sources: tuple[SourcePlan, ...]
    order: int  # index into sources of the file whose row order the export keeps
    primary: int  # index into sources of the join pivot (the order file, or the first source)
    notes: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return f"connection {self.index} ({self.job}.{self.output})"


@dataclass(frozen=True)
class ExportPlan:
    project_path: Path
    input: str
    group_type: str
    title: str
    target: str | None
    connections: tuple[ConnectionPlan, ...]
    dtype: np.dtype  # output columns, before any path rewriting
    types: dict[str, str]  # output prefix → dotted result type (particle.blob)
    description: str
    version: str
    notes: tuple[str, ...] = ()

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(self.dtype.names or ())


def plan_export(
    project: Project, group: InputGroup, *, connection: int | None = None, target: str | None = None
) -> ExportPlan:
    """Work out what an export of ``group`` reads and writes, from the .cs headers alone.

    ``connection`` limits the export to one connection (default: all, stacked in order);
    ``target`` is the uid of the job the input belongs to (used in the description)."""
    if not group.connections:
        raise ExportError(f"input {group.name} has no connection; connect an output group to it first")
    if connection is None:
        chosen = list(enumerate(group.connections))
    elif 0 <= connection < len(group.connections):
        chosen = [(connection, group.connections[connection])]
    else:
        raise ExportError(
            f"input {group.name} has no connection {connection}; it has connections 0–{len(group.connections) - 1}"
        )
    headers: dict[Path, _Header] = {}
    plans: list[ConnectionPlan] = []
    layouts: list[list[tuple[str, np.dtype]]] = []
    types: dict[str, str] = {}
    for index, conn in chosen:
        plan, layout, conn_types = _plan_connection(project, group, index, conn, headers)
        plans.append(plan)
        layouts.append(layout)
        for prefix, kind in conn_types.items():
            types.setdefault(prefix, kind)
    dtype = _unify(group.name, plans, layouts)
    prefixes = {name.split("/", 1)[0] for name in dtype.names if name != "uid"}
    types = {prefix: kind for prefix, kind in types.items() if prefix in prefixes}
    return ExportPlan(
        project_path=project.path,
        input=group.name,
        group_type=group.type,
        title=f"{target} {group.name} (rebound)" if target else f"{group.name} (rebound)",
        target=target,
        connections=tuple(plans),
        dtype=dtype,
        types=types,
        description=_description(group, target, chosen),
        version=_cryosparc_version(project, target, chosen),
        notes=tuple(note for plan in plans for note in plan.notes),
    )


def _plan_connection(
    project: Project, group: InputGroup, index: int, conn: Connection, headers: dict[Path, _Header]
) -> tuple[ConnectionPlan, list[tuple[str, np.dtype]], dict[str, str]]:
    where = f"{group.name}.{index}"
    empty = [s.name for s in group.slots if s.required and conn.binding(s.name) is None]
    if empty:
        raise ExportError(
            f"{where}: required slot{'s' if len(empty) > 1 else ''} {', '.join(empty)} "
            f"{'are' if len(empty) > 1 else 'is'} empty; bind a result to "
            f"{'them' if len(empty) > 1 else 'it'} before exporting"
        )
    files: dict[Path, dict] = {}  # path → {"metafile", "columns", "provides"}, in first-use order
    layout: list[tuple[str, np.dtype]] = [("uid", np.dtype("<u8"))]
    types: dict[str, str] = {}
    notes: list[str] = []
    taken: set[str] = set()
    bindings = list(conn.slot_bindings) + list(conn.passthrough)
    for binding in bindings:
        prefix = binding.slot or binding.ref.result
        if prefix in taken:
            if binding.passthrough:
                notes.append(f"{where}: passthrough {binding.ref} not used: slot {prefix} is bound explicitly")
            continue
        metafile, path, header, dtype_name = _resolve(project, binding, where, headers)
        fields = header.fields_of(binding.ref.result)
        if not fields:
            present = ", ".join(header.prefixes) or "none"
            raise ExportError(
                f"{where}.{prefix}: {metafile} holds no {binding.ref.result}/… columns for {binding.ref} "
                f"(its prefixes: {present}); the job document and the file disagree"
            )
        taken.add(prefix)
        entry = files.setdefault(path, {"metafile": metafile, "columns": [], "provides": []})
        for name in fields:
            out = prefix + name[len(binding.ref.result):]
            entry["columns"].append(Column(name, out))
            layout.append((out, header.dtype[name]))
        renamed = f" (renamed from {binding.ref.result})" if prefix != binding.ref.result else ""
        kind = "passthrough " if binding.passthrough else ""
        entry["provides"].append(f"{kind}{prefix} ← {binding.ref}{renamed}")
        types[prefix] = f"{group.type}.{dtype_name}"
    if not files:
        raise ExportError(f"{where}: nothing is bound to this connection; bind its slots first")

    order_path, order_metafile, order_note = _order_file(project, conn, where, headers)
    if order_note:
        notes.append(order_note)
    if order_path is not None and order_path not in files:
        files[order_path] = {"metafile": order_metafile, "columns": [], "provides": [], "order_only": True}
    paths = list(files)
    order = paths.index(order_path) if order_path is not None else 0
    primary = order if not files[paths[order]].get("order_only") else 0
    files[paths[primary]]["columns"].insert(0, Column("uid", "uid"))
    sources = tuple(
        SourcePlan(path, entry["metafile"], headers[path][0], tuple(entry["columns"]), tuple(entry["provides"]),
                   bool(entry.get("order_only")), headers[path][1])
        for path, entry in files.items()
    )
    plan = ConnectionPlan(index, conn.job, conn.output, sources, order, primary, tuple(notes))
    return plan, layout, types


def _resolve(
    project: Project, binding: Binding, where: str, headers: dict[Path, _Header]
) -> tuple[str, Path, CsHeader, str]:
    """Metafile, its path, header and the result dtype of one binding, or an ExportError
    saying what is missing."""
    try:
        result = project.result(binding.ref)
        resolved = result.resolve(binding.ref.version)
    except RefError as exc:
        raise ExportError(f"{where}.{binding.slot or binding.ref.result}: {exc}") from None
    path = project.absolute(resolved.metafile)
    if path not in headers:
        try:
            headers[path] = _read_header(path)
        except CsFileError as exc:
            missing = "" if path.exists() else " (missing: the job was cleared or its files moved)"
            raise ExportError(
                f"{where}.{binding.slot or binding.ref.result}: metafile {resolved.metafile} of {binding.ref} "
                f"cannot be read{missing}: {exc.problem}"
            ) from None
    return resolved.metafile, path, headers[path][0], result.dtype


_Header = tuple[CsHeader, "np.ndarray | None"]


def _read_header(path: Path) -> _Header:
    """The header of a source; a CSDAT file (cryosparc-tools' stream format, which CryoSPARC jobs
    do not write) is decoded whole here, because only its data tell how wide its strings are."""
    header = read_header(path)
    if header.format == "numpy":
        return header, None
    table = load_cs(path)
    return CsHeader(header.path, header.format, len(table), table.dtype, None), table


def _order_file(
    project: Project, conn: Connection, where: str, headers: dict[Path, _Header]
) -> tuple[Path | None, str, str | None]:
    """The final metafile of the first non-passthrough result of the connection's source
    output: the export keeps its row order. None (and a note) when it cannot be read."""
    try:
        output = project.output(conn.job, conn.output)
    except RefError as exc:
        return None, "", f"{where}: row order of the first bound file ({exc})"
    first = next((r for r in output.results if not r.passthrough and r.complete), None)
    if first is None:
        return None, "", f"{where}: {conn.job}.{conn.output} has no stored result of its own; rows follow the first bound file"
    metafile = first.resolve().metafile
    path = project.absolute(metafile)
    if path not in headers:
        try:
            headers[path] = _read_header(path)
        except CsFileError as exc:
            return None, "", f"{where}: {metafile} (row order of {conn.job}.{conn.output}) unreadable ({exc.problem}); rows follow the first bound file"
    return path, metafile, None


def _unify(input_name: str, plans: list[ConnectionPlan], layouts: list[list[tuple[str, np.dtype]]]) -> np.dtype:
    """One output dtype for stacked connections: same columns, same dtypes (strings may differ in width)."""
    first = layouts[0]
    names = [name for name, _ in first]
    merged = dict(first)
    problems: list[str] = []
    for plan, layout in zip(plans[1:], layouts[1:]):
        these = dict(layout)
        missing = [n for n in names if n not in these]
        extra = [n for n in these if n not in merged]
        if missing:
            problems.append(f"{plan.label} lacks {', '.join(missing)}")
        if extra:
            problems.append(f"{plan.label} has {', '.join(extra)}, which {plans[0].label} lacks")
        for name, dt in these.items():
            if name not in merged:
                continue
            base = merged[name]
            if dt == base:
                continue
            if dt.base.kind == "S" and base.base.kind == "S" and dt.shape == base.shape:
                merged[name] = dt if dt.itemsize > base.itemsize else base
            else:
                problems.append(f"{name} is {_dtype_text(base)} in {plans[0].label} but {_dtype_text(dt)} in {plan.label}")
    if problems:
        raise ExportError(
            f"input {input_name}: the connections cannot be stacked into one file because their columns differ: "
            + "; ".join(problems)
            + ". Bind the same kinds of results on every connection, or export one connection at a time"
        )
    return np.dtype([(name, merged[name]) for name in names])


def _dtype_text(dt: np.dtype) -> str:
    return f"{dt.base.str}{dt.shape}" if dt.shape else dt.str


def _description(group: InputGroup, target: str | None, chosen: list[tuple[int, Connection]]) -> str:
    """``J12 particles: blob from J5.particles.blob.F, …; passthrough location, … from J9.particles``."""
    parts = []
    for index, conn in chosen:
        slots = ", ".join(f"{b.slot} from {b.ref}" for b in conn.slot_bindings)
        sources: dict[str, list[str]] = {}
        for b in conn.passthrough:
            sources.setdefault(f"{b.ref.job}.{b.ref.output}", []).append(b.ref.result)
        passed = "; ".join(f"passthrough {', '.join(names)} from {src}" for src, names in sources.items())
        text = "; ".join(t for t in (slots, passed) if t)
        parts.append(f"connection {index} ({conn.job}.{conn.output}): {text}" if len(chosen) > 1 else text)
    head = f"{target} {group.name}" if target else group.name
    return f"{head}: " + " | ".join(parts) + " (exported by csrebind)"


def _cryosparc_version(project: Project, target: str | None, chosen: list[tuple[int, Connection]]) -> str:
    """The ``version`` written into the .csg.

    CryoSPARC writes the version of the instance that wrote the group there (``v4.4.1``). Whether
    Import Result Group checks it is unconfirmed (cryosparc-data.md §9), so rather than a
    csrebind version that a CryoSPARC version parser could reject, csrebind writes the CryoSPARC
    version recorded in the job documents this export comes from (the target job, then the
    connected source jobs): a version the instance managing the project accepts. Only when no
    document records one does it fall back to ``csrebind-<version>``.
    """
    uids = ([target] if target else []) + [c.job for _, c in chosen]
    for uid in dict.fromkeys(uids):
        job = project.jobs.get(uid)
        if job is not None and job.version:
            return job.version
    from .. import __version__

    return f"csrebind-{__version__}"


# --- the join (uid columns only) -----------------------------------------------------------------


@dataclass
class SourceReport:
    connection: int
    metafile: str
    rows: int  # rows in the file
    kept: int  # rows of this file in the export
    provides: tuple[str, ...]
    order_only: bool = False

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
            out.extend(f"      {p}" for p in s.provides)
        if len(self.rows_per_connection) > 1:
            out.append("  rows per connection: " + ", ".join(str(n) for n in self.rows_per_connection))
        out.extend(f"  note: {n}" for n in self.notes)
        out.extend(f"  warning: {w}" for w in self.warnings)
        if self.cs_path is not None:
            out.append(f"  wrote {self.cs_path} ({self.bytes_written} bytes) and {self.csg_path}")
        return out


@dataclass
class _Joined:
    """Per connection: the source row of every output row, for each contributing source."""

    plan: ConnectionPlan
    rows: dict[int, np.ndarray]  # source index → source row per output row (int64)
    count: int
    uids: np.ndarray | None = None  # output uids (only kept to check repeats across connections)
    warnings: list[str] = field(default_factory=list)


@dataclass
class PreparedExport:
    """A joined export, ready to write; ``report`` lists rows kept and dropped per file."""

    project: Project
    plan: ExportPlan
    report: ExportReport
    joined: list[_Joined]

    def write(
        self, out_dir: str | os.PathLike, name: str, *, paths: PathMode = "keep", force: bool = False,
        progress: Progress | None = None,
    ) -> ExportReport:
        return _write(self, out_dir, name, paths=paths, force=force, progress=progress)


def prepare_export(project: Project, plan: ExportPlan) -> PreparedExport:
    """Read the uid columns, join them and report rows kept and dropped. Nothing is written.
    Raises ExportError when no row would be left."""
    joined: list[_Joined] = []
    sources: list[SourceReport] = []
    warnings: list[str] = []
    psizes: dict[str, list[float]] = {}
    for conn in plan.connections:
        join = _join_connection(conn, plan, psizes)
        joined.append(join)
        warnings.extend(join.warnings)
        for src in conn.sources:
            sources.append(SourceReport(conn.index, src.metafile, src.rows, join.count, src.provides, src.order_only))
    warnings.extend(_lineage_warnings(plan))
    warnings.extend(_psize_warnings(plan, psizes))
    repeated = _repeated_uids(joined)
    if repeated:
        warnings.append(
            f"{repeated} uid(s) appear in more than one connection; CryoSPARC appends connections and may refuse "
            "repeated uids (cryosparc-tools Dataset.append does unless repeat_allowed)"
        )
    for join in joined:
        join.uids = None
    report = ExportReport(
        input=plan.input, target=plan.target, sources=sources, rows_per_connection=[j.count for j in joined],
        columns=plan.columns, types=dict(plan.types), description=plan.description, warnings=warnings,
        notes=list(plan.notes),
    )
    return PreparedExport(project, plan, report, joined)


def _join_connection(conn: ConnectionPlan, plan: ExportPlan, psizes: dict[str, list[float]]) -> _Joined:
    primary = conn.sources[conn.primary]
    stats = _psize_fields(conn, plan)
    others = [i for i, src in enumerate(conn.sources) if i != conn.primary and not src.order_only]
    indices = [conn.primary, *others]
    # uid columns of all sources at once: reading and numpy release the GIL
    found_stats: list[dict[str, list[float]]] = [{} for _ in indices]
    uid_columns = _parallel([
        (lambda i=i, k=k: _read_uids(conn.sources[i], stats.get(i, {}), found_stats[k])) for k, i in enumerate(indices)
    ])
    for collected in found_stats:
        for name, (low, high) in collected.items():
            span = psizes.setdefault(name, [low, high])
            span[0], span[1] = min(span[0], low), max(span[1], high)
    u_primary = uid_columns[0]
    perm = np.argsort(u_primary)  # uids are unique (checked below), so no stable sort is needed
    sorted_uids = u_primary[perm]
    duplicates = np.count_nonzero(sorted_uids[1:] == sorted_uids[:-1])
    if duplicates:
        raise ExportError(f"{primary.metafile}: {duplicates} uid(s) occur more than once; rows cannot be joined on uid")
    keep = np.ones(len(u_primary), dtype=bool)
    maps: dict[int, np.ndarray] = {}
    overlaps: list[tuple[SourcePlan, int]] = []
    for i, uids in zip(others, uid_columns[1:]):
        src = conn.sources[i]
        rows, pos = _lookup(sorted_uids, uids)
        hits = perm[pos]
        del pos
        index = np.full(len(u_primary), -1, dtype=np.int64)
        index[hits] = rows
        if np.count_nonzero(index >= 0) != len(hits):
            raise ExportError(f"{src.metafile}: some uids occur more than once; rows cannot be joined on uid")
        overlaps.append((src, len(hits)))
        keep &= index >= 0
        maps[i] = index
    del sorted_uids, uid_columns
    kept = np.flatnonzero(keep)
    rows = {conn.primary: kept}
    for i, index in maps.items():
        rows[i] = index[kept]
    del maps
    out_uids = u_primary[kept]
    if len(kept) == 0:
        raise ExportError(_no_rows_message(conn, primary, overlaps))
    warnings = []
    order_source = conn.sources[conn.order]
    if order_source.order_only:
        order, found = _order_by(order_source, out_uids)
        rows = {i: r[order] for i, r in rows.items()}
        out_uids = out_uids[order]
        if found == 0:
            warnings.append(
                f"{conn.label}: the output's own file {order_source.metafile} shares no uid with the bound results, "
                f"so rows follow {primary.metafile}. {_LINEAGE_HINT}"
            )
        elif found < len(out_uids):
            warnings.append(
                f"{conn.label}: {len(out_uids) - found} row(s) are not in {order_source.metafile}; "
                "they follow the others in the order of the first bound file"
            )
    return _Joined(conn, rows, len(kept), out_uids, warnings)


def _lookup(sorted_uids: np.ndarray, uids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For the uids found in ``sorted_uids``: their rows in ``uids`` and their positions in
    ``sorted_uids``. The queries are sorted first: a binary search with ascending keys stays in
    cache and is ~7× faster than with random ones, which more than pays for the sort."""
    if len(sorted_uids) == 0 or len(uids) == 0:
        empty = np.zeros(0, dtype=np.intp)
        return empty, empty
    order = np.argsort(uids)
    queries = uids[order]
    pos = np.searchsorted(sorted_uids, queries)
    np.minimum(pos, len(sorted_uids) - 1, out=pos)
    found = sorted_uids[pos] == queries
    return order[found], pos[found]


def _workers() -> int:
    return max(1, min(8, os.cpu_count() or 1))


def _parallel(tasks: list[Callable[[], object]]) -> list:
    """Run ``tasks`` on threads (numpy and file reads release the GIL); results in order."""
    if len(tasks) <= 1 or _workers() == 1:
        return [task() for task in tasks]
    with ThreadPoolExecutor(max_workers=min(len(tasks), _workers())) as pool:
        futures = [pool.submit(task) for task in tasks]
        return [f.result() for f in futures]


def _order_by(order_source: SourcePlan, uids: np.ndarray) -> tuple[np.ndarray, int]:
    """Permutation putting ``uids`` in the order of the order file (uids it lacks go last, as
    they were) and how many of them it holds."""
    reference = _read_uids(order_source, {}, {})
    perm = np.argsort(reference)
    rows, pos = _lookup(reference[perm], uids)
    rank = len(reference) + np.arange(len(uids))  # uids the order file lacks keep their order, last
    rank[rows] = perm[pos]
    return np.argsort(rank, kind="stable"), len(rows)


def _no_rows_message(conn: ConnectionPlan, primary: SourcePlan, overlaps: list[tuple[SourcePlan, int]]) -> str:
    disjoint = [src for src, count in overlaps if count == 0]
    lines = [f"{conn.label}: no rows left after joining on uid, nothing written."]
    for src, count in overlaps:
        lines.append(f"{primary.metafile} ({primary.rows} rows) and {src.metafile} ({src.rows} rows) share {count} uid(s).")
    if disjoint or _sym_expand_mix(conn):
        lines.append(_LINEAGE_HINT)
    return " ".join(lines)


_LINEAGE_HINT = (
    "The sources look like different uid lineages: symmetry expansion and re-extraction give particles "
    "new uids (symmetry expansion keeps the old one in sym_expand/src_uid), so rows cannot be matched on uid. "
    "Bind results that descend from the same particle set (e.g. take blob from the expanded or re-extracted "
    "output itself, or repeat the expansion/extraction on the branch whose results you want), "
    "or match the particles in a script on sym_expand/src_uid."
)


def _sym_expand_mix(conn: ConnectionPlan) -> bool:
    real = [s for s in conn.sources if not s.order_only]
    has = ["sym_expand/src_uid" in s.header.fields for s in real]
    return any(has) and not all(has)


def _lineage_warnings(plan: ExportPlan) -> list[str]:
    return [
        f"{conn.label}: only some sources carry sym_expand/src_uid; {_LINEAGE_HINT}"
        for conn in plan.connections if _sym_expand_mix(conn)
    ]


def _repeated_uids(joined: list[_Joined]) -> int:
    if len(joined) < 2:
        return 0
    uids = np.concatenate([j.uids for j in joined if j.uids is not None])
    uids.sort()
    return int(np.count_nonzero(uids[1:] == uids[:-1]))


# pixel sizes ---------------------------------------------------------------------------------


def _psize_fields(conn: ConnectionPlan, plan: ExportPlan) -> dict[int, dict[str, str]]:
    """Per source index: source field → output field, for the psize_A columns worth comparing."""
    wanted = {
        f"{prefix}/psize_A" for prefix, kind in plan.types.items()
        if kind.split(".", 1)[-1] in ("blob", *ALIGNMENT_DTYPES)
    }
    found: dict[int, dict[str, str]] = {}
    for i, src in enumerate(conn.sources):
        for col in src.columns:
            if col.output in wanted:
                found.setdefault(i, {})[col.source] = col.output
    return found


def _psize_warnings(plan: ExportPlan, psizes: dict[str, list[float]]) -> list[str]:
    blob = psizes.get("blob/psize_A")
    if not blob:
        return []
    warnings = []
    for name, values in psizes.items():
        prefix = name.split("/", 1)[0]
        if name == "blob/psize_A" or plan.types.get(prefix, "").split(".", 1)[-1] not in ALIGNMENT_DTYPES:
            continue
        if _close(blob, values):
            continue
        warnings.append(_psize_text(prefix, blob, values))
    return warnings


def _close(a: list[float], b: list[float]) -> bool:
    return math.isclose(a[0], b[0], rel_tol=1e-4) and math.isclose(a[1], b[1], rel_tol=1e-4)


def _span(values: list[float]) -> str:
    low, high = values
    return f"{low:.4f} Å" if math.isclose(low, high, rel_tol=1e-6) else f"{low:.4f}–{high:.4f} Å"


def _psize_text(prefix: str, blob: list[float], align: list[float]) -> str:
    """Explain how the shifts relate when the new images have another pixel size; values stay unchanged."""
    text = (
        f"pixel sizes differ: blob/psize_A {_span(blob)}, {prefix}/psize_A {_span(align)}; values exported unchanged. "
        f"{prefix}/shift is in pixels of the images the poses were found on"
    )
    if math.isclose(blob[0], blob[1], rel_tol=1e-6) and math.isclose(align[0], align[1], rel_tol=1e-6) and blob[0]:
        factor = f"{align[0]:.4f}/{blob[0]:.4f} = {align[0] / blob[0]:.4f}"
        text += f": for the new images multiply {prefix}/shift by {factor}"
    else:
        text += f": for the new images multiply {prefix}/shift by {prefix}/psize_A / blob/psize_A, row by row"
    # Whether CryoSPARC itself rescales via the kept psize_A is not confirmed from public code.
    return text + f" ({prefix}/psize_A is kept; tools that read shifts as blob pixels, e.g. .star converters, need it)"


# reading source files -------------------------------------------------------------------------


def _read_uids(src: SourcePlan, psize_fields: dict[str, str], psizes: dict[str, list[float]]) -> np.ndarray:
    """The whole uid column of a source (plus min/max of its psize columns), read block by block."""
    header = src.header
    uids = np.empty(header.num_rows, dtype=np.uint64)
    for start, block in _blocks(src, 0, header.num_rows):
        uids[start:start + len(block)] = block["uid"]
        for name, out in psize_fields.items():
            values = block[name]
            if len(values):
                low, high = float(values.min()), float(values.max())
                span = psizes.setdefault(out, [low, high])
                span[0], span[1] = min(span[0], low), max(span[1], high)
    return uids


def _blocks(src: SourcePlan, start: int, stop: int, ranges: list[tuple[int, int]] | None = None
            ) -> Iterator[tuple[int, np.ndarray]]:
    """Rows [start, stop) of a source in read-only blocks of about BLOCK_BYTES (``ranges``
    limits it to those (first, stop) row ranges).

    NPY files are memory-mapped one block-sized window at a time: nothing is copied, only the
    rows actually used are read, and each window is unmapped as soon as the caller lets go of
    the block, so the process never holds more than two windows of any file (cryosparc-tools
    PR #93 remaps for the same reason)."""
    header = src.header
    if src.table is not None:  # CSDAT, decoded when planned
        for first, end in ranges or [(start, stop)]:
            yield first, src.table[first:end]
        return
    itemsize = header.dtype.itemsize
    block_rows = max(1, BLOCK_BYTES // max(itemsize, 1))
    granularity = mmap.ALLOCATIONGRANULARITY
    try:
        with open(header.path, "rb") as f:
            for first, end in ranges or [(start, stop)]:
                row = first
                while row < end:
                    count = min(block_rows, end - row)
                    offset = header.data_offset + row * itemsize
                    aligned = offset - offset % granularity
                    window = mmap.mmap(f.fileno(), offset - aligned + count * itemsize, offset=aligned,
                                       access=mmap.ACCESS_READ)
                    block = np.frombuffer(window, dtype=header.dtype, count=count, offset=offset - aligned)
                    del window  # the block keeps the map alive; dropping the block unmaps it
                    yield row, block
                    del block
                    row += count
    except (OSError, ValueError) as exc:
        raise ExportError(f"{src.metafile}: cannot read ({getattr(exc, 'strerror', None) or exc}); nothing written") from None


# --- writing -------------------------------------------------------------------------------------


def run_export(
    project: Project, group: InputGroup, out_dir: str | os.PathLike, name: str, *,
    connection: int | None = None, target: str | None = None, paths: PathMode = "keep", force: bool = False,
    progress: Progress | None = None,
) -> ExportReport:
    """Plan, join and write ``out_dir/NAME.cs`` + ``NAME.csg`` in one go; returns the report."""
    out, stem = check_destination(project, out_dir, name, force=force)
    plan = plan_export(project, group, connection=connection, target=target)
    prepared = prepare_export(project, plan)
    return prepared.write(out, stem, paths=paths, force=force, progress=progress)


def default_name(target: str | None, input_name: str) -> str:
    return f"{target}_{input_name}_rebound" if target else f"{input_name}_rebound"


def check_destination(project: Project, out_dir: str | os.PathLike, name: str, *, force: bool = False
                      ) -> tuple[Path, str]:
    """The output folder and file stem, or an ExportError: never inside the project directory,
    a plain file name, and no existing NAME.cs / NAME.csg unless ``force``."""
    stem = _stem(name)
    out = Path(out_dir).expanduser()
    check_outside_project(project.path, out, ExportError)
    if out.exists() and not out.is_dir():
        raise ExportError(f"{out}: exists and is not a folder; give a folder for the export")
    if not force:
        existing = [p for p in (out / f"{stem}.cs", out / f"{stem}.csg") if p.exists()]
        if existing:
            raise ExportError(
                f"{', '.join(str(p) for p in existing)} already exist{'s' if len(existing) == 1 else ''}; "
                "choose another name or pass --force to replace"
            )
    return out, stem


def _stem(name: str) -> str:
    stem = str(name).strip()
    for suffix in (".csg", ".cs"):
        if stem.endswith(suffix):
            stem = stem[: -len(suffix)]
            break
    if not stem or stem in (".", "..") or "/" in stem or os.sep in stem or "\0" in stem or stem.startswith("."):
        raise ExportError(f"{name!r} is not a usable export name; give a plain file name such as J12_particles_rebound")
    return stem


def _write(prepared: PreparedExport, out_dir: str | os.PathLike, name: str, *, paths: PathMode, force: bool,
           progress: Progress | None) -> ExportReport:
    if paths not in PATH_MODES:
        raise ExportError(f"paths must be one of {', '.join(PATH_MODES)}, not {paths!r}")
    project, plan = prepared.project, prepared.plan
    out, stem = check_destination(project, out_dir, name, force=force)
    cs_path, csg_path = out / f"{stem}.cs", out / f"{stem}.csg"
    dtype = _output_dtype(plan.dtype, _path_widths(prepared.joined, plan, paths))
    project_dir = _dir_bytes(plan.project_path)
    total = sum(j.count for j in prepared.joined)
    created = _make_dirs(out)
    try:
        with atomic_output(cs_path, overwrite=force) as handle:
            _write_header(handle, dtype, total)
            writer = _ChunkWriter(handle, dtype, total)
            try:
                done = 0
                for join in prepared.joined:
                    copies = _copies(join.plan, dtype, paths)
                    for count in _write_connection(writer, join, copies, project_dir):
                        done += count
                        if progress is not None:
                            progress(done, total)
            except BaseException:
                writer.abort()  # the thread must be done with the file before it is removed
                raise
            writer.close()
        try:
            document = _csg_document(plan, stem, total)
            text = yaml.safe_dump(document, sort_keys=False, default_flow_style=False, allow_unicode=True)
            with atomic_output(csg_path, overwrite=force, binary=False) as handle:
                handle.write(text)
        except BaseException:
            with suppress(OSError):
                cs_path.unlink()
            raise
    except CsRebindError as exc:
        _remove_dirs(created)
        if isinstance(exc, ExportError):
            raise
        raise ExportError(str(exc)) from None
    except OSError as exc:
        _remove_dirs(created)
        raise ExportError(f"{out}: cannot write the export ({exc.strerror or exc}); nothing was written") from None
    except BaseException:
        _remove_dirs(created)
        raise
    report = prepared.report
    report.cs_path, report.csg_path = cs_path, csg_path
    report.bytes_written = cs_path.stat().st_size
    report.columns = tuple(dtype.names or ())
    return report


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


def _csg_document(plan: ExportPlan, stem: str, rows: int) -> dict:
    return {
        "created": datetime.now().strftime("%Y-%m-%d %H:%M:%S.%f"),
        "group": {"name": plan.input, "title": plan.title, "type": plan.group_type, "description": plan.description},
        "results": {
            prefix: {"metafile": f">{stem}.cs", "num_items": int(rows), "type": kind}
            for prefix, kind in plan.types.items()
        },
        # CryoSPARC's own version goes here; see _cryosparc_version for what csrebind writes and why.
        "version": plan.version,
    }


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


def _rewritten(src: SourcePlan, paths: PathMode) -> list[Column]:
    if paths != "absolute":
        return []
    return [c for c in src.columns if _is_path(c.output) and src.header.dtype.fields[c.source][0].base.kind == "S"]


def _path_widths(joined: list[_Joined], plan: ExportPlan, paths: PathMode) -> dict[str, int]:
    """Output width of every rewritten path column: wide enough for the longest possible value."""
    widths: dict[str, int] = {}
    project_dir = len(_dir_bytes(plan.project_path))
    for join in joined:
        for src in join.plan.sources:
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


def _copies(conn: ConnectionPlan, dtype: np.dtype, paths: PathMode) -> list[_SourceCopy]:
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
    chunk_bytes = max(CHUNK_BYTES, math.ceil(total * dtype.itemsize / MAX_PASSES))
    return max(1, min(total, chunk_bytes // max(dtype.itemsize, 1)))


def _write_connection(writer: "_ChunkWriter", join: _Joined, copies: list[_SourceCopy], project_dir: bytes
                      ) -> Iterator[int]:
    """Fill one connection's rows chunk by chunk and hand them to the writer; yields rows per chunk."""
    sources = join.plan.sources
    for start in range(0, join.count, writer.step):
        stop = min(start + writer.step, join.count)
        out = writer.buffer()[: stop - start]
        for copy in copies:
            _fill(out, sources[copy.index], join.rows[copy.index][start:stop], copy, project_dir)
        writer.put(out)
        yield stop - start


class _ChunkWriter:
    """Writes filled chunks on a background thread while the next one is filled (two buffers at
    most). Errors, KeyboardInterrupt included, come back to the caller of put/close."""

    def __init__(self, handle: BinaryIO, dtype: np.dtype, total: int) -> None:
        self.handle = handle
        self.dtype = dtype
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
                except BaseException as exc:  # handed to the main thread
                    self.error = exc
            self.free.put(chunk)


def _fill(out: np.ndarray, src: SourcePlan, rows: np.ndarray, copy: _SourceCopy, project_dir: bytes) -> None:
    """Copy the needed rows of one source into ``out`` (row k of out ← source row rows[k])."""
    if np.all(rows[1:] >= rows[:-1]):  # the order file: rows already ascending
        order = None
        ascending = rows
    else:
        order = np.argsort(rows, kind="stable")
        ascending = rows[order]
    ranges = _ranges(src, ascending)
    out_runs = [(s, _voids(out, o, n), n) for s, o, n in copy.runs]
    for first, block in _blocks(src, 0, 0, ranges):
        a = np.searchsorted(ascending, first)
        b = np.searchsorted(ascending, first + len(block))
        if a == b:
            continue
        local = ascending[a:b] - first
        dest = slice(a, b) if order is None else order[a:b]
        for s, target, n in out_runs:
            target[dest] = _voids(block, s, n)[local]
        for col in copy.convert:
            out[col.output][dest] = block[col.source][local]
        for col in copy.rewrite:
            out[col.output][dest] = _absolute(block[col.source][local], copy.src_dir, project_dir)


def _ranges(src: SourcePlan, ascending: np.ndarray) -> list[tuple[int, int]]:
    """Row ranges worth reading: the span of the needed rows, cut where a gap of more than a
    block would otherwise be read for nothing."""
    if len(ascending) == 0:
        return []
    block_rows = max(1, BLOCK_BYTES // max(src.header.dtype.itemsize, 1))
    gaps = np.flatnonzero(np.diff(ascending) > block_rows)
    starts = np.concatenate(([0], gaps + 1))
    ends = np.concatenate((gaps, [len(ascending) - 1]))
    return [(int(ascending[s]), int(ascending[e]) + 1) for s, e in zip(starts, ends)]


def _absolute(values: np.ndarray, src_dir: bytes, project_dir: bytes) -> np.ndarray:
    """``>rest`` → source folder/rest; relative → project folder/value; absolute and empty unchanged."""
    relative_to_file = np.strings.startswith(values, b">")
    keep = np.strings.startswith(values, b"/") | (np.strings.str_len(values) == 0)
    rest = np.where(relative_to_file, np.strings.slice(values, 1, None), values)
    base = np.where(relative_to_file, np.bytes_(src_dir), np.bytes_(project_dir))
    return np.where(keep, values, np.strings.add(base, rest))

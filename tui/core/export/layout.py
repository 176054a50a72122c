"""The layout of an export, from the .cs headers alone: which files each connection reads, which
columns each file contributes and under which output names, and the output dtype.

A passthrough result with no stored files (a partially complete, failed or cleared job: its
``versions`` and ``metafiles`` are empty) is left out, as cryosparc-tools 4.x ``Job.load_output``
leaves out results without metafiles when all slots are loaded; the layout lists it in
``skipped`` and the report says so. A slot bound explicitly to such a result is still refused
(cryosparc-tools raises ValueError when such a slot is asked for by name)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ..csfile import CsHeader, load as load_cs, read_header
from ..errors import CsFileError, ExportError, RefError
from ..model import Binding, Connection, InputGroup, OutputResult
from ..project import Project
from ..untrusted import escape
from .match import DEFAULT_TOLERANCE, KEY_FIELDS, MatchSpec

# What a result or slot name must be to become a column prefix (``blob`` in ``blob/path``) and a
# .csg result name as it is: the names CryoSPARC itself gives (and refs.py parses). Anything else
# (non-ASCII, control characters, YAML specials, dots or slashes) is refused before writing.
COLUMN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class Column:
    source: str  # field name in the source file
    output: str  # field name in the export


@dataclass(frozen=True)
class SourceLayout:
    """One file read for one connection, and the columns it contributes."""

    path: Path
    metafile: str  # as job.json names it (relative to the project directory)
    header: CsHeader
    columns: tuple[Column, ...]
    provides: tuple[str, ...]  # human-readable: "blob ← J5.particles.blob.F"
    order_only: bool = False  # read only for its uid order (contributes no columns, drops no rows)
    table: np.ndarray | None = field(default=None, repr=False, compare=False)  # decoded CSDAT file
    match: str = "uid"  # how its rows are joined to the connection's (match.MATCH_MODES)
    keys: "SourceLayout | None" = None  # where its match keys are read when the file lacks them (same uids)

    @property
    def rows(self) -> int:
        return self.header.num_rows


@dataclass(frozen=True)
class ConnectionLayout:
    index: int
    job: str
    output: str
    sources: tuple[SourceLayout, ...]
    order: int  # index into sources of the file whose row order the export keeps
    primary: int  # index into sources of the join pivot (the order file, or the first source)
    notes: tuple[str, ...] = ()
    unreadable: tuple[str, ...] = ()  # a preview's bindings whose file cannot be read: "J5/x.cs: missing"
    skipped: tuple[str, ...] = ()  # passthrough results left out because they have no stored files
    origins: tuple[tuple[str, str], ...] = ()  # (output prefix, "JOB.OUTPUT" its result comes from)
    conn_keys: tuple[tuple[str, SourceLayout], ...] = ()  # per match mode: the file of the connection's keys
    tolerance: float = DEFAULT_TOLERANCE  # --match location, in micrograph pixels

    @property
    def label(self) -> str:
        return f"connection {self.index} ({self.job}.{self.output})"

    @property
    def matched(self) -> bool:
        return any(src.match != "uid" for src in self.sources)

    def keys_for(self, mode: str) -> SourceLayout:
        return next(src for m, src in self.conn_keys if m == mode)

    def origin(self, prefix: str) -> str | None:
        """``JOB.OUTPUT`` the result exported as ``prefix`` comes from (None: not exported)."""
        return next((where for name, where in self.origins if name == prefix), None)


@dataclass(frozen=True)
class ExportLayout:
    project_path: Path
    input: str
    group_type: str
    title: str
    target: str | None
    connections: tuple[ConnectionLayout, ...]
    dtype: np.dtype  # output columns, before any path rewriting
    types: dict[str, str]  # output prefix → dotted result type (particle.blob)
    description: str
    version: str
    notes: tuple[str, ...] = ()
    skipped: tuple[str, ...] = ()  # why each left-out passthrough was left out, one line each
    dropped: tuple[str, ...] = ()  # fields left out of stacked connections: "NAMES: not in connection 1 (…)"
    repeat_allowed: bool = False  # the input takes the same output twice: stacked uids may repeat
    match: MatchSpec | None = None  # joins other than on uid, as asked (--match)

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(self.dtype.names or ())


def lay_out_export(
    project: Project, group: InputGroup, *, connection: int | None = None, target: str | None = None,
    preview: bool = False, match: MatchSpec | None = None, parsed: tuple[OutputResult, ...] = (),
) -> ExportLayout:
    """Work out what an export of ``group`` reads and writes, from the .cs headers alone.

    ``connection`` limits the export to one connection (default: all, stacked in order);
    ``target`` is the uid of the job the input belongs to (used in the description). A
    ``preview`` lays out what can be read of an input being edited: empty slots are left out
    and unreadable files listed in ``ConnectionLayout.unreadable`` instead of refused. ``match``
    joins the slots it names (or every rebound slot) on another key than uid (:mod:`.match`).
    ``parsed``: results a binding may name, as parsed already (their jobs' documents are not read
    again for them: a candidates search lays out one binding of thousands of jobs)."""
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
    connections: list[ConnectionLayout] = []
    field_lists: list[list[tuple[str, np.dtype]]] = []
    types: dict[str, str] = {}
    for index, conn in chosen:
        conn_layout, fields, conn_types = _lay_out_connection(project, group, index, conn, headers, preview, match,
                                                              target, parsed)
        connections.append(conn_layout)
        field_lists.append(fields)
        for prefix, kind in conn_types.items():
            types.setdefault(prefix, kind)
    dtype, dropped = _unify(group.name, connections, field_lists)
    if dropped:
        kept = set(dtype.names)
        connections = [_keep_columns(conn_layout, kept) for conn_layout in connections]
    skipped = {conn_layout.index: conn_layout.skipped for conn_layout in connections}
    prefixes = {name.split("/", 1)[0] for name in dtype.names if name != "uid"}
    types = {prefix: kind for prefix, kind in types.items() if prefix in prefixes}
    return ExportLayout(
        project_path=project.path,
        input=group.name,
        group_type=group.type,
        title=f"{target} {group.name} (rebound)" if target else f"{group.name} (rebound)",
        target=target,
        connections=tuple(connections),
        dtype=dtype,
        types=types,
        description=_description(group, target, chosen, skipped),
        version=_cryosparc_version(project, target, chosen),
        notes=tuple(note for conn_layout in connections for note in conn_layout.notes) + ((STACKED_NOTE,) if dropped else ()),
        dropped=tuple(dropped),
        repeat_allowed=group.repeat_allowed,
        match=match if match is not None and match.active else None,
        skipped=tuple(
            f"{group.name}.{conn_layout.index} passthrough {ref}: {SKIPPED_REASON}"
            for conn_layout in connections for ref in conn_layout.skipped
        ),
    )


def _lay_out_connection(
    project: Project, group: InputGroup, index: int, conn: Connection, headers: dict[Path, _Header],
    preview: bool = False, match: MatchSpec | None = None, target: str | None = None,
    parsed: tuple[OutputResult, ...] = (),
) -> tuple[ConnectionLayout, list[tuple[str, np.dtype]], dict[str, str]]:
    where = f"{group.name}.{index}"
    empty = [s.name for s in group.slots if s.required and conn.binding(s.name) is None]
    if empty and not preview:
        raise ExportError(
            f"{target + ' ' if target else ''}{where}: required slot{'s' if len(empty) > 1 else ''} {', '.join(empty)} "
            f"{'are' if len(empty) > 1 else 'is'} empty; bind a result to "
            f"{'them' if len(empty) > 1 else 'it'} before exporting"
        )
    files: dict[Path, dict] = {}  # path → {"metafile", "columns", "provides"}, in first-use order
    fields_out: list[tuple[str, np.dtype]] = [("uid", np.dtype("<u8"))]
    types: dict[str, str] = {}
    notes: list[str] = []
    taken: set[str] = set()
    unreadable: list[str] = []
    skipped: list[str] = []
    origins: list[tuple[str, str]] = []
    bindings = list(conn.slot_bindings) + list(conn.passthrough)
    for binding in bindings:
        prefix = binding.slot or binding.ref.result
        if prefix in taken:
            if binding.passthrough:
                notes.append(f"{where}: passthrough {binding.ref} not used: slot {prefix} is bound explicitly")
            continue
        if binding.passthrough and _no_stored_files(project, binding):
            skipped.append(str(binding.ref))
            continue
        try:
            metafile, path, header, dtype_name = _resolve(project, binding, where, headers, parsed)
        except _Unreadable as exc:
            if not preview:
                raise ExportError(exc.message) from None
            if exc.short not in unreadable:  # a passthrough file gives several results: named once
                unreadable.append(exc.short)
            continue
        except ExportError:
            if not preview:
                raise
            continue  # a broken reference: validation reports it
        if not preview and not COLUMN_NAME.fullmatch(prefix):
            what = "slot" if binding.slot else "passthrough result"
            raise ExportError(
                f"{where}: {what} name {escape(prefix)} (of {escape(str(binding.ref))}) cannot be written as a .cs "
                "column name or a .csg result name: only ASCII letters, digits and _, not starting with a digit; "
                "nothing was written"
            )
        fields = header.fields_of(binding.ref.result)
        if not fields:
            present = ", ".join(header.prefixes) or "none"
            raise ExportError(
                f"{where}.{prefix}: {metafile} holds no {binding.ref.result}/… columns for {binding.ref} "
                f"(its prefixes: {present}); the job document and the file disagree"
            )
        taken.add(prefix)
        origins.append((prefix, f"{binding.ref.job}.{binding.ref.output}"))
        rebound = (binding.ref.job, binding.ref.output) != (conn.job, conn.output)
        mode = match.for_slot(prefix, rebound) if match is not None and not binding.passthrough else "uid"
        entry = files.setdefault(path, {"metafile": metafile, "columns": [], "provides": [], "match": mode,
                                        "ref": binding.ref, "prefix": prefix})
        if entry["match"] != mode:
            raise ExportError(
                f"{where}: {metafile} gives {entry['prefix']} (joined on {entry['match']}) and {prefix} "
                f"(joined on {mode}); one file is joined one way: give both slots the same --match"
            )
        for name in fields:
            out = prefix + name[len(binding.ref.result):]
            entry["columns"].append(Column(name, out))
            fields_out.append((out, header.dtype[name]))
        renamed = f" (renamed from {binding.ref.result})" if prefix != binding.ref.result else ""
        kind = "passthrough " if binding.passthrough else ""
        entry["provides"].append(f"{kind}{prefix} ← {binding.ref}{renamed}")
        types[prefix] = f"{group.type}.{dtype_name}"
    if not files:
        if unreadable:
            raise ExportError(f"rows unknown ({'; '.join(unreadable)})")
        raise ExportError(f"{where}: nothing is bound to this connection; bind its slots first")

    order_path, order_metafile, order_note = _order_file(project, conn, where, headers)
    if order_note:
        notes.append(order_note)
    if order_path is not None and order_path not in files:
        files[order_path] = {"metafile": order_metafile, "columns": [], "provides": [], "order_only": True}
    matching = any(entry.get("match", "uid") != "uid" for entry in files.values())
    if matching:
        _pivot_for_match(conn, where, files, order_path, order_note)
    paths = list(files)
    order = paths.index(order_path) if order_path is not None else 0
    primary = order if not files[paths[order]].get("order_only") else 0
    files[paths[primary]]["columns"].insert(0, Column("uid", "uid"))
    sources = tuple(
        SourceLayout(path, entry["metafile"], headers[path][0], tuple(entry["columns"]), tuple(entry["provides"]),
                     bool(entry.get("order_only")), headers[path][1], entry.get("match", "uid"))
        for path, entry in files.items()
    )
    conn_keys: tuple[tuple[str, SourceLayout], ...] = ()
    if matching:
        sources, conn_keys = _match_keys(project, conn, where, sources, files, headers)
    conn_layout = ConnectionLayout(index, conn.job, conn.output, sources, order, primary, tuple(notes),
                                   tuple(unreadable), tuple(skipped), tuple(origins), conn_keys,
                                   match.tolerance if match is not None else DEFAULT_TOLERANCE)
    return conn_layout, fields_out, types


def _pivot_for_match(conn: Connection, where: str, files: dict[Path, dict], order_path: Path | None,
                     order_note: str | None) -> None:
    """A matched connection keeps the uids and row order of its own output's file, which is then
    the join pivot (read for its uids even when it gives no column)."""
    if order_path is None:
        raise ExportError(
            f"{where}: rows cannot be matched: the connection's own particles ({conn.job}.{conn.output}) "
            f"cannot be read ({order_note or 'no file'}); nothing to match against"
        )
    entry = files[order_path]
    if entry.get("match", "uid") != "uid":
        raise ExportError(
            f"{where}: {entry['metafile']} is {conn.job}.{conn.output}'s own file; it cannot be matched to itself: "
            f"drop --match for {entry['prefix']}"
        )
    entry["order_only"] = False


def _match_keys(
    project: Project, conn: Connection, where: str, sources: tuple[SourceLayout, ...], files: dict[Path, dict],
    headers: dict[Path, _Header],
) -> tuple[tuple[SourceLayout, ...], tuple[tuple[str, SourceLayout], ...]]:
    """Where each side's match keys are read: a matched file's own columns, else another file
    of the output it comes from (same uids); for the connection, a file of its own lineage (the
    files joined on uid, then its own output's files)."""
    out = []
    modes: list[str] = []
    for src, entry in zip(sources, files.values()):
        if src.match == "uid":
            out.append(src)
            continue
        modes.append(src.match)
        wanted = KEY_FIELDS[src.match][1]
        if all(f in src.header.fields for f in wanted):
            out.append(src)
            continue
        ref = entry["ref"]
        provider = _file_with(project, ref.job, ref.output, wanted, headers)
        if provider is None:
            raise ExportError(
                f"{where}.{entry['prefix']}: --match {src.match} needs {', '.join(wanted)} of {ref.job}.{ref.output}, "
                f"which none of its files holds"
            )
        out.append(replace(src, keys=provider))
    lineage = [src for src in sources if src.match == "uid"]
    conn_keys = []
    for mode in dict.fromkeys(modes):
        wanted = KEY_FIELDS[mode][0]
        provider = next((s for s in lineage if all(f in s.header.fields for f in wanted)), None)
        if provider is None:
            provider = _file_with(project, conn.job, conn.output, wanted, headers)
        if provider is None:
            why = {
                "src_uid": "they were not symmetry-expanded (no sym_expand/src_uid)",
                "path": "they have no blob/path and blob/idx",
                "location": "they have no location (micrograph_uid, micrograph_shape, center_x_frac, center_y_frac)",
            }[mode]
            raise ExportError(f"{where}: --match {mode}: the connection's own particles cannot be matched: {why}")
        conn_keys.append((mode, provider))
    return tuple(out), tuple(conn_keys)


def _file_with(project: Project, job: str, output: str, wanted: tuple[str, ...], headers: dict[Path, _Header]
               ) -> SourceLayout | None:
    """A stored file of ``job.output`` (final versions) holding every ``wanted`` field, as a
    key-only source; None when there is none."""
    try:
        group = project.output(job, output)
    except RefError:
        return None
    for result in group.results:
        if not result.complete:
            continue
        metafile = result.resolve().metafile
        path = project.absolute(metafile)
        if path not in headers:
            try:
                headers[path] = _read_header(path)
            except CsFileError:
                continue
        header, table = headers[path]
        if all(f in header.fields for f in wanted):
            return SourceLayout(path, metafile, header, (), (), True, table)
    return None


SKIPPED_REASON = (
    "the result has no stored files (job incomplete, failed or cleared); "
    "cryosparc-tools' load_output leaves such results out too"
)


def _no_stored_files(project: Project, binding: Binding) -> bool:
    """Whether the result ``binding`` names exists but has no metafile to read. A reference to a
    result that does not exist is not this case: resolving it reports the error."""
    try:
        return not project.result(binding.ref).complete
    except RefError:
        return False


def _resolve(
    project: Project, binding: Binding, where: str, headers: dict[Path, _Header], parsed: tuple[OutputResult, ...] = ()
) -> tuple[str, Path, CsHeader, str]:
    """Metafile, its path, header and the result dtype of one binding, or an ExportError
    saying what is missing."""
    ref = binding.ref
    try:
        result = next((r for r in parsed if (r.job, r.output, r.name) == (ref.job, ref.output, ref.result)), None)
        if result is None:
            result = project.result(ref)
        resolved = result.resolve(binding.ref.version)
    except RefError as exc:
        raise ExportError(f"{where}.{binding.slot or binding.ref.result}: {exc}") from None
    path = project.absolute(resolved.metafile)
    if path not in headers:
        try:
            headers[path] = _read_header(path)
        except CsFileError as exc:
            missing = "" if path.exists() else " (missing: the job was cleared or its files moved)"
            raise _Unreadable(
                f"{where}.{binding.slot or binding.ref.result}: metafile {resolved.metafile} of {binding.ref} "
                f"cannot be read{missing}: {exc.problem}",
                f"{resolved.metafile}: {'missing' if missing else exc.problem}",
            ) from None
    return resolved.metafile, path, headers[path][0], result.dtype


class _Unreadable(Exception):
    def __init__(self, message: str, short: str) -> None:
        super().__init__(message)
        self.message, self.short = message, short


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


STACKED_NOTE = (
    "connections stacked as cryosparc-tools' Dataset.append_many stacks them: only the fields every "
    "connection has, with the same type, are kept (in the first connection's order); the rest are dropped"
)


def _unify(input_name: str, connections: list[ConnectionLayout], field_lists: list[list[tuple[str, np.dtype]]]
           ) -> tuple[np.dtype, list[str]]:
    """One output dtype for stacked connections, as cryosparc-tools' ``Dataset.append_many`` makes
    it (``common_fields``: the (name, type, shape) every dataset has, in the first one's order):
    a field some connection lacks, or has with another type or shape, is dropped, and listed as
    ``NAMES: why``. Strings may differ in width (cryosparc-tools holds them as Python objects, so
    they never differ there): the widest is kept."""
    first = field_lists[0]
    if len(field_lists) == 1:
        return np.dtype(first), []
    tables = [dict(fields) for fields in field_lists]
    names = list(dict.fromkeys(name for fields in field_lists for name, _ in fields))
    kept: list[tuple[str, np.dtype]] = []
    reasons: dict[str, list[str]] = {}  # why → fields, in first-seen order
    for name in names:
        lacking = [c.label for c, table in zip(connections, tables) if name not in table]
        if lacking:
            reasons.setdefault(f"not in {', '.join(lacking)}", []).append(name)
            continue
        types = [table[name] for table in tables]
        merged = _same_type(types)
        if merged is None:
            kinds = ", ".join(f"{_dtype_text(dt)} in {c.label}" for c, dt in zip(connections, types))
            reasons.setdefault(f"types differ ({kinds})", []).append(name)
            continue
        kept.append((name, merged))
    if len(kept) <= 1:  # uid alone
        raise ExportError(
            f"input {input_name}: the connections share no field but uid, so stacking them as cryosparc-tools "
            "does would keep nothing else; bind the same kinds of results on every connection, or export one "
            "connection at a time"
        )
    return np.dtype(kept), [f"{', '.join(fields)}: {why}" for why, fields in reasons.items()]


def _same_type(types: list[np.dtype]) -> np.dtype | None:
    """The one type of a field in every connection (strings: the widest), or None when they differ."""
    base = types[0]
    for dt in types[1:]:
        if dt == base:
            continue
        if dt.base.kind == "S" and base.base.kind == "S" and dt.shape == base.shape:
            base = dt if dt.itemsize > base.itemsize else base
        else:
            return None
    return base


def _keep_columns(conn: ConnectionLayout, kept: set[str]) -> ConnectionLayout:
    """``conn`` with only the columns the stacked output keeps. A source whose columns are all
    dropped still takes part in the join (CryoSPARC joins each connection before appending), and
    its ``provides`` lines say what was dropped."""
    prefixes = {name.split("/", 1)[0] for name in kept}
    sources = []
    for src in conn.sources:
        provides = tuple(
            line if _provided_prefix(line) in prefixes else f"{line} (dropped: not stacked with the other connections)"
            for line in src.provides
        )
        sources.append(replace(src, columns=tuple(c for c in src.columns if c.output in kept), provides=provides))
    return replace(conn, sources=tuple(sources))


def _provided_prefix(line: str) -> str:
    """``passthrough location ← J9.particles.location.F`` → ``location``."""
    return line.removeprefix("passthrough ").split(" ← ", 1)[0]


def _dtype_text(dt: np.dtype) -> str:
    return f"{dt.base.str}{dt.shape}" if dt.shape else dt.str


def _description(group: InputGroup, target: str | None, chosen: list[tuple[int, Connection]],
                 skipped: dict[int, tuple[str, ...]]) -> str:
    """``J12 particles: blob from J5.particles.blob.F, …; passthrough location, … from J9.particles``
    (passthroughs left out for lack of files are not named)."""
    parts = []
    for index, conn in chosen:
        slots = ", ".join(f"{b.slot} from {b.ref}" for b in conn.slot_bindings)
        sources: dict[str, list[str]] = {}
        for b in conn.passthrough:
            if str(b.ref) in skipped.get(index, ()):
                continue
            sources.setdefault(f"{b.ref.job}.{b.ref.output}", []).append(b.ref.result)
        passed = "; ".join(f"passthrough {', '.join(names)} from {src}" for src, names in sources.items())
        text = "; ".join(t for t in (slots, passed) if t)
        parts.append(f"connection {index} ({conn.job}.{conn.output}): {text}" if len(chosen) > 1 else text)
    head = f"{target} {group.name}" if target else group.name
    return f"{head}: " + " | ".join(parts) + " (exported by csrebind)"


def _cryosparc_version(project: Project, target: str | None, chosen: list[tuple[int, Connection]]) -> str:
    """The ``version`` written into the .csg, as CryoSPARC writes it there (``v2.15.0``).

    CryoSPARC writes the version of the instance that wrote the group. Whether Import Result
    Group checks it is unconfirmed (cryosparc-data.md §9), so rather than a csrebind version that
    a CryoSPARC version parser could reject, csrebind writes a CryoSPARC version the project
    itself records: that of the job documents this export comes from (the target job, then the
    connected source jobs), else ``project.json``'s ``last_dumped_version`` (the instance that
    last wrote the project's files). Only when neither records one does it fall back to
    ``csrebind-<version>``. A version written without its ``v`` (``4.7.1``) gets one.
    """
    uids = ([target] if target else []) + [c.job for _, c in chosen]
    for uid in dict.fromkeys(uids):
        job = project.jobs.get(uid)
        if job is not None and job.version:
            return _v_version(job.version)
    if project.last_dumped_version:
        return _v_version(project.last_dumped_version)
    from ... import __version__

    return f"csrebind-{__version__}"


_BARE_VERSION = re.compile(r"[0-9]+\.[0-9]+")


def _v_version(text: str) -> str:
    return f"v{text}" if _BARE_VERSION.match(text) else text

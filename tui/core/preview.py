"""What CryoSPARC would load for an input as it is edited, before anything is written or run:
per connection, the rows of every file it reads, the rows the inner join on ``uid`` keeps, the
rows each file loses. The same layout and join as an export (:mod:`tui.core.export`), on the
cached uid columns, so a put is judged on data, not on names.

Validation on every write-out route uses :func:`join_issues`: a connection left with zero rows
is an error, dropped rows and unreadable files are warnings.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import CsRebindError
from .export import ExportLayout, MatchSpec, join_connection, lay_out_export
from .model import InputGroup, OutputResult
from .project import Project
from .refs import SlotAddress
from .session import EditSession, Issue

LINEAGE = "different particle lineage (re-extracted or imported?)"
MATCH_HINT = "an export with"  # how a match hint starts
MATCH_TRIED = ("src_uid", "location", "path")  # the matches tried when the join on uid keeps no row
LIVE_REFUSAL = (
    "a binding that keeps rows only through --match can be neither applied live nor planned for apply: "
    "export it with that --match (csrebind export … --match MODE) and bring it back with Import Result Group"
)


@dataclass(frozen=True)
class SourceRows:
    metafile: str
    rows: int
    kept: int
    provides: tuple[str, ...]
    order_only: bool = False
    match: str | None = None  # a matched file: how its rows were matched, and how many

    @property
    def dropped(self) -> int:
        return 0 if self.order_only else self.rows - self.kept


@dataclass(frozen=True)
class ConnectionPreview:
    input: str
    index: int
    job: str
    output: str
    kept: int | None  # rows left after the join; None when a file cannot be read
    total: int | None  # rows of the connection's own file
    sources: tuple[SourceRows, ...] = ()
    unknown: str | None = None  # why the rows are unknown
    empty: str | None = None  # why no row is left
    match_hint: str | None = None  # no row on uid, but an export with --match would keep some

    @property
    def label(self) -> str:
        return f"{self.input}.{self.index}"

    @property
    def rows_text(self) -> str:
        """For the inputs pane: ``3,000 rows``, ``0 rows``, ``rows unknown (…)``."""
        if self.kept is None:
            return self.unknown or "rows unknown"
        return f"{self.kept:,} row{'s' if self.kept != 1 else ''}"

    @property
    def keeps_text(self) -> str:
        """For the status bar after a put: ``keeps 2,270 of 5,908``."""
        if self.kept is None:
            return self.unknown or "rows unknown"
        return f"keeps {self.kept:,} of {self.total:,}" if self.total is not None else f"keeps {self.kept:,}"

    def lines(self) -> list[str]:
        head = f"{self.label} ← {self.job}.{self.output}: "
        if self.kept is None:
            return [head + (self.unknown or "rows unknown")]
        out = [head + f"{self.rows_text} kept of {self.total:,}"]
        for src in self.sources:
            if src.order_only:
                out.append(f"  {src.metafile}: {src.rows:,} rows (row order only)")
            else:
                out.append(f"  {src.metafile}: {src.rows:,} rows, {src.kept:,} kept, {src.dropped:,} dropped")
            if src.match:
                out.append(f"      {src.match}")
            out.extend(f"      {p}" for p in src.provides)
        if self.empty:
            out.append(f"  error: {self.empty}")
        if self.match_hint:
            out.append(f"  hint: {self.match_hint}")
        return out

    def to_json(self) -> dict:
        return {
            "input": self.input, "connection": self.index, "source": f"{self.job}.{self.output}",
            "rows": self.kept, "of": self.total, "unknown": self.unknown, "error": self.empty,
            **({"match_hint": self.match_hint} if self.match_hint else {}),  # only when the uid join keeps none
            "files": [
                {"metafile": s.metafile, "rows": s.rows, "kept": s.kept, "dropped": s.dropped,
                 "order_only": s.order_only, "provides": list(s.provides), **({"match": s.match} if s.match else {})}
                for s in self.sources
            ],
        }


def preview_connection(project: Project, group: InputGroup, index: int, target: str | None = None, *,
                       match: MatchSpec | None = None, hint: bool = False,
                       parsed: tuple[OutputResult, ...] = ()) -> ConnectionPreview:
    """The join of one connection as an export would make it (``match``: as ``--match`` would);
    with ``hint``, a connection the uid join leaves empty also says whether a match would keep rows.
    ``parsed``: results as parsed already (``lay_out_export``)."""
    conn = group.connections[index]
    base = dict(input=group.name, index=index, job=conn.job, output=conn.output)
    try:
        layout = lay_out_export(project, group, connection=index, target=target, preview=True, match=match,
                                parsed=parsed)
        (conn_layout,) = layout.connections
        joined = join_connection(conn_layout, layout)
    except CsRebindError as exc:
        return ConnectionPreview(**base, kept=None, total=None, unknown=_unknown_text(str(exc)))
    sources = tuple(
        SourceRows(s.metafile, s.rows, joined.kept_of(i), s.provides, s.order_only,
                   joined.matches[i].text() if i in joined.matches else None)
        for i, s in enumerate(conn_layout.sources)
    )
    unknown = f"rows unknown ({'; '.join(conn_layout.unreadable)})" if conn_layout.unreadable else None
    empty = _empty_reason(joined.count, layout, joined) if joined.count == 0 else None
    kept = None if unknown and not empty else joined.count
    found = match_hint(project, group, index, target) if empty and hint and not conn_layout.matched else None
    return ConnectionPreview(**base, kept=kept, total=joined.total, sources=sources, unknown=unknown, empty=empty,
                             match_hint=found)


def match_hint(project: Project, group: InputGroup, index: int, target: str | None = None) -> str | None:
    """For a connection the join on uid leaves empty: the first of ``--match src_uid``, ``location``
    (default tolerance) and ``path`` that keeps rows, in words (None when none does). Each try is
    the export's own layout and join; a mode whose keys are missing fails on the headers alone."""
    for mode in MATCH_TRIED:
        try:
            layout = lay_out_export(project, group, connection=index, target=target, preview=True,
                                    match=MatchSpec(mode))
            (conn_layout,) = layout.connections
            if not conn_layout.matched or conn_layout.unreadable:
                continue
            joined = join_connection(conn_layout, layout)
        except CsRebindError:
            continue
        if joined.count:
            ambiguous = sum(found.ambiguous for found in joined.matches.values())
            option = MatchSpec(mode).text()
            return (
                f"{MATCH_HINT} {option} would keep {joined.count:,} of {joined.total:,} rows "
                f"({ambiguous:,} ambiguous, refused); CryoSPARC joins on uid, so this binding cannot be applied live"
            )
    return None


def _unknown_text(message: str) -> str:
    return message if message.startswith("rows unknown") else f"rows unknown ({message})"


def _empty_reason(count: int, layout: ExportLayout, joined) -> str:
    """``0 of 2,019 J14 uids are in J9.particles: different particle lineage (…)``: the first
    file sharing nothing with the connection's own file, in the user's terms."""
    conn = joined.layout
    for src, shared in joined.overlaps:
        if shared == 0:
            job = src.metafile.split("/", 1)[0]
            return f"0 of {src.rows:,} {job} uids are in {conn.job}.{conn.output}: {LINEAGE}"
    return joined.no_rows_message()


def preview_input(project: Project, group: InputGroup, target: str | None = None, *,
                  match: MatchSpec | None = None) -> list[ConnectionPreview]:
    return [preview_connection(project, group, i, target, match=match, hint=True) for i in range(len(group.connections))]


def preview_session(session: EditSession, inputs: list[str] | None = None, *,
                    match: MatchSpec | None = None) -> list[ConnectionPreview]:
    """Every connection of the named inputs (default: all) of the session as it is now."""
    uid = session.target.uid
    groups = [g for g in session.inputs if inputs is None or g.name in inputs]
    return [p for g in groups for p in preview_input(session.project, g, uid, match=match)]


def edited_inputs(session: EditSession) -> list[str]:
    return [g.name for g, loaded in zip(session.inputs, session.loaded) if g != loaded]


def join_issues(session: EditSession) -> list[Issue]:
    """The join of every edited input as validation issues: zero rows is an error; dropped rows
    and files that cannot be read are warnings."""
    issues: list[Issue] = []
    for preview in preview_session(session, edited_inputs(session)):
        where = f"{preview.label} ← {preview.job}.{preview.output}"
        if preview.empty:
            issues.append(Issue("error", f"{where}: the join on uid keeps 0 rows: {preview.empty}"))
            if preview.match_hint:
                issues.append(Issue("warning", f"{where}: {preview.match_hint}"))
        elif preview.kept is None:
            issues.append(Issue("warning", f"{where}: {preview.unknown}"))
        elif preview.total is not None and preview.kept < preview.total:
            dropped = preview.total - preview.kept
            issues.append(Issue("warning", f"{where}: the join on uid {preview.keeps_text} rows ({dropped:,} dropped)"))
    return issues


def match_hints(issues: list[Issue]) -> list[Issue]:
    """The issues of :func:`join_issues` that say an export with ``--match`` would keep rows."""
    return [issue for issue in issues if issue.severity == "warning" and MATCH_HINT in issue.message]


def slot_connection(session: EditSession, address: SlotAddress) -> ConnectionPreview:
    """The preview of the connection a slot belongs to (after a put into it)."""
    group = session.input(address.input)
    return preview_connection(session.project, group, address.index, session.target.uid)

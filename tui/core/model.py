"""The normalised project model, one shape for both job.json schemas (v4 and v5).

Everything here is immutable: the edit session keeps old states for undo by reference.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Callable

import msgspec

from .errors import JobDocumentError, RefError
from .refs import FINAL, ResultRef, Version


# Results whose shift and pose follow a pixel size and an iteration: compared across versions,
# checked against the blob's pixel size on export.
ALIGNMENT_DTYPES = ("alignments3D", "alignments2D")


@dataclass(frozen=True, slots=True)
class ResolvedResult:
    """A reference resolved against the project: which file holds it and how many rows."""

    ref: ResultRef
    version: int
    metafile: str
    num_items: int | None
    passthrough: bool
    dtype: str
    group_type: str


class OutputResult(msgspec.Struct, frozen=True, gc=False):
    """One result of an output group (``blob``, ``alignments3D``…) with all its stored versions.

    A struct rather than a frozen dataclass: made five times faster, and a job can have 120,000."""

    job: str
    output: str
    name: str
    dtype: str
    group_type: str
    passthrough: bool
    versions: tuple[int, ...]
    metafiles: tuple[str, ...]
    num_items: tuple[int | None, ...]

    @property
    def complete(self) -> bool:
        """A result with no metafile cannot be loaded (job unfinished, failed or cleared)."""
        return bool(self.metafiles) and bool(self.versions)

    @property
    def final_version(self) -> int | None:
        return self.versions[-1] if self.versions else None

    def ref(self, version: Version = FINAL) -> ResultRef:
        return ResultRef(self.job, self.output, self.name, version)

    @property
    def final_index(self) -> int:
        """Position of F in this result's lists; only meaningful for a complete result."""
        return min(len(self.versions), len(self.metafiles)) - 1

    def version_index(self, version: Version) -> int:
        """Position of a version in this result's own lists; versions are matched by value."""
        if not self.complete:
            raise RefError(f"{self.ref(version)}: the result has no stored files (job incomplete, failed or cleared)")
        if version == FINAL:
            return self.final_index
        try:
            index = self.versions.index(version)
        except ValueError:
            stored = ", ".join(str(v) for v in self.versions)
            raise RefError(f"{self.ref(version)}: version {version} is not stored; stored versions: {stored} (or F)") from None
        if index >= len(self.metafiles):
            raise RefError(f"{self.ref(version)}: version {version} is listed but has no metafile")
        return index

    def step_version(self, current: Version, step: int) -> Version:
        """The version ``step`` places older (negative) or newer than ``current``, clamped;
        the newest is F."""
        if not self.complete:
            raise RefError(f"{self.ref()}: the result has no stored versions")
        last = len(self.versions) - 1
        index = last if current == FINAL else self.version_index(current)
        index = max(0, min(last, index + step))
        return FINAL if index == last else self.versions[index]

    def rows_at(self, version: Version) -> int | None:
        return self._rows(self.version_index(version))

    @property
    def final_rows(self) -> int | None:
        """Rows at F; None for an incomplete result (rows_at(F) raises) or an unknown count.
        ``complete``, ``final_index`` and ``_rows`` written out: once per result of a listing,
        and a job can have 120,000."""
        versions, metafiles, counts = self.versions, self.metafiles, self.num_items
        if not (versions and metafiles):
            return None
        index = min(len(versions), len(metafiles)) - 1
        return counts[index] if index < len(counts) else None

    def _rows(self, index: int) -> int | None:
        return self.num_items[index] if index < len(self.num_items) else None

    def resolve(self, version: Version = FINAL) -> ResolvedResult:
        index = self.version_index(version)
        metafile = self.metafiles[index]
        rows = self._rows(index)
        return ResolvedResult(
            self.ref(version), self.versions[index], metafile, rows, self.passthrough, self.dtype, self.group_type
        )


@dataclass(frozen=True, slots=True)
class OutputGroup:
    """One output of a job (``particles``, ``volume``…)."""

    job: str
    name: str
    type: str
    title: str
    num_items: int | None
    results: tuple[OutputResult, ...]
    passthrough_input: str | None = None

    def result(self, name: str) -> OutputResult | None:
        return next((r for r in self.results if r.name == name), None)


@dataclass(frozen=True, slots=True)
class InputSlot:
    name: str
    dtype: str
    required: bool
    title: str = ""


@dataclass(frozen=True, slots=True)
class Binding:
    """One entry of a connection: a source result bound to a slot, or a passthrough (slot None)."""

    slot: str | None
    ref: ResultRef
    dtype: str

    @property
    def passthrough(self) -> bool:
        return self.slot is None


@dataclass(frozen=True, slots=True)
class Connection:
    """One connected output group on an input; individual slots may come from other jobs."""

    job: str
    output: str
    bindings: tuple[Binding, ...] = ()

    def binding(self, slot: str) -> Binding | None:
        return next((b for b in self.bindings if b.slot == slot), None)

    @property
    def slot_bindings(self) -> tuple[Binding, ...]:
        return tuple(b for b in self.bindings if b.slot is not None)

    @property
    def passthrough(self) -> tuple[Binding, ...]:
        return tuple(b for b in self.bindings if b.slot is None)

    def with_binding(self, slot: str, binding: Binding | None) -> "Connection":
        """Replace (or add, or with None remove) the binding of one slot, keeping the order."""
        kept: list[Binding] = []
        placed = False
        for existing in self.bindings:
            if existing.slot == slot:
                if binding is not None and not placed:
                    kept.append(binding)
                placed = True
            else:
                kept.append(existing)
        if binding is not None and not placed:
            slot_count = len(self.slot_bindings)
            kept.insert(slot_count, binding)
        return replace(self, bindings=tuple(kept))


@dataclass(frozen=True, slots=True)
class InputGroup:
    """One input of a job (``particles``, ``volume``…) with its slots and connections."""

    name: str
    type: str
    title: str
    slots: tuple[InputSlot, ...]
    connections: tuple[Connection, ...] = ()
    count_min: int = 0
    count_max: int | None = None  # None = unlimited
    repeat_allowed: bool = False

    def slot(self, name: str) -> InputSlot | None:
        return next((s for s in self.slots if s.name == name), None)

    @property
    def limits(self) -> str:
        """How many connections it takes, e.g. ``1..∞``."""
        return f"{self.count_min}..{'∞' if self.count_max is None else self.count_max}"

    def with_connections(self, connections: tuple[Connection, ...]) -> "InputGroup":
        return replace(self, connections=connections)


@dataclass(frozen=True, slots=True)
class Workspace:
    uid: str
    title: str


# job → (outputs, inputs): given by the reader (jobread/jobdoc), so the model imports no parser.
IoLoader = Callable[["Job"], tuple[tuple[OutputGroup, ...], tuple[InputGroup, ...]]]

# The summary fields: what a listing shows, and what a job.json changed on disk refreshes.
SUMMARY_FIELDS = ("type", "title", "status", "created_at", "schema", "version", "workspaces")
# What a Job's repr shows: the fields a dataclass would show (not the document's parsed parts).
PUBLIC_FIELDS = ("uid", "type", "title", "status", "created_at", "parents", "children", "workspaces", "schema",
                 "version", "error")


class Job(msgspec.Struct, array_like=True, gc=False):  # gc: nothing a Job holds refers back to a Job
    """A job as listed from its job.json: the summary fields. Inputs and outputs are read and
    parsed when first used (and may be dropped and read again): a project of 50,000 jobs keeps
    only summaries in memory.

    A struct rather than a dataclass: the summary cache decodes its jobs straight into Jobs (its
    entries are this struct's first twelve fields, as an array), and one is made in a third of
    the time of a dataclass; 50,000 of them count when a project is reopened."""

    uid: str
    type: str = ""
    title: str = ""
    status: str = ""
    created_at: datetime | None = None
    parents: tuple[str, ...] = ()
    children: tuple[str, ...] = ()
    workspaces: tuple[str, ...] = ()
    schema: str | None = None  # "v4" or "v5"; None for a broken job
    version: str = ""  # the CryoSPARC version recorded in the document (e.g. "v4.7.1")
    error: str | None = None  # one-line reason when the job document cannot be used
    # The stamp (size, mtime, ctime, inode) of the job.json it was read from, and its path (a str:
    # 50,000 Paths cost 18 MB): a file changed since is noticed when the inputs/outputs are read.
    # None for a document given in memory.
    _stamp: tuple[int, int, int, int] | None = None
    _source: str | None = None
    # Never stored, so typed Any for msgspec: an IoLoader, the parsed outputs and inputs (tuples
    # of OutputGroup and InputGroup), the filter's text.
    _load: Any = None
    _outputs: Any = None
    _inputs: Any = None
    _search: Any = None

    def __repr__(self) -> str:
        """The summary fields only (a Job's outputs can hold 120,000 results)."""
        return f"Job({', '.join(f'{name}={getattr(self, name)!r}' for name in PUBLIC_FIELDS)})"

    def __rich_repr__(self):
        for name in PUBLIC_FIELDS:
            yield name, getattr(self, name)

    @property
    def broken(self) -> bool:
        return self.error is not None

    @property
    def number(self) -> int:
        return int(self.uid[1:]) if self.uid[1:].isdigit() else -1

    @property
    def label(self) -> str:
        return self.title or self.type or self.uid

    @property
    def search_text(self) -> str:
        """uid, title and type in lower case: what the jobs filter looks in (made once)."""
        if self._search is None:
            self._search = f"{self.uid}\n{self.title}\n{self.type}".lower()
        return self._search

    @property
    def outputs(self) -> tuple[OutputGroup, ...]:
        if self._outputs is None:
            self._parse_io()
        return self._outputs or ()

    @property
    def inputs(self) -> tuple[InputGroup, ...]:
        if self._inputs is None:
            self._parse_io()
        if callable(self._inputs):  # checked and made when first asked for (see jobdoc.parse_io)
            parse, outputs = self._inputs, self._outputs
            self._parsed(lambda: (outputs, parse()))
        return self._inputs or ()

    def _parse_io(self) -> None:
        if self._load is None:
            self._outputs, self._inputs = (), ()
            return
        if self._parsed(lambda: self._load(self)) and self._source is None:
            self._load = None  # an in-memory document: parsed once, its bytes are let go

    def _parsed(self, parse: Callable[[], tuple]) -> bool:
        """Take ``parse()``'s outputs and inputs; a malformed document makes the job broken."""
        try:
            self._outputs, self._inputs = parse()
            return True
        except JobDocumentError as exc:  # the parser checks every value: the message names file and key
            self._outputs, self._inputs = (), ()
            self.error = f"inputs/outputs are malformed: {exc}"
        except (KeyError, TypeError, ValueError, AttributeError, RecursionError, OverflowError) as exc:
            # a check the parser lacks: still a broken job, never a traceback; the exception's text
            # is not shown (it could quote any amount of the document)
            self._outputs, self._inputs = (), ()
            self.error = f"inputs/outputs are malformed: {self.uid}/job.json: unexpected content ({type(exc).__name__})"
        return False

    def forget_io(self) -> None:
        """Drop the parsed inputs/outputs of a job read from disk (read again when next used)."""
        if self._source is not None and self.error is None:
            self._outputs = self._inputs = None

    def refresh_summary(self, fresh: "Job") -> None:
        """Take the summary of a newer read of the same job.json (lineage is kept: the tree
        around it is not rebuilt)."""
        for name in SUMMARY_FIELDS:
            setattr(self, name, getattr(fresh, name))
        self._search = None

    def output(self, name: str) -> OutputGroup | None:
        return next((o for o in self.outputs if o.name == name), None)

    def input(self, name: str) -> InputGroup | None:
        return next((i for i in self.inputs if i.name == name), None)

"""Every result in the project that can fill one slot of the target, with what putting it there
would do: the rows its file holds, the rows the join on uid keeps in the slot's connection (the
same :func:`tui.core.preview.preview_connection` that export and validation use), and the fact a
scientist checks first (box and pixel size for a blob, the defocus range for a ctf…).

Listing is cheap (job documents only); measuring reads uid columns and a few fact columns,
cached by file, so the UI lists first and measures in a worker.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Callable, Iterator

from .errors import CsFileError, CsRebindError
from .facts import result_facts
from .jobread import reading_ahead
from .model import Binding, InputGroup, Job, OutputResult
from .preview import ConnectionPreview, preview_connection
from .refs import FINAL, ResultRef, SlotAddress
from .session import EditSession, descendants, incompatibility


@dataclass(frozen=True)
class Candidate:
    """One result (at its final version) that fits the slot; the join and fact once measured."""

    ref: ResultRef
    title: str
    status: str
    created_at: datetime | None
    passthrough: bool
    rows: int | None  # rows of the final version's file, as the job document records them
    current: bool  # the slot is bound to this result now
    measured: bool = False
    kept: int | None = None  # rows the join on uid would keep with this result in the slot
    total: int | None = None  # rows of the connection's own file
    unknown: str | None = None  # why the join could not be counted
    empty: str | None = None  # why the join would keep no row
    fact: str | None = None  # the first fact line (``box 452 px, 1.115 Å/px``)
    # The result as listed, until measured: measuring then reads no job document again (a search
    # lists every job's outputs, more than the parsed documents kept, and measures afterwards).
    result: OutputResult | None = field(default=None, compare=False, repr=False)

    @property
    def job(self) -> str:
        return self.ref.job

    @property
    def keeps_text(self) -> str:
        if not self.measured:
            return "…"
        if self.kept is None:
            return self.unknown or "rows unknown"
        return f"keeps {self.kept:,} of {self.total:,}" if self.total is not None else f"keeps {self.kept:,}"

    def to_json(self) -> dict:
        return {
            "ref": str(self.ref), "job": self.job, "title": self.title, "status": self.status,
            "created_at": self.created_at.isoformat() if self.created_at else None,
            "passthrough": self.passthrough, "rows": self.rows, "current": self.current,
            "kept": self.kept, "of": self.total, "unknown": self.unknown, "error": self.empty,
            "fact": self.fact,
        }


PROGRESS_EVERY = 256  # jobs read between two calls of list_candidates' progress


def list_candidates(session: EditSession, address: SlotAddress,
                    progress: Callable[[int, int], None] | None = None) -> list[Candidate]:
    """Every complete result of another usable job whose group type and dtype fit the slot,
    unmeasured, newest job first. Every job's outputs are read (50,000 jobs: seconds):
    ``progress(jobs read, jobs to read)`` is called every ``PROGRESS_EVERY`` jobs."""
    group, slot = check_slot(session, address)
    bound = session.binding(address)
    current = bound.ref.at(FINAL) if bound is not None else None
    jobs = list(_jobs_newest_first(session))
    found: list[Candidate] = []
    for done, job in enumerate(reading_ahead(jobs), 1):  # a network filesystem: read in parallel
        found.extend(
            _candidate(job, result, current)
            for output in job.outputs
            for result in output.results
            if result.complete and incompatibility(group, slot, result) is None
        )
        if progress is not None and done % PROGRESS_EVERY == 0:
            progress(done, len(jobs))
    return found


def measure(session: EditSession, address: SlotAddress, candidate: Candidate) -> Candidate:
    """The candidate with its join (as a put would leave the connection) and its first fact."""
    group = session.input(address.input)
    preview = _preview_with(session, group, address, candidate)
    fact = _first_fact(session, candidate)
    return replace(candidate, measured=True, kept=preview.kept, total=preview.total,
                   unknown=preview.unknown, empty=preview.empty, fact=fact, result=None)


def rank(candidates: list[Candidate]) -> list[Candidate]:
    """Most rows kept first (unknown last), then the newest job. Among equals, results of jobs
    that did not complete (failed, killed: their files may be partial) and the current binding
    (putting it again changes nothing) come last."""
    def key(c: Candidate):
        kept = c.kept if c.kept is not None else -1
        return (-kept, c.current, c.status != "completed", -_timestamp(c.created_at), -_job_number(c.job),
                c.ref.output, c.ref.result)

    return sorted(candidates, key=key)


def find_candidates(session: EditSession, address: SlotAddress) -> list[Candidate]:
    """Listed, measured and ranked: what ``csrebind candidates`` prints and the UI ends with."""
    return rank([measure(session, address, c) for c in list_candidates(session, address)])


# --- helpers ---------------------------------------------------------------------------------


def check_slot(session: EditSession, address: SlotAddress):
    """The input and slot at ``address``, or CsRebindError saying what is not there."""
    session.binding(address)  # refuses another job's slot and a connection that is not there
    group = session.input(address.input)
    slot = group.slot(address.slot)
    if slot is None:
        names = ", ".join(s.name for s in group.slots) or "none"
        raise CsRebindError(f"input {group.name} has no slot {address.slot!r}; its slots: {names}")
    return group, slot


def _jobs_newest_first(session: EditSession) -> Iterator[Job]:
    target = session.target.uid
    project = session.project
    excluded = descendants(project, target) | {target}  # itself and what is built on it: a cycle (read once)
    jobs = [j for j in project.jobs.values() if not j.broken and j.uid not in excluded]
    jobs.sort(key=lambda j: (_timestamp(j.created_at), j.number), reverse=True)
    return iter(jobs)


def _candidate(job: Job, result: OutputResult, current: ResultRef | None) -> Candidate:
    ref = result.ref()
    return Candidate(
        ref=ref, title=job.label, status=job.status, created_at=job.created_at,
        passthrough=result.passthrough, rows=result.rows_at("F"), current=ref == current, result=result,
    )


def _preview_with(session: EditSession, group: InputGroup, address: SlotAddress,
                  candidate: Candidate) -> ConnectionPreview:
    slot = group.slot(address.slot)
    connection = group.connections[address.connection]
    dtype = slot.dtype if slot is not None else ""
    updated = connection.with_binding(address.slot, Binding(address.slot, candidate.ref, dtype))
    connections = list(group.connections)
    connections[address.connection] = updated
    parsed = (candidate.result,) if candidate.result is not None else ()
    return preview_connection(session.project, group.with_connections(tuple(connections)), address.connection,
                              session.target.uid, parsed=parsed)


def _first_fact(session: EditSession, candidate: Candidate) -> str | None:
    project = session.project
    try:
        resolved = candidate.result.resolve(FINAL) if candidate.result is not None else project.resolve(candidate.ref)
        lines = result_facts(project.absolute(resolved.metafile), candidate.ref.result).lines()
    except (CsFileError, CsRebindError, OSError):
        return None  # the join's own message already says what cannot be read
    return lines[0] if lines else None


def _timestamp(when: datetime | None) -> float:
    return when.timestamp() if when else float("-inf")


def _job_number(uid: str) -> int:
    return int(uid[1:]) if uid[1:].isdigit() else -1

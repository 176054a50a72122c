"""The jobs pane's rows, computed once per change of the project (not per key press).

A project's jobs become a flat list of rows — a lineage tree walked depth first, or workspaces
each with their jobs — that a virtual list draws a screenful at a time. Each job sits under its
first parent and appears again, marked as a repeat, under each other parent. Lineage deeper than
``cap`` levels is shown flat, each such row naming its parent (a chain of thousands of jobs would
otherwise push every label off the pane). Folding and the filter work on these rows too.
"""

from __future__ import annotations

import heapq
from typing import Mapping, NamedTuple, Sequence

from .model import Job, Workspace

MAX_DEPTH = 8  # levels of lineage indented, at most


class JobRow(NamedTuple):
    """One line of the jobs pane: a job (``uid``) or a workspace heading (``uid`` None)."""

    uid: str | None
    depth: int  # levels of indentation, 0 at the top
    end: int  # index just past this row's subtree in the full list (folding skips to it)
    repeat: bool = False  # the job again, under another of its parents
    named_parent: str | None = None  # shown as ←PARENT: past the cap, not indented under it
    heading: str = ""  # a workspace heading's text
    guide: str = ""  # the tree's lines left of the row: "│ ├ " (a job row's last two columns say ├ or └)


class JobRows:
    """The rows of one view of a project, and which of them are folded away."""

    def __init__(self, rows: Sequence[JobRow], first_row: dict[str, int] | None = None) -> None:
        self.rows = rows
        if first_row is None:
            first_row = {}
            for index, row in enumerate(rows):
                if row.uid is not None and not row.repeat:
                    first_row.setdefault(row.uid, index)
        self.first_row = first_row
        self.folded: set[int] = set()
        self.visible: list[int] | None = None  # indices shown; None: every row (nothing folded)

    def __len__(self) -> int:
        return len(self.rows) if self.visible is None else len(self.visible)

    def row(self, line: int) -> JobRow:
        return self.rows[line if self.visible is None else self.visible[line]]

    def index(self, line: int) -> int:
        return line if self.visible is None else self.visible[line]

    def line_of(self, index: int) -> int | None:
        if self.visible is None:
            return index
        try:
            return self.visible.index(index)
        except ValueError:
            return None

    def foldable(self, index: int) -> bool:
        return self.rows[index].end > index + 1

    def is_folded(self, index: int) -> bool:
        return index in self.folded

    def fold(self, index: int, folded: bool) -> None:
        if folded == (index in self.folded) or not self.foldable(index):
            return
        (self.folded.add if folded else self.folded.discard)(index)
        self._show()

    def set_folded(self, indices: set[int]) -> None:
        self.folded = {i for i in indices if self.foldable(i)}
        self._show()

    def unfold_to(self, index: int) -> None:
        """Unfold every row whose subtree holds ``index`` (going to a job shows it)."""
        holders = [f for f in self.folded if f < index < self.rows[f].end]
        if holders:
            self.folded.difference_update(holders)
            self._show()

    def key(self, index: int) -> str:
        """What identifies a row across rebuilds: its job's uid, or a workspace heading."""
        row = self.rows[index]
        return row.uid if row.uid is not None else row.heading

    def parent_index(self, index: int) -> int | None:
        """The row this one is drawn under (for "collapse / to parent")."""
        depth = self.rows[index].depth
        for earlier in range(index - 1, -1, -1):
            row = self.rows[earlier]
            if row.depth < depth and row.end > index:
                return earlier
        return None

    def _show(self) -> None:
        if not self.folded:
            self.visible = None
            return
        shown, index, total = [], 0, len(self.rows)
        while index < total:
            shown.append(index)
            index = self.rows[index].end if index in self.folded else index + 1
        self.visible = shown


def lineage_rows(jobs: dict[str, Job], cap: int = MAX_DEPTH) -> JobRows:
    """Every job under its first parent (parents before children, uid order among siblings),
    repeated under its other parents; rows deeper than ``cap`` levels go beside their parent's
    row instead, naming it."""
    lineage = _Lineage(cap)
    for job in lineage_order(jobs):
        lineage.place(job)
    return lineage.rows()


class _Lineage:
    """The lineage tree being built, one job at a time in lineage order."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.top: list[tuple[str, bool, str | None]] = []
        self.kids: dict[str, list] = {}  # the rows under each job's first row
        self.holder: dict[str, list] = {}  # the list that holds each job's first row
        self.depth: dict[str, int] = {}  # of each job's first row, 0 at the top

    def place(self, job: Job) -> None:
        uid, parents, depth = job.uid, job.parents, self.depth
        shown = [p for p in (dict.fromkeys(parents) if len(parents) > 1 else parents) if p in depth and p != uid]
        if not shown:
            self.top.append((uid, False, None))
            self.holder[uid], depth[uid] = self.top, 0
            return
        for i, parent in enumerate(shown):
            level = depth[parent] + 1
            beside = level >= self.cap
            siblings = self.holder[parent] if beside else self.kids.setdefault(parent, [])
            siblings.append((uid, i > 0, parent if beside else None))
            if i == 0:
                self.holder[uid], depth[uid] = siblings, level - 1 if beside else level

    def rows(self) -> JobRows:
        return _flatten(self.top, self.kids)


class GrowingLineage:
    """The lineage rows of a project being read, asked for again as batches of jobs arrive.

    Jobs come in uid order and CryoSPARC numbers a job after its parents, so each batch nearly
    always just extends the tree built so far: only the walk that makes the rows is redone. From
    the first job out of that order on, every request builds from all the jobs (lineage_rows)."""

    def __init__(self, cap: int = MAX_DEPTH) -> None:
        self.jobs: dict[str, Job] = {}
        self._lineage: _Lineage | None = _Lineage(cap)  # None: the jobs are not in that order
        self._placed: set[str] = set()
        self._last = -1  # the highest job number placed
        self._awaited: set[str] = set()  # parents named before they were read

    def add(self, batch: list[Job]) -> None:
        for job in batch:
            self.jobs[job.uid] = job
            if self._lineage is not None and not self._extends(job):
                self._lineage = None

    def _extends(self, job: Job) -> bool:
        """Place ``job`` if that gives what lineage_rows would: numbered after every job so far
        (so after its parents read so far), and not a parent a job placed earlier waits for."""
        number = job.number
        if number <= self._last or job.uid in self._awaited:
            return False
        self._awaited.update(p for p in job.parents if p not in self._placed)
        self._placed.add(job.uid)
        self._last = number
        self._lineage.place(job)
        return True

    def rows(self, cap: int = MAX_DEPTH) -> JobRows:
        if self._lineage is not None and self._lineage.cap != cap:
            self._lineage = _Lineage(cap)
            for job in self.jobs.values():  # in uid order, as they came
                self._lineage.place(job)
        return lineage_rows(self.jobs, cap) if self._lineage is None else self._lineage.rows()


def lineage_order(jobs: dict[str, Job]) -> list[Job]:
    """Parents before children (uid order among the ready ones), so a tree can be built in one
    pass; jobs caught in a cycle come last, in uid order.

    CryoSPARC numbers a job after its parents, so uid order nearly always is that order already:
    checked in one pass, and only a project where it is not pays for the general ordering."""
    numbers = {uid: job.number for uid, job in jobs.items()}
    if all(numbers.get(p, -1) < numbers[uid] for uid, job in jobs.items() for p in job.parents):
        return sorted(jobs.values(), key=lambda job: (numbers[job.uid], job.uid))
    return _topological_order(jobs, numbers)


def _topological_order(jobs: dict[str, Job], numbers: dict[str, int]) -> list[Job]:
    waiting = {uid: {p for p in job.parents if p in jobs and p != uid} for uid, job in jobs.items()}
    children: dict[str, list[str]] = {}
    for uid, parents in waiting.items():
        for parent in parents:
            children.setdefault(parent, []).append(uid)
    ready = [(numbers[uid], uid) for uid, parents in waiting.items() if not parents]
    heapq.heapify(ready)
    ordered: list[Job] = []
    while ready:
        _, uid = heapq.heappop(ready)
        ordered.append(jobs[uid])
        for child in children.get(uid, ()):
            waiting[child].discard(uid)
            if not waiting[child]:
                heapq.heappush(ready, (numbers[child], child))
    placed = {job.uid for job in ordered}
    ordered.extend(job for uid, job in jobs.items() if uid not in placed)
    return ordered


def workspace_rows(jobs: dict[str, Job], workspaces: dict[str, Workspace]) -> JobRows:
    """A heading per workspace (those without a title by uid), its jobs under it in uid order;
    jobs in no workspace last."""
    groups: dict[str, list[str]] = {}
    for job in jobs.values():
        for workspace in job.workspaces or ("",):
            groups.setdefault(workspace, []).append(job.uid)
    rows: list[JobRow] = []
    for workspace in sorted(groups, key=lambda w: (w == "", int(w[1:]) if w[1:].isdigit() else 0, w)):
        known = workspaces.get(workspace)
        heading = f"{workspace} {known.title}" if known else (workspace or "(no workspace)")
        members = sorted(groups[workspace], key=lambda uid: jobs[uid].number)
        start = len(rows)
        rows.append(JobRow(None, 0, start + 1 + len(members), heading=heading))
        last = len(members) - 1
        rows.extend(JobRow(uid, 1, start + 2 + i, guide="└ " if i == last else "├ ") for i, uid in enumerate(members))
    return JobRows(rows)


class _Flat(Sequence):
    """Rows of a plain list of jobs, made when drawn (a filter's 50,000 matches cost nothing)."""

    def __init__(self, uids: list[str]) -> None:
        self.uids = uids

    def __len__(self) -> int:
        return len(self.uids)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self.uids)
        return JobRow(self.uids[index], 0, index + 1)


class _FlatIndex(Mapping):
    """uid → row of a flat list, looked up when asked (building a dict per keystroke cost more)."""

    def __init__(self, uids: list[str]) -> None:
        self.uids = uids

    def __getitem__(self, uid: str) -> int:
        try:
            return self.uids.index(uid)
        except ValueError:
            raise KeyError(uid) from None

    def __iter__(self):
        return iter(self.uids)

    def __len__(self) -> int:
        return len(self.uids)


def flat_rows(uids: list[str]) -> JobRows:
    """One row per job, in the order given (the filter's matches)."""
    return JobRows(_Flat(uids), _FlatIndex(uids))


class JobSearch:
    """The filter over a project's jobs: uid, title and type lower-cased once; a query holding the
    last one (the user typed on) looks only among the last one's matches."""

    def __init__(self, jobs: dict[str, Job]) -> None:
        self.uids = list(jobs)
        self.texts = [jobs[uid].search_text for uid in self.uids]
        self._last: tuple[str, list[int]] = ("", [])

    def find(self, query: str) -> list[str]:
        """Uids of the jobs whose uid, title or type holds ``query`` (any case), in uid order."""
        query = query.lower()
        if not query:
            return []
        last, found = self._last
        if query != last:
            texts = self.texts
            if last and last in query:
                found = [i for i in found if query in texts[i]]
            else:
                found = [i for i, text in enumerate(texts) if query in text]
            self._last = (query, found)
        uids = self.uids
        return [uids[i] for i in found]


def matching(jobs: dict[str, Job], query: str) -> list[str]:
    """Uids of the jobs whose uid, title or type holds ``query`` (any case), in uid order."""
    return JobSearch(jobs).find(query)


def _flatten(top: list, kids: dict[str, list]) -> JobRows:
    """Depth-first rows, with their guides; each row's ``end`` is known once its subtree is out."""
    rows: list[list] = []
    first_row: dict[str, int] = {}
    pending: list[list] = []  # rows whose subtree is still being written, outermost first
    stack = [(entry, 0, "", "") for entry in reversed(top)]  # (entry, depth, guide, children's prefix)
    while stack:
        (uid, repeat, named), level, guide, prefix = stack.pop()
        while pending and pending[-1][1] >= level:
            pending.pop()[2] = len(rows)
        row = [uid, level, len(rows) + 1, repeat, named, "", guide]
        children = None
        if not repeat:
            first_row[uid] = len(rows)
            children = kids.get(uid)
        rows.append(row)
        if children:
            pending.append(row)
            level += 1
            stack.append((children[-1], level, prefix + "└ ", prefix + "  "))
            if len(children) > 1:  # the guides of all but the last child, made once
                middle, below = prefix + "├ ", prefix + "│ "
                stack.extend([(child, level, middle, below) for child in reversed(children[:-1])])
    for row in pending:
        row[2] = len(rows)
    return JobRows(list(map(JobRow._make, rows)), first_row)

"""The edit session as a sequence of CryoSPARC connection calls.

This is what live apply runs and what the generated cryosparc-tools script contains, in the
order CryoSPARC needs: removals first (from the highest index down, so earlier indices stay
valid), then changes to existing connections, then new connections (``connect`` appends).

Two ways to change the connections of an input, chosen by what the installed cryosparc-tools
can call (:func:`tui.core.live.adapter.in_place_available`, which binds sample calls against the
real signatures):

in place   cryosparc-tools 5.x declares ``api.jobs.reconnect(project, job, input, index, …)``,
           which replaces connection N where it stands, and ``Job.disconnect(input, N)`` removes
           connection N alone. Replacing or removing connection N leaves every other connection
           (its index after the removals, its slots) alone.
rebuild    without ``reconnect`` a connection can only be appended: connection N and every later
           one are disconnected (highest index first) and connected again in order.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..model import Connection, InputGroup
from ..refs import ResultRef

KINDS = ("connect", "reconnect", "disconnect", "connect_result", "disconnect_result")


@dataclass(frozen=True)
class Operation:
    """One change to the target job. ``kind`` is the cryosparc-tools Job method name
    (``connect``, ``disconnect``, ``connect_result``, ``disconnect_result``) or ``reconnect``,
    the ``api.jobs`` endpoint that replaces connection ``connection`` in place."""

    kind: str
    input: str
    connection: int | None = None
    slot: str | None = None
    source: ResultRef | None = None  # connect_result
    source_job: str | None = None  # connect, reconnect
    source_output: str | None = None  # connect, reconnect

    def describe(self) -> str:
        if self.kind == "connect":
            return f"connect {self.source_job}.{self.source_output} to input {self.input} (new connection {self.connection})"
        if self.kind == "reconnect":
            return f"replace connection {self.input}.{self.connection} with {self.source_job}.{self.source_output} in place"
        if self.kind == "disconnect":
            return f"disconnect connection {self.input}.{self.connection}"
        if self.kind == "connect_result":
            return f"connect {self.source} to {self.input}.{self.connection}.{self.slot}"
        return f"clear {self.input}.{self.connection}.{self.slot}"


def operations(loaded: tuple[InputGroup, ...], current: tuple[InputGroup, ...], *,
                in_place: bool) -> list[Operation]:
    """The operations that turn ``loaded`` into ``current``: connections replaced and removed
    ``in_place``, or rebuilt (see the module docstring; ``adapter.planned_operations`` asks the
    installed cryosparc-tools which)."""
    before = {g.name: g for g in loaded}
    removals: list[Operation] = []
    edits: list[Operation] = []
    additions: list[Operation] = []
    for group in current:
        old = before[group.name].connections if group.name in before else ()
        plan = _in_place if in_place else _rebuild
        r, e, a = plan(group, old, group.connections)
        removals += r
        edits += e
        additions += a
    return removals + edits + additions


Steps = tuple[list[Operation], list[Operation], list[Operation]]


def _rebuild(group: InputGroup, old: tuple[Connection, ...], new: tuple[Connection, ...]) -> Steps:
    """Everything from the first connection whose source changed is rebuilt: without reconnect
    CryoSPARC can only append connections, so later indices are removed and connected again."""
    kept = _kept_prefix(old, new)
    removals = [Operation("disconnect", group.name, index) for index in range(len(old) - 1, kept - 1, -1)]
    edits: list[Operation] = []
    for index in range(kept):
        edits.extend(_slot_operations(group, index, old[index], new[index]))
    additions: list[Operation] = []
    for index in range(kept, len(new)):
        additions.extend(_fresh(group, index, new[index], "connect"))
    return removals, edits, additions


def _in_place(group: InputGroup, old: tuple[Connection, ...], new: tuple[Connection, ...]) -> Steps:
    """Removals by index, replacements with reconnect, appends with connect: the fewest calls
    that turn ``old`` into ``new`` (see :func:`_align`); untouched connections get no call."""
    matched, dropped = _align(group, old, new)
    removals = [Operation("disconnect", group.name, index) for index in sorted(dropped, reverse=True)]
    edits: list[Operation] = []
    for index, was in enumerate(matched):  # after the removals, old[was] sits at ``index``
        if _source(old[was]) == _source(new[index]):
            edits.extend(_slot_operations(group, index, old[was], new[index]))
        else:
            edits.extend(_fresh(group, index, new[index], "reconnect"))
    additions: list[Operation] = []
    for index in range(len(matched), len(new)):
        additions.extend(_fresh(group, index, new[index], "connect"))
    return removals, edits, additions


def _align(group: InputGroup, old: tuple[Connection, ...], new: tuple[Connection, ...]) -> tuple[list[int], list[int]]:
    """Which old connections stay (``matched[i]`` is the old index that becomes connection i,
    in order) and which are removed, at the fewest calls: a removal costs 1, a kept connection
    its slot calls, a replacement 1 + its slot calls, an append 1 + its slot calls. Connections
    can only be appended, so the new ones without an old partner are the last ones. Ties keep
    a connection rather than remove it."""
    n, m = len(old), len(new)
    fresh = [1 + len(_slot_operations(group, j, None, new[j])) for j in range(m)]
    appended = [0] * (m + 1)  # cost of appending new[j:]
    for j in range(m - 1, -1, -1):
        appended[j] = fresh[j] + appended[j + 1]

    def match(i: int, j: int) -> int:
        if _source(old[i]) == _source(new[j]):
            return len(_slot_operations(group, j, old[i], new[j])) if old[i] != new[j] else 0
        return fresh[j]

    # cost[i][j]: turning old[i:] into new[j:]
    cost = [[0] * (m + 1) for _ in range(n + 1)]
    keep = [[False] * (m + 1) for _ in range(n + 1)]
    cost[n] = appended[:]
    for i in range(n - 1, -1, -1):
        row, below = cost[i], cost[i + 1]
        for j in range(m, -1, -1):
            remove = 1 + below[j]
            if j < m:
                stay = match(i, j) + below[j + 1]
                if stay <= remove:
                    row[j], keep[i][j] = stay, True
                    continue
            row[j] = remove
    matched: list[int] = []
    dropped: list[int] = []
    j = 0
    for i in range(n):
        if keep[i][j]:
            matched.append(i)
            j += 1
        else:
            dropped.append(i)
    return matched, dropped


def _source(connection: Connection) -> tuple[str, str]:
    return connection.job, connection.output


def _kept_prefix(old: tuple[Connection, ...], new: tuple[Connection, ...]) -> int:
    kept = 0
    while kept < min(len(old), len(new)) and _source(old[kept]) == _source(new[kept]):
        kept += 1
    return kept


def _fresh(group: InputGroup, index: int, connection: Connection, kind: str) -> list[Operation]:
    """A new connection at ``index`` (``connect`` appends it, ``reconnect`` replaces the one there),
    then every slot set or cleared."""
    call = Operation(kind, group.name, index, source_job=connection.job, source_output=connection.output)
    return [call, *_slot_operations(group, index, None, connection)]


def _slot_operations(group: InputGroup, index: int, old: Connection | None, new: Connection) -> list[Operation]:
    """Slot calls that turn ``old`` into ``new``. For a fresh connection every slot is set or
    cleared explicitly, because the server's own slot matching is not documented."""
    found: list[Operation] = []
    names = [s.name for s in group.slots] + [b.slot for b in new.slot_bindings if group.slot(b.slot) is None]
    for name in names:
        wanted = new.binding(name)
        had = old.binding(name) if old is not None else None
        if wanted is not None and (old is None or had != wanted):
            found.append(Operation("connect_result", group.name, index, name, source=wanted.ref))
        elif wanted is None and (had is not None or old is None):
            found.append(Operation("disconnect_result", group.name, index, name))
    return found

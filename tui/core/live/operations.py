"""The edit session as a sequence of CryoSPARC connection calls.

This is what live apply runs and what the generated cryosparc-tools script contains, in the
order CryoSPARC needs: removals first (from the highest index down, so earlier indices stay
valid), then changes to existing connections, then new connections.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..model import Connection, InputGroup
from ..refs import ResultRef


@dataclass(frozen=True)
class Operation:
    """One call on the target job. ``kind`` is the cryosparc-tools Job method name:
    ``connect``, ``disconnect``, ``connect_result`` or ``disconnect_result``."""

    kind: str
    input: str
    connection: int | None = None
    slot: str | None = None
    source: ResultRef | None = None  # connect_result
    source_job: str | None = None  # connect
    source_output: str | None = None  # connect

    def describe(self) -> str:
        if self.kind == "connect":
            return f"connect {self.source_job}.{self.source_output} to input {self.input} (new connection {self.connection})"
        if self.kind == "disconnect":
            return f"disconnect connection {self.input}.{self.connection}"
        if self.kind == "connect_result":
            return f"connect {self.source} to {self.input}.{self.connection}.{self.slot}"
        return f"clear {self.input}.{self.connection}.{self.slot}"


def operations(loaded: tuple[InputGroup, ...], current: tuple[InputGroup, ...]) -> list[Operation]:
    before = {g.name: g for g in loaded}
    removals: list[Operation] = []
    edits: list[Operation] = []
    additions: list[Operation] = []
    for group in current:
        old = before[group.name].connections if group.name in before else ()
        new = group.connections
        kept = _kept_prefix(old, new)
        # Everything from the first connection whose source changed is rebuilt: CryoSPARC can
        # only append connections, so later indices must be removed and connected again.
        for index in range(len(old) - 1, kept - 1, -1):
            removals.append(Operation("disconnect", group.name, index))
        for index in range(kept):
            edits.extend(_slot_operations(group, index, old[index], new[index]))
        for index in range(kept, len(new)):
            additions.append(Operation("connect", group.name, index, source_job=new[index].job,
                                       source_output=new[index].output))
            additions.extend(_slot_operations(group, index, None, new[index]))
    return removals + edits + additions


def _kept_prefix(old: tuple[Connection, ...], new: tuple[Connection, ...]) -> int:
    kept = 0
    while kept < min(len(old), len(new)) and (old[kept].job, old[kept].output) == (new[kept].job, new[kept].output):
        kept += 1
    return kept


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

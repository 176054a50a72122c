"""The edit session: rebinding one target job's inputs, with unlimited undo and redo.

Pure: no I/O and no UI. The state is an immutable tuple of InputGroups, so undo keeps old
states by reference and always returns exactly to what was there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from .errors import EditError, PlanError, RefError
from .model import Binding, Connection, InputGroup, InputSlot, Job, OutputGroup, OutputResult
from .planfile import check_plan_header, plan_document, plan_state
from .project import Project
from .refs import FINAL, ResultRef, SlotAddress

EMPTY = "(empty)"


def incompatibility(input_group: InputGroup, slot: InputSlot, result: OutputResult) -> str | None:
    """Why ``result`` cannot fill ``slot`` (None when it can): group types must match and the
    result's dtype must equal the slot's; the names may differ."""
    if input_group.type == result.group_type and slot.dtype == result.dtype:
        return None
    return f"slot {slot.name} takes {input_group.type} {slot.dtype}, not {result.group_type} {result.dtype}"


def _with_index_reading(project: Project, binding: Binding, error: RefError) -> str:
    """A stored connection's integer version that is not a stored iteration: CryoSPARC 4.x's
    load_output reads it as a list index into the metafiles, csrebind by value; say both."""
    version = binding.ref.version
    try:
        versions = project.result(binding.ref).versions
    except RefError:
        return str(error)
    if isinstance(version, int) and version not in versions and 0 <= version < len(versions):
        return (f"{error}. Version {version} is not a stored iteration; as a list index (how CryoSPARC 4.x's "
                f"load_output reads it) it would be iteration {versions[version]}")
    return str(error)


def descendants(project: Project, uid: str) -> set[str]:
    """Every job built, directly or not, on ``uid``'s outputs."""
    found: set[str] = set()
    queue = [uid]
    while queue:
        job = project.jobs.get(queue.pop())
        for child in job.children if job is not None else ():
            if child not in found and child != uid:
                found.add(child)
                queue.append(child)
    return found


def lineage_conflict(project: Project, target: str, source: str) -> str | None:
    """Why ``target`` cannot take ``source``'s outputs (None when it can): a job is never
    connected to itself, nor to a job built on its own outputs (a cycle); cryosparc-tools and
    CryoSPARC refuse both."""
    if source == target:
        return f"{target} cannot take its own outputs: a job is never connected to itself"
    if source in descendants(project, target):
        return f"{source} is built on {target}'s outputs: connecting it to {target} would make a cycle"
    return None


@dataclass(frozen=True, slots=True)
class Change:
    """One difference between the loaded job and the session: a slot or a whole connection."""

    address: str
    before: str | None
    after: str | None

    def __str__(self) -> str:
        return f"{self.address}: {self.before or EMPTY} → {self.after or EMPTY}"


@dataclass(frozen=True, slots=True)
class Issue:
    severity: str  # "error" blocks applying; "warning" is advice
    message: str

    def __str__(self) -> str:
        return f"{self.severity}: {self.message}"


class EditSession:
    """Edits over one target job's inputs."""

    def __init__(self, project: Project, target: str | Job) -> None:
        self.project = project
        self.target = target if isinstance(target, Job) else project.usable_job(target)
        self.loaded: tuple[InputGroup, ...] = self.target.inputs
        self._state = self.loaded
        self._undo: list[tuple[InputGroup, ...]] = []
        self._redo: list[tuple[InputGroup, ...]] = []

    # --- state ---------------------------------------------------------------------------

    @property
    def inputs(self) -> tuple[InputGroup, ...]:
        return self._state

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def appliable(self) -> bool:
        """Only a job in ``building`` status can be changed in a live CryoSPARC."""
        return self.target.status == "building"

    def input(self, name: str) -> InputGroup:
        found = next((i for i in self._state if i.name == name), None)
        if found is None:
            names = ", ".join(i.name for i in self._state) or "none"
            raise RefError(f"{self.target.uid} has no input {name!r}; its inputs: {names}")
        return found

    def binding(self, address: SlotAddress | str) -> Binding | None:
        address = self._address(address)
        connection = self._connection(self.input(address.input), address)
        return connection.binding(address.slot)

    def _commit(self, new_state: tuple[InputGroup, ...]) -> None:
        self._undo.append(self._state)
        self._redo.clear()
        self._state = new_state

    def undo(self) -> bool:
        if not self._undo:
            return False
        self._redo.append(self._state)
        self._state = self._undo.pop()
        return True

    def retract(self, state: tuple[InputGroup, ...]) -> bool:
        """Take back the last edit, with no redo of it, if the inputs are still the ``state`` it
        made (a put refused once its join was read); False when anything changed since."""
        if self._state is not state or not self._undo:
            return False
        self._state = self._undo.pop()
        return True

    def redo(self) -> bool:
        if not self._redo:
            return False
        self._undo.append(self._state)
        self._state = self._redo.pop()
        return True

    def _replace_input(self, updated: InputGroup) -> tuple[InputGroup, ...]:
        return tuple(updated if i.name == updated.name else i for i in self._state)

    # --- edits ---------------------------------------------------------------------------

    def put(self, address: SlotAddress | str, ref: ResultRef | str) -> Change:
        """Bind one result (at a version) to one slot. Refused, with nothing changed, when the
        types do not match or the version is not stored."""
        address = self._address(address)
        ref = ResultRef.parse(ref) if isinstance(ref, str) else ref
        group = self.input(address.input)
        slot = self._slot(group, address)
        connection = self._connection(group, address)
        result = self.project.result(ref)
        reason = incompatibility(group, slot, result) or lineage_conflict(self.project, self.target.uid, ref.job)
        if reason:
            raise EditError(reason)
        if ref.version != FINAL:
            result.version_index(ref.version)  # raises RefError naming the stored versions
        before = connection.binding(slot.name)
        if before is not None and before.ref == ref:
            raise EditError(f"{address.local} is already {ref}")
        updated = connection.with_binding(slot.name, Binding(slot.name, ref, result.dtype))
        self._commit(self._replace_input(self._with_connection(group, address.connection, updated)))
        return Change(address.local, _ref_text(before), str(ref))

    def clear(self, address: SlotAddress | str) -> Change:
        address = self._address(address)
        group = self.input(address.input)
        slot = self._slot(group, address)
        connection = self._connection(group, address)
        before = connection.binding(slot.name)
        if before is None:
            raise EditError(f"{address.local} is already empty")
        updated = connection.with_binding(slot.name, None)
        self._commit(self._replace_input(self._with_connection(group, address.connection, updated)))
        return Change(address.local, str(before.ref), None)

    def put_group(self, input_name: str, job: str, output: str, connection: int | None = None) -> Change:
        """Connect a whole output group: as a new connection, or over connection ``connection``.
        Results are matched to slots by name, then by dtype; the rest become passthroughs."""
        group = self.input(input_name)
        source = self.project.output(job, output)
        if source.type != group.type:
            raise EditError(f"input {group.name} takes {group.type} outputs, not {source.type} ({job}.{output})")
        conflict = lineage_conflict(self.project, self.target.uid, job)
        if conflict:
            raise EditError(conflict)
        new = Connection(job, output, match_results(group.slots, source))
        connections = list(group.connections)
        if connection is None:
            connections.append(new)
            index, before = len(connections) - 1, None
        else:
            if not 0 <= connection < len(connections):
                raise RefError(f"input {group.name} has no connection {connection} (it has {len(connections)})")
            index, before = connection, connections[connection]
            connections[connection] = new
        self._commit(self._replace_input(group.with_connections(tuple(connections))))
        return Change(f"{group.name}.{index}", _connection_text(before), _connection_text(new))

    def remove_connection(self, input_name: str, index: int) -> Change:
        group = self.input(input_name)
        if not 0 <= index < len(group.connections):
            raise RefError(f"input {group.name} has no connection {index} (it has {len(group.connections)})")
        removed = group.connections[index]
        remaining = group.connections[:index] + group.connections[index + 1:]
        self._commit(self._replace_input(group.with_connections(remaining)))
        return Change(f"{group.name}.{index}", _connection_text(removed), None)

    def compatible_slots(self, ref: ResultRef) -> list[SlotAddress]:
        """Every slot that could take ``ref`` now (what the UI highlights while it is yanked)."""
        try:
            result = self.project.result(ref)
        except RefError:
            return []
        if lineage_conflict(self.project, self.target.uid, ref.job):
            return []
        return [
            SlotAddress(group.name, index, slot.name)
            for group in self._state
            for index in range(len(group.connections))
            for slot in group.slots
            if incompatibility(group, slot, result) is None
        ]

    def compatible_inputs(self, job: str, output: str) -> list[str]:
        try:
            source = self.project.output(job, output)
        except RefError:
            return []
        if lineage_conflict(self.project, self.target.uid, job):
            return []
        return [g.name for g in self._state if g.type == source.type]

    # --- helpers -------------------------------------------------------------------------

    def _address(self, address: SlotAddress | str) -> SlotAddress:
        if isinstance(address, str):
            address = SlotAddress.parse(address)
        if address.job and address.job != self.target.uid:
            raise RefError(f"{address} is a slot of {address.job}, but the target is {self.target.uid}")
        return address

    @staticmethod
    def _slot(group: InputGroup, address: SlotAddress) -> InputSlot:
        slot = group.slot(address.slot)
        if slot is None:
            names = ", ".join(s.name for s in group.slots) or "none"
            raise RefError(f"input {group.name} has no slot {address.slot!r}; its slots: {names}")
        return slot

    @staticmethod
    def _connection(group: InputGroup, address: SlotAddress) -> Connection:
        if not 0 <= address.connection < len(group.connections):
            count = len(group.connections)
            hint = "connect an output group first (P)" if count == 0 else f"it has connections 0–{count - 1}"
            raise RefError(f"input {group.name} has no connection {address.connection}; {hint}")
        return group.connections[address.connection]

    @staticmethod
    def _with_connection(group: InputGroup, index: int, connection: Connection) -> InputGroup:
        connections = list(group.connections)
        connections[index] = connection
        return group.with_connections(tuple(connections))

    # --- review --------------------------------------------------------------------------

    def changes(self) -> list[Change]:
        """Every difference from the job as loaded, slot by slot."""
        loaded = {g.name: g for g in self.loaded}
        found: list[Change] = []
        for group in self._state:
            found.extend(diff_input(loaded.get(group.name), group))
        return found

    @property
    def dirty(self) -> bool:
        return self._state != self.loaded

    def validate(self) -> list[Issue]:
        issues: list[Issue] = []
        if not self.appliable:
            issues.append(Issue(
                "warning",
                f"{self.target.uid} is {self.target.status or 'of unknown status'}: edits are a draft; "
                "only a job in building status can be changed in a live CryoSPARC (export still works)",
            ))
        for group in self._state:
            issues.extend(self._validate_input(group))
        return issues

    def _validate_input(self, group: InputGroup) -> Iterable[Issue]:
        count = len(group.connections)
        if count < group.count_min:
            yield Issue("error", f"input {group.name} needs at least {group.count_min} connection(s); it has {count}")
        if group.count_max is not None and count > group.count_max:
            yield Issue("error", f"input {group.name} takes at most {group.count_max} connection(s); it has {count}")
        sources = [(c.job, c.output) for c in group.connections]
        if not group.repeat_allowed and len(set(sources)) < len(sources):
            yield Issue("error", f"input {group.name} connects the same output twice, which it does not allow")
        for index, connection in enumerate(group.connections):
            yield from self._validate_connection(group, index, connection)

    def _validate_connection(self, group: InputGroup, index: int, connection: Connection) -> Iterable[Issue]:
        for slot in group.slots:
            binding = connection.binding(slot.name)
            where = f"{group.name}.{index}.{slot.name}"
            if binding is None:
                if slot.required:
                    yield Issue("error", f"{where}: required slot is empty")
                continue
            try:
                result = self.project.result(binding.ref)
                reason = incompatibility(group, slot, result)
                if reason:
                    yield Issue("error", f"{where}: {reason}")
                    continue
                result.resolve(binding.ref.version)
            except RefError as exc:
                yield Issue("error", f"{where}: {_with_index_reading(self.project, binding, exc)}")
                continue
        # Rows lost to the join on uid are counted from the files (tui.core.preview.join_issues).
        for binding in connection.passthrough:
            try:
                self.project.resolve(binding.ref)
            except RefError as exc:
                yield Issue("warning", f"{group.name}.{index} passthrough: {_with_index_reading(self.project, binding, exc)}")

    # --- plans ---------------------------------------------------------------------------

    def to_plan(self) -> dict[str, Any]:
        """The session as a plan document (format: :mod:`tui.core.planfile`)."""
        return plan_document(self.project, self.target, self._state, self.changes())

    def load_plan(self, plan: Any) -> list[Change]:
        """Replace the session state with a plan's (one undoable step)."""
        state = plan_state(self.project, self.target, plan)
        self._commit(state)
        return self.changes()

    @classmethod
    def from_plan(cls, project: Project, plan: Any) -> "EditSession":
        check_plan_header(plan)
        target = plan.get("target")
        if not isinstance(target, str):
            raise PlanError("plan has no target job")
        try:
            session = cls(project, target)
        except RefError as exc:
            raise PlanError(f"plan target: {exc}") from None
        session.load_plan(plan)
        return session


def match_results(slots: tuple[InputSlot, ...], source: OutputGroup) -> tuple[Binding, ...]:
    """Fill slots from an output group as CryoSPARC does on a group connect: the result with
    the slot's name and dtype, else the first unused result of that dtype. The others pass through."""
    unused = list(source.results)
    bound: list[Binding] = []
    for slot in slots:
        pick = next((r for r in unused if r.name == slot.name and r.dtype == slot.dtype), None)
        pick = pick or next((r for r in unused if r.dtype == slot.dtype), None)
        if pick is not None:
            unused.remove(pick)
            bound.append(Binding(slot.name, pick.ref(FINAL), pick.dtype))
    passthrough = [Binding(None, r.ref(FINAL), r.dtype) for r in unused]
    return tuple(bound + passthrough)


def diff_input(before: InputGroup | None, after: InputGroup) -> list[Change]:
    old = before.connections if before else ()
    found: list[Change] = []
    for index in range(max(len(old), len(after.connections))):
        a = old[index] if index < len(old) else None
        b = after.connections[index] if index < len(after.connections) else None
        if a == b:
            continue
        where = f"{after.name}.{index}"
        if a is None or b is None or (a.job, a.output) != (b.job, b.output):
            found.append(Change(where, _connection_text(a), _connection_text(b)))
            if a is None or b is None:
                continue
        for slot in _slot_names(a, b):
            x, y = a.binding(slot), b.binding(slot)
            if x != y:
                found.append(Change(f"{where}.{slot}", _ref_text(x), _ref_text(y)))
        if set(a.passthrough) != set(b.passthrough):
            found.append(Change(f"{where} passthrough", _refs_text(a.passthrough), _refs_text(b.passthrough)))
    return found


def _slot_names(a: Connection, b: Connection) -> list[str]:
    names = [x.slot for x in a.slot_bindings]
    return names + [x.slot for x in b.slot_bindings if x.slot not in names]  # type: ignore[misc]


def _ref_text(binding: Binding | None) -> str | None:
    return str(binding.ref) if binding else None


def _refs_text(bindings: tuple[Binding, ...]) -> str | None:
    return ", ".join(sorted(str(b.ref) for b in bindings)) or None


def _connection_text(connection: Connection | None) -> str | None:
    return f"{connection.job}.{connection.output}" if connection else None

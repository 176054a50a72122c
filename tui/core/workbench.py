"""The state of an editing session over one project, with no terminal attached: an edit
session per target job, the register (a result or a whole output group), the versions picked
in the outputs pane, what has been written out, and the journal.

The UI keeps widgets and calls these methods; every edit returns the message to show, and
every refusal is a :class:`CsRebindError` whose text is shown as it is.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .errors import CsRebindError, PlanError
from .journal import JournalSnapshot, JournalWriter
from .model import InputGroup, OutputResult
from .planfile import plan_document, plan_state
from .project import Project
from .refs import FINAL, OutputRef, ResultRef, SlotAddress, Version, check_job_uid
from .session import Change, EditSession, diff_input

PickKey = tuple[str, str, str]
ROUTES = ("plan", "script", "export", "apply")  # how edits get written out
Register = ResultRef | OutputRef | None


def pick_key(result: OutputResult) -> PickKey:
    return (result.job, result.output, result.name)


class Workbench:
    def __init__(self, project: Project, journal: JournalWriter | None = None) -> None:
        self.project = project
        self.journal = journal if journal is not None else JournalWriter(project.path)
        self.sessions: dict[str, EditSession] = {}
        # per target, per route (ROUTES): the inputs that route last wrote out
        self.written: dict[str, dict[str, tuple[InputGroup, ...]]] = {}
        self.target: str | None = None
        self.register: Register = None
        self.picks: dict[PickKey, Version] = {}
        self.write_folder: Path | None = None  # the folder last written to: the next write proposes it

    # --- target ------------------------------------------------------------------------

    @property
    def session(self) -> EditSession | None:
        return self.sessions.get(self.target) if self.target else None

    def require_session(self) -> EditSession:
        session = self.session
        if session is None:
            raise CsRebindError("no target job: highlight a job and press t")
        return session

    def session_for(self, uid: str) -> EditSession:
        if uid not in self.sessions:
            self.sessions[uid] = EditSession(self.project, uid)
        return self.sessions[uid]

    def set_target(self, uid: str) -> str:
        session = self.session_for(uid)
        self.target = uid
        if not session.appliable:
            return f"target {uid} is {session.target.status}: a draft (export works; not appliable live)"
        return f"target {uid} {session.target.label}"

    def choose_target(self, text: str) -> str:
        """``:target JOB``: a typed uid, checked before it becomes the target."""
        uid = check_job_uid(text)
        self.project.usable_job(uid)
        return self.set_target(uid)

    def open_plan(self, plan: Any, route: str | None = "plan") -> EditSession:
        """Load a plan into its target's session and target it. A plan file is the edits written
        out (``route`` "plan"); a journaled session is not (``restore``)."""
        target = str(plan.get("target")) if isinstance(plan, dict) else ""
        session = self.session_for(target)
        session.load_plan(plan)
        self.target = target
        if route is not None:
            self.mark_written(target, route)
        return session

    def restore(self, entry: Any) -> EditSession:
        """Load a journaled session (``journal_snapshot``) with what its routes had written out.
        The journal is untrusted: a malformed entry is refused as a PlanError, never a traceback."""
        try:
            session = self.open_plan(entry, route=None)
        except (TypeError, AttributeError, ValueError, KeyError) as exc:
            raise PlanError(f"malformed session ({type(exc).__name__}: {exc})") from None
        written = entry.get("written")
        for route, inputs in (written.items() if isinstance(written, dict) else ()):
            if route in ROUTES and isinstance(inputs, list):
                try:
                    state = plan_state(self.project, session.target, {**entry, "inputs": inputs})
                except (CsRebindError, TypeError, AttributeError, ValueError, KeyError):
                    continue  # a damaged record only makes the edits count as unwritten
                self.written.setdefault(session.target.uid, {})[route] = state
        return session

    # --- register and picked versions ----------------------------------------------------

    def pick(self, result: OutputResult) -> Version:
        return self.picks.get(pick_key(result), FINAL)

    def picked_ref(self, result: OutputResult) -> ResultRef:
        return result.ref(self.pick(result))

    def set_pick(self, result: OutputResult, version: Version) -> str:
        if version != FINAL:
            result.version_index(version)  # raises with the stored versions listed
        self.picks[pick_key(result)] = version
        return f"picked {result.ref(version).short}"

    def step_pick(self, result: OutputResult, step: int) -> str:
        return self.set_pick(result, result.step_version(self.pick(result), step))

    # --- the version of a slot's binding (v, [ and ] on the inputs pane) -------------------------

    def slot_binding(self, address: SlotAddress) -> tuple[ResultRef, OutputResult]:
        """The highlighted slot's bound reference and its result, or why its version cannot change."""
        binding = self.require_session().binding(address)
        if binding is None:
            raise CsRebindError(f"{address.local} is empty: put a result into it first (p, or c for candidates)")
        result = self.project.result(binding.ref)
        if not result.complete:
            raise CsRebindError(f"{binding.ref}: the result has no stored versions")
        return binding.ref, result

    def set_slot_version(self, address: SlotAddress, version: Version) -> str:
        """Bind the slot's result at ``version`` (an undoable edit, like a put)."""
        ref, _ = self.slot_binding(address)
        return str(self.require_session().put(address, ref.at(version)))

    def step_slot_version(self, address: SlotAddress, step: int) -> str:
        ref, result = self.slot_binding(address)
        version = result.step_version(ref.version, step)
        if version == ref.version:
            end = "oldest" if step < 0 else "newest (F)"
            raise CsRebindError(f"{address.local} is already at the {end} version of {ref.at(FINAL).short}")
        return self.set_slot_version(address, version)

    def yank(self, result: OutputResult) -> None:
        self.register = self.picked_ref(result)

    def yank_group(self, job: str, output: str) -> None:
        self.register = OutputRef(job, output)

    def yank_text(self, text: str) -> None:
        """``:yank J5.particles.blob[.V]`` (a result) or ``:yank J5.particles`` (a group)."""
        parts = text.split(".")
        if len(parts) == 2:
            group = self.project.output(check_job_uid(parts[0]), parts[1])
            self.register = OutputRef(group.job, group.name)
            return
        ref = ResultRef.parse(text)
        result = self.project.result(ref)  # raises when the job, output or result is unknown
        if ref.version != FINAL:
            result.version_index(ref.version)  # raises listing the stored versions
        self.register = ref

    def clear_register(self) -> None:
        self.register = None

    def register_text(self) -> str:
        if isinstance(self.register, OutputRef):
            return f"yanked group {self.register}"
        return f"yanked {self.register}" if self.register else ""

    def compatible(self) -> tuple[set[str], set[str]]:
        """What the register fits on the target: (slot addresses, input names)."""
        session = self.session
        if session is None:
            return set(), set()
        if isinstance(self.register, ResultRef):
            return {a.local for a in session.compatible_slots(self.register)}, set()
        if isinstance(self.register, OutputRef):
            return set(), set(session.compatible_inputs(self.register.job, self.register.output))
        return set(), set()

    # --- edits (each returns the message to show) --------------------------------------------

    def put(self, address: SlotAddress) -> str:
        self.require_session()  # "no target" comes before what the register holds
        if not isinstance(self.register, ResultRef):
            what = "a group (use P)" if isinstance(self.register, OutputRef) else "nothing"
            raise CsRebindError(f"the register holds {what}; yank a result with y first")
        return self.put_result(address, self.register)

    def put_result(self, address: SlotAddress, ref: ResultRef) -> str:
        """Put ``ref`` itself (a candidate picked from a list), leaving the register as it is."""
        return str(self.require_session().put(address, ref))

    def connect(self, input_name: str, index: int | None) -> str:
        session = self.require_session()
        register = self.register
        if isinstance(register, ResultRef):
            register = OutputRef(register.job, register.output)
        if register is None:
            raise CsRebindError("the register is empty; yank an output group with Y first")
        return str(session.put_group(input_name, register.job, register.output, index))

    def clear(self, address: SlotAddress) -> str:
        return str(self.require_session().clear(address))

    def retract(self, uid: str, state: tuple[InputGroup, ...]) -> bool:
        """Take back an edit of ``uid``'s session that left ``state`` (see EditSession.retract)."""
        session = self.sessions.get(uid)
        return session is not None and session.retract(state)

    def undo(self) -> str:
        session = self.require_session()
        if not session.undo():
            raise CsRebindError("nothing to undo: this is the job as loaded")
        return f"undone · {len(session.changes())} pending edit(s)"

    def redo(self) -> str:
        session = self.require_session()
        if not session.redo():
            raise CsRebindError("nothing to redo")
        return f"redone · {len(session.changes())} pending edit(s)"

    def export_input_name(self, current_input: str | None) -> str:
        """The input to export: the one under the cursor, else the first with edits, else the first."""
        session = self.require_session()
        if current_input:
            return current_input
        changed = [g.name for g, loaded in zip(session.inputs, session.loaded) if g != loaded]
        if changed:
            return changed[0]
        if not session.inputs:
            raise CsRebindError(f"{session.target.uid} has no inputs to export")
        return session.inputs[0].name

    # --- written out, unsaved, journal -------------------------------------------------------

    def mark_written(self, uid: str, route: str, input_name: str | None = None) -> None:
        """Record what ``route`` wrote: the whole session (plan, script, apply), or one input of
        it (an export), over what that route wrote before."""
        if route not in ROUTES:
            raise ValueError(f"unknown route {route!r}")
        session = self.sessions[uid]
        routes = self.written.setdefault(uid, {})
        if input_name is None:
            routes[route] = session.inputs
        else:
            done = session.input(input_name)
            routes[route] = tuple(done if g.name == input_name else g for g in routes.get(route, session.loaded))

    def unwritten(self, session: EditSession) -> list[Change]:
        """The session's edits that no route has written out (each route's last write counts)."""
        edits = session.changes()
        written = self.written.get(session.target.uid, {}).values()
        if not edits or session.inputs in written:
            return []
        done = {change for state in written for change in changes_between(session.loaded, state)}
        return [c for c in edits if c not in done]

    def unsaved(self, session: EditSession) -> bool:
        """Edits written out by no plan, script, export or apply."""
        return bool(self.unwritten(session))

    def unsaved_targets(self) -> list[str]:
        return [uid for uid, s in self.sessions.items() if self.unsaved(s)]

    def unsaved_edits(self) -> int:
        return len(self.unwritten_edits())

    def unwritten_edits(self) -> list[tuple[str, Change]]:
        """(target, edit) for every edit of every session that no route has written out."""
        return [(uid, c) for uid, s in self.sessions.items() for c in self.unwritten(s)]

    def journal_snapshot(self) -> JournalSnapshot:
        """Every session with edits, written out or not (a dropped connection after an export
        loses nothing), with what each route wrote; taken now, ``journal.write`` it in a worker."""
        return self.journal.snapshot([self._journal_entry(s) for s in self.sessions.values() if s.dirty])

    def _journal_entry(self, session: EditSession) -> dict[str, Any]:
        entry = session.to_plan()
        written = {}
        for route, state in self.written.get(session.target.uid, {}).items():
            changed = [g for g, loaded in zip(state, session.loaded) if g != loaded]
            if changed:  # only the inputs a route changed: plan_state keeps the others as loaded
                written[route] = plan_document(self.project, session.target, changed, ())["inputs"]
        if written:
            entry["written"] = written
        return entry


def changes_between(loaded: tuple[InputGroup, ...], state: tuple[InputGroup, ...]) -> set[Change]:
    """The edits that turn ``loaded`` into ``state`` (as EditSession.changes lists them)."""
    before = {g.name: g for g in loaded}
    return {c for group in state for c in diff_input(before.get(group.name), group)}

"""The main screen: three panes, details, status bar. It owns the UI state (edit sessions per
target, the register, picked versions) and turns keys into calls on the core."""

from __future__ import annotations

import gc
import threading
from dataclasses import dataclass
from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, ProgressBar
from textual.worker import get_current_worker

from ...core.commands import Command, CommandError, parse_command
from ...core.errors import CsRebindError
from ...core.journal import clear_journal, load_journal, save_journal
from ...core.model import OutputResult
from ...core.project import Project, finish_loading, open_project, read_job_batches
from ...core.refs import FINAL, ResultRef, SlotAddress, Version, check_job_uid, parse_version
from ...core.session import EditSession
from ..keys import bindings
from ..messages import FilterDone, JobHighlighted, JobsRead, ProjectOpened, ProjectRead, ResultHighlighted, SlotHighlighted
from ..widgets.details import DetailsPane, details_text
from ..widgets.inputs import InputsTree
from ..widgets.jobs import JobsPane
from ..widgets.outputs import OutputsTree, pick_key
from ..widgets.status import StatusBar
from .dialogs import CommandLine, Confirm, VersionPicker
from .help import HelpScreen

PANES = ("jobs", "outputs", "inputs")


@dataclass(frozen=True)
class GroupYank:
    """A whole output group in the register (Y)."""

    job: str
    output: str

    def __str__(self) -> str:
        return f"{self.job}.{self.output}"


class MainScreen(Screen):
    BINDINGS = bindings("main")

    def __init__(self, project_path: Path, plan: dict | None = None) -> None:
        super().__init__()
        self.project_path = project_path
        self.initial_plan = plan
        self.project: Project | None = None
        self.loaded = False  # every job read and the target chosen
        self.details_ref: ResultRef | None = None  # what the details pane is showing
        self.status_slot: SlotAddress | None = None  # the slot the status bar describes
        self.status_job: str | None = None
        self.journal_lock = threading.Lock()
        self.journal_generation = 0
        self.journal_written: float = 0
        self.sessions: dict[str, EditSession] = {}
        self.saved_states: dict[str, tuple] = {}
        self.target: str | None = None
        self.register: ResultRef | GroupYank | None = None
        self.picks: dict[tuple[str, str, str], Version] = {}
        self.by_workspace = False
        self.matches: list[str] = []
        self.match_index = 0

    # --- layout --------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        with Horizontal(id="panes"):
            jobs = JobsPane(id="jobs")
            jobs.border_title = "1 Jobs"
            yield jobs
            outputs = OutputsTree(id="outputs")
            outputs.border_title = "2 Outputs"
            yield outputs
            inputs = InputsTree(id="inputs")
            inputs.border_title = "3 Inputs"
            yield inputs
        details = DetailsPane(id="details")
        details.border_title = "Details"
        yield details
        with Vertical(id="bottom"):
            yield ProgressBar(total=1, id="loading", show_eta=False)  # a known total: no animation stealing the GIL from the reader
            yield StatusBar(id="status")
            yield Footer(compact=True)

    @property
    def jobs_pane(self) -> JobsPane:
        return self.query_one(JobsPane)

    @property
    def outputs(self) -> OutputsTree:
        return self.query_one(OutputsTree)

    @property
    def inputs(self) -> InputsTree:
        return self.query_one(InputsTree)

    @property
    def status(self) -> StatusBar:
        return self.query_one(StatusBar)

    @property
    def session(self) -> EditSession | None:
        return self.sessions.get(self.target) if self.target else None

    # --- loading -------------------------------------------------------------------------

    def on_mount(self) -> None:
        self.load_project()

    def on_resize(self, event) -> None:
        self.set_class(event.size.height < 30, "short")

    @work(thread=True, exclusive=True, group="load")
    def load_project(self) -> None:
        """Read the project in batches; each batch is shown as it arrives (post_message does not
        wait for the UI thread, so reading is not slowed by drawing)."""
        worker = get_current_worker()
        try:
            project = open_project(self.project_path)
            self.post_message(ProjectOpened(project))
            for batch, done, total in read_job_batches(project):
                if worker.is_cancelled:
                    return
                self.post_message(JobsRead(batch, done, total))
        except CsRebindError as exc:
            self.app.call_from_thread(self._load_failed, str(exc))
            return
        self.post_message(ProjectRead(load_journal(project.path)))

    def _load_failed(self, message: str) -> None:
        self.app.exit(return_code=1, message=f"csrebind: {message}")

    @on(ProjectOpened)
    def _opened(self, event: ProjectOpened) -> None:
        self.project = event.project
        self.jobs_pane.project = event.project
        self.jobs_pane.tree.reset()
        self.jobs_pane.tree.focus()
        self.jobs_pane.border_title = f"1 Jobs · {event.project.uid} · reading…"

    @on(JobsRead)
    def _jobs_read(self, event: JobsRead) -> None:
        self.project.jobs.update((job.uid, job) for job in event.jobs)
        tree = self.jobs_pane.tree
        first_batch = tree.cursor_node is None
        tree.add_jobs(event.jobs)
        if first_batch and tree.root.children:
            tree.move_cursor_to_line(0)
        self.query_one("#loading", ProgressBar).update(total=event.total, progress=event.done)
        self.jobs_pane.border_title = f"1 Jobs · {self.project.uid} · {event.done}/{event.total}"

    @on(ProjectRead)
    def _loaded(self, event: ProjectRead) -> None:
        project = finish_loading(self.project)
        self.query_one("#loading").display = False
        tree = self.jobs_pane.tree
        if tree.needs_rebuild(project) or not tree.root.children:
            tree.populate(project, self.by_workspace)
        building = project.most_recent_building()
        if building is not None:
            self.set_target(building.uid)
        else:
            self.refresh_inputs()
        if event.journal:
            self._offer_restore(event.journal)  # opens the initial plan, if any, afterwards
        elif self.initial_plan is not None:
            self.open_plan(self.initial_plan)
        if not (self.target and tree.go_to(self.target)) and tree.root.children:
            tree.move_cursor_to_line(0)
        for warning in project.warnings:
            self.app.notify(warning, severity="warning", timeout=8)
        self.jobs_pane.border_title = f"1 Jobs · {project.uid} · {len(project.jobs)}"
        # The project and its tree live as long as the app: keep them out of every later
        # garbage collection, whose full passes over thousands of jobs would stall key presses.
        gc.freeze()
        self.loaded = True

    def _offer_restore(self, journal: list[dict]) -> None:
        targets = ", ".join(str(p.get("target")) for p in journal)
        question = f"Unsaved edits from an earlier session were found ({targets}). Restore them?"

        def answered(restore: bool | None) -> None:
            if restore:
                for plan in journal:
                    self.open_plan(plan, quiet=True)
                self.say(f"restored unsaved edits for {targets}")
            else:
                self.discard_journal()
                self.journal_written = 0  # later edits are journaled again
            if self.initial_plan is not None:
                self.open_plan(self.initial_plan)

        self.app.push_screen(Confirm(question), answered)

    def open_plan(self, plan: dict, quiet: bool = False) -> None:
        assert self.project is not None
        try:
            target = str(plan.get("target"))
            session = self._session_for(target)
            session.load_plan(plan)
        except CsRebindError as exc:
            self.say(f"plan not loaded: {exc}", error=True)
            return
        self.set_target(target)
        self.after_edit(None if quiet else f"plan loaded: {len(session.changes())} change(s) against {target}")

    # --- message handlers ----------------------------------------------------------------

    @on(JobHighlighted)
    def _job_highlighted(self, event: JobHighlighted) -> None:
        if event.uid != self.status_job:  # moved to another job: drop the last message
            self.status_job = event.uid
            self.status.clear_message()
        job = self.project.jobs.get(event.uid) if (self.project and event.uid) else None
        wanted = {g.type for g in self.session.inputs} if self.session else None
        self.outputs.show_job(job, self.picks, wanted)
        self.outputs.border_title = f"2 Outputs of {job.uid}" if job else "2 Outputs"
        self.show_note()

    @on(ResultHighlighted)
    def _result_highlighted(self, event: ResultHighlighted) -> None:
        if event.result is not self.outputs.current_result:
            return  # stale: the outputs pane has moved on (e.g. another job was highlighted since)
        if event.result is not None:
            self.show_details(event.result.ref(self.picks.get(pick_key(event.result), FINAL)))
        elif event.group is not None:
            self.show_note(Text(f"{event.group.job}.{event.group.name}: {event.group.title}"))

    @on(SlotHighlighted)
    def _slot_highlighted(self, event: SlotHighlighted) -> None:
        if event.address != self.status_slot:  # moved: the slot's binding replaces the last message
            self.status_slot = event.address
            self.status.clear_message()
        self.refresh_status()
        if event.address is not None and event.address == self.inputs.current_slot:  # else stale
            self.show_slot(event.address)

    @on(FilterDone)
    def _filter_done(self, event: FilterDone) -> None:
        self.matches = event.matches
        self.match_index = 0
        if event.uid:
            self.match_index = event.matches.index(event.uid) if event.uid in event.matches else 0
            self.jobs_pane.tree.go_to(event.uid)
            self.say(f"{len(event.matches)} match(es); n / N for next / previous")

    # --- details (header reads run in a worker) ------------------------------------------

    def show_note(self, text: Text | str = "") -> None:
        """Details that are not a result's; a header read still running for one is dropped."""
        self.details_ref = None
        self.query_one(DetailsPane).show(text)

    def show_slot(self, address: SlotAddress) -> None:
        """Details of what a slot of the target is bound to (or that it is empty)."""
        binding = self.session.binding(address) if self.session else None
        if binding is not None:
            self.show_details(binding.ref)
        else:
            self.show_note(Text(f"{address.local} is empty", style="dim"))

    def show_details(self, ref: ResultRef) -> None:
        self.details_ref = ref
        if self.project is None:
            return
        try:
            resolved = self.project.resolve(ref)
        except CsRebindError as exc:
            self.query_one(DetailsPane).show(Text(f"{ref}: {exc}", style="red"))
            return
        self.query_one(DetailsPane).show(details_text(resolved, None, None))
        self.read_header(resolved)

    @work(thread=True, exclusive=True, group="details")
    def read_header(self, resolved) -> None:
        from ...core.csfile import read_header

        try:
            header, problem = read_header(self.project.absolute(resolved.metafile)), None
        except CsRebindError as exc:
            header, problem = None, str(exc)
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._show_header, resolved, header, problem)

    def _show_header(self, resolved, header, problem) -> None:
        if self.details_ref == resolved.ref:  # still the highlighted result
            self.query_one(DetailsPane).show(details_text(resolved, header, problem))

    # --- status --------------------------------------------------------------------------

    def say(self, message: str, error: bool = False) -> None:
        self.status.say(message, error)
        if error:
            self.app.bell()

    def refresh_status(self) -> None:
        status = self.status
        if isinstance(self.register, GroupYank):
            status.register = f"yanked group {self.register}"
        else:
            status.register = f"yanked {self.register}" if self.register else ""
        session = self.session
        status.edits = len(session.changes()) if session else 0
        address = self.inputs.current_slot
        if session is not None and address is not None:
            binding = session.binding(address)
            status.slot = f"{address.local} = {binding.ref if binding else '(empty)'}"
        else:
            status.slot = f"target {self.target}" if self.target else "no target (t on a job)"

    def refresh_inputs(self) -> None:
        session = self.session
        compatible: set[str] = set()
        compatible_inputs: set[str] = set()
        if session is not None and isinstance(self.register, ResultRef):
            compatible = {a.local for a in session.compatible_slots(self.register)}
        elif session is not None and isinstance(self.register, GroupYank):
            compatible_inputs = set(session.compatible_inputs(self.register.job, self.register.output))
        self.inputs.show(session, compatible, compatible_inputs)
        if session is None:
            self.inputs.border_title = "3 Inputs (no target)"
        else:
            job = session.target
            draft = "" if session.appliable else f" · DRAFT ({job.status}: not appliable live)"
            errors = sum(issue.severity == "error" for issue in session.validate())
            problems = f" · ⚠ {errors} problem{'s' if errors != 1 else ''} (w lists them)" if errors else ""
            # Problems first: a long job title is cut at the pane's edge.
            self.inputs.border_title = f"3 Inputs of target {job.uid}{problems}{draft} {job.label}"
        self.refresh_status()

    def after_edit(self, message: str | None) -> None:
        self.refresh_inputs()
        if self.inputs.current_slot is not None:
            self.show_slot(self.inputs.current_slot)
        if message:
            self.say(message)
        self.save_journal()

    def save_journal(self) -> None:
        """Journal every unsaved session (plans built here, on the UI thread; written in a worker)."""
        self.journal_generation += 1
        plans = [s.to_plan() for s in self.sessions.values() if self.unsaved(s)]
        self._write_journal(self.journal_generation, plans)

    @work(thread=True, group="journal")
    def _write_journal(self, generation: int, plans: list[dict]) -> None:
        with self.journal_lock:  # one write at a time; an older one never lands after a newer one
            if generation < self.journal_written:
                return
            self.journal_written = generation
            try:
                save_journal(self.project_path, plans)
            except (OSError, CsRebindError) as exc:
                self.app.call_from_thread(self.say, f"journal not saved: {exc}", True)

    def discard_journal(self) -> None:
        """On a deliberate quit: remove the journal, and let no pending write bring it back."""
        with self.journal_lock:
            self.journal_written = float("inf")
            clear_journal(self.project_path)

    # --- target --------------------------------------------------------------------------

    def _session_for(self, uid: str) -> EditSession:
        if uid not in self.sessions:
            self.sessions[uid] = EditSession(self.project, uid)
        return self.sessions[uid]

    def set_target(self, uid: str) -> None:
        session = self._session_for(uid)
        self.target = uid
        self.refresh_inputs()
        if not session.appliable:
            self.say(f"target {uid} is {session.target.status}: a draft (export works; not appliable live)")
        else:
            self.say(f"target {uid} {session.target.label}")

    def action_make_target(self) -> None:
        uid = self.jobs_pane.tree.current_uid
        if not uid or self.project is None:
            self.say("highlight a job in the jobs pane first", error=True)
            return
        self._run(lambda: self.set_target(uid))

    # --- register ------------------------------------------------------------------------

    def _highlighted_ref(self) -> ResultRef | None:
        result = self.outputs.current_result
        return result.ref(self.picks.get(pick_key(result), FINAL)) if result else None

    def action_yank(self) -> None:
        ref = self._highlighted_ref()
        if ref is None:
            group = self.outputs.current_group
            if group is not None:
                return self.action_yank_group()
            self.say("highlight a result in the outputs pane to yank it", error=True)
            return
        self.register = ref
        self.status.clear_message()  # the register itself shows what was yanked
        self.refresh_inputs()

    def action_yank_group(self) -> None:
        group = self.outputs.current_group
        if group is None:
            self.say("highlight an output group or result in the outputs pane", error=True)
            return
        self.register = GroupYank(group.job, group.name)
        self.refresh_inputs()
        self.say("P connects it to the input under the cursor")

    def action_clear_register(self) -> None:
        if self.jobs_pane.filtering:
            self.jobs_pane.cancel_filter()
            return
        self.register = None
        self.status.clear_message()
        self.refresh_inputs()

    # --- edits ---------------------------------------------------------------------------

    def _run(self, edit) -> None:
        """Run an edit or command; a refusal becomes a message, never a crash."""
        try:
            edit()
        except CsRebindError as exc:
            self.say(str(exc), error=True)

    def export_input_name(self) -> str:
        """The input to export: the one under the cursor, else the first with edits, else the first."""
        session = self._require_session()
        if self.inputs.current_input:
            return self.inputs.current_input
        changed = [g.name for g, loaded in zip(session.inputs, session.loaded) if g != loaded]
        if changed:
            return changed[0]
        if not session.inputs:
            raise CsRebindError(f"{session.target.uid} has no inputs to export")
        return session.inputs[0].name

    def _require_session(self) -> EditSession:
        session = self.session
        if session is None:
            raise CsRebindError("no target job: highlight a job and press t")
        return session

    def put(self, address: SlotAddress) -> None:
        session = self._require_session()
        if not isinstance(self.register, ResultRef):
            what = "a group (use P)" if isinstance(self.register, GroupYank) else "nothing"
            raise CsRebindError(f"the register holds {what}; yank a result with y first")
        change = session.put(address, self.register)
        self.after_edit(str(change))

    def action_put(self) -> None:
        address = self.inputs.current_slot
        if address is None:
            self.say("highlight a slot in the inputs pane (3) to put into it", error=True)
            return
        self._run(lambda: self.put(address))

    def connect(self, input_name: str, index: int | None) -> None:
        session = self._require_session()
        register = self.register
        if isinstance(register, ResultRef):
            register = GroupYank(register.job, register.output)
        if register is None:
            raise CsRebindError("the register is empty; yank an output group with Y first")
        change = session.put_group(input_name, register.job, register.output, index)
        self.after_edit(str(change))

    def action_put_group(self) -> None:
        """On a connection's own row: replace that connection; anywhere else in an input: add one."""
        name, index = self.inputs.current_input, self.inputs.current_connection_row
        if name is None:
            self.say("highlight an input (new connection) or a connection (replace it) in the inputs pane", error=True)
            return
        self._run(lambda: self.connect(name, index))

    def clear(self, address: SlotAddress) -> None:
        change = self._require_session().clear(address)
        self.after_edit(str(change))

    def action_clear_slot(self) -> None:
        address = self.inputs.current_slot
        if address is None:
            self.say("highlight a slot in the inputs pane to clear it", error=True)
            return
        self._run(lambda: self.clear(address))

    def undo(self) -> None:
        session = self._require_session()
        if not session.undo():
            raise CsRebindError("nothing to undo: this is the job as loaded")
        self.after_edit(f"undone · {len(session.changes())} pending edit(s)")

    def redo(self) -> None:
        session = self._require_session()
        if not session.redo():
            raise CsRebindError("nothing to redo")
        self.after_edit(f"redone · {len(session.changes())} pending edit(s)")

    def action_undo(self) -> None:
        self._run(self.undo)

    def action_redo(self) -> None:
        self._run(self.redo)

    # --- versions ------------------------------------------------------------------------

    def set_version(self, result: OutputResult, version: Version) -> None:
        if version != FINAL:
            result.version_index(version)  # raises with the stored versions listed
        self.picks[pick_key(result)] = version
        self.outputs.refresh_result(result, version)
        self.show_details(result.ref(version))
        self.say(f"picked {result.ref(version).short}")

    def action_step_version(self, step: int) -> None:
        result = self.outputs.current_result
        if result is None or not result.complete:
            self.say("highlight a result with stored versions", error=True)
            return
        self._run(lambda: self.set_version(result, result.step_version(self.picks.get(pick_key(result), FINAL), step)))

    def action_pick_version(self) -> None:
        result = self.outputs.current_result
        if result is None or not result.complete:
            self.say("highlight a result with stored versions", error=True)
            return

        def picked(version: Version | None) -> None:
            if version is not None:
                self._run(lambda: self.set_version(result, version))

        self.app.push_screen(VersionPicker(result, self.picks.get(pick_key(result), FINAL)), picked)

    # --- jobs pane -----------------------------------------------------------------------

    def action_filter_jobs(self) -> None:
        self.jobs_pane.start_filter()

    def action_next_match(self, step: int) -> None:
        if not self.matches:
            self.say("no matches: / filters jobs", error=True)
            return
        self.match_index = (self.match_index + step) % len(self.matches)
        uid = self.matches[self.match_index]
        self.jobs_pane.tree.go_to(uid)
        self.say(f"match {self.match_index + 1} of {len(self.matches)}: {uid}")

    def action_toggle_workspaces(self) -> None:
        if self.project is None:
            return
        current = self.jobs_pane.tree.current_uid
        self.by_workspace = not self.by_workspace
        self.jobs_pane.tree.populate(self.project, self.by_workspace)
        if current:
            self.jobs_pane.tree.go_to(current)
        self.say("jobs grouped by workspace" if self.by_workspace else "jobs shown as a lineage tree")

    def go_to_job(self, uid: str) -> None:
        if self.project is None:
            return
        self.project.job(uid)
        if not self.jobs_pane.tree.go_to(uid):
            raise CsRebindError(f"{uid} is not shown in the jobs tree")
        self.jobs_pane.tree.focus()

    # --- panes ---------------------------------------------------------------------------

    def _pane_widgets(self):
        return [self.jobs_pane.tree, self.outputs, self.inputs]

    def action_focus_pane(self, name: str) -> None:
        self._pane_widgets()[PANES.index(name)].focus()

    def _focused_pane(self) -> int:
        for index, widget in enumerate(self._pane_widgets()):
            if widget.has_focus:
                return index
        return 0

    def action_focus_next_pane(self) -> None:
        self._pane_widgets()[(self._focused_pane() + 1) % 3].focus()

    def action_focus_previous_pane(self) -> None:
        self._pane_widgets()[(self._focused_pane() - 1) % 3].focus()

    # --- commands ------------------------------------------------------------------------

    def action_command_line(self, initial: str = "") -> None:
        def entered(text: str | None) -> None:
            if text and text.strip():
                self.run_command(text)

        self.app.push_screen(CommandLine(initial), entered)

    def run_command(self, text: str) -> None:
        try:
            self.execute(parse_command(text))
        except (CommandError, CsRebindError) as exc:
            self.say(str(exc), error=True)

    def execute(self, command: Command) -> None:
        name, args = command.name, command.args
        if name == "target":
            uid = check_job_uid(args[0])
            self.project.usable_job(uid)
            self.set_target(uid)
            self.jobs_pane.tree.go_to(uid)
        elif name == "job":
            self.go_to_job(check_job_uid(args[0]))
        elif name == "yank":
            self.yank_text(args[0])
        elif name == "put":
            address = SlotAddress.parse(args[0])
            self.put(address)
            self.inputs.go_to_slot(address)
        elif name == "connect":
            index = int(args[1]) if len(args) > 1 and args[1].isdigit() else None
            if len(args) > 1 and index is None:
                raise CommandError(f"connection index {args[1]!r} is not a number")
            self.connect(args[0], index)
        elif name == "clear":
            self.clear(SlotAddress.parse(args[0]))
        elif name == "version":
            result = self.outputs.current_result
            if result is None:
                raise CsRebindError("highlight a result in the outputs pane first")
            self.set_version(result, parse_version(args[0]))
        elif name == "undo":
            self.undo()
        elif name == "redo":
            self.redo()
        elif name == "write":
            self.app.write(self, args)
        elif name == "help":
            self.action_help()
        elif name == "quit":
            self.action_quit_app()

    def yank_text(self, text: str) -> None:
        parts = text.split(".")
        if len(parts) == 2:
            group = self.project.output(check_job_uid(parts[0]), parts[1])
            self.register = GroupYank(group.job, group.name)
        else:
            ref = ResultRef.parse(text)
            result = self.project.result(ref)  # raises when the job, output or result is unknown
            if ref.version != FINAL:
                result.version_index(ref.version)  # raises listing the stored versions
            self.register = ref
        self.status.clear_message()
        self.refresh_inputs()

    def action_write(self) -> None:
        self._run(lambda: self.app.open_write_dialog(self))

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen(dict(self.app._keymap)))

    # --- quitting ------------------------------------------------------------------------

    def unsaved(self, session: EditSession) -> bool:
        """Edits not yet written out by a plan, script, export or apply."""
        return session.dirty and session.inputs != self.saved_states.get(session.target.uid, session.loaded)

    def unsaved_targets(self) -> list[str]:
        return [uid for uid, s in self.sessions.items() if self.unsaved(s)]

    def mark_written(self, uid: str, input_name: str | None = None) -> None:
        """Record what was written: the whole session, or (an export) one input of it."""
        session = self.sessions[uid]
        if input_name is None:
            self.saved_states[uid] = session.inputs
        else:
            base = self.saved_states.get(uid, session.loaded)
            written = session.input(input_name)
            self.saved_states[uid] = tuple(written if g.name == input_name else g for g in base)
        self.save_journal()

    def action_quit_app(self) -> None:
        unsaved = self.unsaved_targets()
        if not unsaved:
            self.discard_journal()
            self.app.exit(return_code=0)
            return

        def answered(quit_anyway: bool | None) -> None:
            if quit_anyway:
                self.discard_journal()
                self.app.exit(return_code=0)

        edits = sum(len(self.sessions[u].changes()) for u in unsaved)
        self.app.push_screen(
            Confirm(f"{edits} edit(s) on {', '.join(unsaved)} are not written out. Quit and discard them?"), answered
        )

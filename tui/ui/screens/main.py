"""The main screen: three panes, details, status bar. The editing state is the core's
Workbench; this screen turns keys and ``:`` commands into calls on it and shows the result.

Every command of tui.core.commands runs as a ``command_<handler>`` method here, through
``dispatch``: a refusal (CsRebindError) becomes a status message, never a crash.
"""

from __future__ import annotations

import gc
import time
from pathlib import Path

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, ProgressBar
from textual.worker import get_current_worker

from ...core.commands import BY_ID, CommandSpec, parse_command
from ...core.errors import CommandError, CsRebindError
from ...core.journal import FoundJournal, JournalSnapshot, find_journals
from ...core.model import OutputResult
from ...core.joblist import GrowingLineage
from ...core.project import Project, finish_loading, open_project, read_job_batches
from ...core.refs import SlotAddress
from ...core.workbench import Workbench
from ..commands import screen_bindings
from ..failures import ReportsWorkerFailures, background
from ..messages import (ConfirmWrite, FilterDone, JobHighlighted, JobsRead, JoinPreviewed, ProjectOpened,
                        ProjectRead, ResultHighlighted, SlotHighlighted, WriteOutcome)
from ..widgets.details import DetailsPane
from ..widgets.inputs import InputsTree
from ..widgets.jobs import JobsPane
from ..widgets.outputs import OutputsTree
from ..widgets.status import StatusBar
from ..joins import JoinPreviews, PutCheck
from ..writeout import WriteOut
from .commands import MainCommands
from .dialogs import Confirm, Message
from .restore import JournalRestore


# While a project is read, the jobs list is redrawn with every job so far at most this often, and
# only once the jobs have doubled since it last was; always for the first and last batch.
ROWS_EVERY = 0.5


class MainScreen(ReportsWorkerFailures, MainCommands, Screen):
    BINDINGS = screen_bindings()

    def __init__(self, project_path: Path, plan: dict | None = None) -> None:
        super().__init__()
        self.project_path = project_path
        self.initial_plan = plan
        self.workbench: Workbench | None = None  # once the project is opened
        self.loaded = False  # every job read and the target chosen
        self.status_slot: SlotAddress | None = None  # the slot the status bar describes
        self.status_job: str | None = None
        self.by_workspace = False
        self.matches: list[str] = []
        self.match_index = 0
        self.writeout = WriteOut(self)
        self.joins = JoinPreviews(self)

    def compose(self) -> ComposeResult:
        with Horizontal(id="panes"):
            yield JobsPane(id="jobs")
            yield OutputsTree(id="outputs")
            yield InputsTree(id="inputs")
        yield DetailsPane(id="details")
        with Vertical(id="bottom"):
            yield ProgressBar(total=1, id="loading", show_eta=False)  # a known total: no animation stealing the GIL from the reader
            yield StatusBar(id="status")
            yield Footer(compact=True)

    def on_mount(self) -> None:
        for pane, title in ((self.jobs_pane, "1 Jobs"), (self.outputs, "2 Outputs"),
                            (self.inputs, "3 Inputs"), (self.details, "Details")):
            pane.border_title = title
        self.load_project()

    def on_resize(self, event) -> None:
        self.set_class(event.size.height < 30, "short")

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
    def details(self) -> DetailsPane:
        return self.query_one(DetailsPane)

    @property
    def status(self) -> StatusBar:
        return self.query_one(StatusBar)

    @property
    def bench(self) -> Workbench:
        if self.workbench is None:
            raise CsRebindError("the project is still being read")
        return self.workbench

    @property
    def project(self) -> Project | None:
        return self.workbench.project if self.workbench else None

    # --- loading -------------------------------------------------------------------------

    @background(exclusive=True, group="load")
    def load_project(self) -> None:
        """Read the project in batches; each batch is shown as it arrives (post_message does not
        wait for the UI thread, so reading is not slowed by drawing)."""
        worker = get_current_worker()
        try:
            project = open_project(self.project_path, cache=self.app.settings.summary_cache)
            self.post_message(ProjectOpened(project))
            lineage = GrowingLineage()  # the rows of the jobs pane are made here, off the UI thread
            complete = False
            due, began, shown = 0.0, time.monotonic(), 0  # rows are next made after `due`, for twice `shown` jobs
            for batch, done, total in read_job_batches(project):
                if worker.is_cancelled:
                    return
                lineage.add(batch)
                cap, rows = self.jobs_pane.tree.cap, None
                now = time.monotonic()
                left = (now - began) / done * (total - done)  # seconds of reading still to come, roughly
                # Rows for every job so far, made again only once the jobs have doubled: all of
                # them together cost at most twice the last ones (linear in the project's size).
                if done == total or (now >= due and done >= 2 * shown and left > ROWS_EVERY):
                    rows, shown = lineage.rows(cap), done
                    due = time.monotonic() + ROWS_EVERY
                self.post_message(JobsRead(batch, done, total, rows, cap))
                if done == total:  # every job read: the summary cache is written after this, meanwhile
                    self._read_all(project)
                    complete = True
        except CsRebindError as exc:
            self.app.call_from_thread(self.app.exit, return_code=1, message=f"csrebind: {exc}")
            return
        if not complete:  # a project without jobs: no batch came
            self._read_all(project)

    def _read_all(self, project: Project) -> None:
        """Every job is read: with the journals of ended windows (claimed), the screen completes."""
        self.post_message(ProjectRead(find_journals(project.path)))

    @on(ProjectOpened)
    def _opened(self, event: ProjectOpened) -> None:
        self.workbench = Workbench(event.project)
        self.jobs_pane.project = event.project
        self.jobs_pane.tree.reset()
        self.jobs_pane.tree.focus()
        self.jobs_pane.border_title = f"1 Jobs · {event.project.uid} · reading…"

    @on(JobsRead)
    def _jobs_read(self, event: JobsRead) -> None:
        self.project.jobs.update((job.uid, job) for job in event.jobs)
        tree = self.jobs_pane.tree
        if event.rows is not None:
            first_batch = tree.current_uid is None
            tree.show_lineage(self.project, event.rows, event.cap)
            if first_batch:
                tree.move_to_line(0)
        self.query_one("#loading", ProgressBar).update(total=event.total, progress=event.done)
        self.jobs_pane.border_title = f"1 Jobs · {self.project.uid} · {event.done}/{event.total}"

    @on(ProjectRead)
    def _loaded(self, event: ProjectRead) -> None:
        project = finish_loading(self.project)
        self.query_one("#loading").display = False
        tree = self.jobs_pane.tree
        if self.by_workspace or not len(tree.rows):
            tree.populate(project, self.by_workspace)
        building = project.most_recent_building()
        if building is not None:
            self.set_target(building.uid)
        else:
            self.refresh_inputs()
        journals: list[FoundJournal] = event.journal
        for damaged in (j for j in journals if j.problem):
            self.app.notify(damaged.problem, severity="warning", timeout=10)
        journals = [j for j in journals if not j.problem]
        if journals:
            JournalRestore(self).offer(journals)  # opens the initial plan, if any, afterwards
        elif self.initial_plan is not None:
            self.open_plan(self.initial_plan)
        if not (self.bench.target and tree.go_to(self.bench.target)) and len(tree.rows):
            tree.move_to_line(0)
        for warning in project.warnings:
            self.app.notify(warning, severity="warning", timeout=8)
        self.jobs_pane.border_title = f"1 Jobs · {project.uid} · {len(project.jobs)}"
        # The project and its tree live as long as the app: keep them out of every later
        # garbage collection, whose full passes over thousands of jobs would stall key presses.
        gc.freeze()
        self.loaded = True

    def open_plan(self, plan: dict) -> None:
        """The plan of ``--plan FILE``: its edits count as written out (the file is the plan)."""
        try:
            session = self.bench.open_plan(plan)
        except CsRebindError as exc:
            self.say(f"plan not loaded: {exc}", error=True)
            return
        self.set_target(session.target.uid)
        self.after_edit(f"plan loaded: {len(session.changes())} change(s) against {session.target.uid}")

    def on_unmount(self) -> None:
        """The app ends (a quit has already removed the journal): free it for the next start."""
        if self.workbench is not None:
            self.workbench.journal.close()

    # --- what the panes report -------------------------------------------------------------

    @on(JobHighlighted)
    def _job_highlighted(self, event: JobHighlighted) -> None:
        if event.uid != self.status_job:  # moved to another job: drop the last message
            self.status_job = event.uid
            self.status.clear_message()
        job = self.project.jobs.get(event.uid) if (self.project and event.uid) else None
        session = self.workbench.session if self.workbench else None
        wanted = {g.type for g in session.inputs} if session else None
        self.outputs.show_job(job, self.workbench.picks if self.workbench else {}, wanted)
        self.outputs.border_title = f"2 Outputs of {job.uid}" if job else "2 Outputs"

    @on(ResultHighlighted)
    def _result_highlighted(self, event: ResultHighlighted) -> None:
        if event.result is not self.outputs.current_result:
            return  # stale: the outputs pane has moved on (e.g. another job was highlighted since)
        if event.result is not None:
            # moving through jobs: the .cs file is read once the user stays on one
            self.details.show_result(self.project, self.bench.picked_ref(event.result), wait=event.job_shown)
        elif event.group is not None:
            self.details.show_note(Text(f"{event.group.job}.{event.group.name}: {event.group.title}"))
        else:
            self.details.show_note()  # no job, a broken one or one without outputs

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

    def mark_written(self, uid: str, route: str, input_name: str | None = None) -> None:
        """A route (plan, script, export of ``input_name``, apply) wrote ``uid``'s edits out;
        called from the route's worker before it reports."""
        self.bench.mark_written(uid, route, input_name)
        self.save_journal()

    @on(WriteOutcome)
    def _write_outcome(self, event: WriteOutcome) -> None:
        if event.title is not None:
            self.app.push_screen(Message(event.title, event.text))
        else:
            self.say(event.text, event.error)

    @on(JoinPreviewed)
    def _join_previewed(self, event: JoinPreviewed) -> None:
        self.joins.received(event)

    @on(ConfirmWrite)
    def _confirm_write(self, event: ConfirmWrite) -> None:
        self.app.push_screen(Confirm(event.question, event.details), lambda yes: event.then() if yes else None)

    # --- showing state ---------------------------------------------------------------------

    def show_slot(self, address: SlotAddress) -> None:
        """Details of what a slot of the target is bound to (or that it is empty)."""
        session = self.bench.session
        binding = session.binding(address) if session else None
        if binding is not None:
            self.details.show_result(self.project, binding.ref)
        else:
            self.details.show_note(Text(f"{address.local} is empty", style="dim"))

    def say(self, message: str, error: bool = False) -> None:
        self.status.say(message, error)
        if error:
            self.app.bell()

    def refresh_status(self) -> None:
        bench, status = self.workbench, self.status
        session = bench.session if bench else None
        status.register = bench.register_text() if bench else ""
        status.edits = len(session.changes()) if session else 0
        address = self.inputs.current_slot
        if session is not None and address is not None:
            binding = session.binding(address)
            status.slot = f"{address.local} = {binding.ref if binding else '(empty)'}"
        else:
            target = bench.target if bench else None
            status.slot = f"target {target}" if target else "no target (t on a job)"

    def refresh_inputs(self) -> None:
        slots, inputs = self.bench.compatible()
        self.inputs.show(self.bench.session, slots, inputs, self.joins.row_text)
        self.refresh_status()

    def after_edit(self, message: str | None, put: PutCheck | None = None) -> None:
        self.refresh_inputs()
        if self.inputs.current_slot is not None:
            self.show_slot(self.inputs.current_slot)
        if message:
            self.say(message)
        self.save_journal()
        self.joins.start(self.bench.session, put)

    def save_journal(self) -> None:
        """Journal every session with edits (the snapshot taken here, written in a worker)."""
        self._write_journal(self.bench.journal_snapshot())

    @background(group="journal")
    def _write_journal(self, snapshot: JournalSnapshot) -> None:
        try:
            self.bench.journal.write(snapshot)
        except (OSError, CsRebindError) as exc:  # e.g. a full disk: say so, keep working
            self.app.call_from_thread(self.say, f"journal not saved: {exc}", True)

    def set_target(self, uid: str) -> None:
        message = self.bench.set_target(uid)
        self.refresh_inputs()
        self.say(message)
        self.joins.start(self.bench.session)

    def set_version(self, result: OutputResult, message: str) -> None:
        version = self.bench.pick(result)
        self.outputs.refresh_result(result, version)
        self.details.show_result(self.project, result.ref(version))
        self.say(message)

    # --- dispatch ----------------------------------------------------------------------------

    def guarded(self, call) -> None:
        """Run a command or edit; a refusal becomes a message, never a crash."""
        try:
            call()
        except CsRebindError as exc:
            self.say(str(exc), error=True)

    def dispatch(self, spec: CommandSpec, args: tuple = ()) -> None:
        self.guarded(lambda: getattr(self, spec.method)(*args))

    def action_run(self, command_id: str) -> None:
        """What every key of the command table does."""
        spec = BY_ID[command_id]
        self.dispatch(spec, spec.args)

    def run_command(self, text: str) -> None:
        try:
            invocation = parse_command(text)
        except CommandError as exc:
            self.say(str(exc), error=True)
            return
        self.dispatch(invocation.spec, invocation.args)

"""The main screen's commands: one ``command_<handler>`` per entry of tui.core.commands.

A key runs its handler with the table's ``args`` (usually none: act on what is under the
cursor); the ``:`` line runs the same handler with the typed arguments. Handlers raise
CsRebindError to refuse; ``MainScreen.dispatch`` shows the message.
"""

from __future__ import annotations

from ...core.errors import CommandError, CsRebindError
from ...core.model import OutputResult
from ...core.refs import ResultRef, SlotAddress, check_job_uid, parse_version
from ..joins import PutCheck
from .dialogs import CommandLine, Confirm, Message, VersionPicker
from .help import HelpScreen

PANES = ("jobs", "outputs", "inputs")


class MainCommands:
    """Mixed into MainScreen, which provides the panes, ``bench``, ``say`` and the refreshes."""

    # --- panes ---------------------------------------------------------------------------

    def _pane_widgets(self):
        return [self.jobs_pane.tree, self.outputs, self.inputs]

    def _focused_pane(self) -> int:
        return next((i for i, widget in enumerate(self._pane_widgets()) if widget.has_focus), 0)

    def _focus(self, index: int) -> None:
        # At once, not via Widget.focus (a message later): keys typed ahead (3 j j c) must reach
        # the pane just chosen, not the one before it.
        self.set_focus(self._pane_widgets()[index % 3])

    def command_focus_pane(self, name: str) -> None:
        self._focus(PANES.index(name))

    def command_next_pane(self) -> None:
        self._focus(self._focused_pane() + 1)

    def command_previous_pane(self) -> None:
        self._focus(self._focused_pane() - 1)

    # --- jobs ----------------------------------------------------------------------------

    def command_filter(self) -> None:
        self.jobs_pane.start_filter()

    def command_next_match(self, step: int) -> None:
        if not self.matches:
            raise CsRebindError("no matches: / filters jobs")
        self.match_index = (self.match_index + step) % len(self.matches)
        uid = self.matches[self.match_index]
        self.jobs_pane.tree.go_to(uid)
        self.say(f"match {self.match_index + 1} of {len(self.matches)}: {uid}")

    def command_group_workspaces(self) -> None:
        if self.project is None:
            return
        tree = self.jobs_pane.tree
        current = tree.current_uid
        self.by_workspace = not self.by_workspace
        tree.populate(self.project, self.by_workspace)
        if current:
            tree.go_to(current)
        self.say("jobs grouped by workspace" if self.by_workspace else "jobs shown as a lineage tree")

    def command_target(self, uid: str | None = None) -> None:
        if uid is None:  # the key: the highlighted job
            uid = self.jobs_pane.tree.current_uid
            if not uid or self.project is None:
                raise CsRebindError("highlight a job in the jobs pane first")
            self.set_target(uid)
            return
        message = self.bench.choose_target(uid)
        self.refresh_inputs()
        self.say(message)
        self.jobs_pane.tree.go_to(self.bench.target)

    def command_job(self, text: str) -> None:
        uid = check_job_uid(text)
        self.bench.project.job(uid)  # raises when there is no such job
        if not self.jobs_pane.tree.go_to(uid):
            raise CsRebindError(f"{uid} is not shown in the jobs tree")
        self.jobs_pane.tree.focus()

    # --- register --------------------------------------------------------------------------

    def command_yank(self, text: str | None = None) -> None:
        if text is not None:
            self.bench.yank_text(text)
        else:
            result = self.outputs.current_result
            if result is None:
                if self.outputs.current_group is not None:
                    return self.command_yank_group()
                raise CsRebindError("highlight a result in the outputs pane to yank it")
            self.bench.yank(result)
        self.status.clear_message()  # the register itself shows what was yanked
        self.refresh_inputs()

    def command_yank_group(self) -> None:
        group = self.outputs.current_group
        if group is None:
            raise CsRebindError("highlight an output group or result in the outputs pane")
        self.bench.yank_group(group.job, group.name)
        self.refresh_inputs()
        self.say("P connects it to the input under the cursor")

    def command_clear_register(self) -> None:
        if self.jobs_pane.filtering:
            self.jobs_pane.cancel_filter()
            return
        self.bench.clear_register()
        self.status.clear_message()
        self.refresh_inputs()

    # --- edits -----------------------------------------------------------------------------

    def _slot(self, text: str | None, why: str) -> SlotAddress:
        if text is not None:
            return SlotAddress.parse(text)
        address = self.inputs.current_slot
        if address is None:
            raise CsRebindError(why)
        return address

    def command_put(self, text: str | None = None, force: bool = False) -> None:
        address = self._slot(text, "highlight a slot in the inputs pane (3) to put into it")
        self._put(address, self.bench.put(address), go_to=text is not None, force=force)

    def _put(self, address: SlotAddress, message: str, go_to: bool, force: bool = False) -> None:
        """After a put: the join is read in a worker, and a put that leaves no row is taken back."""
        if go_to and self.inputs.go_to_slot(address):
            self.status_slot = address  # the status bar is about this slot now: keep the put's message
        self.after_edit(message, PutCheck(address, self.bench.session.inputs, message, force))

    def command_candidates(self, text: str | None = None) -> None:
        address = self._slot(text, "highlight a slot in the inputs pane (3) to list what fits it")
        session = self.bench.require_session()
        from ...core.candidates import check_slot  # numpy: when first used, not at start-up

        check_slot(session, address)

        def chosen(ref: ResultRef | None) -> None:
            if ref is not None:
                self.guarded(lambda: self._put(address, self.bench.put_result(address, ref), go_to=True))

        from .candidates import CandidatesScreen

        self.app.push_screen(CandidatesScreen(session, address), chosen)

    def command_put_force(self, text: str | None = None) -> None:
        self.command_put(text, force=True)

    def command_put_group(self, input_name: str | None = None, index_text: str | None = None) -> None:
        """On a connection's own row: replace that connection; anywhere else in an input: add one."""
        if input_name is None:
            input_name, index = self.inputs.current_input, self.inputs.current_connection_row
            if input_name is None:
                raise CsRebindError("highlight an input (new connection) or a connection (replace it) in the inputs pane")
        elif index_text is None:
            index = None
        elif index_text.isdigit():
            index = int(index_text)
        else:
            raise CommandError(f"connection index {index_text!r} is not a number")
        self.after_edit(self.bench.connect(input_name, index))

    def command_clear_slot(self, text: str | None = None) -> None:
        address = self._slot(text, "highlight a slot in the inputs pane to clear it")
        self.after_edit(self.bench.clear(address))

    def command_undo(self) -> None:
        self.after_edit(self.bench.undo())

    def command_redo(self) -> None:
        self.after_edit(self.bench.redo())

    # --- versions --------------------------------------------------------------------------

    def _result_with_versions(self) -> OutputResult:
        result = self.outputs.current_result
        if result is None or not result.complete:
            raise CsRebindError("highlight a result with stored versions")
        return result

    def _focused_slot(self) -> SlotAddress | None:
        """The highlighted slot when the inputs pane has the focus: versions then act on it."""
        return self.inputs.current_slot if self.inputs.has_focus else None

    def command_step_version(self, step: int) -> None:
        address = self._focused_slot()
        if address is not None:
            return self._put(address, self.bench.step_slot_version(address, step), go_to=False)
        result = self._result_with_versions()
        self.set_version(result, self.bench.step_pick(result, step))

    def command_version_picker(self, text: str | None = None) -> None:
        address = self._focused_slot()
        if address is not None:
            return self._slot_version_picker(address, text)
        if text is not None:  # :version F|N
            result = self.outputs.current_result
            if result is None:
                raise CsRebindError("highlight a result in the outputs pane first")
            self.set_version(result, self.bench.set_pick(result, parse_version(text)))
            return
        result = self._result_with_versions()
        picker = VersionPicker(result, self.bench.pick(result))

        def picked(version) -> None:
            if version is not None:
                self.guarded(lambda: self.set_version(result, self.bench.set_pick(result, version)))
                if picker.yank:
                    self.bench.yank(result)  # at the version just picked
                    self.refresh_inputs()

        self.app.push_screen(picker, picked)

    def _slot_version_picker(self, address: SlotAddress, text: str | None) -> None:
        """On a slot: bind its result at another version (an edit; the join is checked)."""
        def chosen(version) -> None:
            if version is not None:
                self.guarded(lambda: self._put(address, self.bench.set_slot_version(address, version), go_to=False))

        if text is not None:
            return chosen(parse_version(text))
        ref, result = self.bench.slot_binding(address)
        picker = VersionPicker(result, ref.version)

        def chosen_or_yanked(version) -> None:
            chosen(version)
            if version is not None and picker.yank:
                self.guarded(lambda: self.bench.yank_text(str(ref.at(version))))
                self.refresh_inputs()

        self.app.push_screen(picker, chosen_or_yanked)

    # --- write, help, quit -----------------------------------------------------------------

    def _export_input(self) -> str:
        return self.bench.export_input_name(self.inputs.current_input)

    def command_write(self, *args: str) -> None:
        session = self.bench.require_session()
        if args:
            self.writeout.start(session, args, self._export_input)
        else:
            self.writeout.open_menu(session, self._export_input)

    def command_command_line(self, initial: str = "") -> None:
        def entered(text: str | None) -> None:
            if text and text.strip():
                self.run_command(text)

        self.app.push_screen(CommandLine(initial), entered)

    def command_messages(self) -> None:
        self.app.push_screen(Message("Messages (newest last)", self.status.history_text()))

    def command_help(self) -> None:
        self.app.push_screen(HelpScreen(dict(self.app._keymap)))

    def command_quit(self) -> None:
        """Quit at once when every edit is written out by some route (the journal goes with it);
        else ask, naming the edits no plan, script, export or apply has written."""
        bench = self.workbench
        unwritten = bench.unwritten_edits() if bench else []
        if not unwritten:
            if bench:
                bench.journal.discard()
            self.app.exit(return_code=0)
            return

        def answered(quit_anyway: bool | None) -> None:
            if quit_anyway:
                bench.journal.discard()
                self.app.exit(return_code=0)

        named = ", ".join(f"{uid} {change.address}" for uid, change in unwritten[:4])
        more = f" and {len(unwritten) - 4} more" if len(unwritten) > 4 else ""
        question = (f"{len(unwritten)} edit(s) written out by no plan, script, export or apply: {named}{more}. "
                    "Quit and discard them?")
        self.app.push_screen(Confirm(question, "\n".join(f"{uid} {change}" for uid, change in unwritten)), answered)

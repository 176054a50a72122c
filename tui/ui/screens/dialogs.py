"""Small modal screens: yes/no confirmation, the version picker and the command line."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy (core.diff) is imported when a version picker opens, not at start-up
    from ...core.diff import VersionStep

from dataclasses import dataclass

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.message import Message as TextualMessage
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList, Static
from textual.widgets.option_list import Option
from textual.worker import get_current_worker

from ...core.commands import LINE_COMMANDS
from ...core.completion import Completion, CompletionContext, complete
from ...core.history import HistoryWalk, load_history, remember
from ...core.model import ALIGNMENT_DTYPES, OutputResult
from ...core.project import Project
from ...core.refs import FINAL, Version
from ..failures import ReportsWorkerFailures
from ..widgets.picklist import PickList


class Confirm(ModalScreen[bool]):
    """A yes/no question, optionally with details to read first (e.g. an export's row report)."""

    BINDINGS = [
        Binding("y", "answer(True)", "Yes", id="confirm-yes"),
        Binding("n,escape", "answer(False)", "No", id="confirm-no"),
    ]

    def __init__(self, question: str, details: str = "") -> None:
        super().__init__()
        self.question = question
        self.details = details

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            if self.details:
                with VerticalScroll(id="details-text"):
                    yield Static(Text(self.details))
            yield Label(self.question, id="question")
            yield Label("[b]y[/b] yes   [b]n[/b] no", id="answers")

    def action_answer(self, value: bool) -> None:
        self.dismiss(value)


class VersionPicker(ReportsWorkerFailures, ModalScreen[Version | None]):
    """Every stored iteration of one result with its row count; F marks the final one. For
    alignments, each version's median change from the version stored before it (pose, shift,
    class) is measured in a worker and filled in as it arrives: opening the picker reads nothing."""

    BINDINGS = [
        Binding("escape,q", "cancel", "Cancel", id="picker-cancel"),
        Binding("y", "pick_and_yank", "Pick and yank", id="picker-yank"),
    ]
    # One line per version, however long: a narrow terminal cuts the metafile name, not the figures.
    DEFAULT_CSS = """
    VersionPicker #versions { text-wrap: nowrap; text-overflow: ellipsis; }
    """

    @dataclass
    class Compared(TextualMessage):
        """One version measured against the version stored before it (posted by the worker)."""

        step: VersionStep

    def __init__(self, result: OutputResult, current: Version, project: Project | None = None) -> None:
        super().__init__()
        self.result = result
        self.current = current
        self.project = project  # None: the main screen's project, when there is one
        self.steps: dict[int, VersionStep] = {}  # version → its comparison, once measured
        self.yank = False  # picked with y: the caller yanks the result at that version too
        self.comparing = False

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(f"Versions of {self.result.ref().short}", id="picker-title")
            yield PickList(*self._options(), id="versions", jump_by_digits=True)
            help_text = "enter pick · y pick and yank · esc cancel · j/k or digits move"
            if self.result.dtype in ALIGNMENT_DTYPES:
                help_text += " · vs N: median change from version N, the one stored before"
            yield Label(help_text, id="picker-help")

    def _options(self) -> list[Option]:
        options = [Option(Text.assemble(("F", "bold"), f"  final (= {self.result.final_version})"), id="F")]
        for index, version in reversed(list(enumerate(self.result.versions))):
            options.append(Option(self._label(index), id=str(version)))
        return options

    def _label(self, index: int) -> Text:
        version = self.result.versions[index]
        rows = self.result.num_items[index] if index < len(self.result.num_items) else None
        label = Text(f"{version:>6}")
        label.append(f"  {rows:,} rows" if rows is not None else "  ? rows", style="dim")
        step = self.steps.get(version)
        if step is not None and step.rows is not None and step.rows != rows:
            label.append(f" (file: {step.rows:,})", style="yellow")
        label.append(" F" if index == len(self.result.versions) - 1 else "  ", style="bold green")
        if step is not None:
            label.append_text(self._step_text(step))
        elif self.comparing and index > 0:
            label.append(f"  vs {self.result.versions[index - 1]}: comparing…", style="dim italic")
        label.append(f"  {self.result.metafiles[index] if index < len(self.result.metafiles) else ''}", style="dim")
        return label

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        wanted = "F" if self.current == FINAL else str(self.current)
        options.highlighted = options.get_option_index(wanted)
        options.focus()
        self._start_comparing()

    def _start_comparing(self) -> None:
        from ...core.diff import version_steps

        project = self.project or getattr(getattr(self.app, "main_screen", None), "project", None)
        if project is None or self.result.dtype not in ALIGNMENT_DTYPES or len(self.result.versions) < 2:
            return
        self.comparing = True
        self._refresh_labels()
        result = self.result

        def compare() -> None:
            worker = get_current_worker()
            for step in version_steps(project, result):  # newest first: the top of the list
                if worker.is_cancelled:
                    return
                self.post_message(self.Compared(step))

        self.run_worker(compare, thread=True, group="version-diff", exit_on_error=False)

    @property
    def measured(self) -> bool:
        """Every version's comparison has arrived (or there is nothing to measure)."""
        return not self.comparing

    @on(Compared)
    def _compared(self, event: Compared) -> None:
        self.steps[event.step.version] = event.step
        if len(self.steps) >= min(len(self.result.versions), len(self.result.metafiles)):
            self.comparing = False
        self._refresh_labels(event.step.version)

    def _refresh_labels(self, only: int | None = None) -> None:
        options = self.query_one(OptionList)
        for index, version in enumerate(self.result.versions):
            if only is None or version == only:
                options.replace_option_prompt(str(version), self._label(index))

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self._pick(event.option.id)

    def _pick(self, chosen: str | None) -> None:
        if chosen is not None:
            self.dismiss(FINAL if chosen == "F" else int(chosen))

    def action_pick_and_yank(self) -> None:
        """Pick the highlighted version and put that result, at it, into the register."""
        options = self.query_one(OptionList)
        if options.highlighted is not None:
            self.yank = True
            self._pick(options.get_option_at_index(options.highlighted).id)

    def action_cancel(self) -> None:
        self.dismiss(None)

    @staticmethod
    def _step_text(step: VersionStep) -> Text:
        """``  vs 5: pose 2.13° · shift 0.31 px (1.63 Å) · class 0.0%`` (with the shared rows when
        the two versions hold different particles)."""
        if step.previous is None:
            return Text("")
        if step.error is not None:
            return Text(f"  vs {step.previous}: ⚠ {step.error}", style="yellow")
        diff = step.diff
        if diff is None:
            return Text("")
        shared = ""
        if diff.shared != diff.rows_a or diff.shared != diff.rows_b:
            shared = f" ({diff.shared:,} shared)"
        return Text.assemble(f"  vs {step.previous}{shared}: ", (diff.summary(), "" if diff.shared else "yellow"))


class CommandLine(ModalScreen[str | None]):
    """A vim-style ``:`` line at the bottom of the screen. Tab completes the word before the
    cursor (tui.core.completion) as far as the candidates agree and lists them in the hint line;
    pressed again, it cycles through them (shift+tab backwards). Up and down walk the earlier
    commands that begin with what was typed, kept across runs (tui.core.history)."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="command-cancel"),
        Binding("tab", "complete(1)", "Complete", id="command-complete", priority=True),
        Binding("shift+tab", "complete(-1)", "Complete (back)", id="command-complete-back", priority=True),
        Binding("up", "history(-1)", "Older command", id="command-older"),
        Binding("down", "history(1)", "Newer command", id="command-newer"),
    ]
    HINTS = "  ".join(spec.name for spec in LINE_COMMANDS)
    _history_warned = False  # a history that cannot be saved is said once, not after every command

    def __init__(self, initial: str = "") -> None:
        super().__init__()
        self.initial = initial
        self.history = HistoryWalk(load_history())  # unreadable: empty, silently
        self._set_value: str | None = None  # the last text the line itself put in the box
        self._cycle: Completion | None = None  # cycling through these candidates
        self._cycle_index = -1
        self._after = ""  # the text right of the cursor while cycling

    def compose(self) -> ComposeResult:
        with Vertical(id="command-box"):
            yield Label(self.HINTS, id="command-hints")
            # Not selected on focus: the text filled in (``yank ``, ``write export ``) is to type after.
            yield Input(value=self.initial, placeholder="command (help lists them; tab completes)",
                        id="command-input", select_on_focus=False)

    def on_mount(self) -> None:
        box = self.query_one(Input)
        box.cursor_blink = False
        box.focus()
        box.cursor_position = len(box.value)

    @property
    def box(self) -> Input:
        return self.query_one("#command-input", Input)

    def completion_context(self) -> CompletionContext:
        """The project and the target's session of the main screen (nothing while it is being read)."""
        main = getattr(self.app, "main_screen", None)
        workbench = getattr(main, "workbench", None)
        if workbench is None:
            return CompletionContext()
        return CompletionContext(workbench.project, workbench.session)

    # --- completion ----------------------------------------------------------------------------

    def action_complete(self, step: int = 1) -> None:
        box = self.box
        if self._cycle is not None and box.value == self._set_value:  # tab again: the next candidate
            count = len(self._cycle.candidates)
            self._cycle_index = (self._cycle_index + step) % count
            self._put(self._cycle.choose(self._cycle_index), self._after)
            self._show_candidates(self._cycle, self._cycle_index)
            return
        before, after = box.value[: box.cursor_position], box.value[box.cursor_position:]
        found = complete(before, self.completion_context())
        if not found.candidates:
            self._say(f"nothing to complete for {found.word!r}" if found.word else "nothing to complete here")
            return
        if found.text != before:
            self._put(found.text, after)
        if len(found.candidates) > 1:  # tab again cycles (the word starts where it did)
            self._cycle, self._cycle_index, self._after = found, (-1 if step > 0 else 0), after
            self._set_value = box.value
            self._show_candidates(found)
        else:
            self._say(self.HINTS)

    def _put(self, before: str, after: str) -> None:
        box = self.box
        self._set_value = before + after
        box.value = before + after
        box.cursor_position = len(before)

    def _show_candidates(self, found: Completion, current: int | None = None) -> None:
        """The candidates on the hint line, a line's worth at a time: the part holding the chosen
        one (cycling) shown, that one reversed, with how many come before and after."""
        labels = found.labels
        width = max(24, self.app.size.width - 2)
        first = 0
        while True:  # the line's worth of labels from ``first``; the next one starts where it ends
            end, used = first, len(f"{first} before… ") if first else 0
            while end < len(labels) and (end == first or used + 2 + len(labels[end]) + 12 <= width):
                used += len(labels[end]) + 2
                end += 1
            if current is None or current < end or end >= len(labels):
                break
            first = end
        text = Text(f"{first} before… ", style="dim") if first else Text()
        text.append_text(Text("  ").join(
            Text(label, style="reverse" if index == current else "")
            for index, label in enumerate(labels[first:end], first)))
        if end < len(labels):
            text.append(f"  … {len(labels) - end} more", style="dim")
        self._say(text)

    def _say(self, hint: str | Text) -> None:
        self.query_one("#command-hints", Label).update(hint)

    @on(Input.Changed)
    def _typed(self, event: Input.Changed) -> None:
        if self.box.value != self._set_value:  # typed, not put there by a completion or a history step
            self._say(self.HINTS)

    # --- history -------------------------------------------------------------------------------

    def action_history(self, step: int) -> None:
        box = self.box
        if box.value != self._set_value:  # typed since the last step: walk the commands that begin so
            self.history.reset()
        text = self.history.older(box.value) if step < 0 else self.history.newer()
        if text is None:
            return
        self._cycle = None
        self._put(text, "")

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        if event.value.strip():
            problem = remember(event.value)
            if problem and not CommandLine._history_warned:
                CommandLine._history_warned = True
                self.app.notify(problem, severity="warning", timeout=10)
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)


class Message(ModalScreen[None]):
    """Text to read (a report), closed with enter or esc."""

    BINDINGS = [Binding("escape,enter,q", "close", "Close", id="message-close")]

    def __init__(self, title: str, text: str) -> None:
        super().__init__()
        self.title_text = title
        self.text = text

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(self.title_text, id="message-title")
            with VerticalScroll(id="details-text"):
                yield Static(Text(self.text))
            yield Label("enter or esc closes", id="answers")

    def action_close(self) -> None:
        self.dismiss(None)


WRITE_ROUTES = (
    ("export", "export  merged NAME.cs + NAME.csg of one input, for Import Result Group, pyem, cryoDRGN"),
    ("plan", "plan    the edits as JSON (reopen with csrebind PROJECT --plan FILE, or csrebind apply)"),
    ("script", "script  a commented cryosparc-tools script that applies the edits"),
    ("apply", "apply   the edits to the running CryoSPARC now (target must be building)"),
    ("imports", "imports export into a new folder PROJECT/imports/NAME/, the path Import Result Group takes"),
)


class WriteMenu(ModalScreen[str | None]):
    """Pick how to write the rebinding out; the chosen route opens the : line, filled in."""

    BINDINGS = [Binding("escape,q", "cancel", "Cancel", id="write-cancel")]

    def __init__(self, heading: str) -> None:
        super().__init__()
        self.heading = heading

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(self.heading, id="write-title")
            yield PickList(*[Option(f"{n} {text}", id=route) for n, (route, text) in enumerate(WRITE_ROUTES, 1)],
                           id="routes")
            yield Label("j/k move · 1–5 or enter choose · esc cancel", id="answers")

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    def on_key(self, event: events.Key) -> None:
        """A route's number chooses it at once."""
        number = int(event.character) if event.character and event.character.isdigit() else 0
        if 1 <= number <= len(WRITE_ROUTES):
            event.stop()
            self.dismiss(WRITE_ROUTES[number - 1][0])

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)

"""Small modal screens: yes/no confirmation, the version picker and the command line."""

from __future__ import annotations

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
from ...core.diff import ALIGNMENT_DTYPES, VersionStep, version_steps
from ...core.model import OutputResult
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

    BINDINGS = [Binding("escape,q", "cancel", "Cancel", id="picker-cancel")]
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
        self.comparing = False

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(f"Versions of {self.result.ref().short}", id="picker-title")
            yield PickList(*self._options(), id="versions", jump_by_digits=True)
            help_text = "enter pick · esc cancel · j/k or digits move"
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
        chosen = event.option.id
        self.dismiss(FINAL if chosen == "F" else int(chosen))

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
    """A vim-style ``:`` line at the bottom of the screen."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="command-cancel")]

    def __init__(self, initial: str = "") -> None:
        super().__init__()
        self.initial = initial

    def compose(self) -> ComposeResult:
        hints = "  ".join(spec.name for spec in LINE_COMMANDS)
        with Vertical(id="command-box"):
            yield Label(hints, id="command-hints")
            # Not selected on focus: the text filled in (``yank ``, ``write export ``) is to type after.
            yield Input(value=self.initial, placeholder="command (help lists them)", id="command-input",
                        select_on_focus=False)

    def on_mount(self) -> None:
        box = self.query_one(Input)
        box.cursor_blink = False
        box.focus()
        box.cursor_position = len(box.value)

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
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
            yield Label("j/k move · 1–4 or enter choose · esc cancel", id="answers")

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

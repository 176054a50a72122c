"""Small modal screens: yes/no confirmation, the version picker and the command line."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from ...core.commands import LINE_COMMANDS
from ...core.model import OutputResult
from ...core.refs import FINAL, Version


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


class VersionPicker(ModalScreen[Version | None]):
    """Every stored iteration of one result with its row count; F marks the final one."""

    BINDINGS = [Binding("escape,q", "cancel", "Cancel", id="picker-cancel")]

    def __init__(self, result: OutputResult, current: Version) -> None:
        super().__init__()
        self.result = result
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(f"Versions of {self.result.ref().short}", id="picker-title")
            yield OptionList(*self._options(), id="versions")
            yield Label("enter pick · esc cancel", id="picker-help")

    def _options(self) -> list[Option]:
        options = [Option(Text.assemble(("F", "bold"), f"  final (= {self.result.final_version})"), id="F")]
        for index, version in reversed(list(enumerate(self.result.versions))):
            rows = self.result.num_items[index] if index < len(self.result.num_items) else None
            label = Text(f"{version:>6}")
            label.append(f"  {rows:,} rows" if rows is not None else "  ? rows", style="dim")
            label.append(f"  {self.result.metafiles[index] if index < len(self.result.metafiles) else ''}", style="dim")
            if index == len(self.result.versions) - 1:
                label.append("  F", style="bold green")
            options.append(Option(label, id=str(version)))
        return options

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        wanted = "F" if self.current == FINAL else str(self.current)
        options.highlighted = options.get_option_index(wanted)
        options.focus()

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        chosen = event.option.id
        self.dismiss(FINAL if chosen == "F" else int(chosen))

    def action_cancel(self) -> None:
        self.dismiss(None)


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
            yield Input(value=self.initial, placeholder="command (help lists them)", id="command-input")

    def on_mount(self) -> None:
        box = self.query_one(Input)
        box.cursor_blink = False
        box.focus()

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
            yield OptionList(*[Option(text, id=route) for route, text in WRITE_ROUTES], id="routes")
            yield Label("enter choose · esc cancel", id="answers")

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)

"""Help: every binding with the key it answers to now (after the user's keymap), and the commands."""

from __future__ import annotations

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from ...core.commands import COMMANDS, LINE_COMMANDS
from ...core.config import config_path
from ..commands import current_keys, scroll_bindings


def help_rows(keymap: dict[str, str]) -> list[tuple[str, str, str]]:
    """(keys now, what it does, binding id) for every binding."""
    return [(current_keys(spec, keymap), spec.description, spec.id) for spec in COMMANDS if spec.keys]


def help_table(rows: list[tuple[str, str, str]]) -> Table:
    table = Table(box=None, expand=True, show_header=True, header_style="bold")
    table.add_column("key", style="bold cyan", no_wrap=True)
    table.add_column("does")
    table.add_column("binding id", style="dim", no_wrap=True)
    for row in rows:
        table.add_row(*row)
    table.add_row("ctrl+p", "Command palette", "")
    return table


def commands_table() -> Table:
    table = Table(box=None, expand=True, show_header=True, header_style="bold")
    table.add_column(":command", style="bold cyan")
    table.add_column("does")
    for spec in LINE_COMMANDS:
        table.add_row(spec.usage, spec.help)
    return table


class HelpText(VerticalScroll):
    """The help's scrolled text: j/k/g/G scroll it, as they move the panes."""

    BINDINGS = scroll_bindings()


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark,f1", "dismiss", "Close", id="help-close")]

    def __init__(self, keymap: dict[str, str]) -> None:
        super().__init__()
        self.rows = help_rows(keymap)

    def compose(self) -> ComposeResult:
        with HelpText(id="help"):
            yield Static("[b]csrebind keys[/b]  (esc closes)")
            yield Static(help_table(self.rows))
            yield Static("\n[b]Commands[/b] (type : then a command)")
            yield Static(commands_table())
            yield Static(
                f"\nRemap keys in {config_path()}:\n  keymap:\n    yank: c\n"
                "A keymap entry replaces the default keys of that binding id."
            )

    def on_mount(self) -> None:
        self.query_one(HelpText).focus()

    def action_dismiss(self) -> None:
        self.dismiss(None)

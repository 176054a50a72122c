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


# Every mark the panes use, with what it means (each reads without colour too).
LEGEND: tuple[tuple[str, str], ...] = (
    ("✓  ✗ failed  ✗ killed", "job completed, failed, killed (jobs pane)"),
    ("● building", "a job being built: the only status live apply can change"),
    ("▶ running  … queued", "a job running, or waiting to run"),
    ("↺", "a job shown again under another of its parents"),
    ("J202 ←J198", "past 8 levels a job is not indented further and names its parent"),
    ("pt", "a passthrough result: carried from an input, not made by the job"),
    ("it7 (6)", "the iteration shown, and how many are stored"),
    (".F  .3", "the final version, or iteration 3 (versions are matched by value)"),
    ("blob*", "a required slot; an empty one is marked as an error"),
    ("+ blob", "a slot (or input) the register fits (same group type and dtype)"),
    ("● J5·blob.F  was blob.F", "an edited slot, the source named where it differs from the connection"),
    ("particles.0 ← J9.particles · 1,000 rows", "rows the join on uid keeps, as CryoSPARC would load them"),
    ("● new", "a connection added in this session"),
    ("↳ location.F passthrough", "a result the connection carries without a slot"),
)


def legend_table() -> Table:
    table = Table(box=None, expand=True, show_header=True, header_style="bold")
    table.add_column("mark", style="bold", no_wrap=True)
    table.add_column("means")
    for mark, meaning in LEGEND:
        table.add_row(mark, meaning)
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
            yield Static("\n[b]Marks[/b]")
            yield Static(legend_table())
            yield Static("\n[b]Commands[/b] (type : then a command; tab completes, ↑ ↓ recall)")
            yield Static(commands_table())
            yield Static(
                f"\nRemap keys in {config_path()}:\n  keymap:\n    yank: c\n"
                "A keymap entry replaces the default keys of that binding id."
            )

    def on_mount(self) -> None:
        self.query_one(HelpText).focus()

    def action_dismiss(self) -> None:
        self.dismiss(None)

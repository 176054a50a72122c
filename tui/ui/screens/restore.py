"""Restore edits journaled by csrebind windows that ended without quitting (a crash, a dropped
SSH connection): each journal is listed with its targets, edit count and when it was saved;
restore one, all or none (discard them), or leave them for the next start."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option

from ...core.journal import FoundJournal
from ..widgets.picklist import PickList


class RestoreDialog(ModalScreen[list[FoundJournal] | None]):
    """Dismissed with the journals to restore (the others are kept for the next start), ``[]``
    to discard them all, or None to decide later (every journal kept)."""

    BINDINGS = [
        Binding("a", "all", "Restore all", id="restore-all"),
        Binding("n", "none", "Discard all", id="restore-none"),
        Binding("escape", "later", "Later", id="restore-later"),
    ]

    def __init__(self, journals: list[FoundJournal]) -> None:
        super().__init__()
        self.journals = journals

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(f"{len(self.journals)} csrebind windows on this project ended with edits "
                        "they had not quit from. Restore:", id="restore-title")
            yield PickList(*[Option(f"{n}  {j.summary()}", id=str(n)) for n, j in enumerate(self.journals, 1)],
                           id="journals", jump_by_digits=True)
            yield Label("j/k or digits move · enter restore this one (keep the others) · a all · "
                        "n none (discard them all) · esc later (keep them all)", id="restore-help")

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss([self.journals[int(event.option.id) - 1]])

    def action_all(self) -> None:
        self.dismiss(list(self.journals))

    def action_none(self) -> None:
        self.dismiss([])

    def action_later(self) -> None:
        self.dismiss(None)

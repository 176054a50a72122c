"""Restore edits journaled by csrebind windows that ended without quitting (a crash, a dropped
SSH connection): each journal is listed with its targets, edit count and when it was saved;
restore one, all or none (discard them), or leave them for the next start. JournalRestore runs
that at start-up for the main screen (offer, restore, then the ``--plan`` file)."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option

from ...core.errors import CsRebindError
from ...core.journal import FoundJournal
from .dialogs import Confirm
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


class JournalRestore:
    """At start-up: offer the journals found, restore what the user chose, then open the
    ``--plan`` file if there is one. Owned for that moment by the main screen."""

    def __init__(self, screen) -> None:
        self.screen = screen  # the MainScreen: its workbench, status bar and refreshes

    def offer(self, journals: list[FoundJournal]) -> None:
        """Offer the journals of windows that ended without quitting: one as a yes/no question,
        several in a list (restore one, all or none, or later)."""
        screen = self.screen

        def answered(chosen: list[FoundJournal] | None) -> None:
            if chosen is None:  # later: every journal is kept for the next start
                for journal in journals:
                    journal.release()
            elif not chosen:
                for journal in journals:
                    journal.remove()
                screen.say(f"discarded the edits of {len(journals)} earlier window(s)")
            else:
                for journal in journals:
                    if journal not in chosen:
                        journal.release()
                self.restore(chosen)
            if screen.initial_plan is not None:
                screen.open_plan(screen.initial_plan)

        if len(journals) > 1:
            screen.app.push_screen(RestoreDialog(journals), answered)
            return
        (journal,) = journals
        details = "\n".join(["A csrebind on this project ended without quitting; it had journaled:", "",
                             *journal.changes()])
        screen.app.push_screen(Confirm(f"Restore {journal.summary()} (n discards them)?", details),
                               lambda yes: answered([journal] if yes else []))

    def restore(self, journals: list[FoundJournal]) -> None:
        """Open every session of ``journals``; once this window's journal holds them, theirs go.
        A session that cannot be opened stays in its journal (and is said why, one line each)."""
        screen = self.screen
        failed: dict[int, list[dict]] = {}  # per journal (by index), the sessions not restored
        targets: list[str] = []
        edits = 0
        for index, journal in enumerate(journals):
            for entry in journal.sessions:
                try:
                    session = screen.bench.restore(entry)
                except CsRebindError as exc:
                    failed.setdefault(index, []).append(entry)
                    screen.app.notify(f"journal {journal.path}: {entry.get('target')} not restored: {exc}",
                                      severity="warning", timeout=10)
                    continue
                targets.append(session.target.uid)
                edits += len(session.changes())
        if screen.bench.target:
            screen.set_target(screen.bench.target)
        screen.after_edit(f"restored {edits} edit(s) for {', '.join(dict.fromkeys(targets))}" if targets else None)
        try:  # now, not in a worker: the restored journals are removed only once this one holds their edits
            screen.bench.journal.write(screen.bench.journal_snapshot())
            for index, journal in enumerate(journals):
                journal.keep_only(failed.get(index, []))
        except (OSError, CsRebindError) as exc:
            screen.say(f"journal not saved: {exc}; the earlier journals are kept", error=True)
            for journal in journals:
                journal.release()

"""The candidates of a slot: every result in the project that can fill it, listed at once (job
documents only), then measured in a worker — rows kept by the join on uid, box and pixel size —
and ranked; enter puts the highlighted one (the put's own join check still applies)."""

from __future__ import annotations

import time
from functools import partial

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option
from textual.worker import get_current_worker

from ...core.candidates import Candidate, list_candidates, measure, rank
from ...core.refs import ResultRef, SlotAddress
from ...core.session import EditSession
from ..failures import ReportsWorkerFailures
from ..marks import style
from ..widgets.picklist import LazyOption, OneLinePickList


class CandidatesMeasured(Message):
    def __init__(self, candidates: list[Candidate], done: bool) -> None:
        super().__init__()
        self.candidates = candidates
        self.done = done


class CandidatesListing(Message):
    """How many of the project's jobs have had their outputs read, before any candidate is listed."""

    def __init__(self, read: int, total: int) -> None:
        super().__init__()
        self.read = read
        self.total = total


class CandidatesProgress(Message):
    """How many candidates are measured, for a list too long to show them as they are."""

    def __init__(self, measured: int) -> None:
        super().__init__()
        self.measured = measured


def _cell(text: str, width: int) -> str:
    return text[: width - 1] + "…" if len(text) > width else text.ljust(width)


FACT_WIDTH = 28


def candidate_label(candidate: Candidate, ref_width: int, keeps_width: int = 0) -> Text:
    """One line, in columns: reference and marker, rows, what the join keeps, the first fact
    (``box 452 px, 1.115 Å/px``), then the job title, which a narrow terminal cuts first.
    Markers read without colour too."""
    label = Text(_cell(str(candidate.ref), ref_width), style="bold")
    marker = "now" if candidate.current else "pt" if candidate.passthrough else ""
    label.append(f" {marker:<3}", style="italic")
    rows = "?" if candidate.rows is None else f"{candidate.rows:,}"
    label.append(f" {rows:>9} rows  ", style="dim")
    keeps = (candidate.keeps_text + (" ✗" if candidate.empty else "")).ljust(keeps_width)
    if candidate.empty:
        label.append(keeps, style=style("error"))
    elif candidate.measured and candidate.kept is None:
        label.append(keeps, style=style("unknown"))
    else:
        label.append(keeps, style=style("ok") if candidate.measured else "dim")
    label.append(f"  {_cell(candidate.fact or '', FACT_WIDTH)}  ")
    failed = candidate.status != "completed"
    label.append(("✗ " if failed else "") + candidate.title, style=style("error") if failed else "dim")
    return label


class _Closed(Exception):
    """Ends a search whose dialog was closed."""


class CandidatesScreen(ReportsWorkerFailures, ModalScreen[ResultRef | None]):
    """Pick the result to put into ``address``; measuring is cancelled when the screen closes."""

    BINDINGS = [Binding("escape,q", "cancel", "Cancel", id="candidates-cancel")]
    # While measuring, the list is made again at most every UPDATE_EVERY seconds (or three times
    # what the last update took), and only while it is short: every update makes each option
    # again and Textual measures each one, about 0.2 ms apiece; with the 5,332 candidates of a
    # 5,000-job project, updates after every few candidates froze the screen for many minutes.
    # A longer list shows how far measuring has come, and is made again once, ranked.
    UPDATE_EVERY = 0.5
    LIVE_UPDATES_UP_TO = 300  # candidates

    def __init__(self, session: EditSession, address: SlotAddress) -> None:
        super().__init__()
        self.session = session
        self.address = address
        self.candidates: list[Candidate] = []
        self.listed = False  # the job documents are read (in the worker) and every fit is listed
        self.done = False
        self.updated_in = 0.0  # seconds the last update of the list took (read by the worker)
        self.measured = 0  # candidates measured so far, for a list too long to update live
        self.reading: tuple[int, int] | None = None  # jobs whose outputs are read, of how many

    def compose(self) -> ComposeResult:
        bound = self.session.binding(self.address)
        now = str(bound.ref) if bound is not None else "empty"
        with Vertical(id="dialog"):
            yield Label(f"Candidates for {self.session.target.uid}.{self.address.local} (now {now})",
                        id="candidates-title")
            yield OneLinePickList(*self._options(), id="candidates")
            yield Label(self._help_text(), id="candidates-help")

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()
        self._measure()

    def _options(self) -> list[Option]:
        if not self.candidates:
            return [Option(self._placeholder(), id="none", disabled=True)]
        ref_width = max(len(str(c.ref)) for c in self.candidates)
        keeps_width = max(len(c.keeps_text) + (2 if c.empty else 0) for c in self.candidates)
        return [LazyOption(partial(candidate_label, c, ref_width, keeps_width), id=str(c.ref)) for c in self.candidates]

    def _placeholder(self) -> str:
        if self.listed:
            return "no result in the project fits this slot"
        if self.reading is None:
            return "reading the project's outputs…"
        read, total = self.reading
        return f"reading the project's outputs… {read:,} of {total:,} jobs"

    def _help_text(self) -> str:
        if not self.listed:
            return "finding every result that fits · esc cancel"
        if self.done:
            state = "ranked by rows kept, then newest"
        elif self.measured:
            state = f"measuring the join on uid… {self.measured:,} done"
        else:
            state = "measuring the join on uid…"
        return f"{len(self.candidates):,} result(s) · {state} · enter put · esc cancel"

    def _measure(self) -> None:
        session, address = self.session, self.address

        def job() -> None:
            worker = get_current_worker()
            due = time.monotonic() + self.UPDATE_EVERY

            def reading(read: int, total: int) -> None:
                nonlocal due
                if worker.is_cancelled:
                    raise _Closed  # the dialog was closed while the outputs were read
                if time.monotonic() >= due:
                    self.post_message(CandidatesListing(read, total))
                    due = time.monotonic() + self.UPDATE_EVERY

            try:
                listed = list_candidates(session, address, progress=reading)
            except _Closed:
                return
            self.post_message(CandidatesMeasured(listed, done=not listed))
            live = len(listed) <= self.LIVE_UPDATES_UP_TO
            measured: list[Candidate] = []
            due = time.monotonic() + self.UPDATE_EVERY
            for candidate in listed:
                if worker.is_cancelled:
                    return
                measured.append(measure(session, address, candidate))
                if time.monotonic() >= due and len(measured) < len(listed):
                    if live:
                        self.post_message(CandidatesMeasured(measured + listed[len(measured):], done=False))
                    else:
                        self.post_message(CandidatesProgress(len(measured)))
                    due = time.monotonic() + max(self.UPDATE_EVERY, 3 * self.updated_in)
            self.post_message(CandidatesMeasured(rank(measured), done=True))

        self.run_worker(job, thread=True, exclusive=True, group="candidates", exit_on_error=False)

    @on(CandidatesListing)
    def _reading(self, event: CandidatesListing) -> None:
        if self.listed:
            return  # a late message: the list is there
        self.reading = (event.read, event.total)
        options = self.query_one(OptionList)
        if options.option_count == 1 and options.get_option_at_index(0).id == "none":
            options.replace_option_prompt("none", self._placeholder())

    @on(CandidatesProgress)
    def _progress(self, event: CandidatesProgress) -> None:
        self.measured = event.measured
        self.query_one("#candidates-help", Label).update(self._help_text())

    @on(CandidatesMeasured)
    def _measured(self, event: CandidatesMeasured) -> None:
        start = time.perf_counter()
        options = self.query_one(OptionList)
        highlighted = options.highlighted
        kept_on = options.get_option_at_index(highlighted).id if highlighted is not None and self.candidates else None
        self.candidates, self.listed, self.done = event.candidates, True, event.done
        options.clear_options()
        options.add_options(self._options())
        # The ranking puts the best first; a user who has moved keeps their candidate.
        ids = [str(c.ref) for c in self.candidates]
        options.highlighted = ids.index(kept_on) if highlighted and kept_on in ids else 0
        self.query_one("#candidates-help", Label).update(self._help_text())
        self.updated_in = time.perf_counter() - start

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        if event.option.id and event.option.id != "none":
            self.dismiss(ResultRef.parse(event.option.id))

    def action_cancel(self) -> None:
        self.dismiss(None)

"""Details of the highlighted result or slot: metafile, rows and the .cs header's fields (the
header is read in a worker; a read for a result no longer highlighted is dropped)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.containers import VerticalScroll
from textual.timer import Timer
from textual.widgets import Static
from textual.worker import get_current_worker

from ...core.errors import CsRebindError
from ...core.model import ResolvedResult
from ...core.project import Project
from ...core.refs import ResultRef
from ..failures import ReportsWorkerFailures, background
from ..marks import style

if TYPE_CHECKING:  # numpy: imported by the worker that reads a header
    from ...core.csfile import CsHeader
    from ...core.facts import ResultFacts


def details_text(resolved: ResolvedResult, header: CsHeader | None, problem: str | None,
                 facts: ResultFacts | None = None) -> Text:
    text = Text()
    text.append(str(resolved.ref), style="bold")
    kind = "passthrough" if resolved.passthrough else f"version {resolved.version}"
    text.append(f"  {resolved.group_type} {resolved.dtype}, {kind}\n", style="italic")
    if facts is not None and facts.lines():  # what a rebinding decision rests on: first
        text.append(" · ".join(facts.lines()) + "\n", style="bold")
    text.append("metafile ", style="dim")
    text.append(resolved.metafile)
    rows = f"{resolved.num_items:,}" if resolved.num_items is not None else "?"
    text.append(f"   rows {rows}", style="dim")
    if header is not None:
        text.append(f" (file: {header.num_rows:,}, {header.format})", style="dim")
        fields = header.fields_of(resolved.ref.result)
        text.append(f"\n{len(fields)} fields: ", style="dim")
        text.append(", ".join(f"{f.split('/', 1)[1]} {header.describe_field(f)}" for f in fields))
        others = [p for p in header.prefixes if p != resolved.ref.result]
        if others:
            text.append("\nsame file also holds: ", style="dim")
            text.append(", ".join(others), style="dim")
    if problem:
        text.append(f"\n{problem}", style=style("error"))
    return text


RESULT_WAIT = 0.15  # seconds on a job before its first result is shown (and its header read)


class DetailsPane(ReportsWorkerFailures, VerticalScroll):
    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.ref: ResultRef | None = None  # the result shown, while its header is read
        self._shown: Text | str = ""
        self._pending: Timer | None = None  # a result waiting for the highlight to stay

    def compose(self):
        yield Static(id="details-body")

    def _show(self, content: Text | str) -> None:
        if content == self._shown:
            return  # an update lays out the whole screen: none when moving between jobs leaves it blank
        self._shown = content
        self.query_one("#details-body", Static).update(content)

    def show_note(self, content: Text | str = "") -> None:
        """Details that are not a result's; a header read still running for one is dropped."""
        self.ref = None
        self._cancel_pending()
        self._show(content)

    def show_result(self, project: Project, ref: ResultRef, wait: bool = False) -> None:
        """The result's reference, rows and metafile, then its .cs header and facts once read.
        With ``wait``, all of it after ``RESULT_WAIT`` seconds on the same result, the pane blank
        meanwhile: a key held down to move through jobs neither redraws the pane nor starts a
        read for each job's first result."""
        self.ref = ref
        self._cancel_pending()
        if wait:
            self._show("")
            self._pending = self.set_timer(RESULT_WAIT, lambda: self._show_waited(project, ref))
            return
        try:
            resolved = project.resolve(ref)
        except CsRebindError as exc:
            self._show(Text(f"{ref}: {exc}", style=style("error")))
            return
        self._show(details_text(resolved, None, None))
        self._read_header(project, resolved)

    def _show_waited(self, project: Project, ref: ResultRef) -> None:
        self._pending = None
        if self.ref == ref:
            self.show_result(project, ref)

    @property
    def result_due(self) -> bool:
        """A result waits to be shown (see ``show_result``)."""
        return self._pending is not None

    def _cancel_pending(self) -> None:
        if self._pending is not None:
            self._pending.stop()
            self._pending = None

    @background(exclusive=True, group="details")
    def _read_header(self, project: Project, resolved: ResolvedResult) -> None:
        from ...core.csfile import read_header
        from ...core.facts import result_facts

        path = project.absolute(resolved.metafile)
        header = facts = problem = None
        try:
            header = read_header(path)
            facts = result_facts(path, resolved.ref.result)
        except CsRebindError as exc:
            problem = str(exc)
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._header_read, resolved, header, problem, facts)

    def _header_read(self, resolved: ResolvedResult, header: CsHeader | None, problem: str | None,
                     facts: ResultFacts | None) -> None:
        if self.ref == resolved.ref:  # still the highlighted result
            self._show(details_text(resolved, header, problem, facts))

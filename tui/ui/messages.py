"""Messages the panes post upward; the main screen coordinates them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from textual.message import Message

from ..core.joblist import JobRows
from ..core.model import InputGroup, Job, OutputGroup, OutputResult
from ..core.project import Project
from ..core.refs import SlotAddress


@dataclass
class JobHighlighted(Message):
    uid: str | None


@dataclass
class ResultHighlighted(Message):
    """The outputs pane's cursor is on ``result`` (None on a group's line). ``job_shown``: it is
    on the first result of a job just shown (the user is moving through jobs, perhaps quickly)."""

    group: OutputGroup | None
    result: OutputResult | None
    job_shown: bool = False


@dataclass
class SlotHighlighted(Message):
    """The inputs pane's cursor moved; ``address`` is None on rows that are not slots."""

    address: SlotAddress | None


@dataclass
class FilterDone(Message):
    """The job filter closed: jump to ``uid`` (None = cancelled)."""

    uid: str | None
    matches: list[str]


@dataclass
class ProjectOpened(Message):
    project: Project


@dataclass
class JobsRead(Message):
    """A batch of jobs read from disk, in uid order, and the jobs pane's rows of every job so far
    (lineage, at depth cap ``cap``; None when the list is not redrawn for this batch)."""

    jobs: list[Job]
    done: int
    total: int
    rows: JobRows | None
    cap: int


@dataclass
class ProjectRead(Message):
    """Every job has been read; ``journal`` holds unsaved sessions from an earlier run (each a
    FoundJournal)."""

    journal: list


@dataclass
class WriteOutcome(Message):
    """A write-out route finished or was refused. ``target`` (and for an export ``input_name``)
    is what is now written out; with ``title`` the text is a report shown in a dialog."""

    text: str
    error: bool = False
    title: str | None = None
    target: str | None = None
    input_name: str | None = None


@dataclass
class ConfirmWrite(Message):
    """Ask before writing or applying; ``then`` runs on a yes."""

    question: str
    details: str
    then: Callable[[], None]


@dataclass
class JoinPreviewed(Message):
    """The join on uid of ``target``'s inputs as they were (``state``); ``put`` is the put it checks."""

    target: str
    state: tuple[InputGroup, ...]
    previews: tuple  # tui.core.preview.ConnectionPreview, per connection
    put: object | None = None  # tui.ui.joins.PutCheck

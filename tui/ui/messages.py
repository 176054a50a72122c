"""Messages the panes post upward; the main screen coordinates them."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from ..core.model import OutputGroup, OutputResult
from ..core.refs import SlotAddress


@dataclass
class JobHighlighted(Message):
    uid: str | None


@dataclass
class ResultHighlighted(Message):
    group: OutputGroup | None
    result: OutputResult | None


@dataclass
class SlotHighlighted(Message):
    address: SlotAddress | None
    input_name: str | None
    connection: int | None


@dataclass
class FilterDone(Message):
    """The job filter closed: jump to ``uid`` (None = cancelled)."""

    uid: str | None
    matches: list[str]


@dataclass
class LoadProgress(Message):
    done: int
    total: int

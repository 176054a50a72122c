"""The one-line status bar: register, highlighted slot's binding, pending edits, last message."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static


class StatusBar(Static):
    register: reactive[str] = reactive("")
    slot: reactive[str] = reactive("")
    edits: reactive[int] = reactive(0)
    message: reactive[str] = reactive("")
    error: reactive[bool] = reactive(False)

    def render(self) -> Text:
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(f" {self.register or 'register empty'} ", style="reverse bold" if self.register else "dim")
        edits = f"{self.edits} edit{'s' if self.edits != 1 else ''}"
        text.append(f" {edits} │", style="bold yellow" if self.edits else "dim")
        if self.message:
            text.append(f" {self.message}", style="bold red" if self.error else "bold")
        elif self.slot:
            text.append(f" {self.slot}")
        return text

    def say(self, message: str, error: bool = False) -> None:
        self.message, self.error = message, error

    def clear_message(self) -> None:
        self.message, self.error = "", False

"""The one-line status bar: register, highlighted slot's binding, pending edits, last message.

A message stays until the next key press: moving the cursor as a result of the command that said
it (a match jumped to, a plan's target highlighted) does not wipe it, and within one key press an
error is not replaced by a plain message. Every message is kept, with its time, for ``:messages``.
"""

from __future__ import annotations

from collections import deque
from datetime import datetime

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from ..marks import style


class StatusBar(Static):
    register: reactive[str] = reactive("")
    slot: reactive[str] = reactive("")
    edits: reactive[int] = reactive(0)
    message: reactive[str] = reactive("")
    error: reactive[bool] = reactive(False)
    HISTORY = 100

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.history: deque[tuple[datetime, str, bool]] = deque(maxlen=self.HISTORY)
        self._said_at = -1  # the key press count when the message was said

    def _key_presses(self) -> int:
        return getattr(self.app, "key_presses", 0)

    def render(self) -> Text:
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(f" {self.register or 'register empty'} ", style="reverse bold" if self.register else "dim")
        edits = f"{self.edits} edit{'s' if self.edits != 1 else ''}"
        text.append(f" {edits} │", style=style("pending") if self.edits else "dim")
        if self.message:
            text.append(f" {self.message}", style=style("error") if self.error else "bold")
        elif self.slot:
            text.append(f" {self.slot}")
        return text

    def say(self, message: str, error: bool = False) -> None:
        self.history.append((datetime.now(), message, error))
        pressed = self._key_presses()
        if self.error and not error and self.message and pressed == self._said_at:
            return  # the error said for this key press stays on screen
        self.message, self.error, self._said_at = message, error, pressed

    def clear_message(self) -> None:
        """Drop the message, unless no key was pressed since it was said."""
        if self._key_presses() != self._said_at:
            self.message, self.error = "", False

    def history_text(self) -> str:
        """The last messages, newest last, with their times (``:messages``)."""
        if not self.history:
            return "no messages yet"
        return "\n".join(f"{when:%H:%M:%S}  {'✗ ' if error else ''}{text}" for when, text, error in self.history)

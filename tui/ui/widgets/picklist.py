"""The list every dialog picks from: Textual's OptionList with the panes' movement keys (j/k/g/G,
remapped with them), and digits that jump to the option whose id they spell."""

from __future__ import annotations

from typing import Callable

from textual import events
from textual.geometry import Size
from textual.visual import VisualType
from textual.widgets import OptionList
from textual.widgets.option_list import Option, OptionDoesNotExist

from ..commands import list_bindings


class PickList(OptionList):
    BINDINGS = list_bindings()

    def __init__(self, *options, jump_by_digits: bool = False, **kwargs) -> None:
        super().__init__(*options, **kwargs)
        self.jump_by_digits = jump_by_digits
        self.typed = ""  # digits typed so far: "1" then "2" reaches option "12"

    def on_key(self, event: events.Key) -> None:
        if not (self.jump_by_digits and event.character and event.character.isdigit()):
            self.typed = ""
            return
        event.stop()
        for typed in (self.typed + event.character, event.character):
            try:
                self.highlighted = self.get_option_index(typed)
            except OptionDoesNotExist:
                continue
            self.typed = typed
            return
        self.typed = ""


class OneLinePickList(PickList):
    """A PickList whose options are one line each (``text-wrap: nowrap`` in its style): when the
    options change, Textual measures the height of every one, about 0.1 ms apiece, which froze
    the screen for most of a second with the 5,332 candidates of a 5,000-job project. Here each
    is one line without measuring. This repeats ``OptionList._update_lines`` without the
    measuring (textual is pinned exactly), and its auto height (measuring every option too) is
    the number of options; options may not be dividers."""

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(self.options)

    def _update_lines(self) -> None:
        if not self.scrollable_content_region:
            return
        cache = self._line_cache
        lines = cache.lines
        for index in range(lines[-1][0] + 1 if lines else 0, len(self.options)):
            cache.index_to_line[index] = len(lines)
            cache.heights[index] = 1
            lines.append((index, 0))
        width = self.scrollable_content_region.width - self._get_left_gutter_width()
        virtual_size = Size(width, len(lines))
        if virtual_size != self.virtual_size:
            self.virtual_size = virtual_size
            self._scroll_update(virtual_size)


class LazyOption(Option):
    """An option whose prompt is made when it is first drawn: a list of 50,000 candidates shows
    about forty, and making every label took seconds of the UI thread (OptionList reads an
    option's prompt only to draw it)."""

    def __init__(self, make: Callable[[], VisualType], id: str | None = None, disabled: bool = False) -> None:
        super().__init__("", id, disabled)
        self._make: Callable[[], VisualType] | None = make

    @property
    def prompt(self) -> VisualType:
        if self._make is not None:
            self._prompt, self._make = self._make(), None
        return self._prompt

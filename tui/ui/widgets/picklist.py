"""The list every dialog picks from: Textual's OptionList with the panes' movement keys (j/k/g/G,
remapped with them), and digits that jump to the option whose id they spell."""

from __future__ import annotations

from textual import events
from textual.widgets import OptionList
from textual.widgets.option_list import OptionDoesNotExist

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

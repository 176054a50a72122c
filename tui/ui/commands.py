"""The command table (tui.core.commands) turned into Textual: key bindings with ids for the
user's keymap, and the command palette (ctrl+p). Dispatch is the main screen's."""

from __future__ import annotations

from functools import partial

from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider

from ..core.commands import COMMANDS, LINE_COMMANDS, CommandSpec

KEY_NAMES = {"slash": "/", "colon": ":", "question_mark": "?", "left_square_bracket": "[",
             "right_square_bracket": "]", "escape": "esc"}


def screen_bindings() -> list[Binding]:
    """The main screen's keys: each runs its command through ``action_run``."""
    return [
        Binding(s.keys, f"run({s.id!r})", s.description, show=s.show, key_display=s.key_display, id=s.id)
        for s in COMMANDS
        if s.keys and s.pane_action is None
    ]


def pane_bindings() -> list[Binding]:
    """Movement keys every pane's tree answers to."""
    return [Binding(s.keys, s.pane_action, s.description, show=False, id=s.id) for s in COMMANDS if s.pane_action]


# The panes' movements as a list's (OptionList) actions: dialogs move with the same keys, and a
# user's keymap entry for cursor-down (say) moves them too.
LIST_ACTIONS = {"cursor_down": "cursor_down", "cursor_up": "cursor_up", "scroll_home": "first", "scroll_end": "last"}


def list_bindings() -> list[Binding]:
    """j/k/g/G (as the keymap has them) for every list in a dialog."""
    return [Binding(s.keys, LIST_ACTIONS[s.pane_action], s.description, show=False, id=s.id)
            for s in COMMANDS if s.pane_action in LIST_ACTIONS]


def scroll_bindings() -> list[Binding]:
    """The same keys for a scrolled text (help): down, up, top, bottom."""
    actions = {"cursor_down": "scroll_down", "cursor_up": "scroll_up", "scroll_home": "scroll_home",
               "scroll_end": "scroll_end"}
    return [Binding(s.keys, actions[s.pane_action], s.description, show=False, id=s.id)
            for s in COMMANDS if s.pane_action in actions]


def current_keys(spec: CommandSpec, keymap: dict[str, str]) -> str:
    """The keys a binding answers to now: the user's keymap entry replaces the default."""
    keys = keymap.get(spec.id, spec.keys)
    return ", ".join(KEY_NAMES.get(k.strip(), k.strip()) for k in keys.split(","))


class CsRebindCommands(Provider):
    """The palette offers the : line's commands: those without arguments run at once, the
    others open the : line with the command typed."""

    def _run(self, spec: CommandSpec) -> None:
        screen = self.app.main_screen
        if spec.min_args == 0:
            screen.run_command(spec.name)
        else:
            screen.command_command_line(spec.name + " ")

    async def discover(self) -> Hits:
        for spec in LINE_COMMANDS:
            yield DiscoveryHit(spec.usage, partial(self._run, spec), help=spec.help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for spec in LINE_COMMANDS:
            score = matcher.match(f"{spec.name} {spec.help}")
            if score > 0:
                yield Hit(score, matcher.highlight(spec.usage), partial(self._run, spec), help=spec.help)

"""Every key binding, in one table: the screens' BINDINGS, the help screen and the user's
keymap (``keymap: {id: keys}`` in config.yaml) are all derived from it."""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding


@dataclass(frozen=True)
class Key:
    id: str
    keys: str
    action: str
    description: str
    scope: str  # "main" (the main screen) or "pane" (every pane's tree)
    show: bool = False
    key_display: str | None = None


KEYS: tuple[Key, ...] = (
    # panes and movement
    Key("next-pane", "tab", "focus_next_pane", "Next pane", "main"),
    Key("previous-pane", "shift+tab", "focus_previous_pane", "Previous pane", "main"),
    Key("jobs-pane", "1", "focus_pane('jobs')", "Jobs pane", "main"),
    Key("outputs-pane", "2", "focus_pane('outputs')", "Outputs pane", "main"),
    Key("inputs-pane", "3", "focus_pane('inputs')", "Inputs pane", "main"),
    Key("cursor-down", "j", "cursor_down", "Down", "pane"),
    Key("cursor-up", "k", "cursor_up", "Up", "pane"),
    Key("collapse", "h", "collapse", "Collapse / to parent", "pane"),
    Key("expand", "l", "expand", "Expand", "pane"),
    Key("first", "g", "scroll_home", "First", "pane"),
    Key("last", "G", "scroll_end", "Last", "pane"),
    # jobs
    Key("filter", "slash", "filter_jobs", "Filter jobs", "main", key_display="/"),
    Key("next-match", "n", "next_match(1)", "Next match", "main"),
    Key("previous-match", "N", "next_match(-1)", "Previous match", "main"),
    Key("group-workspaces", "W", "toggle_workspaces", "Group by workspace", "main"),
    Key("target", "t", "make_target", "Make target", "main", show=True),
    # results and slots
    Key("yank", "y", "yank", "Yank", "main", show=True),
    Key("yank-group", "Y", "yank_group", "Yank group", "main"),
    Key("clear-register", "escape", "clear_register", "Clear register", "main", key_display="esc"),
    Key("put", "p", "put", "Put", "main", show=True),
    Key("put-group", "P", "put_group", "Put group", "main"),
    Key("clear-slot", "x", "clear_slot", "Clear slot", "main"),
    Key("version-previous", "left_square_bracket", "step_version(-1)", "Older version", "main", key_display="["),
    Key("version-next", "right_square_bracket", "step_version(1)", "Newer version", "main", key_display="]"),
    Key("version-picker", "v", "pick_version", "Versions", "main", show=True),
    Key("undo", "u", "undo", "Undo", "main", show=True),
    Key("redo", "ctrl+r", "redo", "Redo", "main"),
    Key("write", "w", "write", "Write", "main", show=True),
    Key("command-line", "colon", "command_line", "Command", "main", key_display=":"),
    Key("help", "question_mark,f1", "help", "Help", "main", show=True, key_display="?"),
    Key("quit", "q", "quit_app", "Quit", "main", show=True),
)
KEYS_BY_ID = {key.id: key for key in KEYS}


def bindings(scope: str) -> list[Binding]:
    return [
        Binding(k.keys, k.action, k.description, show=k.show, key_display=k.key_display, id=k.id)
        for k in KEYS
        if k.scope == scope
    ]


def current_keys(key: Key, keymap: dict[str, str]) -> str:
    """The keys a binding answers to now: the user's keymap entry replaces the default."""
    keys = keymap.get(key.id, key.keys)
    shown = {"slash": "/", "colon": ":", "question_mark": "?", "left_square_bracket": "[",
             "right_square_bracket": "]", "escape": "esc"}
    return ", ".join(shown.get(k.strip(), k.strip()) for k in keys.split(","))

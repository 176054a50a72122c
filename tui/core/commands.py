"""Every command of csrebind, declared once: its binding id and default keys, its ``:`` name,
aliases and arguments, its help text and whether the footer shows it.

The UI derives from this table its key bindings (ids for the user's keymap), the ``:`` line
parser, the command palette, the help screen and dispatch: a command runs as the main screen's
``command_<handler>`` method — with ``args`` when a key runs it, with the typed arguments when
the ``:`` line does. Parsing and its messages live here so they are tested without a terminal.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from .errors import CommandError


@dataclass(frozen=True)
class CommandSpec:
    id: str  # binding id, also the key of the user's keymap
    description: str  # short: footer and help
    keys: str = ""  # default keys ("" = only on the : line)
    name: str | None = None  # the : command (None = a key only)
    usage: str = ""
    help: str = ""  # what the : command does
    aliases: tuple[str, ...] = ()
    min_args: int = 0
    max_args: int = 0
    show: bool = False  # in the footer
    key_display: str | None = None
    args: tuple[object, ...] = ()  # what a key passes to the handler
    handler: str = ""  # command_<handler> on the main screen (default: the id)
    pane_action: str | None = None  # a movement of every pane's tree, not a command of the screen

    @property
    def method(self) -> str:
        return "command_" + (self.handler or self.id).replace("-", "_")


def _pane(id: str, keys: str, action: str, description: str) -> CommandSpec:
    return CommandSpec(id, description, keys, pane_action=action)


COMMANDS: tuple[CommandSpec, ...] = (
    # panes and movement
    CommandSpec("next-pane", "Next pane", "tab"),
    CommandSpec("previous-pane", "Previous pane", "shift+tab"),
    CommandSpec("jobs-pane", "Jobs pane", "1", handler="focus-pane", args=("jobs",)),
    CommandSpec("outputs-pane", "Outputs pane", "2", handler="focus-pane", args=("outputs",)),
    CommandSpec("inputs-pane", "Inputs pane", "3", handler="focus-pane", args=("inputs",)),
    _pane("cursor-down", "j", "cursor_down", "Down"),
    _pane("cursor-up", "k", "cursor_up", "Up"),
    _pane("collapse", "h", "collapse", "Collapse / to parent"),
    _pane("expand", "l", "expand", "Expand"),
    _pane("first", "g", "scroll_home", "First"),
    _pane("last", "G", "scroll_end", "Last"),
    # jobs
    CommandSpec("filter", "Filter jobs", "slash", key_display="/"),
    CommandSpec("next-match", "Next match", "n", handler="next-match", args=(1,)),
    CommandSpec("previous-match", "Previous match", "N", handler="next-match", args=(-1,)),
    CommandSpec("group-workspaces", "Group by workspace", "W"),
    CommandSpec("target", "Make target", "t", "target", "target JOB", "make JOB the job whose inputs are edited",
                ("t",), 1, 1, show=True),
    CommandSpec("job", "Go to job", name="job", usage="job JOB",
                help="go to JOB in the jobs pane and show its outputs", min_args=1, max_args=1),
    # results and slots
    CommandSpec("yank", "Yank", "y", "yank", "yank JOB.OUTPUT.RESULT[.VERSION] | JOB.OUTPUT",
                "copy a result (or a whole output group) into the register", ("y",), 1, 1, show=True),
    CommandSpec("yank-group", "Yank group", "Y"),
    CommandSpec("clear-register", "Clear register", "escape", key_display="esc"),
    CommandSpec("put", "Put", "p", "put", "put INPUT.N.SLOT", "bind the yanked result to a slot of the target",
                ("p",), 1, 1, show=True),
    CommandSpec("put-force", "Put, even if no row is left", name="put!", usage="put! [INPUT.N.SLOT]",
                help="put, keeping it even when the join on uid leaves no row (a put that would is refused)",
                max_args=1),
    CommandSpec("candidates", "Candidates", "c", "candidates", "candidates [INPUT.N.SLOT]",
                "every result in the project that fits the slot, with the rows the join keeps; enter puts one",
                (), 0, 1, show=True),
    CommandSpec("put-group", "Put group", "P", "connect", "connect INPUT [N]",
                "connect the yanked output group as a new connection (or over connection N)", (), 1, 2),
    CommandSpec("clear-slot", "Clear slot", "x", "clear", "clear INPUT.N.SLOT", "empty a slot of the target",
                ("x",), 1, 1),
    CommandSpec("version-previous", "Older version", "left_square_bracket", key_display="[",
                handler="step-version", args=(-1,)),
    CommandSpec("version-next", "Newer version", "right_square_bracket", key_display="]",
                handler="step-version", args=(1,)),
    CommandSpec("version-picker", "Versions", "v", "version", "version F|N", "pick a version of the highlighted result",
                ("v",), 1, 1, show=True),
    CommandSpec("undo", "Undo", "u", "undo", "undo", "undo the last edit", ("u",), show=True),
    CommandSpec("redo", "Redo", "ctrl+r", "redo", "redo", "redo the last undone edit"),
    CommandSpec("write", "Write", "w", "write",
                "write export DIR [NAME] | write export --into-imports [NAME] | write plan FILE | write script FILE | "
                "write apply  (--force replaces; export takes --match=MODE and --tolerance=PX)",
                "write the rebinding out; export --into-imports writes into a new folder PROJECT/imports/NAME/ and "
                "says the path to give Import Result Group", ("w",), 1, 4, show=True),
    CommandSpec("command-line", "Command", "colon", key_display=":"),
    CommandSpec("messages", "Messages", "m", "messages", "messages", "the last 100 status messages with their times"),
    CommandSpec("help", "Help", "question_mark,f1", "help", "help", "show every key and command", show=True,
                key_display="?"),
    CommandSpec("quit", "Quit", "q", "quit", "quit", "leave csrebind (asks when edits are not written)", ("q",),
                show=True),
)
BY_ID = {spec.id: spec for spec in COMMANDS}
LINE_COMMANDS = tuple(spec for spec in COMMANDS if spec.name)  # the : line's, in table order
BY_NAME = {spec.name: spec for spec in LINE_COMMANDS} | {a: spec for spec in LINE_COMMANDS for a in spec.aliases}
# words of each ``:write`` form, the route included and --force not counted
INTO_IMPORTS = "--into-imports"
WRITE_ARGS = {"export": (2, 3), f"export {INTO_IMPORTS}": (1, 2), "plan": (2, 2), "script": (2, 2), "apply": (1, 1)}


@dataclass(frozen=True)
class Invocation:
    spec: CommandSpec
    args: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.spec.name or self.spec.id


def parse_command(text: str) -> Invocation:
    try:
        words = shlex.split(text.strip().lstrip(":"))
    except ValueError as exc:
        raise CommandError(f"cannot read {text!r}: {exc}") from None
    if not words:
        raise CommandError("empty command; try 'help'")
    spec = BY_NAME.get(words[0])
    if spec is None:
        known = ", ".join(s.name for s in LINE_COMMANDS)
        raise CommandError(f"unknown command {words[0]!r}; commands: {known}")
    args = tuple(words[1:])
    if not spec.min_args <= len(args) <= spec.max_args:
        raise CommandError(f"usage: {spec.usage}")
    if spec.id == "write":
        split_write(args)
    return Invocation(spec, args)


@dataclass(frozen=True)
class WriteArgs:
    """``:write ROUTE …`` taken apart: the route, its words, and the flags."""

    route: str
    words: tuple[str, ...]
    force: bool = False
    into_imports: bool = False
    match: tuple[str, ...] = ()  # --match=MODE or --match=SLOT=MODE, as export --match takes them
    tolerance: float | None = None  # --tolerance=PX


def split_write(args: tuple[str, ...]) -> WriteArgs:
    """The write command's arguments, checked for form (CommandError says what to type)."""
    usage = BY_ID["write"].usage
    words, match, tolerance = [], [], None
    for arg in args:
        if arg.startswith("--match="):
            match.append(arg.split("=", 1)[1])
        elif arg.startswith("--tolerance="):
            try:
                tolerance = float(arg.split("=", 1)[1])
            except ValueError:
                raise CommandError(f"{arg}: the tolerance is a number of pixels, e.g. --tolerance=3") from None
        elif arg not in ("--force", INTO_IMPORTS):
            words.append(arg)
    if not words:
        raise CommandError(f"usage: {usage}")
    route, *rest = words
    if route not in WRITE_ARGS or " " in route:  # a route, not a form typed as one quoted word
        raise CommandError(f"write what? {usage}")
    into_imports = INTO_IMPORTS in args
    form = f"{route} {INTO_IMPORTS}" if into_imports else route
    if form not in WRITE_ARGS:
        raise CommandError(f"{INTO_IMPORTS} is for write export only: write export {INTO_IMPORTS} [NAME]")
    if (match or tolerance is not None) and route != "export":
        raise CommandError("--match and --tolerance are for write export only, e.g. write export DIR --match=src_uid")
    low, high = WRITE_ARGS[form]
    if not low <= len(words) <= high:
        raise CommandError(f"usage: {usage}")
    return WriteArgs(route, tuple(rest), "--force" in args, into_imports, tuple(match), tolerance)

"""The command language of the ``:`` line (and the command palette): one table, one parser.

The UI executes a parsed ``Command``; parsing and its error messages live here so they can be
tested without a terminal.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from .errors import CsRebindError


class CommandError(CsRebindError):
    """A command line that cannot be run as typed."""


@dataclass(frozen=True)
class CommandSpec:
    name: str
    usage: str
    help: str
    min_args: int = 0
    max_args: int = 0


COMMAND_SPECS: tuple[CommandSpec, ...] = (
    CommandSpec("target", "target JOB", "make JOB the job whose inputs are edited", 1, 1),
    CommandSpec("job", "job JOB", "go to JOB in the jobs pane and show its outputs", 1, 1),
    CommandSpec("yank", "yank JOB.OUTPUT.RESULT[.VERSION] | JOB.OUTPUT", "copy a result (or a whole output group) into the register", 1, 1),
    CommandSpec("put", "put INPUT.N.SLOT", "bind the yanked result to a slot of the target", 1, 1),
    CommandSpec("connect", "connect INPUT [N]", "connect the yanked output group as a new connection (or over connection N)", 1, 2),
    CommandSpec("clear", "clear INPUT.N.SLOT", "empty a slot of the target", 1, 1),
    CommandSpec("version", "version F|N", "pick a version of the highlighted result", 1, 1),
    CommandSpec("undo", "undo", "undo the last edit"),
    CommandSpec("redo", "redo", "redo the last undone edit"),
    CommandSpec("write", "write export DIR [NAME] | write plan FILE | write script FILE | write apply  (--force replaces)",
                "write the rebinding out", 1, 4),
    CommandSpec("help", "help", "show every key and command"),
    CommandSpec("quit", "quit", "leave csrebind (asks when edits are not written)"),
)
SPECS = {spec.name: spec for spec in COMMAND_SPECS}
ALIASES = {"q": "quit", "u": "undo", "w": "write", "t": "target", "y": "yank", "p": "put", "x": "clear", "v": "version"}


@dataclass(frozen=True)
class Command:
    name: str
    args: tuple[str, ...] = ()


def parse_command(text: str) -> Command:
    try:
        words = shlex.split(text.strip().lstrip(":"))
    except ValueError as exc:
        raise CommandError(f"cannot read {text!r}: {exc}") from None
    if not words:
        raise CommandError("empty command; try 'help'")
    name = ALIASES.get(words[0], words[0])
    spec = SPECS.get(name)
    if spec is None:
        known = ", ".join(SPECS)
        raise CommandError(f"unknown command {words[0]!r}; commands: {known}")
    args = tuple(words[1:])
    if not spec.min_args <= len(args) <= spec.max_args:
        raise CommandError(f"usage: {spec.usage}")
    if name == "write":
        _check_write(args)
    return Command(name, args)


def _check_write(args: tuple[str, ...]) -> None:
    args = tuple(a for a in args if a != "--force")
    if not args:
        raise CommandError(f"usage: {SPECS['write'].usage}")
    kind = args[0]
    expected = {"export": (2, 3), "plan": (2, 2), "script": (2, 2), "apply": (1, 1)}
    if kind not in expected:
        raise CommandError(f"write what? {SPECS['write'].usage}")
    low, high = expected[kind]
    if not low <= len(args) <= high:
        raise CommandError(f"usage: {SPECS['write'].usage}")

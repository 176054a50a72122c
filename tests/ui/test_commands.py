"""The command table: one declaration per command feeds keys, the : line, palette, help, dispatch."""

from __future__ import annotations

import pytest

from tui.core.commands import BY_ID, BY_NAME, COMMANDS, LINE_COMMANDS, parse_command
from tui.core.errors import CommandError


def test_ids_keys_and_names_are_unique():
    ids = [spec.id for spec in COMMANDS]
    assert len(ids) == len(set(ids))
    keys = [k.strip() for spec in COMMANDS for k in spec.keys.split(",") if k.strip()]
    assert len(keys) == len(set(keys)), "a key answers to one command"
    words = [w for spec in LINE_COMMANDS for w in (spec.name, *spec.aliases)]
    assert len(words) == len(set(words))


def test_every_command_is_reachable_and_documented():
    for spec in COMMANDS:
        assert spec.keys or spec.name, spec.id
        assert spec.description
        if spec.name:
            assert spec.usage.startswith(spec.name) and spec.help
            assert spec.min_args <= spec.max_args


def test_every_command_has_a_handler_on_the_main_screen():
    from tui.ui.screens.main import MainScreen

    for spec in COMMANDS:
        if spec.pane_action is None:
            assert callable(getattr(MainScreen, spec.method, None)), f"{spec.id}: no MainScreen.{spec.method}"


def test_pane_actions_exist_on_every_pane_tree():
    from tui.ui.widgets.pane import PaneTree

    for spec in COMMANDS:
        if spec.pane_action:
            assert callable(getattr(PaneTree, f"action_{spec.pane_action}", None)), spec.id


def test_bindings_carry_the_table_ids():
    from tui.ui.commands import pane_bindings, screen_bindings

    ids = [b.id for b in screen_bindings() + pane_bindings()]
    assert sorted(ids) == sorted(spec.id for spec in COMMANDS if spec.keys)
    put = next(b for b in screen_bindings() if b.id == "put")
    assert put.key == "p" and put.action == "run('put')" and put.show


@pytest.mark.parametrize(
    "text, command_id, args",
    [
        ("yank J5.particles.blob", "yank", ("J5.particles.blob",)),
        (":y J5.particles", "yank", ("J5.particles",)),
        ("connect particles 1", "put-group", ("particles", "1")),
        ("x particles.0.ctf", "clear-slot", ("particles.0.ctf",)),
        ("v 3", "version-picker", ("3",)),
        ("write export '/tmp/a b' NAME --force", "write", ("export", "/tmp/a b", "NAME", "--force")),
        ("write export --into-imports", "write", ("export", "--into-imports")),
        ("w export --into-imports NAME --force", "write", ("export", "--into-imports", "NAME", "--force")),
        ("q", "quit", ()),
    ],
)
def test_parse_finds_the_command_and_its_arguments(text, command_id, args):
    invocation = parse_command(text)
    assert invocation.spec is BY_ID[command_id]
    assert invocation.args == args


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "empty command; try 'help'"),
        ("frobnicate", "unknown command 'frobnicate'; commands: target, job, yank, put, put!, candidates, connect, clear, version, "
                       "undo, redo, write, messages, help, quit"),
        ("put", "usage: put INPUT.N.SLOT"),
        ("undo now", "usage: undo"),
        ("write", "usage: write export DIR"),
        ("write nowhere x", "write what? write export DIR"),
        ("write plan", "usage: write export DIR"),
        ("write apply extra", "usage: write export DIR"),
        ("write export --into-imports NAME extra", "usage: write export DIR [NAME] | write export --into-imports [NAME]"),
        ("write plan --into-imports p.json", "--into-imports is for write export only: write export --into-imports [NAME]"),
        ("write --into-imports", "usage: write export DIR"),
        ("write 'export --into-imports'", "write what?"),
        ("yank 'J5", "cannot read"),
    ],
)
def test_parse_refusals_say_what_to_type(text, message):
    with pytest.raises(CommandError) as refused:
        parse_command(text)
    assert str(refused.value).startswith(message)


def test_aliases_map_to_line_commands():
    assert BY_NAME["u"] is BY_ID["undo"] and BY_NAME["w"] is BY_ID["write"] and BY_NAME["connect"] is BY_ID["put-group"]

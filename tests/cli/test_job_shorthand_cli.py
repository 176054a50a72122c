"""The CLI takes j9 and 9 for J9 wherever an argument is a job uid (issue 9, friction "CLI"),
what it writes still says J9; and every positional argument and --json has help text."""

from __future__ import annotations

import argparse
import json

import pytest

from tui.cli import COMMANDS, build_parser, main


def run(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("command, uid", [("outputs", "J9"), ("inputs", "J12")])
def test_j9_and_9_mean_J9(demo_project, capsys, command, uid):
    code, expected, _ = run(capsys, command, demo_project, uid, "--json")
    assert code == 0
    for typed in (uid.lower(), uid[1:]):
        code, out, err = run(capsys, command, demo_project, typed, "--json")
        assert code == 0, err
        assert out == expected


def test_the_shorthand_target_is_stored_exactly(demo_project, tmp_path, capsys):
    plan = tmp_path / "plan.json"
    code, _, err = run(capsys, "plan", demo_project, "12", "--set", "particles.0.blob=J5.particles.blob",
                       "--out", plan)
    assert code == 0, err
    assert json.loads(plan.read_text())["target"] == "J12"
    code, out, err = run(capsys, "candidates", demo_project, "j12", "particles.0.blob", "--json")
    assert code == 0, err
    assert json.loads(out)["job"] == "J12"
    code, out, _ = run(capsys, "preview", demo_project, "12", "--json")
    assert json.loads(out)["job"] == "J12"


@pytest.mark.parametrize("typed, message, exit_code", [("x9", "'x9' is not a job uid", 2), ("9a", "'9a' is not a job uid", 2),
                                                       ("99", "job J99 is not in project", 1)])
def test_what_is_not_a_job_of_the_project_is_refused(demo_project, capsys, typed, message, exit_code):
    code, out, err = run(capsys, "outputs", demo_project, typed)
    assert code == exit_code and out == "" and message in err


def test_a_reference_keeps_its_exact_job_uid(demo_project, capsys):
    code, _, err = run(capsys, "resolve", demo_project, "9.particles.blob")
    assert code == 2 and "job uid '9' is not valid" in err


def subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_every_positional_argument_and_json_has_help():
    found = subparsers()
    assert set(found) == set(COMMANDS)
    missing = [f"{name} {action.dest}" for name, parser in found.items() for action in parser._actions
               if (not action.option_strings or "--json" in action.option_strings)
               and not (action.help and action.help.strip())]
    assert missing == []


def test_help_shows_them(capsys):
    code, out, _ = run(capsys, "inputs", "--help")
    assert code == 0
    assert "CryoSPARC project directory" in out and "j12 and 12 work too" in out and "machine-readable" in out

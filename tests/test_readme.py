"""The README's two commands are the ones that work: CI runs the test command verbatim."""

import re

from conftest import REPO


def readme_commands():
    text = (REPO / "README.md").read_text()
    return re.findall(r"^    (python3 -m venv .*)$", text, flags=re.M)


def test_readme_starts_with_two_one_line_commands():
    commands = readme_commands()
    assert len(commands) == 2
    assert commands[0].endswith("csrebind demo")
    assert "pytest" in commands[1] and '".[test]"' in commands[1]


def test_ci_runs_the_readme_test_command():
    ci = (REPO / ".ci" / "run").read_text()
    (line,) = [l for l in ci.splitlines() if l.startswith("TEST_COMMAND=")]
    assert line == f"TEST_COMMAND='{readme_commands()[1]}'"

"""Status messages stay until the next key press (issue 9, bug 1): the highlight a command causes
does not wipe what it said, an error is not replaced by a plain message of the same key press,
and :messages / m lists the last 100 with their times."""

from __future__ import annotations

import json
import re

from pilot import command, ready, settle
from tui.ui.app import make_app
from tui.ui.screens.dialogs import Message

SIZE = (160, 45)


async def test_next_match_message_stays_after_the_jump(demo_project):
    app = make_app(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        await pilot.press("1", "slash", *"refine", "enter")
        await settle(pilot)
        assert screen.status.message == "3 match(es); n / N for next / previous"
        await pilot.press("n")
        await settle(pilot)
        assert screen.jobs_pane.tree.current_uid == "J11"
        assert screen.status.message == "match 2 of 3: J11"
        await pilot.press("j")  # the next key press moves on: the message goes
        await settle(pilot)
        assert screen.status.message == ""


def saved_plan(demo_project, tmp_path) -> dict:
    from tui.core.planfile import write_plan
    from tui.core.project import load_project
    from tui.core.session import EditSession

    session = EditSession(load_project(demo_project), "J12")
    session.put("particles.0.blob", "J5.particles.blob")
    session.put("particles.0.alignments3D", "J9.particles.alignments3D.3")
    path = write_plan(session.to_plan(), tmp_path / "plan.json", project_dir=session.project.path)
    return json.loads(path.read_text())


async def test_a_plan_for_another_project_says_so_and_the_message_stays(demo_project, tmp_path):
    plan = saved_plan(demo_project, tmp_path)
    plan["project"]["uid"] = "P7"
    app = make_app(demo_project, plan=plan)
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        await settle(pilot)
        assert screen.status.error
        assert screen.status.message.startswith("plan not loaded: plan is for project P7")


async def test_a_loaded_plan_says_so_after_its_target_is_highlighted(demo_project, tmp_path):
    app = make_app(demo_project, plan=saved_plan(demo_project, tmp_path))
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        await settle(pilot)
        assert screen.status.message.startswith("plan loaded: 2 change(s) against J12")


async def test_messages_lists_what_was_said_with_times(demo_project):
    app = make_app(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        await command(pilot, "yank J99.particles.blob")
        refusal = screen.status.message
        assert screen.status.error and refusal
        await pilot.press("j", "m")
        await settle(pilot)
        assert isinstance(app.screen, Message)
        text = str(app.screen.text)
        lines = text.splitlines()
        assert re.fullmatch(r"\d\d:\d\d:\d\d  ✗ " + re.escape(refusal), lines[-1])
        assert any(line.endswith("target J12 Local Refinement (for full-size blob)") for line in lines)
        await pilot.press("escape")
        await command(pilot, "messages")
        assert isinstance(app.screen, Message)

"""v, [ and ] on a slot of the inputs pane change the version of that slot's binding (an undoable
edit, its join checked) instead of acting on the outputs pane's cursor (issue 9, bug 4)."""

from __future__ import annotations

from pilot import command, ready, settle, show_slot
from tui.ui.app import make_app
from tui.ui.screens.dialogs import VersionPicker

SIZE = (160, 45)
POSES = "particles.0.alignments3D"


def bound(screen, address: str = POSES) -> str:
    return str(screen.bench.session.binding(address).ref)


async def test_brackets_step_the_slot_version_and_undo_takes_it_back(demo_project):
    app = make_app(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        picks_before = dict(screen.bench.picks)
        await show_slot(pilot, POSES)
        assert bound(screen) == "J9.particles.alignments3D.F"  # stored iterations 0, 1, 2, 3, 5, 7
        await pilot.press("left_square_bracket")
        await settle(pilot)
        assert bound(screen) == "J9.particles.alignments3D.5"
        assert screen.status.message == (
            f"{POSES}: J9.particles.alignments3D.F → J9.particles.alignments3D.5 · keeps 1,000 of 1,000"
        )
        await pilot.press("left_square_bracket", "left_square_bracket")
        await settle(pilot)
        assert bound(screen) == "J9.particles.alignments3D.2"
        assert screen.bench.picks == picks_before  # the outputs pane's picks are untouched
        await pilot.press("u", "u", "u")
        await settle(pilot)
        assert bound(screen) == "J9.particles.alignments3D.F" and not screen.bench.session.dirty
        await pilot.press("right_square_bracket")
        await settle(pilot)
        assert screen.status.error
        assert screen.status.message == f"{POSES} is already at the newest (F) version of J9.particles.alignments3D"


async def test_picker_on_a_slot_binds_the_chosen_iteration(demo_project):
    app = make_app(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        await show_slot(pilot, POSES)
        await pilot.press("v")
        await settle(pilot)
        assert isinstance(app.screen, VersionPicker)
        assert app.screen.result.ref().short == "J9.particles.alignments3D"
        await pilot.press("down", "down", "down", "enter")  # F, 7, 5, 3
        await settle(pilot)
        assert bound(screen) == "J9.particles.alignments3D.3"
        await command(pilot, "version 0")
        assert bound(screen) == "J9.particles.alignments3D.0"


async def test_an_empty_slot_says_why_its_version_cannot_change(demo_project):
    app = make_app(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        await show_slot(pilot, "particles.0.sym_expand")
        await pilot.press("v")
        await settle(pilot)
        assert app.screen is screen and screen.status.error
        assert screen.status.message.startswith("particles.0.sym_expand is empty: put a result into it first")
        assert not screen.bench.session.dirty

"""Driving the app headless (Textual's Pilot), shared by the UI tests, the snapshots, the README
screenshots (screenshots/make.py) and the UI benchmark: waiting for the app, moving to a result
or a slot, typing a : command, and the scenarios the pictures show."""

from __future__ import annotations

import html
import re

from tui.core.refs import SlotAddress


async def settle(pilot) -> None:
    """Every worker done and every message handled, and a result the details pane waits to show
    (a job just highlighted) shown, its header read."""
    from tui.ui.widgets.details import RESULT_WAIT, DetailsPane

    for turn in range(200):  # a timer may fire late on a loaded machine
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        due = any(details.result_due for screen in pilot.app.screen_stack for details in screen.query(DetailsPane))
        if not due and turn >= 1:  # twice: a message handled may post the next (job, then result)
            return
        if due:
            await pilot.pause(RESULT_WAIT / 3)


async def ready(pilot):
    """The main screen once every job is read, the target chosen and no worker is running."""
    app = pilot.app
    for _ in range(200):
        await app.workers.wait_for_complete()
        await pilot.pause()
        if app.main_screen.loaded and not app.main_screen.workers:
            break
    return app.main_screen


async def show_result(pilot, job: str, output: str, result: str):
    """Go to ``job`` in the jobs pane, then to one of its results in the (focused) outputs pane."""
    screen = pilot.app.main_screen
    screen.command_job(job)
    await settle(pilot)
    assert screen.outputs.go_to_result((job, output, result))
    screen.outputs.focus()
    await settle(pilot)
    return screen


async def show_slot(pilot, address: str | SlotAddress):
    """Focus the inputs pane on one slot of the target."""
    screen = pilot.app.main_screen
    screen.inputs.focus()
    assert screen.inputs.go_to_slot(address if isinstance(address, SlotAddress) else SlotAddress.parse(address))
    await settle(pilot)
    return screen


async def command(pilot, text: str, typed: bool = False) -> None:
    """Open the : line, enter ``text`` (typed key by key, or pasted as a whole), press enter."""
    from tui.ui.screens.dialogs import CommandLine

    await pilot.press("colon")
    await pilot.pause()
    assert isinstance(pilot.app.screen, CommandLine)
    if typed:
        for character in text:
            await pilot.press(character if character != " " else "space")
    else:
        pilot.app.screen.query_one("#command-input").value = text
    await pilot.press("enter")
    await settle(pilot)


def screen_text(app) -> str:
    """What the terminal shows, as plain text (from Textual's SVG export)."""
    lines = [line for line in app.export_screenshot().splitlines() if "<text" in line]
    return "\n".join(html.unescape(re.sub(r"<[^>]+>", "", line)).replace("\xa0", " ") for line in lines)


# --- scenarios (snapshots and README screenshots) --------------------------------------------------


async def alignments_highlighted(pilot):
    """The refinement's poses highlighted: the outputs pane and its details."""
    await ready(pilot)
    return await show_result(pilot, "J9", "particles", "alignments3D")


async def measured(pilot):
    """The open version picker once every version's change from the one before has arrived from
    its worker (the worker ending is not enough: its last messages may still be queued)."""
    picker = pilot.app.screen
    for _ in range(200):
        await settle(pilot)
        if picker.measured:
            break
    assert picker.measured, "the version picker's worker never delivered every version"
    return picker


async def version_picker(pilot):
    """The picker with every version's change from the one stored before (measured in a worker)."""
    screen = await alignments_highlighted(pilot)
    await pilot.press("v")
    await measured(pilot)
    return screen


async def full_size_blob_yanked(pilot):
    """The extraction's full-size blob in the register, the cursor on the slot it fits."""
    await ready(pilot)
    await show_result(pilot, "J5", "particles", "blob")
    await pilot.press("y")
    return await show_slot(pilot, "particles.0.blob")


async def full_size_blob_put(pilot):
    screen = await full_size_blob_yanked(pilot)
    await pilot.press("p")
    await settle(pilot)
    return screen


async def rebinding(pilot):
    """The design brief: full-size blob from J5, poses from J9's iteration two before final."""
    screen = await full_size_blob_put(pilot)
    await show_result(pilot, "J9", "particles", "alignments3D")
    await pilot.press("left_square_bracket", "left_square_bracket", "y")
    await show_slot(pilot, "particles.0.alignments3D")
    return screen


async def incompatible_put(pilot):
    """A volume yanked and put onto a particle slot: refused with the reason."""
    await ready(pilot)
    await show_result(pilot, "J9", "volume", "map")
    await pilot.press("y")
    screen = await show_slot(pilot, "particles.0.alignments3D")
    await pilot.press("p")
    await settle(pilot)
    return screen


async def help_screen(pilot):
    screen = await ready(pilot)
    await pilot.press("question_mark")
    await pilot.pause()
    return screen


async def candidates(pilot):
    """The candidates of the refinement's blob slot, measured and ranked."""
    screen = await ready(pilot)
    await show_slot(pilot, "particles.0.blob")
    await pilot.press("c")
    await settle(pilot)
    await settle(pilot)  # the measured list replaces the listed one
    return screen

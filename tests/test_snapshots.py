"""A few SVG snapshots of what users see (behaviour is checked in test_ui.py).

Update after a deliberate change with `python -m pytest tests/test_snapshots.py --snapshot-update`
and look at the SVGs before committing them.
"""

from __future__ import annotations

import pytest

from tui.core.demo import write_demo
from tui.core.refs import SlotAddress
from tui.ui.app import make_app

SIZE = (120, 34)


@pytest.fixture
def snapshot_demo(tmp_path, monkeypatch):
    # Fixed paths: the help screen shows the config file's location.
    monkeypatch.setenv("XDG_CONFIG_HOME", "/nonexistent/config")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    return write_demo(tmp_path / "CS-demo", schema="v4")


async def _loaded(pilot):
    screen = pilot.app.main_screen
    while not screen.loaded:
        await pilot.pause(0.01)
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    return screen


async def _yank_full_size_blob(pilot):
    screen = await _loaded(pilot)
    screen.command_job("J5")
    await pilot.pause()
    screen.outputs.go_to_result(("J5", "particles", "blob"))
    screen.outputs.focus()
    await pilot.pause()
    await pilot.press("y")
    screen.inputs.focus()
    screen.inputs.go_to_slot(SlotAddress("particles", 0, "blob"))
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    return screen


def test_main_screen(snap_compare, snapshot_demo):
    assert snap_compare(make_app(snapshot_demo), terminal_size=SIZE, run_before=_loaded)


def test_compatible_slots_highlighted(snap_compare, snapshot_demo):
    assert snap_compare(make_app(snapshot_demo), terminal_size=SIZE, run_before=_yank_full_size_blob)


def test_after_put(snap_compare, snapshot_demo):
    async def put(pilot):
        await _yank_full_size_blob(pilot)
        await pilot.press("p")
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()

    assert snap_compare(make_app(snapshot_demo), terminal_size=SIZE, run_before=put)


def test_incompatible_put_message(snap_compare, snapshot_demo):
    async def bad_put(pilot):
        screen = await _loaded(pilot)
        screen.command_job("J9")
        await pilot.pause()
        screen.outputs.go_to_result(("J9", "volume", "map"))
        screen.outputs.focus()
        await pilot.press("y")
        screen.inputs.focus()
        screen.inputs.go_to_slot(SlotAddress("particles", 0, "alignments3D"))
        await pilot.pause()
        await pilot.press("p")
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()

    assert snap_compare(make_app(snapshot_demo), terminal_size=SIZE, run_before=bad_put)


def test_version_picker(snap_compare, snapshot_demo):
    async def picker(pilot):
        screen = await _loaded(pilot)
        screen.command_job("J9")
        await pilot.pause()
        screen.outputs.go_to_result(("J9", "particles", "alignments3D"))
        screen.outputs.focus()
        await pilot.app.workers.wait_for_complete()
        await pilot.press("v")
        await pilot.pause()

    assert snap_compare(make_app(snapshot_demo), terminal_size=SIZE, run_before=picker)


def test_help_screen(snap_compare, snapshot_demo):
    async def help_(pilot):
        await _loaded(pilot)
        await pilot.press("question_mark")
        await pilot.pause()

    assert snap_compare(make_app(snapshot_demo), terminal_size=SIZE, run_before=help_)


def test_small_terminal(snap_compare, snapshot_demo):
    assert snap_compare(make_app(snapshot_demo), terminal_size=(80, 24), run_before=_yank_full_size_blob)

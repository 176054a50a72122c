"""At 80x24 (issue 9, bug 8): the export confirmation's question and its y/n answers stay on
screen below a long report, wrapped, and the panes keep their widths whichever has the focus."""

from __future__ import annotations

from textual.widgets import Label

from pilot import command, ready, settle
from tui.ui.app import make_app
from tui.ui.screens.dialogs import Confirm


async def test_export_confirmation_fits_80x24(demo_project, tmp_path):
    app = make_app(demo_project)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await command(pilot, "yank J5.particles.blob")
        await command(pilot, "put particles.0.blob")
        await command(pilot, f"write export {tmp_path / 'a-rather-long-folder-name-for-the-export'}")
        await settle(pilot)
        assert isinstance(app.screen, Confirm)
        for name in ("#question", "#answers"):
            region = app.screen.query_one(name, Label).region
            assert region.height >= 1 and region.bottom <= 24 and region.right <= 80, name
        assert app.screen.query_one("#question", Label).region.height >= 2  # the long path wrapped
        await pilot.press("n")


async def test_panes_keep_their_widths_when_focus_moves(demo_project):
    app = make_app(demo_project)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await ready(pilot)
        widths = []
        for key in ("1", "2", "3"):
            await pilot.press(key)
            await settle(pilot)
            widths.append(tuple(screen.query_one(f"#{pane}").size.width for pane in ("jobs", "outputs", "inputs")))
        assert widths[0] == widths[1] == widths[2]
        jobs, outputs, inputs = widths[0]
        assert inputs > outputs and inputs > jobs  # the pane that holds the edit gets the most room

"""``:write export --into-imports [NAME]``: the UI writes an export into a new folder
``<project>/imports/NAME/`` and shows the path to give Import Result Group; a plain export's
confirmation shows the command that copies it there."""

from __future__ import annotations

import shutil

import numpy as np

from digest import tree_digest
from pilot import command, ready, settle
from tui.ui.app import make_app
from tui.ui.screens.dialogs import Confirm, Message

SIZE = (120, 36)


async def test_write_export_into_imports(demo_project):
    root = demo_project.resolve()
    folder = root / "imports" / "brief"
    before = tree_digest(demo_project)
    app = make_app(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        await command(pilot, "yank J5.particles.blob")
        await command(pilot, "put particles.0.blob")
        await command(pilot, "write export --into-imports brief")
        assert isinstance(app.screen, Confirm)
        assert app.screen.question == (f"Write 1,000 rows into a new folder {folder}/ (brief.cs and .csg) "
                                       "for Import Result Group?")
        assert "1000 kept, 500 dropped" in app.screen.details
        assert app.screen.details.endswith(f"\n\nImport Result Group path: {folder / 'brief.csg'}")
        assert not (demo_project / "imports").exists()  # nothing before the yes
        await pilot.press("y")
        await settle(pilot)
        assert isinstance(app.screen, Message)
        assert app.screen.title_text == "Exported into the project's imports/"
        assert app.screen.text == (f"1,000 rows written to {folder / 'brief.cs'} and brief.csg.\n"
                                   f"Import Result Group path: {folder / 'brief.csg'}")
        await pilot.press("enter")
        await settle(pilot)
        data = np.load(folder / "brief.cs")
        assert len(data) == 1000 and (data["blob/shape"] == 452).all()
        assert screen.bench.unsaved_targets() == []  # the export is the edits written out
        written = tree_digest(demo_project)

        await command(pilot, "write export --into-imports brief --force")  # never over an existing folder
        assert not isinstance(app.screen, Confirm)
        assert f"{folder} already exists; --into-imports only creates a new folder" in screen.status.message
        assert screen.status.error
        assert tree_digest(demo_project) == written
    shutil.rmtree(root / "imports")  # the new folder was the only thing written
    assert tree_digest(demo_project) == before


async def test_write_export_elsewhere_shows_the_copy_command(demo_project, tmp_path):
    root = demo_project.resolve()
    out = tmp_path / "out"
    app = make_app(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await command(pilot, f"write export {out} mine")
        assert isinstance(app.screen, Confirm)
        assert app.screen.details.endswith(
            "\n\nto import it, copy it into the project first (or export with --into-imports): "
            f"mkdir -p {root}/imports/mine && cp {out}/mine.cs {out}/mine.csg {root}/imports/mine/\n"
            f"Import Result Group path: {root}/imports/mine/mine.csg"
        )
        await pilot.press("n")
        await settle(pilot)
    assert not out.exists() and not (demo_project / "imports").exists()

"""The UI exports with a match too (issue 10 item 4, 'from the CLI and the UI'): after a put that
keeps no row by uid (a re-extraction), `:write export DIR --match=location` writes every row."""

from __future__ import annotations

import numpy as np
import pytest

from pilot import command, ready, settle
from tui.core.commands import parse_command, split_write
from tui.core.csfile import load, save
from tui.core.errors import CommandError
from tui.ui.app import make_app
from tui.ui.screens.dialogs import Confirm

SIZE = (160, 45)


def test_write_takes_match_and_tolerance_for_export_only():
    parsed = split_write(("export", "/tmp/out", "--match=location", "--tolerance=2.5", "--force"))
    assert (parsed.route, parsed.words, parsed.match, parsed.tolerance, parsed.force) == (
        "export", ("/tmp/out",), ("location",), 2.5, True)
    assert split_write(("export", "--into-imports", "--match=blob=src_uid")).match == ("blob=src_uid",)
    with pytest.raises(CommandError, match="--match and --tolerance are for write export only"):
        parse_command("write plan p.json --match=location")
    with pytest.raises(CommandError, match="the tolerance is a number of pixels"):
        parse_command("write export /tmp/out --tolerance=near")


async def test_export_with_a_location_match_from_the_ui(demo_project, tmp_path):
    path = demo_project / "J5/extracted_particles.cs"
    table = np.array(load(path))
    table["uid"] = table["uid"] + np.uint64(10**12)  # re-extracted: new uids, the same picks
    save(path, table)
    app = make_app(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        await command(pilot, "yank J5.particles.blob")
        await command(pilot, "put! particles.0.blob")
        await settle(pilot)
        assert "keeps 0 of 1,000" in screen.status.message
        await command(pilot, f"write export {tmp_path / 'out'} --match=location")
        await settle(pilot)
        assert isinstance(app.screen, Confirm)
        await pilot.press("y")
        await settle(pilot)
        assert "exported 1,000 rows" in screen.status.message
    exported = np.load(tmp_path / "out" / "J12_particles_rebound.cs")
    assert len(exported) == 1000 and exported["blob/shape"][0][0] == table["blob/shape"][0][0]

"""The join preview in the UI: row counts on connection rows, what a put keeps in the status
bar, and a put whose join leaves no row refused (``:put!`` keeps it)."""

from __future__ import annotations

import numpy as np

from pilot import command, ready, screen_text, settle
from tui.core.csfile import load, save
from tui.ui.app import make_app

SIZE = (200, 50)


def new_lineage(path) -> int:
    """Rewrite a .cs file as a re-extraction would: the same rows under new uids."""
    table = np.array(load(path))
    table["uid"] = table["uid"] + np.uint64(10**12)
    save(path, table)
    return len(table)


def connection_row(screen, label: str) -> str:
    return next(str(node.label) for node in screen.inputs._all_nodes() if str(node.label).startswith(label))


def j9_rows(project) -> int:
    return len(load(project / "J9/J9_007_particles.cs", fields=("uid",)))


async def test_connection_rows_and_put_show_the_join(demo_project):
    rows = j9_rows(demo_project)
    app = make_app(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        assert connection_row(screen, "particles.0") == f"particles.0 ← J9.particles · {rows:,} rows"
        await command(pilot, "yank J5.particles.blob")
        await command(pilot, "put particles.0.blob")
        assert screen.status.message == (
            f"particles.0.blob: J9.particles.blob.F → J5.particles.blob.F · keeps {rows:,} of {rows:,}"
        )
        assert not screen.status.error
        assert str(screen.bench.session.binding("particles.0.blob").ref) == "J5.particles.blob.F"
        assert f"particles.0 ← J9.particles · {rows:,} rows" in screen_text(app)


async def test_a_put_that_leaves_no_row_is_refused_unless_forced(demo_project):
    j5 = new_lineage(demo_project / "J5/extracted_particles.cs")
    rows = j9_rows(demo_project)
    reason = f"0 of {j5:,} J5 uids are in J9.particles: different particle lineage (re-extracted or imported?)"
    app = make_app(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        await command(pilot, "yank J5.particles.blob")
        await command(pilot, "put particles.0.blob")
        session = screen.bench.session
        assert str(session.binding("particles.0.blob").ref) == "J9.particles.blob.F"  # taken back
        # J5 was re-extracted here with new uids but the same picks: the refusal says a location
        # match would keep every row, and that such a binding can only be exported
        match = ("an export with --match location --tolerance 3 would keep 1,000 of 1,000 rows (0 ambiguous, "
                 "refused); CryoSPARC joins on uid, so this binding cannot be applied live")
        assert screen.status.message == f"put refused: {reason}; {match}; :put! particles.0.blob keeps it anyway"
        assert screen.status.error
        assert not session.dirty and not session.redo()  # no edit left behind, nothing to redo

        await command(pilot, "put! particles.0.blob")
        await settle(pilot)
        assert str(session.binding("particles.0.blob").ref) == "J5.particles.blob.F"
        assert screen.status.message.endswith(f"· keeps 0 of {rows:,} (forced: the join on uid keeps no row)")
        assert connection_row(screen, "particles.0") == "particles.0 ← J9.particles · 0 rows"


async def test_a_missing_file_allows_the_put_and_says_rows_are_unknown(demo_project):
    (demo_project / "J5/extracted_particles.cs").unlink()
    app = make_app(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        await command(pilot, "yank J5.particles.blob")
        await command(pilot, "put particles.0.blob")
        assert str(screen.bench.session.binding("particles.0.blob").ref) == "J5.particles.blob.F"
        assert screen.status.message.endswith("· rows unknown (J5/extracted_particles.cs: missing)")
        assert connection_row(screen, "particles.0").endswith("· rows unknown (J5/extracted_particles.cs: missing)")

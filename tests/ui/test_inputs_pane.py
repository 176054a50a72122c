"""The inputs pane shows bindings in their connection's terms, so the version survives a narrow
pane (issue 9, bug 8), and marks what was edited with the old value beside it (friction list)."""

from __future__ import annotations

from pilot import command, ready
from tui.core.model import Connection
from tui.core.refs import ResultRef
from tui.ui.app import make_app
from tui.ui.widgets.inputs import binding_text

SIZE = (160, 45)


def test_binding_text_names_only_what_differs_from_the_connection():
    connection = Connection("J9", "particles")
    assert binding_text(connection, ResultRef.parse("J9.particles.blob.F")) == "blob.F"
    assert binding_text(connection, ResultRef.parse("J9.particles.alignments3D.3")) == "alignments3D.3"
    assert binding_text(connection, ResultRef.parse("J5.particles.blob.F")) == "J5·blob.F"
    assert binding_text(connection, ResultRef.parse("J5.particles_fcrop.blob.F")) == "J5.particles_fcrop·blob.F"


def slot_row(screen, address: str) -> str:
    return next(n.label.plain for n in screen.inputs._all_nodes()
                if getattr(n.data, "address", None) is not None and n.data.address.local == address)


async def test_edited_slots_are_marked_with_the_old_value(demo_project):
    app = make_app(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        assert slot_row(screen, "particles.0.blob").split() == ["blob*", "blob.F"]
        await command(pilot, "yank J5.particles.blob")
        await command(pilot, "put particles.0.blob")
        await pilot.press("escape")  # the register emptied: no compatibility marks
        assert slot_row(screen, "particles.0.blob").split() == ["blob*", "●", "J5·blob.F", "was", "blob.F"]
        assert "●" not in slot_row(screen, "particles.0.ctf")
        await command(pilot, "clear particles.0.ctf")
        assert slot_row(screen, "particles.0.ctf").split() == ["ctf*", "●", "(empty)", "was", "ctf.F"]
        await command(pilot, "yank J7.particles_selected")
        await command(pilot, "connect particles")
        connection = next(n.label.plain for n in screen.inputs._all_nodes() if n.label.plain.startswith("particles.1"))
        assert connection.startswith("particles.1 ← J7.particles_selected ● new")
        assert "●" not in slot_row(screen, "particles.1.blob")  # the whole connection is new, not each slot
        await pilot.press("u", "u", "u")
        await command(pilot, "undo")  # nothing left to undo: everything as loaded
        assert "●" not in slot_row(screen, "particles.0.blob")

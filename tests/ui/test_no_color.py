"""Without colour (NO_COLOR) states read by reverse, bold and underline, not by a grey that
Textual's monochrome filter makes all but invisible (issue 9, bug 7)."""

from __future__ import annotations

import pytest

from pilot import command, ready, settle, show_slot
from tui.ui.app import make_app

SIZE = (160, 45)


def styles_of(label, text: str) -> str:
    """The style of the span of ``label`` (a rich Text) that covers ``text``."""
    start = label.plain.index(text)
    return " ".join(str(span.style) for span in label.spans if span.start <= start < span.end)


@pytest.mark.parametrize("no_color, failed, killed", [(True, "bold reverse", "reverse"), (False, "bold red", "red")])
async def test_job_states_and_errors_without_colour(demo_project, monkeypatch, no_color, failed, killed):
    if no_color:
        monkeypatch.setenv("NO_COLOR", "1")
    app = make_app(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        assert app.no_color is no_color
        tree = screen.jobs_pane.tree
        assert styles_of(tree.row_text(tree.rows.first_row["J11"]), "✗ failed") == failed
        assert styles_of(tree.row_text(tree.rows.first_row["J10"]), "✗ killed") == killed
        await show_slot(pilot, "particles.0.ctf")
        await pilot.press("x")  # a required slot left empty
        await settle(pilot)
        node = next(n for n in screen.inputs._all_nodes() if getattr(n.data, "address", None) is not None
                    and n.data.address.local == "particles.0.ctf")
        assert styles_of(node.label, "(empty)") == failed
        await command(pilot, "yank J99.particles.blob")
        assert screen.status.error
        rendered = screen.status.render()
        assert styles_of(rendered, screen.status.message) == failed

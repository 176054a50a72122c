"""The details pane follows the jobs pane: moving to another job shows its first result (the one
``y`` would yank), even when that result is on the same line as the last job's; the .cs file is
read once the user stays on a job, not for every job a held-down key passes."""

from __future__ import annotations

import pytest

from pilot import ready, settle
from tui.ui.app import make_app
from tui.ui.widgets import details as details_module

SIZE = (120, 40)


def shown(screen) -> str:
    return str(screen.query_one("#details-body").render())


async def staying(pilot) -> None:
    """Long enough on one job for its first result to be shown."""
    await pilot.pause(details_module.RESULT_WAIT + 0.2)
    await settle(pilot)


@pytest.mark.parametrize("schema", ["v4", "v5"])
async def test_moving_to_another_job_shows_its_first_result(demo_project):
    app = make_app(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        screen.command_job("J6")
        await settle(pilot)
        line = screen.outputs.cursor_line
        screen.jobs_pane.tree.go_to("J7")  # as a move in the jobs pane: J7's first result is on J6's line
        await staying(pilot)
        result = screen.outputs.current_result
        assert screen.outputs.job.uid == "J7" and result.job == "J7" and screen.outputs.cursor_line == line
        text = shown(screen)
        assert text.startswith(f"{result.ref()}  ") and "J7/" in text
        assert "fields:" in text  # the header was read once the user stayed on J7
        screen.jobs_pane.tree.go_to("J6")
        await staying(pilot)
        assert shown(screen).startswith("J6.particles.alignments2D")


@pytest.mark.parametrize("schema", ["v5"])
async def test_a_key_held_down_reads_no_header_on_the_way(demo_project, monkeypatch):
    reads: list[str] = []
    original = details_module.DetailsPane._read_header

    def counting(self, project, resolved):
        reads.append(resolved.ref.job)
        return original(self, project, resolved)

    monkeypatch.setattr(details_module.DetailsPane, "_read_header", counting)
    app = make_app(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        tree = screen.jobs_pane.tree
        tree.focus()
        tree.move_to_line(0)
        await settle(pilot)
        await staying(pilot)
        first = screen.outputs.job.uid
        reads.clear()
        for _ in range(8):  # faster than the wait
            await pilot.press("j")
        await staying(pilot)
        last = screen.outputs.job.uid
        assert last != first and screen.outputs.current_result is not None
        assert reads == [last] and shown(screen).startswith(f"{last}.")


@pytest.mark.parametrize("schema", ["v5"])
async def test_a_job_without_outputs_clears_the_details(demo_project):
    app = make_app(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        screen.command_job("J11")
        await settle(pilot)
        assert shown(screen).startswith("J11.")
        screen.jobs_pane.tree.go_to("J12")  # no outputs yet
        await settle(pilot)
        assert screen.outputs.job.uid == "J12" and shown(screen) == ""


@pytest.mark.parametrize("schema", ["v5"])
async def test_a_broken_job_leaves_nothing_of_the_last_one_under_the_cursor(demo_project):
    (demo_project / "J13").mkdir()
    (demo_project / "J13" / "job.json").write_text("{ not json")
    app = make_app(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        screen.command_job("J9")
        await settle(pilot)
        assert shown(screen).startswith("J9.")
        screen.jobs_pane.tree.go_to("J13")
        await settle(pilot)
        assert screen.outputs.job.uid == "J13" and screen.outputs.current_result is None
        assert shown(screen) == ""
        await pilot.press("y")
        await settle(pilot)
        assert screen.bench.register is None

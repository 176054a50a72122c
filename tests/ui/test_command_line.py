"""The : line completes with tab and remembers with up/down (issue 9, friction ": line"); the
palette finds jobs and results, not only commands (friction "Palette")."""

from __future__ import annotations

import time

import pytest
from textual.widgets import Input, Label

from pilot import ready, settle
from tui.core.history import history_path, load_history
from tui.core.model import Job
from tui.ui.app import make_app
from tui.ui.commands import CsRebindCommands
from tui.ui.screens.dialogs import CommandLine

SIZE = (160, 45)


@pytest.fixture
def schema() -> str:
    """The : line is the same on both schemas: the demo in one is enough here."""
    return "v4"


async def press(pilot, *keys: str) -> None:
    for key in keys:
        await pilot.press(key)
    await settle(pilot)


async def type_text(pilot, text: str) -> None:
    await press(pilot, *[c if c != " " else "space" for c in text])


def box(app) -> Input:
    return app.screen.query_one("#command-input", Input)


def hint(app) -> str:
    return str(app.screen.query_one("#command-hints", Label).render())


async def open_line(pilot) -> None:
    await press(pilot, "colon")
    assert isinstance(pilot.app.screen, CommandLine)


async def test_tab_completes_a_reference_part_by_part(demo_project):
    app = make_app(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        await open_line(pilot)
        await type_text(pilot, "ya")
        await press(pilot, "tab")
        assert box(app).value == "yank "
        await type_text(pilot, "j5.par")
        await press(pilot, "tab")
        assert box(app).value == "yank J5.particles"  # as far as particles and particles_fcrop agree
        assert "particles." in hint(app) and "particles_fcrop." in hint(app)
        await type_text(pilot, ".bl")
        await press(pilot, "tab")
        assert box(app).value == "yank J5.particles.blob" and box(app).cursor_position == len(box(app).value)
        await press(pilot, "enter")
        assert app.screen is screen
        assert screen.bench.register_text().startswith("yanked J5.particles.blob")


async def test_tab_again_cycles_and_shift_tab_goes_back(demo_project):
    app = make_app(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        await open_line(pilot)
        await type_text(pilot, "target 1")
        await press(pilot, "tab")
        assert box(app).value == "target J1"
        assert hint(app).split() == ["J1", "J10", "J11", "J12"]
        await press(pilot, "tab")
        assert box(app).value == "target J1 "
        await press(pilot, "tab")
        assert box(app).value == "target J10 "
        await press(pilot, "shift+tab")
        assert box(app).value == "target J1 "
        await press(pilot, "shift+tab")
        assert box(app).value == "target J12 "  # round to the last
        await press(pilot, "backspace", "backspace", "1")  # typing ends the cycle: the hint is the commands again
        assert box(app).value == "target J11" and hint(app).startswith("target  job  yank")
        await press(pilot, "enter")
        assert screen.bench.target == "J11"


async def test_many_candidates_fit_the_hint_line_and_it_follows_the_cycle(demo_project):
    app = make_app(demo_project)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await ready(pilot)
        for n in range(100, 300):
            screen.project.jobs[f"J{n}"] = Job(uid=f"J{n}", title=f"job {n}")
        await open_line(pilot)
        await type_text(pilot, "job 2")
        await press(pilot, "tab")
        shown = hint(app)
        assert box(app).value == "job J2" and shown.startswith("J2  J200  J201") and shown.endswith(" more")
        assert len(shown) <= 78
        for _ in range(30):  # J2, J200 … J228: past the first line's worth
            await press(pilot, "tab")
        assert box(app).value == "job J228 "
        shown = hint(app)
        assert " before… " in shown and "J228" in shown and len(shown) <= 78


async def test_tab_completes_the_word_before_the_cursor_and_says_when_nothing_fits(demo_project):
    app = make_app(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await open_line(pilot)
        await type_text(pilot, "put particles.0.al extra")
        await press(pilot, *["left"] * len(" extra"), "tab")
        assert box(app).value == "put particles.0.alignments3D  extra"
        assert box(app).cursor_position == len("put particles.0.alignments3D ")
        box(app).value = "target J77"
        await press(pilot, "end", "tab")
        assert box(app).value == "target J77" and "nothing to complete for 'J77'" in hint(app)


async def test_tab_completes_slots_of_the_target_and_write_paths(demo_project, tmp_path, monkeypatch):
    (tmp_path / "exports").mkdir()
    monkeypatch.chdir(tmp_path)
    app = make_app(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await open_line(pilot)
        await type_text(pilot, "clear vol")
        await press(pilot, "tab")
        assert box(app).value == "clear volume.0.map "
        box(app).value = "write export ex"
        await press(pilot, "end", "tab")
        assert box(app).value == "write export exports/"


async def test_up_and_down_walk_the_history_kept_across_runs(demo_project):
    app = make_app(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        for text in ("yank J5.particles.blob", "job J9", "yank J9.particles.blob"):
            await open_line(pilot)
            box(app).value = text
            await press(pilot, "enter")
    assert load_history() == ["yank J5.particles.blob", "job J9", "yank J9.particles.blob"]

    app = make_app(demo_project)  # a new run reads them
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await open_line(pilot)
        await press(pilot, "up")
        assert box(app).value == "yank J9.particles.blob"
        await press(pilot, "up", "up")
        assert box(app).value == "yank J5.particles.blob"
        await press(pilot, "up")  # nothing older: stays
        assert box(app).value == "yank J5.particles.blob"
        await press(pilot, "down")
        assert box(app).value == "job J9"
        await press(pilot, "down", "down")
        assert box(app).value == ""  # back to what was typed
        await type_text(pilot, "ya")
        await press(pilot, "up")
        assert box(app).value == "yank J9.particles.blob"  # only those that begin with "ya"
        await press(pilot, "up")
        assert box(app).value == "yank J5.particles.blob"
        await press(pilot, "enter")
    assert load_history()[-1] == "yank J5.particles.blob" and len(load_history()) == 3  # moved, not repeated


async def test_an_unreadable_history_is_ignored(demo_project):
    path = history_path()
    path.parent.mkdir(parents=True)
    path.write_bytes(b"\x00\xff{ not json")
    app = make_app(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        await open_line(pilot)
        await press(pilot, "up")
        assert box(app).value == ""
        box(app).value = "job J5"
        await press(pilot, "enter")
        assert app.is_running and screen.jobs_pane.tree.current_uid == "J5"
    assert load_history() == ["job J5"]


# --- the palette --------------------------------------------------------------------------------


async def hits(provider, query: str) -> list:
    return [hit async for hit in provider.search(query)]


async def calm(pilot) -> None:
    """Settle, though a details worker replaced by the next highlight was cancelled meanwhile."""
    from textual.worker import WorkerCancelled

    for _ in range(5):
        try:
            return await settle(pilot)
        except WorkerCancelled:
            await pilot.pause()


async def test_palette_finds_a_job_by_number_or_title(demo_project):
    app = make_app(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        provider = CsRebindCommands(screen)
        found = await hits(provider, "5")
        best = max(found, key=lambda h: h.score)
        assert best.text == "J5 Extract From Micrographs" and "go to the job" in best.help
        assert not any(h.text.startswith("J9") for h in found)
        titled = await hits(provider, "extract micro")
        assert [h.text for h in titled] == ["J5 Extract From Micrographs"]
        best.command()
        await settle(pilot)
        assert screen.jobs_pane.tree.current_uid == "J5" and screen.jobs_pane.tree.has_focus


async def test_palette_goes_to_a_result(demo_project):
    app = make_app(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        provider = CsRebindCommands(screen)
        found = await hits(provider, "j5.part")
        texts = [h.text for h in found]
        assert "J5.particles.blob" in texts and "J5.particles_fcrop.blob" in texts
        assert not any(" " in t for t in texts)  # results only once a dot follows the job: no job, no command
        assert all(t.startswith("J5.particles") for t in texts)
        hit = next(h for h in found if h.text == "J5.particles.ctf")
        await hit.command()
        await calm(pilot)
        assert screen.outputs.has_focus and screen.outputs.job.uid == "J5"
        result = screen.outputs.current_result
        assert (result.job, result.output, result.name) == ("J5", "particles", "ctf")


async def test_palette_typed_and_chosen_with_enter(demo_project):
    app = make_app(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        await press(pilot, "ctrl+p")
        await type_text(pilot, "J9.particles.alignments3")
        await pilot.pause(0.3)  # the palette searches after a short delay
        await pilot.press("down", "enter")
        await pilot.pause(0.1)
        await calm(pilot)
        assert app.screen is screen
        result = screen.outputs.current_result
        assert (result.job, result.output, result.name) == ("J9", "particles", "alignments3D")


async def test_palette_is_cheap_on_50000_jobs(demo_project):
    """A number is matched on uids, a title on a list built once; only the named job's outputs
    are read: a search stays well under a keystroke's budget on a large project."""
    app = make_app(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        jobs = screen.project.jobs
        parsed_before = {uid for uid, job in jobs.items() if job._outputs is not None}
        for n in range(13, 50_013):
            jobs[f"J{n}"] = Job(uid=f"J{n}", type="homo_refine_new", title=f"Homogeneous Refinement {n}")
        provider = CsRebindCommands(screen)
        for query in ("J4", "4999", "refinement 4999", "J5.part", "J49999.particles"):
            started = time.perf_counter()
            found = await hits(provider, query)
            assert time.perf_counter() - started < 0.5, query
            assert len(found) <= CsRebindCommands.JOBS_SHOWN + CsRebindCommands.RESULTS_SHOWN + 20, query
        assert max(await hits(provider, "4999"), key=lambda h: h.score).text == "J4999 Homogeneous Refinement 4999"
        parsed_after = {uid for uid, job in jobs.items() if job._outputs is not None}
        assert parsed_after - parsed_before <= {"J4", "J4999", "J5", "J49999"}  # each the job typed in full

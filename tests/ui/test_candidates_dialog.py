"""The candidates dialog (c): every result that fits the highlighted slot, measured in a worker
and ranked; enter puts the chosen one. The design brief's story in a handful of keys."""

from __future__ import annotations

import asyncio

from pilot import command, ready, settle
from tui.ui.app import make_app
from tui.ui.screens.candidates import CandidatesScreen

SIZE = (160, 45)


async def press(pilot, *keys: str) -> None:
    for key in keys:
        await pilot.press(key)
        await settle(pilot)


def rows(app) -> list[str]:
    from textual.widgets import OptionList

    options = app.screen.query_one(OptionList)
    return [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]


def highlighted_ref(app) -> str:
    from textual.widgets import OptionList

    options = app.screen.query_one(OptionList)
    return options.get_option_at_index(options.highlighted).id


async def test_design_brief_story_with_candidates_in_at_most_ten_keys(demo_project):
    """Full-size particle images from the extraction job into the building refinement: inputs
    pane, down to blob, c, down to J5's blob, enter."""
    app = make_app(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        keys = ["3", "j", "j", "c"]
        await press(pilot, *keys)
        assert isinstance(app.screen, CandidatesScreen)
        assert app.screen.done
        listed = rows(app)
        j5 = next(i for i, row in enumerate(listed) if row.startswith("J5.particles.blob.F "))
        assert "keeps 1,000 of 1,000" in listed[j5] and "box 452 px" in listed[j5]
        moves = ["j"] * j5 + ["enter"]
        await press(pilot, *moves)
        assert len(keys) + len(moves) <= 10
        assert app.screen is screen
        assert str(screen.bench.session.binding("particles.0.blob").ref) == "J5.particles.blob.F"
        assert screen.status.message == "particles.0.blob: J9.particles.blob.F → J5.particles.blob.F · keeps 1,000 of 1,000"
        assert screen.bench.register is None  # the register is left as it was


async def test_dialog_moves_with_j_k_g_G_and_esc_changes_nothing(demo_project):
    app = make_app(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        await command(pilot, "candidates particles.0.blob")
        assert isinstance(app.screen, CandidatesScreen)
        listed = [row.split()[0] for row in rows(app)]
        await press(pilot, "G")
        assert highlighted_ref(app) == listed[-1]
        await press(pilot, "k")
        assert highlighted_ref(app) == listed[-2]
        await press(pilot, "g", "j")
        assert highlighted_ref(app) == listed[1]
        await press(pilot, "escape")
        assert app.screen is screen and not screen.bench.session.dirty


async def test_a_candidate_that_keeps_no_row_is_refused_when_put(demo_project):
    app = make_app(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        await command(pilot, "candidates particles.0.blob")
        last = rows(app)[-1]
        assert last.startswith("J7.particles_excluded.blob.F ") and "keeps 0 of 1,000 ✗" in last
        await press(pilot, "G", "enter")
        session = screen.bench.session
        assert str(session.binding("particles.0.blob").ref) == "J9.particles.blob.F"
        assert screen.status.error and screen.status.message.startswith("put refused: 0 of 500 J7 uids")


async def test_candidates_need_a_slot(demo_project):
    app = make_app(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        await press(pilot, "1", "c")
        assert app.screen is screen
        assert screen.status.error and "highlight a slot in the inputs pane" in screen.status.message
        await command(pilot, "candidates particles.4.blob")
        assert app.screen is screen and "no connection 4" in screen.status.message


async def test_keys_typed_ahead_reach_the_pane_just_chosen(demo_project):
    """3 j j c typed in one burst (no pause between keys) acts on the inputs pane, as typed."""
    app = make_app(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        from textual import events

        for key in "3jjc":  # one burst, as a terminal delivers keys typed ahead: no wait between them
            app.post_message(events.Key(key, key))
        await settle(pilot)
        await settle(pilot)
        assert isinstance(app.screen, CandidatesScreen)
        assert app.screen.address.local == "particles.0.blob"
        assert screen.jobs_pane.tree.current_uid == "J12"  # the jobs pane did not move


async def test_a_long_list_shows_progress_and_ends_ranked_as_a_short_one(demo_project, monkeypatch):
    """A list too long to make again while measuring (thousands of candidates in a big project)
    says how far measuring has come instead, and ends with the same ranked rows."""
    import time

    from tui.ui.screens import candidates as dialog

    async def ranked_rows() -> tuple[list[str], list[str]]:
        app = make_app(demo_project)
        helps: list[str] = []
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot)
            await press(pilot, "3", "j", "j", "c")
            screen = app.screen
            assert isinstance(screen, CandidatesScreen) and screen.done
            screen.post_message(dialog.CandidatesProgress(7))  # as the worker posts while measuring
            await pilot.pause()
            helps.append(str(screen.query_one("#candidates-help").render()))
            return rows(app), helps

    measure = dialog.measure

    def slow_measure(*args):  # long enough for progress to be due between two candidates
        time.sleep(0.02)
        return measure(*args)

    monkeypatch.setattr(dialog, "measure", slow_measure)
    monkeypatch.setattr(dialog.CandidatesScreen, "UPDATE_EVERY", 0.01)
    short, _ = await ranked_rows()
    monkeypatch.setattr(dialog.CandidatesScreen, "LIVE_UPDATES_UP_TO", 0)
    progress: list[int] = []
    original = dialog.CandidatesScreen._help_text

    def help_text(self):
        if not self.done and self.measured:
            progress.append(self.measured)
        return original(self)

    monkeypatch.setattr(dialog.CandidatesScreen, "_help_text", help_text)
    long, helps = await ranked_rows()
    assert long == short and len(long) > 3
    assert progress and progress == sorted(progress)  # shown while measuring, counting up
    assert "ranked by rows kept" in helps[0]


async def test_each_candidate_is_one_line(demo_project):
    """However narrow the terminal: the list is as many lines as candidates (its options are
    never measured one by one)."""
    app = make_app(demo_project)
    async with app.run_test(size=(90, 45)) as pilot:
        await ready(pilot)
        await press(pilot, "3", "j", "j", "c")
        from textual.widgets import OptionList

        options = app.screen.query_one(OptionList)
        assert options.option_count > 3 and options.virtual_size.height == options.option_count


async def test_a_label_is_made_when_its_line_is_drawn(tmp_path, monkeypatch):
    """A dialog with hundreds (at 50,000 jobs: tens of thousands) of candidates draws a screenful:
    only those labels are made (making all took seconds of the UI thread); the others when
    scrolled to, the same as if made at once."""
    from projectgen import generate_project
    from textual.widgets import OptionList

    from tui.ui.screens import candidates as dialog

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    project = generate_project(tmp_path / "P", num_jobs=300, schema="v5", seed=5)
    made: list[str] = []
    label = dialog.candidate_label
    monkeypatch.setattr(dialog, "candidate_label", lambda c, *widths: made.append(str(c.ref)) or label(c, *widths))
    app = make_app(project)
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        group, index, binding = next((g, i, b) for g in screen.bench.session.inputs
                                     for i, c in enumerate(g.connections) for b in c.slot_bindings)
        screen.command_candidates(f"{group.name}.{index}.{binding.slot}")
        await settle(pilot)
        dialog_screen = app.screen
        assert isinstance(dialog_screen, CandidatesScreen)
        while not dialog_screen.done:
            await pilot.pause(0.05)
        await settle(pilot)
        refs = [str(c.ref) for c in dialog_screen.candidates]
        shown = dialog_screen.query_one(OptionList).size.height
        assert len(refs) > 100 and 0 < len(set(made)) <= 2 * shown < len(refs) and refs[-1] not in made
        await press(pilot, "G")
        assert refs[-1] in made
        widths = (max(map(len, refs)), max(len(c.keeps_text) + 2 * bool(c.empty) for c in dialog_screen.candidates))
        assert rows(app) == [str(label(c, *widths)) for c in dialog_screen.candidates]


async def test_reading_the_outputs_shows_how_far_and_esc_ends_it(demo_project, monkeypatch):
    """Before the first candidate (a big project's outputs take seconds to read) the dialog says how
    many jobs are read; closed then, the search stops at its next report, quietly."""
    import threading

    from textual.widgets import OptionList

    from tui.ui.screens import candidates as dialog

    release, stopped = threading.Event(), threading.Event()
    listing = dialog.list_candidates

    def held(session, address, progress=None):
        progress(3, 12)  # posted: the first report is due at once (UPDATE_EVERY is 0)
        release.wait(5)
        try:
            progress(6, 12)  # the dialog is closed by now: this ends the search
        except BaseException:
            stopped.set()
            raise
        return listing(session, address)

    monkeypatch.setattr(dialog, "list_candidates", held)
    monkeypatch.setattr(dialog.CandidatesScreen, "UPDATE_EVERY", 0)
    app = make_app(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await press(pilot, "3", "j", "j")
        await pilot.press("c")
        await pilot.pause(0.2)
        screen = app.screen
        assert isinstance(screen, CandidatesScreen) and not screen.listed
        options = screen.query_one(OptionList)
        assert str(options.get_option_at_index(0).prompt) == "reading the project's outputs… 3 of 12 jobs"
        assert str(screen.query_one("#candidates-help").render()) == "finding every result that fits · esc cancel"
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, CandidatesScreen)
        release.set()
        assert await asyncio.to_thread(stopped.wait, 5)
        await pilot.pause(0.1)
        assert app.screen is not screen and not app._notifications  # no error shown

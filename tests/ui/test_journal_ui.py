"""The journal in the app (issue 9 bugs 3 and 9): each window journals on its own and never
offers a running window's journal; windows that ended without quitting are offered, each with
its targets, edit count and time; an export keeps the journal; a plan file opened unchanged,
or edits some route has written, let q quit at once; q names the edits no route has written."""

from __future__ import annotations

from tui.core.journal import JournalWriter, find_journals, load_journal
from tui.core.project import load_project
from tui.core.session import EditSession
from tui.ui.app import make_app
from tui.ui.screens.dialogs import Confirm
from tui.ui.screens.restore import RestoreDialog

from pilot import command, ready, settle

SIZE = (120, 36)


POSES = ("particles.0.alignments3D", "J9.particles.alignments3D.3")
BLOB = ("particles.0.blob", "J5.particles.blob")


def edited(project, target: str, address: str, ref: str) -> dict:
    session = EditSession(load_project(project), target)
    session.put(address, ref)
    return session.to_plan()


def ended_window(project, *plans: dict) -> JournalWriter:
    """The journal of a csrebind that ended without quitting (a crash, a dropped connection)."""
    writer = JournalWriter(project)
    writer.write(writer.snapshot(list(plans)))
    writer.close()
    return writer


async def test_two_windows_keep_their_own_journals(demo_project):
    """Bug 3: another window is running with edits: its journal is not offered, not deleted and
    not overwritten by this window's."""
    other = JournalWriter(demo_project)  # still running
    other.write(other.snapshot([edited(demo_project, "J11", *POSES)]))
    app = make_app(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        assert not isinstance(app.screen, (Confirm, RestoreDialog))  # a running window's journal is its own
        await command(pilot, "yank J5.particles.blob")
        await command(pilot, "put particles.0.blob")
        await settle(pilot)
        assert sorted(p["target"] for p in load_journal(demo_project)) == ["J11", "J12"]
        assert other.path.exists() and screen.bench.journal.path != other.path
        await pilot.press("q", "y")
        await pilot.pause()
        assert not app.is_running
    assert [p["target"] for p in load_journal(demo_project)] == ["J11"]  # this window's quit took only its own
    other.discard()


async def test_restore_lists_each_ended_window_with_targets_edits_and_time(demo_project):
    """Bug 3: two windows ended without quitting: both are offered; restore one, keep the other."""
    first = ended_window(demo_project, edited(demo_project, "J11", *POSES))
    second = ended_window(demo_project, edited(demo_project, "J12", *BLOB))
    app = make_app(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        assert isinstance(app.screen, RestoreDialog)
        rows = [str(app.screen.query_one("#journals").get_option_at_index(i).prompt) for i in range(2)]
        # newest first
        assert [row.split(" · ")[:2] for row in rows] == [["1  J12", "1 edit(s)"], ["2  J11", "1 edit(s)"]]
        assert all(" · saved at " in row and " · pid " in row for row in rows)
        await pilot.press("j", "enter")  # the second row: J11's window
        await settle(pilot)
        assert not isinstance(app.screen, RestoreDialog)
        assert str(screen.bench.sessions["J11"].binding(POSES[0]).ref) == POSES[1]
        assert "J12" not in screen.bench.sessions or not screen.bench.sessions["J12"].dirty
        assert "restored 1 edit(s) for J11" in screen.status.message
        assert not first.path.exists() and second.path.exists()  # adopted into this window's journal; the other kept
        assert sorted(p["target"] for p in load_journal(demo_project)) == ["J11", "J12"]
    app = make_app(demo_project)  # the window above ended without quitting too: two journals again
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        assert isinstance(app.screen, RestoreDialog) and len(app.screen.journals) == 2
        await pilot.press("a")
        await settle(pilot)
        assert {uid for uid, s in screen.bench.sessions.items() if s.dirty} == {"J11", "J12"}
        assert len(list(screen.bench.journal.path.parent.glob("*.json"))) == 1  # only this window's
        await pilot.press("q", "y")
        await pilot.pause()
    assert load_journal(demo_project) == []


async def test_restore_none_discards_and_escape_keeps(demo_project):
    ended_window(demo_project, edited(demo_project, "J11", *POSES))
    ended_window(demo_project, edited(demo_project, "J12", *BLOB))
    app = make_app(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("escape")  # later: both kept
        await settle(pilot)
    assert len(load_journal(demo_project)) == 2
    app = make_app(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        assert isinstance(app.screen, RestoreDialog)
        await pilot.press("n")
        await settle(pilot)
        assert "discarded the edits of 2 earlier window(s)" in screen.status.message
    assert load_journal(demo_project) == []


async def test_a_damaged_journal_is_reported_in_one_line(demo_project):
    writer = JournalWriter(demo_project)
    writer.path.parent.mkdir(parents=True)
    writer.path.write_text('{"format": "csrebind-journal", "sessions": [')
    app = make_app(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        assert not isinstance(app.screen, (Confirm, RestoreDialog))
        (note,) = [n.message for n in app._notifications if "journal" in n.message]
        assert note == f"journal {writer.path} is not valid JSON; skipped"


async def test_a_malformed_session_is_reported_not_raised(demo_project):
    good = edited(demo_project, "J12", *BLOB)
    ended_window(demo_project, {**good, "target": "J11", "inputs": 7}, good)
    app = make_app(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        assert isinstance(app.screen, Confirm)
        await pilot.press("y")
        await settle(pilot)
        assert str(screen.bench.sessions["J12"].binding("particles.0.blob").ref) == "J5.particles.blob.F"
        assert any("J11 not restored" in n.message for n in app._notifications)
        await pilot.press("q", "y")
        await pilot.pause()
    (kept,) = find_journals(demo_project)  # the session that could not be opened stays in its journal
    assert kept.targets == ["J11"]
    kept.release()


async def test_an_export_keeps_the_journal_until_quit(demo_project, tmp_path):
    """Bug 9: after an export the session is still journaled; a dropped connection loses nothing,
    and the restored session remembers the export, so q quits at once."""
    app = make_app(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        await command(pilot, "yank J5.particles.blob")
        await command(pilot, "put particles.0.blob")
        await command(pilot, f"write export {tmp_path / 'out'}")
        await pilot.press("y")
        await settle(pilot)
        assert (tmp_path / "out" / "J12_particles_rebound.cs").exists()
        assert screen.bench.unsaved_targets() == []
        assert [p["target"] for p in load_journal(demo_project)] == ["J12"]  # not cleared by the export
    # the connection dropped: no quit
    app = make_app(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        assert isinstance(app.screen, Confirm) and "J12 · 1 edit(s)" in app.screen.question
        await pilot.press("y")
        await settle(pilot)
        assert str(screen.bench.session.binding("particles.0.blob").ref) == "J5.particles.blob.F"
        await pilot.press("q")
        await pilot.pause()
        assert not app.is_running  # the export was written before the connection dropped
    assert load_journal(demo_project) == []


async def test_a_plan_opened_and_left_unchanged_quits_at_once(demo_project):
    """Bug 9: csrebind DIR --plan FILE, then q: the plan file holds every edit."""
    plan = EditSession(load_project(demo_project), "J12")
    plan.put("particles.0.blob", "J5.particles.blob")
    plan.clear("volume.0.map")
    app = make_app(demo_project, plan=plan.to_plan())
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        assert len(screen.bench.session.changes()) == 2
        await pilot.press("q")
        await pilot.pause()
        assert not app.is_running
    assert load_journal(demo_project) == []


async def test_quit_names_the_edits_no_route_wrote(demo_project, tmp_path):
    app = make_app(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await command(pilot, "yank J5.particles.blob")
        await command(pilot, "put particles.0.blob")
        await command(pilot, "clear volume.0.map")
        await command(pilot, "write plan " + str(tmp_path / "plan.json"))
        await command(pilot, "clear particles.0.ctf")
        await pilot.press("q")
        await pilot.pause()
        assert isinstance(app.screen, Confirm)
        assert app.screen.question == ("1 edit(s) written out by no plan, script, export or apply: "
                                       "J12 particles.0.ctf. Quit and discard them?")
        assert app.screen.details == "J12 particles.0.ctf: J9.particles.ctf.F → (empty)"
        await pilot.press("n")
        await pilot.press("u", "q")
        await pilot.pause()
        assert not app.is_running

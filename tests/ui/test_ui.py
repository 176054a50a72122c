"""Pilot tests: every key and command, asserting on the edit session as well as the screen."""

from __future__ import annotations

import json

import pytest

from tui.core.config import Settings
from tui.core.journal import load_journal
from tui.core.refs import ResultRef, SlotAddress
from tui.ui.app import make_app
from tui.core.commands import COMMANDS
from tui.ui.screens.dialogs import CommandLine, Confirm, VersionPicker
from tui.ui.screens.help import HelpScreen

from pilot import command, ready, screen_text, settle, show_result, show_slot

SIZE = (120, 36)


def status_text(screen) -> str:
    return str(screen.status.render())


def bound(screen, address: str) -> str | None:
    binding = screen.bench.session.binding(address)
    return str(binding.ref) if binding else None


async def test_design_brief_story(demo_project):
    """Target the local refinement, put the full-size blob and an earlier iteration's poses,
    then undo and redo."""
    app = make_app(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        assert screen.bench.target == "J12"  # the most recent job in building status
        assert bound(screen, "particles.0.blob") == "J9.particles.blob.F"

        await show_result(pilot, "J5", "particles", "blob")
        await pilot.press("y")
        assert screen.bench.register == ResultRef("J5", "particles", "blob", "F")
        assert "yanked J5.particles.blob.F" in status_text(screen)

        await show_slot(pilot, "particles.0.blob")
        await pilot.press("p")
        await settle(pilot)
        assert bound(screen, "particles.0.blob") == "J5.particles.blob.F"
        assert "particles.0.blob: J9.particles.blob.F → J5.particles.blob.F" in status_text(screen)
        assert " 1 edit │" in status_text(screen)

        await show_result(pilot, "J9", "particles", "alignments3D")
        await pilot.press("v")
        await pilot.pause()
        assert isinstance(app.screen, VersionPicker)
        picker = app.screen.query_one("#versions")
        picker.highlighted = picker.get_option_index("3")
        await pilot.press("enter")
        await settle(pilot)
        assert screen.bench.picks[("J9", "particles", "alignments3D")] == 3
        await pilot.press("y")
        assert screen.bench.register == ResultRef("J9", "particles", "alignments3D", 3)
        await show_slot(pilot, "particles.0.alignments3D")
        await pilot.press("p")
        await settle(pilot)
        assert bound(screen, "particles.0.alignments3D") == "J9.particles.alignments3D.3"
        assert len(screen.bench.session.changes()) == 2

        await pilot.press("u")
        await settle(pilot)
        assert bound(screen, "particles.0.alignments3D") == "J9.particles.alignments3D.F"
        assert bound(screen, "particles.0.blob") == "J5.particles.blob.F"
        await pilot.press("ctrl+r")
        await settle(pilot)
        assert bound(screen, "particles.0.alignments3D") == "J9.particles.alignments3D.3"
        await pilot.press("u", "u")
        await settle(pilot)
        assert not screen.bench.session.dirty
        await pilot.press("u")
        assert "nothing to undo" in status_text(screen)


async def test_incompatible_put_changes_nothing_and_says_why(demo_project):
    app = make_app(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        await show_result(pilot, "J9", "volume", "map")
        await pilot.press("y")
        await show_slot(pilot, "particles.0.alignments3D")
        before = screen.bench.session.inputs
        await pilot.press("p")
        await settle(pilot)
        assert screen.bench.session.inputs is before
        assert "slot alignments3D takes particle alignments3D, not volume blob" in status_text(screen)


async def test_yank_highlights_only_compatible_slots(demo_project):
    app = make_app(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        await show_result(pilot, "J5", "particles_fcrop", "blob")
        await pilot.press("y")
        await settle(pilot)
        marked = {
            node.data.address.local
            for node in screen.inputs._all_nodes()
            if hasattr(node.data, "address") and str(node.label).startswith("+ ")
        }
        assert marked == {"particles.0.blob"}
        await pilot.press("escape")
        await settle(pilot)
        assert screen.bench.register is None
        assert not any(str(n.label).startswith("+ ") for n in screen.inputs._all_nodes())


async def test_clear_slot_and_group_connect(demo_project):
    app = make_app(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        await show_slot(pilot, "particles.0.ctf")
        await pilot.press("x")
        await settle(pilot)
        assert bound(screen, "particles.0.ctf") is None
        # Y yanks the whole group; P on the input adds a new connection.
        await show_result(pilot, "J7", "particles_selected", "blob")
        await pilot.press("Y")
        assert str(screen.bench.register) == "J7.particles_selected"
        screen.inputs.focus()
        screen.inputs.move_cursor(screen.inputs.root.children[0])
        await settle(pilot)
        await pilot.press("P")
        await settle(pilot)
        connections = screen.bench.session.input("particles").connections
        assert [(c.job, c.output) for c in connections] == [("J9", "particles"), ("J7", "particles_selected")]
        assert "particles.1: (empty) → J7.particles_selected" in status_text(screen)


async def test_version_step_keys_and_labels(demo_project):
    app = make_app(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        await show_result(pilot, "J9", "particles", "alignments3D")
        await pilot.press("left_square_bracket")
        assert screen.bench.picks[("J9", "particles", "alignments3D")] == 5
        node = screen.outputs.cursor_node
        assert str(node.label).startswith("J9.particles.alignments3D.5 ")
        await pilot.press("left_square_bracket", "left_square_bracket")
        assert screen.bench.picks[("J9", "particles", "alignments3D")] == 2
        await pilot.press("right_square_bracket", "right_square_bracket", "right_square_bracket")
        assert screen.bench.picks[("J9", "particles", "alignments3D")] == "F"
        assert str(screen.outputs.cursor_node.label).startswith("J9.particles.alignments3D.F ")  # F always shown


async def test_pane_keys_and_vim_movement(demo_project):
    app = make_app(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        await pilot.press("1")
        assert screen.jobs_pane.tree.has_focus
        await pilot.press("g")
        assert screen.jobs_pane.tree.current_uid == "J1"
        await pilot.press("j")
        assert screen.jobs_pane.tree.current_uid == "J2"
        await pilot.press("k")
        assert screen.jobs_pane.tree.current_uid == "J1"
        await pilot.press("G")
        assert screen.jobs_pane.tree.current_uid == "J10"  # the last line of the lineage tree
        await pilot.press("tab")
        assert screen.outputs.has_focus
        await pilot.press("tab")
        assert screen.inputs.has_focus
        await pilot.press("shift+tab")
        assert screen.outputs.has_focus
        await pilot.press("3")
        assert screen.inputs.has_focus
        await pilot.press("2", "g", "h")
        assert not screen.outputs.cursor_node.is_expanded
        await pilot.press("l")
        assert screen.outputs.cursor_node.is_expanded


async def test_filter_jump_and_next_match(demo_project):
    app = make_app(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        await pilot.press("1", "slash")
        await pilot.pause()
        assert screen.jobs_pane.filtering
        for character in "refine":
            await pilot.press(character)
        await pilot.pause()
        assert screen.jobs_pane.matches("refine") == ["J9", "J11", "J12"]
        await pilot.press("enter")
        await settle(pilot)
        assert not screen.jobs_pane.filtering
        assert screen.jobs_pane.tree.current_uid == "J9"
        await pilot.press("n")
        assert screen.jobs_pane.tree.current_uid == "J11"
        await pilot.press("N", "N")
        assert screen.jobs_pane.tree.current_uid == "J12"
        await pilot.press("slash", "x", "y", "z", "escape")
        await settle(pilot)
        assert not screen.jobs_pane.filtering


async def test_the_list_of_matches_follows_the_typing_and_drops_an_overtaken_search(demo_project):
    """The search runs off the UI thread; what the list shows is always the box's query."""
    from tui.ui.widgets.jobs import JobsPane, MatchList

    app = make_app(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        await pilot.press("1", "slash", *"refine")
        await settle(pilot)
        matches = screen.query_one("#job-matches", MatchList)
        assert [matches.rows.row(i).uid for i in range(len(matches.rows))] == ["J9", "J11", "J12"]
        assert matches.border_title == "3 matches"
        pane = screen.jobs_pane
        pane.post_message(JobsPane.Found("r", ["J1"]))  # a slower search for an earlier query
        await settle(pilot)
        assert [matches.rows.row(i).uid for i in range(len(matches.rows))] == ["J9", "J11", "J12"]
        await pilot.press("backspace", "backspace", "backspace", "backspace", "backspace", "backspace", *"zzq")
        await settle(pilot)
        assert len(matches.rows) == 0 and matches.border_title == "0 matches"


async def test_workspace_grouping_and_repeats(demo_project):
    app = make_app(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        tree = screen.jobs_pane.tree
        labels = [text.lstrip("│├└▼▶ ") for text in tree.visible_texts()]
        assert sum(label.startswith("J5 ") for label in labels) == 2  # J5 has two parents
        assert sorted(label.split(" ")[0] for label in labels if "↺" in label) == ["J11", "J5", "J9"]
        # A job sits under its first parent and repeats under the others: J5 (parents J3, J4).
        rows = tree.rows
        j5 = rows.first_row["J5"]
        assert rows.rows[rows.parent_index(j5)].uid == "J3" and not rows.rows[j5].repeat
        j4 = rows.first_row["J4"]
        repeats = [i for i in range(j4 + 1, rows.rows[j4].end) if rows.rows[i].uid == "J5"]
        assert repeats and rows.rows[repeats[0]].repeat and rows.parent_index(repeats[0]) == j4
        assert "↺" in tree.row_text(repeats[0]).plain
        await pilot.press("1", "W")
        await settle(pilot)
        top = [text for text in tree.visible_texts() if not text.startswith(("│", "├", "└"))]
        assert top[0].startswith("▼ W1") and top[1].startswith("▼ W2")
        await pilot.press("W")
        assert tree.visible_texts()[0].startswith("▼ J1 ")


async def test_target_key_makes_a_draft_for_finished_jobs(demo_project):
    app = make_app(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        screen.command_job("J9")
        await settle(pilot)
        await pilot.press("t")
        await settle(pilot)
        assert screen.bench.target == "J9"
        assert "DRAFT" in screen.inputs.border_title
        assert "target J9 is completed" in status_text(screen)


async def test_command_line(demo_project):
    app = make_app(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        await command(pilot, "yank J5.particles.blob.F", typed=True)
        assert screen.bench.register == ResultRef("J5", "particles", "blob", "F")
        await command(pilot, "put particles.0.blob", typed=True)
        assert bound(screen, "particles.0.blob") == "J5.particles.blob.F"
        await command(pilot, "clear particles.0.ctf")
        assert bound(screen, "particles.0.ctf") is None
        await command(pilot, "undo")
        assert bound(screen, "particles.0.ctf") == "J9.particles.ctf.F"
        await command(pilot, "redo")
        assert bound(screen, "particles.0.ctf") is None
        await command(pilot, "job J9")
        assert screen.jobs_pane.tree.current_uid == "J9"
        screen.outputs.go_to_result(("J9", "particles", "alignments3D"))
        await command(pilot, "version 2")
        assert screen.bench.picks[("J9", "particles", "alignments3D")] == 2
        await command(pilot, "target J11")
        assert screen.bench.target == "J11"
        await command(pilot, "put particles.9.blob")
        assert "input particles has no connection 9" in status_text(screen)
        await command(pilot, "frobnicate")
        assert "unknown command 'frobnicate'" in status_text(screen)
        await command(pilot, "job J9")
        screen.outputs.go_to_result(("J9", "particles", "alignments3D"))
        await command(pilot, "version 4")
        assert "version 4 is not stored" in status_text(screen)
        await command(pilot, "target J12")
        assert screen.bench.target == "J12" and bound(screen, "particles.0.blob") == "J5.particles.blob.F"


async def test_help_lists_every_binding_with_user_keymap(demo_project):
    app = make_app(demo_project, settings=Settings(keymap={"yank": "c"}))
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        await show_result(pilot, "J5", "particles", "blob")
        await pilot.press("y")
        assert screen.bench.register is None  # the default key no longer yanks
        await pilot.press("c")
        assert screen.bench.register == ResultRef("J5", "particles", "blob", "F")
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        keys = {binding_id: key for key, _, binding_id in app.screen.rows}
        assert set(keys) == {spec.id for spec in COMMANDS if spec.keys}
        assert keys["yank"] == "c" and keys["put"] == "p" and keys["help"] == "?, f1"
        shown = screen_text(app)
        assert "Yank" in shown and "version-picker" in shown
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("f1")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)


async def test_quit_asks_when_edits_are_pending_and_journal_restores(demo_project):
    app = make_app(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        await command(pilot, "yank J5.particles.blob")
        await command(pilot, "put particles.0.blob")
        await settle(pilot)
        plans = load_journal(demo_project)
        assert [p["target"] for p in plans] == ["J12"]
        assert "particles.0.blob: J9.particles.blob.F → J5.particles.blob.F" in plans[0]["changes"]
        await pilot.press("q")
        await pilot.pause()
        assert isinstance(app.screen, Confirm)
        await pilot.press("n")
        await pilot.pause()
        assert app.is_running
    # A new session (after a crash or a dropped connection) offers to restore the edits.
    assert load_journal(demo_project)  # this window's journal, kept
    app = make_app(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        assert isinstance(app.screen, Confirm)
        await pilot.press("y")
        await settle(pilot)
        assert bound(screen, "particles.0.blob") == "J5.particles.blob.F"
        await pilot.press("u")
        await settle(pilot)
        assert bound(screen, "particles.0.blob") == "J9.particles.blob.F"
        await pilot.press("q")
        await pilot.pause()
    assert load_journal(demo_project) == []


async def test_quit_without_edits_exits_at_once(demo_project):
    app = make_app(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("q")
        await pilot.pause()
        assert not app.is_running


async def test_broken_jobs_are_listed_with_their_reason(demo_project):
    (demo_project / "J13").mkdir()
    (demo_project / "J13" / "job.json").write_text('{"uid": "J13", "spec": {"type"')
    app = make_app(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        screen.jobs_pane.tree.go_to("J13")
        await settle(pilot)
        tree = screen.jobs_pane.tree
        label = tree.row_text(tree.rows.index(tree.cursor)).plain
        assert label.startswith("J13 broken: job.json is not valid JSON")
        assert "cannot be read" in str(screen.outputs.root.children[0].label)


async def test_write_plan_from_command_line(demo_project, tmp_path):
    app = make_app(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        await command(pilot, "yank J5.particles.blob")
        await command(pilot, "put particles.0.blob")
        out = tmp_path / "plan.json"
        await command(pilot, f"write plan {out}")
        await settle(pilot)
        plan = json.loads(out.read_text())
        assert plan["target"] == "J12" and plan["changes"] == [
            "particles.0.blob: J9.particles.blob.F → J5.particles.blob.F"]
        assert screen.bench.unsaved_targets() == []
        await pilot.press("q")
        await pilot.pause()
        assert not app.is_running


@pytest.mark.parametrize("size", [(80, 24)])
async def test_small_terminal(demo_project, size):
    app = make_app(demo_project)
    async with app.run_test(size=size) as pilot:
        screen = await ready(pilot)
        assert screen.status.region.height == 1 and screen.status.region.y == size[1] - 2
        assert screen.has_class("short")  # details pane shrinks to leave rows for the trees
        await pilot.press("3")
        await pilot.pause()
        # a stable layout: the inputs pane, which holds the edit, is the widest whatever has the focus
        assert screen.inputs.region.width >= 30
        assert screen.jobs_pane.region.width < screen.inputs.region.width


async def test_write_menu_and_export_route(demo_project, tmp_path):
    import numpy as np

    from tui.ui.screens.dialogs import WriteMenu

    from digest import tree_digest

    before = tree_digest(demo_project)
    app = make_app(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        await command(pilot, "yank J5.particles.blob")
        await command(pilot, "put particles.0.blob")
        await pilot.press("w")
        await pilot.pause()
        assert isinstance(app.screen, WriteMenu)
        await pilot.press("enter")  # export, the first route
        await pilot.pause()
        assert isinstance(app.screen, CommandLine)
        proposed = app.screen.query_one("#command-input").value
        assert proposed.startswith("write export ") and proposed.endswith(" J12_particles_rebound")
        assert f"{demo_project.name}-csrebind" in proposed  # beside the project, not inside it
        await pilot.press("escape")
        out = tmp_path / "exports"
        await command(pilot, f"write export {out} brief")
        await settle(pilot)
        assert isinstance(app.screen, Confirm)
        assert "1000 kept, 500 dropped" in app.screen.details
        await pilot.press("y")
        await settle(pilot)
        data = np.load(out / "brief.cs")
        assert len(data) == 1000 and (data["blob/shape"] == 452).all()
        assert (out / "brief.csg").exists()
        assert "exported 1,000 rows" in status_text(screen)
        assert screen.bench.unsaved_targets() == []
    assert tree_digest(demo_project) == before  # the UI never writes inside the project


async def test_write_export_refuses_the_project_folder(demo_project):
    app = make_app(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        await command(pilot, f"write export {demo_project / 'exports'}")
        await settle(pilot)
        assert "inside the CryoSPARC project directory" in status_text(screen)
        assert not (demo_project / "exports").exists()


async def test_write_script_and_apply_routes(demo_project, tmp_path, monkeypatch):
    import tui.core.live.apply as apply_module
    from test_apply import FakeServer, server_inputs
    from tui.ui.screens.dialogs import Message

    app = make_app(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        await command(pilot, "yank J9.particles.alignments3D.3")
        await command(pilot, "put particles.0.alignments3D")
        await command(pilot, f"write script {tmp_path / 'apply.py'}")
        await settle(pilot)
        script = (tmp_path / "apply.py").read_text()
        assert "source_version=3" in script
        server = FakeServer(inputs=server_inputs(screen.bench.session.loaded))
        monkeypatch.setattr(apply_module, "default_client_factory", server.factory)
        await command(pilot, "write apply")
        await settle(pilot)
        assert isinstance(app.screen, Confirm) and "connect J9.particles.alignments3D.3" in app.screen.details
        await pilot.press("y")
        await settle(pilot)
        assert isinstance(app.screen, Message) and app.screen.title_text == "Applied"
        assert [name for name, _ in server.calls] == ["connect_result"]
        assert server.calls[0][1]["source_version"] == 3 and server.calls[0][1]["slot"] == "alignments3D"
        await pilot.press("escape")
        await command(pilot, "target J9")
        await command(pilot, "write apply")
        assert "only a job in building status" in status_text(screen)


async def test_reopen_a_plan(demo_project, tmp_path):
    from tui.core.planfile import write_plan
    from tui.core.project import load_project
    from tui.core.session import EditSession

    session = EditSession(load_project(demo_project), "J12")
    session.put("particles.0.blob", "J5.particles.blob")
    session.put("particles.0.alignments3D", "J9.particles.alignments3D.3")
    plan = json.loads(write_plan(session.to_plan(), tmp_path / "plan.json", project_dir=session.project.path).read_text())
    app = make_app(demo_project, plan=plan)
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        assert screen.bench.target == "J12"
        assert [str(c) for c in screen.bench.session.changes()] == [str(c) for c in session.changes()]
        await pilot.press("u")  # the whole plan is one undoable step
        await settle(pilot)
        assert not screen.bench.session.dirty


async def test_command_palette_offers_the_commands(demo_project):
    from tui.ui.commands import CsRebindCommands

    app = make_app(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        provider = CsRebindCommands(screen)
        hits = [hit async for hit in provider.search("undo")]
        assert any("undo" in str(hit.text) for hit in hits)
        discovered = [hit async for hit in provider.discover()]
        assert len(discovered) == len(__import__("tui.core.commands", fromlist=["x"]).LINE_COMMANDS)
        await pilot.press("ctrl+p")
        await pilot.pause()
        assert type(app.screen).__name__ == "CommandPalette"


async def test_no_color_keeps_the_hints_readable(demo_project, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    app = make_app(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await command(pilot, "yank J5.particles.blob")
        shown = screen_text(app)
        assert "+ blob*" in shown  # the marker, not only the colour
        assert "● building" in shown


async def test_empty_project_and_keys_without_context(tmp_path):
    (tmp_path / "P1").mkdir()
    (tmp_path / "P1" / "project.json").write_text('{"uid": "P1", "title": "empty"}')
    app = make_app(tmp_path / "P1")
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        assert screen.bench.target is None and len(screen.project.jobs) == 0
        for key, message in [("y", "highlight a result"), ("p", "highlight a slot"), ("u", "no target job"),
                             ("t", "highlight a job"), ("v", "highlight a result"), ("n", "no matches")]:
            await pilot.press(key)
            await pilot.pause()
            assert message in status_text(screen), key
        await pilot.press("w")
        await pilot.pause()
        assert "no target job" in status_text(screen)
        assert app.is_running


async def test_broken_job_cannot_become_the_target(demo_project):
    (demo_project / "J13").mkdir()
    app = make_app(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        screen.jobs_pane.tree.go_to("J13")
        await settle(pilot)
        await pilot.press("t")
        assert screen.bench.target == "J12"
        assert "job J13 cannot be used: job.json is missing" in status_text(screen)


async def test_export_marks_only_that_input_written(demo_project, tmp_path):
    app = make_app(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        await command(pilot, "yank J5.particles.blob")
        await command(pilot, "put particles.0.blob")
        await command(pilot, "clear volume.0.map")
        screen.inputs.go_to_slot(SlotAddress.parse("particles.0.blob"))
        await command(pilot, f"write export {tmp_path / 'out'}")
        await pilot.press("y")
        await settle(pilot)
        assert (tmp_path / "out" / "J12_particles_rebound.cs").exists()
        assert screen.bench.unsaved_targets() == ["J12"]  # the volume edit is not written anywhere yet
        assert load_journal(demo_project)
        await pilot.press("q")
        await pilot.pause()
        assert isinstance(app.screen, Confirm)


async def test_plan_on_the_command_line_still_offers_the_journal(demo_project, tmp_path):
    from tui.core.journal import save_journal
    from tui.core.project import load_project
    from tui.core.session import EditSession

    earlier = EditSession(load_project(demo_project), "J12")
    earlier.put("particles.0.blob", "J5.particles.blob")
    save_journal(demo_project, [earlier.to_plan()])
    plan = EditSession(load_project(demo_project), "J11")
    plan.put("particles.0.alignments3D", "J9.particles.alignments3D.3")
    app = make_app(demo_project, plan=plan.to_plan())
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        assert isinstance(app.screen, Confirm)
        await pilot.press("y")
        await settle(pilot)
        assert screen.bench.target == "J11" and len(screen.bench.sessions["J11"].changes()) == 1
        assert str(screen.bench.sessions["J11"].binding("particles.0.alignments3D").ref) == "J9.particles.alignments3D.3"
        assert str(screen.bench.sessions["J12"].binding("particles.0.blob").ref) == "J5.particles.blob.F"
        assert sorted(p["target"] for p in load_journal(demo_project)) == ["J11", "J12"]


async def test_status_bar_shows_the_highlighted_slot(demo_project):
    app = make_app(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        await command(pilot, "yank J5.particles.blob")
        await show_slot(pilot, "particles.0.blob")
        await pilot.press("p")
        await settle(pilot)
        assert "particles.0.blob: J9.particles.blob.F → J5.particles.blob.F" in status_text(screen)
        await pilot.press("j")  # to particles.0.ctf: the message gives way to that slot's binding
        await settle(pilot)
        assert "particles.0.ctf = J9.particles.ctf.F" in status_text(screen)
        await pilot.press("x")
        await settle(pilot)
        assert "particles.0.ctf is empty" in str(screen.query_one("#details-body").render())


async def test_validation_is_shown_and_blocks_apply(demo_project):
    from tui.ui.screens.dialogs import WriteMenu

    app = make_app(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        await command(pilot, "clear particles.0.ctf")
        await pilot.press("w")
        await pilot.pause()
        assert isinstance(app.screen, WriteMenu) and "particles.0.ctf: required slot is empty" in app.screen.heading
        await pilot.press("escape")
        await pilot.pause()
        await command(pilot, "write apply")
        assert "not applied: particles.0.ctf: required slot is empty" in status_text(screen)


async def test_write_force_replaces(demo_project, tmp_path):
    app = make_app(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        await command(pilot, "clear particles.0.ctf")
        out = tmp_path / "plan.json"
        await command(pilot, f"write plan {out}")
        await command(pilot, "undo")
        await command(pilot, f"write plan {out}")
        await settle(pilot)
        assert "already exists" in status_text(screen)
        await command(pilot, f"write plan {out} --force")
        await settle(pilot)
        assert json.loads(out.read_text())["changes"] == []


async def test_folded_inputs_stay_folded_across_edits(demo_project):
    app = make_app(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        volume = next(n for n in screen.inputs.root.children if n.data.input == "volume")
        screen.inputs.focus()
        screen.inputs.move_cursor(volume)
        await pilot.press("h")
        await command(pilot, "yank J5.particles.blob")
        await command(pilot, "put particles.0.blob")
        volume = next(n for n in screen.inputs.root.children if n.data.input == "volume")
        assert not volume.is_expanded
        particles = next(n for n in screen.inputs.root.children if n.data.input == "particles")
        assert particles.is_expanded


async def test_inputs_title_counts_problems(demo_project):
    app = make_app(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        assert "problem" not in screen.inputs.border_title
        await command(pilot, "clear particles.0.ctf")
        assert "⚠ 1 problem (w lists them)" in screen.inputs.border_title
        await command(pilot, "undo")
        assert "problem" not in screen.inputs.border_title


async def test_an_unexpected_worker_error_is_shown_and_logged_not_fatal(demo_project, tmp_path, monkeypatch):
    from tui.core import routes
    from tui.ui.failures import log_path
    from tui.ui.screens.dialogs import Message

    def broken(*args, **kwargs):
        raise RuntimeError("boom in the export")

    monkeypatch.setattr(routes, "prepare_export", broken)
    app = make_app(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        await command(pilot, "clear particles.0.ctf")
        await command(pilot, f"write export {tmp_path / 'out'}")
        await settle(pilot)
        assert isinstance(app.screen, Message) and app.screen.title_text == "Something went wrong"
        assert "RuntimeError: boom in the export" in app.screen.text
        assert str(log_path()) in app.screen.text
        assert "Traceback" in log_path().read_text() and "boom in the export" in log_path().read_text()
        await pilot.press("escape")
        await pilot.pause()
        assert app.is_running and app.return_code is None
        assert len(screen.bench.session.changes()) == 1  # the edit survived
        await command(pilot, "undo")
        assert not screen.bench.session.dirty


async def test_details_show_the_facts_of_the_highlighted_result(demo_project):
    app = make_app(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        await show_result(pilot, "J5", "particles", "blob")
        details = str(screen.query_one("#details-body").render())
        assert "box 452 px, 1.11504 Å/px" in details and "20 stack files under J5/extract/" in details
        await show_result(pilot, "J3", "exposures", "ctf")
        details = str(screen.query_one("#details-body").render())
        assert "defocus " in details and " µm, 300 kV" in details

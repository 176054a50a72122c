"""Dialogs move with the panes' keys (issue 9, bug 5) and a filled-in : line is typed after, not
over (bug 6): j/k/g/G in the version picker, the write menu and help; digits jump to a version
or choose a route; the palette's and the write menu's prefill keeps its text."""

from __future__ import annotations

from textual.widgets import Input, OptionList

from pilot import ready, settle, show_result, show_slot
from tui.ui.app import make_app
from tui.ui.screens.dialogs import CommandLine, VersionPicker, WriteMenu
from tui.ui.screens.help import HelpScreen, HelpText

SIZE = (160, 45)


async def press(pilot, *keys: str) -> None:
    for key in keys:
        await pilot.press(key)
    await settle(pilot)


def highlighted(app) -> str:
    options = app.screen.query_one(OptionList)
    return options.get_option_at_index(options.highlighted).id


async def test_version_picker_moves_with_j_k_g_G_and_digits(demo_project):
    app = make_app(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        await show_result(pilot, "J9", "particles", "alignments3D")  # iterations 0, 1, 2, 3, 5, 7
        await press(pilot, "v")
        assert isinstance(app.screen, VersionPicker) and highlighted(app) == "F"
        await press(pilot, "j", "j", "j")  # F, 7, 5, 3
        assert highlighted(app) == "3"
        await press(pilot, "k")
        assert highlighted(app) == "5"
        await press(pilot, "G")
        assert highlighted(app) == "0"
        await press(pilot, "g")
        assert highlighted(app) == "F"
        await press(pilot, "3")
        assert highlighted(app) == "3"
        await press(pilot, "4")  # no iteration 4 (nor 34): stays
        assert highlighted(app) == "3"
        await press(pilot, "enter")
        assert app.screen is screen
        assert screen.bench.pick(screen.outputs.current_result) == 3


async def test_write_menu_moves_with_j_k_and_a_digit_chooses(demo_project):
    app = make_app(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await show_slot(pilot, "particles.0.alignments3D")
        await press(pilot, "left_square_bracket")  # an edit, so there is something to write
        await press(pilot, "w")
        assert isinstance(app.screen, WriteMenu) and highlighted(app) == "export"
        await press(pilot, "j", "j")
        assert highlighted(app) == "script"
        await press(pilot, "k", "G")
        assert highlighted(app) == "imports"
        await press(pilot, "2")  # plan
        assert isinstance(app.screen, CommandLine)
        box = app.screen.query_one(Input)
        prefill = box.value
        assert prefill.startswith("write plan ") and prefill.endswith("J12_plan.json")  # a default to edit
        assert box.selection.is_empty and box.cursor_position == len(prefill)
        await press(pilot, "backspace", *"5")
        assert box.value == prefill[:-1] + "5"  # typed after the prefill, not over it


async def test_palette_prefill_is_typed_after(demo_project):
    from tui.core.commands import BY_NAME
    from tui.ui.commands import CsRebindCommands

    app = make_app(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        CsRebindCommands(screen)._run(BY_NAME["yank"])
        await settle(pilot)
        assert isinstance(app.screen, CommandLine)
        await press(pilot, *"J5.particles.blob", "enter")
        assert app.screen is screen
        assert screen.bench.register_text().startswith("yanked J5.particles.blob")


async def test_help_scrolls_with_j_and_G(demo_project):
    app = make_app(demo_project)
    async with app.run_test(size=(120, 24)) as pilot:
        await ready(pilot)
        await press(pilot, "question_mark")
        assert isinstance(app.screen, HelpScreen)
        text = app.screen.query_one(HelpText)
        assert text.has_focus and text.scroll_y == 0
        await press(pilot, "j", "j")
        assert text.scroll_y == 2
        await press(pilot, "G")
        assert text.scroll_y == text.max_scroll_y > 2
        await press(pilot, "g")
        assert text.scroll_y == 0


async def test_y_in_the_version_picker_picks_and_yanks(demo_project):
    from tui.core.refs import ResultRef

    app = make_app(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        await show_result(pilot, "J9", "particles", "alignments3D")
        await press(pilot, "v", "3", "y")
        assert app.screen is screen
        assert screen.bench.pick(screen.outputs.current_result) == 3
        assert screen.bench.register == ResultRef("J9", "particles", "alignments3D", 3)
        await show_slot(pilot, "particles.0.alignments3D")  # on a slot: binds it, and yanks it too
        await press(pilot, "v", "5", "y")
        assert str(screen.bench.session.binding("particles.0.alignments3D").ref) == "J9.particles.alignments3D.5"
        assert screen.bench.register == ResultRef("J9", "particles", "alignments3D", 5)


async def test_help_explains_every_mark(demo_project):
    from tui.ui.screens.help import LEGEND

    app = make_app(demo_project)
    async with app.run_test(size=(160, 200)) as pilot:
        await ready(pilot)
        await press(pilot, "question_mark")
        from pilot import screen_text

        shown = screen_text(app)
        for mark in ("↺", "pt", "it7 (6)", ".F  .3", "blob*", "+ blob", "● new", "←J198"):
            assert any(mark in m for m, _ in LEGEND), mark
        assert "Marks" in shown and "a passthrough result" in shown and "the only status live apply can change" in shown


async def test_the_next_write_proposes_the_folder_last_written_to(demo_project, tmp_path):
    app = make_app(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await show_slot(pilot, "particles.0.alignments3D")
        await press(pilot, "left_square_bracket")
        chosen = tmp_path / "my exports"
        from pilot import command

        await command(pilot, f"write plan '{chosen / 'first.json'}'")
        assert (chosen / "first.json").exists()
        await press(pilot, "w", "3")  # script: proposed in the folder just used
        box = app.screen.query_one(Input)
        assert box.value == f"write script '{chosen / 'J12_apply.py'}'"
        await press(pilot, "escape")


async def test_write_menu_offers_an_export_into_imports(demo_project):
    app = make_app(demo_project)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await show_slot(pilot, "particles.0.alignments3D")
        await press(pilot, "left_square_bracket", "w", "5")
        assert isinstance(app.screen, CommandLine)
        assert app.screen.query_one(Input).value == "write export --into-imports J12_particles_rebound"

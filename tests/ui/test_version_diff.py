"""The version picker on the real J744 refinement: each version's change from the version stored
before it (pose, shift, class) is measured in a worker and filled in when ready; opening the picker
waits for nothing."""

from __future__ import annotations

import threading

from pilot import measured, ready, screen_text, settle, show_result
from realproject import VERSION_FILES, j744_project
from tui.core import diff
from tui.core.diff import diff_results, version_steps
from tui.core.project import load_project
from tui.ui.app import make_app
from tui.ui.screens.dialogs import VersionPicker

SIZE = (160, 40)
A3D = "J744.particles.alignments3D"


def label(app, option_id: str) -> str:
    return app.screen.query_one("#versions").get_option(option_id).prompt.plain


async def open_picker(pilot, result: str = "alignments3D") -> VersionPicker:
    await ready(pilot)
    await show_result(pilot, "J744", "particles", result)
    await pilot.press("v")
    await pilot.pause()
    assert isinstance(pilot.app.screen, VersionPicker)
    return pilot.app.screen


async def test_picker_shows_each_versions_change_once_measured(tmp_path):
    root = j744_project(tmp_path / "P2")
    project = load_project(root)
    last = diff_results(project, f"{A3D}.4", f"{A3D}.5")
    first = diff_results(project, f"{A3D}.0", f"{A3D}.1")
    app = make_app(root)
    async with app.run_test(size=SIZE) as pilot:
        picker = await open_picker(pilot)
        await measured(pilot)
        assert sorted(picker.steps) == [0, 1, 2, 3, 4, 5]
        top = label(app, "5")
        assert top.startswith("     5  5,908 rows F  vs 4: ")
        assert f"pose {last.pose_median_deg:.2f}°" in top
        assert f"shift {last.shift_median_px:.2f} px ({last.shift_median_A:.2f} Å)" in top
        assert "class 0.0%" in top and top.endswith(f"J744/{VERSION_FILES[5]}")
        assert f"vs 0 (2,270 shared): pose {first.pose_median_deg:.1f}°" in label(app, "1")
        assert label(app, "0") == f"     0  2,270 rows    J744/{VERSION_FILES[0]}"
        assert f"vs 4: pose {last.pose_median_deg:.2f}°" in screen_text(app)
        await pilot.press("escape")
        await settle(pilot)
        assert not isinstance(app.screen, VersionPicker)


async def test_picker_opens_before_the_differences_are_measured(tmp_path, monkeypatch):
    root = j744_project(tmp_path / "P2")
    release = threading.Event()

    def slow_steps(project, result):
        assert release.wait(10), "the test never released the worker"
        yield from version_steps(project, result)

    monkeypatch.setattr(diff, "version_steps", slow_steps)  # the picker imports it when it opens
    app = make_app(root)
    async with app.run_test(size=SIZE) as pilot:
        picker = await open_picker(pilot)  # the worker is blocked: the picker is open all the same
        assert picker.steps == {} and not picker.measured
        assert label(app, "5").startswith("     5  5,908 rows F  vs 4: comparing…")
        assert "vs" not in label(app, "0")
        assert app.screen.query_one("#versions").highlighted == 0  # F, the version in use
        await pilot.press("down")  # and it answers keys while the worker waits
        await pilot.pause()
        assert app.screen.query_one("#versions").highlighted == 1
        release.set()
        await measured(pilot)
        assert "vs 4: pose " in label(app, "5") and "comparing" not in label(app, "5")
        assert app.screen.query_one("#versions").highlighted == 1  # the labels changed, the cursor did not


async def test_a_missing_version_file_is_shown_not_raised(tmp_path):
    root = j744_project(tmp_path / "P2")
    (root / "J744" / VERSION_FILES[2]).unlink()
    app = make_app(root)
    async with app.run_test(size=(220, 40)) as pilot:
        picker = await open_picker(pilot)
        await measured(pilot)
        assert sorted(picker.steps) == [0, 1, 2, 3, 4, 5]
        assert app.screen is picker  # no failure dialog over it
        missing = f"J744/{VERSION_FILES[2]}: cannot be read (missing"
        assert f"vs 1: ⚠ {missing}" in label(app, "2")
        assert f"vs 2: ⚠ {missing}" in label(app, "3")
        assert "vs 3: pose " in label(app, "4")


async def test_other_results_show_rows_only(tmp_path):
    root = j744_project(tmp_path / "P2")
    app = make_app(root)
    async with app.run_test(size=SIZE) as pilot:
        picker = await open_picker(pilot, "ctf")
        await settle(pilot)
        assert picker.steps == {} and picker.measured
        assert label(app, "5") == f"     5  5,908 rows F  J744/{VERSION_FILES[5]}"

"""Make the README screenshots from the demo project (SVG from Textual, PNG via cairosvg).

    pip install -e ".[screenshots]" && python screenshots/make.py
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from tui.core.demo import write_demo  # noqa: E402
from tui.core.refs import SlotAddress  # noqa: E402
from tui.ui.app import make_app  # noqa: E402

SIZE = (120, 34)


async def loaded(pilot):
    screen = pilot.app.main_screen
    while not screen.loaded:
        await pilot.pause(0.01)
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    return screen


async def show_result(pilot, job: str, output: str, result: str):
    screen = pilot.app.main_screen
    screen.command_job(job)
    await pilot.pause()
    screen.outputs.go_to_result((job, output, result))
    screen.outputs.focus()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def main_screen(pilot):
    await loaded(pilot)
    await show_result(pilot, "J9", "particles", "alignments3D")


async def version_picker(pilot):
    await main_screen(pilot)
    await pilot.press("v")
    await pilot.pause()


async def rebinding(pilot):
    screen = await loaded(pilot)
    await show_result(pilot, "J5", "particles", "blob")
    await pilot.press("y")
    screen.inputs.focus()
    screen.inputs.go_to_slot(SlotAddress("particles", 0, "blob"))
    await pilot.pause()
    await pilot.press("p")
    await show_result(pilot, "J9", "particles", "alignments3D")
    await pilot.press("left_square_bracket", "left_square_bracket", "y")
    screen.inputs.focus()
    screen.inputs.go_to_slot(SlotAddress("particles", 0, "alignments3D"))
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def capture(project: Path, name: str, script) -> Path:
    app = make_app(project)
    async with app.run_test(size=SIZE) as pilot:
        await script(pilot)
        return Path(app.save_screenshot(filename=f"{name}.svg", path=str(HERE)))


def main() -> int:
    try:
        import cairosvg
    except ImportError:
        print("screenshots need cairosvg: pip install -e '.[screenshots]'", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["XDG_STATE_HOME"] = str(Path(tmp) / "state")  # no journal from real use
        project = write_demo(Path(tmp) / "CS-demo")
        for name, script in (("main", main_screen), ("version-picker", version_picker), ("rebinding", rebinding)):
            svg = asyncio.run(capture(project, name, script))
            cairosvg.svg2png(url=str(svg), write_to=str(svg.with_suffix(".png")), output_width=1600)
            print(f"wrote {svg} and {svg.with_suffix('.png').name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

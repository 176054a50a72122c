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
sys.path.insert(0, str(HERE.parent / "tests"))  # the Pilot scenarios the snapshot tests use too

from tui.demo import write_demo  # noqa: E402
from tui.ui.app import make_app  # noqa: E402

import pilot as scenario  # noqa: E402

SIZE = (120, 34)


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
        project = write_demo(Path(tmp) / "CS-demo")
        shots = (("main", scenario.alignments_highlighted), ("version-picker", scenario.version_picker),
                 ("rebinding", scenario.rebinding), ("candidates", scenario.candidates))
        for name, script in shots:
            # a state folder per picture: no journal from real use, nor from the picture before
            os.environ["XDG_STATE_HOME"] = str(Path(tmp) / "state" / name)
            svg = asyncio.run(capture(project, name, script))
            cairosvg.svg2png(url=str(svg), write_to=str(svg.with_suffix(".png")), output_width=1600)
            print(f"wrote {svg} and {svg.with_suffix('.png').name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

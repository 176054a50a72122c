"""Benchmark: the terminal UI on a generated 5,000-job project, headless (Textual's run_test).

    python tests/bench_ui.py [--jobs 5000] [--presses 40]

Measures
- first paint: from starting the app to the first frame that draws jobs in the job tree
  (target ≤ 1 s; jobs are shown in batches as they are read), with the time until every job
  is read and shown, and the cost of merely reading the project, reported separately;
- key presses: the UI thread's work from a key to its repaint, for move (j), yank (y) and put
  (p) (target median ≤ 50 ms). This is CPU time of the thread running the app: Textual's test
  pilot sleeps between steps, so its wall time says more about the pilot than about the app
  (it is printed too). Baseline in the same run: a key nothing is bound to.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pilot import show_result, show_slot  # noqa: E402
from projectgen import generate_project  # noqa: E402

from tui.core.project import load_project  # noqa: E402
from tui.core.refs import SlotAddress  # noqa: E402
from tui.ui.app import make_app  # noqa: E402
from tui.ui.widgets.jobs import JobTree  # noqa: E402


WALL: dict[str, list[float]] = {}


async def repaint(pilot, key: str) -> float:
    start, start_cpu = time.perf_counter(), time.thread_time()
    await pilot.press(key)
    await pilot.pause()  # returns after the screen has processed the refresh
    WALL.setdefault(key, []).append(time.perf_counter() - start)
    return time.thread_time() - start_cpu


def watch_first_paint() -> dict[str, float]:
    """Record when the job tree first draws a line that shows a job (Textual calls render_line
    for each visible line when it paints the widget)."""
    seen: dict[str, float] = {}
    original = JobTree.render_line

    def render_line(self, y):
        strip = original(self, y)
        if "first" not in seen and self.root.children and strip.text.strip():
            seen["first"] = time.perf_counter()
        return strip

    JobTree.render_line = render_line
    return seen


async def measure(project: Path, presses: int) -> dict[str, float | list[float]]:
    painted = watch_first_paint()
    app = make_app(project)
    start = time.perf_counter()
    async with app.run_test(size=(120, 36)) as pilot:
        screen = app.main_screen
        while not screen.loaded:
            await pilot.pause(0.005)
        loaded = time.perf_counter() - start
        await pilot.pause()
        first_paint = painted["first"] - start
        tree = screen.jobs_pane.tree
        tree.focus()
        await pilot.pause()
        idle = [await repaint(pilot, "f12") for _ in range(presses)]
        moves = [await repaint(pilot, "j") for _ in range(presses)]
        # Alternate a slot of the target between its bound result and another compatible one:
        # every put is a real edit.
        session = screen.bench.session
        group, index, binding = next(
            (g, i, b) for g in session.inputs for i, c in enumerate(g.connections) for b in c.slot_bindings
        )
        address = SlotAddress(group.name, index, binding.slot)
        other = next(
            r.ref() for j in screen.project.jobs.values() if not j.broken for o in j.outputs for r in o.results
            if o.type == group.type and r.dtype == group.slot(binding.slot).dtype and r.ref() != binding.ref
        )
        yanks, puts = [], []
        for turn in range(presses):
            ref = other if turn % 2 == 0 else binding.ref
            await show_result(pilot, ref.job, ref.output, ref.result)
            yanks.append(await repaint(pilot, "y"))
            await show_slot(pilot, address)
            puts.append(await repaint(pilot, "p"))
        assert len(session._undo) == presses  # every put landed
    return {"first_paint": first_paint, "loaded": loaded, "idle": idle, "move": moves, "yank": yanks, "put": puts}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=5000)
    parser.add_argument("--presses", type=int, default=40)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        project = generate_project(Path(tmp) / "P1", num_jobs=options.jobs)
        load_project(project)  # warm the file cache, as for the jobs benchmark
        start = time.perf_counter()
        load_project(project)
        read_time = time.perf_counter() - start
        figures = asyncio.run(measure(project, options.presses))
    ok = figures["first_paint"] <= 1.0
    print(f"project: {options.jobs} jobs; reading them alone: {read_time * 1000:.0f} ms")
    print(f"first paint of the job tree: {figures['first_paint'] * 1000:.0f} ms (target <= 1000)"
          f"  {'PASS' if ok else 'FAIL'}")
    print(f"every job read and shown, target chosen: {figures['loaded'] * 1000:.0f} ms")
    idle = statistics.median(figures["idle"])
    print(f"baseline, unbound key: median {idle * 1000:.1f} ms UI-thread time"
          f"   [pilot wall median {statistics.median(WALL['f12']) * 1000:.0f} ms]")
    for name in ("move", "yank", "put"):
        times = figures[name]
        if not times:
            print(f"{name}: not measured")
            ok = False
            continue
        median = statistics.median(times)
        passed = median <= 0.050
        ok &= passed
        key = {"move": "j", "yank": "y", "put": "p"}[name]
        print(f"{name:5s} key: median {median * 1000:5.1f} ms, max {max(times) * 1000:5.1f} ms over {len(times)}"
              f" ({median / idle:.1f}x baseline; target median <= 50 ms)  {'PASS' if passed else 'FAIL'}"
              f"   [pilot wall median {statistics.median(WALL[key]) * 1000:.0f} ms]")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

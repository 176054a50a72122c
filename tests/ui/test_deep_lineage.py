"""Deep lineages stay readable (issue 9, bug 2): past a depth the pane's width allows (at most
MAX_DEPTH) a job's row is not indented further but names its parent (``J4998 ←J4997``), so every
label is on screen at 80 columns; a wider terminal shows deeper levels."""

from __future__ import annotations

import pytest

from pilot import command, ready
from projectgen import generate_project
from tui.core.project import load_project
from tui.ui.app import make_app
from tui.ui.widgets.jobs import GUIDE, MAX_DEPTH, MIN_DEPTH


@pytest.fixture(scope="module")
def deep_project(tmp_path_factory):
    return generate_project(tmp_path_factory.mktemp("deep") / "P9", num_jobs=400)


def lineage_depth(project, uid: str) -> int:
    depth = 0
    while uid is not None:
        depth += 1
        parents = [p for p in project.jobs[uid].parents if p in project.jobs and p != uid]
        uid = parents[0] if parents else None
    return depth


async def test_rows_past_the_depth_limit_are_flat_and_name_their_parent(deep_project):
    project = load_project(deep_project)
    deepest = max(project.jobs, key=lambda uid: lineage_depth(project, uid))
    assert lineage_depth(project, deepest) > 2 * MAX_DEPTH  # the case this is about
    app = make_app(deep_project)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await ready(pilot)
        tree = screen.jobs_pane.tree
        assert MIN_DEPTH <= tree.cap < MAX_DEPTH  # 80 columns: a shallower tree
        rows = tree.rows
        for uid, index in rows.first_row.items():
            depth, text = rows.rows[index].depth + 1, tree.row_text(index).plain
            assert depth <= tree.cap, uid
            first_parent = next((p for p in project.jobs[uid].parents if p in rows.first_row and p != uid), None)
            if first_parent is None:
                continue
            above = rows.parent_index(index)
            if above is not None and rows.rows[above].uid == first_parent:
                assert "←" not in text
            else:  # flattened beside its parent's row
                assert depth == tree.cap and f"{uid} ←{first_parent} " in text
        await command(pilot, f"job {deepest}")
        parent = next(p for p in project.jobs[deepest].parents if p in project.jobs)
        assert tree.current_uid == deepest
        shown = f"{deepest} ←{parent}"
        assert shown in tree.row_text(tree.rows.index(tree.cursor)).plain
        # on screen at 80 columns, not cut: guides, toggle, then the label
        assert tree.scroll_x == 0
        assert GUIDE * tree.cap + 2 + len(shown) <= tree.scrollable_content_region.width
        await pilot.resize_terminal(240, 50)  # wider: deeper levels, the same job under the cursor
        await pilot.pause()
        assert tree.cap == MAX_DEPTH and tree.current_uid == deepest
        assert max(row.depth + 1 for row in tree.rows.rows) == MAX_DEPTH

"""Deep lineages stay readable (issue 9, bug 2): past a depth the pane's width allows (at most
MAX_DEPTH) a job's row is not indented further but names its parent (``J4998 ←J4997``), so every
label is on screen at 80 columns; a wider terminal shows deeper levels."""

from __future__ import annotations

import pytest

from pilot import command, ready
from projectgen import generate_project
from tui.core.project import load_project
from tui.ui.app import make_app
from tui.ui.widgets.jobs import MAX_DEPTH, MIN_DEPTH


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


def node_depth(node) -> int:
    depth = 0
    while node.parent is not None and node.parent.parent is not None:  # the hidden root is not a level
        depth += 1
        node = node.parent
    return depth + 1


async def test_rows_past_the_depth_limit_are_flat_and_name_their_parent(deep_project):
    project = load_project(deep_project)
    deepest = max(project.jobs, key=lambda uid: lineage_depth(project, uid))
    assert lineage_depth(project, deepest) > 2 * MAX_DEPTH  # the case this is about
    app = make_app(deep_project)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await ready(pilot)
        tree = screen.jobs_pane.tree
        assert MIN_DEPTH <= tree.cap < MAX_DEPTH  # 80 columns: a shallower tree
        for uid, node in tree.first_node.items():
            depth = node_depth(node)
            assert depth <= tree.cap, uid
            first_parent = next((p for p in project.jobs[uid].parents if p in tree.first_node and p != uid), None)
            if first_parent is None:
                continue
            if node.parent.data == first_parent:
                assert "←" not in node.label.plain
            else:  # flattened beside its parent's row
                assert depth == tree.cap and f"{uid} ←{first_parent} " in node.label.plain
        await command(pilot, f"job {deepest}")
        parent = next(p for p in project.jobs[deepest].parents if p in project.jobs)
        assert tree.current_uid == deepest
        shown = f"{deepest} ←{parent}"
        assert shown in tree.cursor_node.label.plain
        # on screen at 80 columns, not scrolled off to the right: guides, toggle, then the label
        assert tree.scroll_x == 0
        assert tree.guide_depth * tree.cap + 2 + len(shown) <= tree.scrollable_content_region.width
        await pilot.resize_terminal(240, 50)  # wider: deeper levels, the same job under the cursor
        await pilot.pause()
        assert tree.cap == MAX_DEPTH and tree.current_uid == deepest
        assert max(node_depth(n) for n in tree.first_node.values()) == MAX_DEPTH

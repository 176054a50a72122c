"""The jobs pane's rows, folding and filter, computed in the core."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tui.core.joblist import lineage_rows, matching, workspace_rows
from tui.core.model import Job, Workspace
from tui.core.project import load_project


def chain(length: int, extra: dict[str, tuple[str, ...]] | None = None) -> dict[str, Job]:
    jobs = {f"J{i}": Job(f"J{i}", parents=(f"J{i - 1}",) if i > 1 else ()) for i in range(1, length + 1)}
    for uid, parents in (extra or {}).items():
        jobs[uid] = Job(uid, parents=parents)
    return jobs


def drawn(rows) -> list[str]:
    return [f"{r.guide}{r.uid}{' ↺' if r.repeat else ''}{f' ←{r.named_parent}' if r.named_parent else ''}"
            for r in (rows.row(i) for i in range(len(rows)))]


def test_a_lineage_tree_with_repeats_and_a_depth_cap():
    rows = lineage_rows(chain(6, {"J7": ("J2", "J5"), "J8": ("J1",)}), cap=4)
    assert drawn(rows) == [
        "J1",
        "├ J2",
        "│ ├ J3",
        "│ │ ├ J4",
        "│ │ ├ J5 ←J4",  # past the cap: beside its parent, naming it
        "│ │ ├ J6 ←J5",
        "│ │ └ J7 ↺ ←J5",  # J7 again under its second parent
        "│ └ J7",
        "└ J8",
    ]
    assert [r.end for r in rows.rows] == [9, 8, 7, 4, 5, 6, 7, 8, 9]
    assert max(r.depth for r in rows.rows) == 3


def test_folding_hides_a_subtree_and_going_to_a_job_unfolds_it():
    rows = lineage_rows(chain(6, {"J7": ("J2", "J5"), "J8": ("J1",)}), cap=4)
    rows.fold(rows.first_row["J3"], True)
    assert drawn(rows) == ["J1", "├ J2", "│ ├ J3", "│ └ J7", "└ J8"]
    assert rows.line_of(rows.first_row["J5"]) is None
    rows.unfold_to(rows.first_row["J5"])
    assert len(rows) == 9 and rows.visible is None
    rows.fold(rows.first_row["J8"], True)  # a leaf does not fold
    assert rows.folded == set()


def test_parents_of_rows():
    rows = lineage_rows(chain(6), cap=4)
    index = rows.first_row
    assert rows.parent_index(index["J3"]) == index["J2"]
    assert rows.parent_index(index["J5"]) == index["J3"]  # drawn beside J4, under J3
    assert rows.parent_index(index["J1"]) is None


def test_jobs_arriving_before_their_parents_and_cycles_are_all_shown():
    jobs = {"J1": Job("J1", parents=("J3",)), "J2": Job("J2", parents=("J1",)), "J3": Job("J3", parents=("J2",)),
            "J4": Job("J4", parents=("J9",))}  # a cycle J1→J2→J3→J1, and a parent that does not exist
    rows = lineage_rows(jobs)
    assert sorted(r.uid for r in rows.rows if not r.repeat) == ["J1", "J2", "J3", "J4"]


def test_workspace_rows():
    jobs = {"J1": Job("J1", workspaces=("W2",)), "J2": Job("J2", workspaces=("W1", "W2")), "J3": Job("J3")}
    rows = workspace_rows(jobs, {"W1": Workspace("W1", "Main")})
    assert [(r.heading or r.uid, r.depth) for r in rows.rows] == [
        ("W1 Main", 0), ("J2", 1), ("W2", 0), ("J1", 1), ("J2", 1), ("(no workspace)", 0), ("J3", 1)]
    rows.fold(0, True)
    assert [r.heading or r.uid for r in (rows.row(i) for i in range(len(rows)))][:2] == ["W1 Main", "W2"]


def test_matching_looks_in_uid_title_and_type(demo_project):
    project = load_project(demo_project)
    found = matching(project.jobs, "REFINE")
    assert found and all("refine" in (j.title + j.type).lower() for j in map(project.jobs.get, found))
    assert matching(project.jobs, "j1") == [uid for uid in project.jobs if uid.startswith("J1")]
    assert matching(project.jobs, "") == []


def test_the_rows_of_a_real_sized_project_cover_every_job(tmp_path):
    from projectgen import generate_project

    project = load_project(generate_project(tmp_path / "P1", num_jobs=300, schema="v5"))
    rows = lineage_rows(project.jobs)
    assert {r.uid for r in rows.rows if not r.repeat} == set(project.jobs)
    assert len(rows.first_row) == len(project.jobs)
    for index, row in enumerate(rows.rows):  # a subtree is contiguous and deeper than its root
        assert all(rows.rows[i].depth > row.depth or rows.rows[i].named_parent for i in range(index + 1, row.end))


def test_typing_on_narrows_the_last_matches_and_gives_the_same_as_a_fresh_search(demo_project):
    from tui.core.joblist import JobSearch

    project = load_project(demo_project)
    search = JobSearch(project.jobs)
    for query in ("r", "re", "ref", "refine", "ef", "J1", "j10", "", "zzz", "2d cl"):
        assert search.find(query) == matching(project.jobs, query) == [
            uid for uid, job in project.jobs.items() if query and query.lower() in
            f"{uid}\n{job.title}\n{job.type}".lower()], query


def test_flat_rows_find_their_jobs():
    from tui.core.joblist import flat_rows

    rows = flat_rows(["J5", "J9", "J12"])
    assert len(rows) == 3 and rows.row(1).uid == "J9" and rows.first_row.get("J12") == 2
    assert rows.first_row.get("J1") is None and not rows.foldable(0)


def _graph(draw_parents) -> dict[str, Job]:
    return {f"J{i}": Job(f"J{i}", parents=tuple(f"J{p}" for p in parents)) for i, parents in draw_parents}


@given(st.lists(st.lists(st.integers(1, 30), max_size=3), min_size=1, max_size=30), st.booleans(), st.randoms())
@settings(max_examples=150, deadline=None)
def test_the_quick_uid_order_is_the_general_lineage_order(parent_lists, earlier_only, rnd):
    """uid order is taken as is only when every parent is older; either way the order is the one
    the general (topological) ordering gives, whatever order the jobs arrive in."""
    from tui.core.joblist import _topological_order, lineage_order

    graph = [(i, [p for p in parents if p < i] if earlier_only else parents)
             for i, parents in enumerate(parent_lists, start=1)]
    rnd.shuffle(graph)
    jobs = _graph(graph)
    ordered = lineage_order(jobs)
    assert ordered == _topological_order(jobs, {uid: job.number for uid, job in jobs.items()})
    if earlier_only:
        assert [job.number for job in ordered] == sorted(job.number for job in jobs.values())
    placed: set[str] = set()
    for job in ordered:  # parents first, unless caught in a cycle
        if all(p not in jobs or p in placed or p == job.uid for p in job.parents):
            placed.add(job.uid)
    assert earlier_only <= (len(placed) == len(jobs))


def test_a_parent_numbered_after_its_child_still_comes_first():
    from tui.core.joblist import lineage_order

    jobs = _graph([(1, []), (2, [5]), (3, [1]), (5, [1])])
    assert [job.uid for job in lineage_order(jobs)] == ["J1", "J3", "J5", "J2"]


@given(st.lists(st.lists(st.integers(1, 40), max_size=3), min_size=1, max_size=40), st.booleans(),
       st.lists(st.integers(1, 12), min_size=1, max_size=8), st.lists(st.sampled_from([2, 3, 8]), min_size=1),
       st.randoms())
@settings(max_examples=200, deadline=None)
def test_rows_grown_batch_by_batch_are_the_rows_of_every_job_so_far(parent_lists, earlier_only, sizes, caps, rnd):
    """The jobs pane's rows while a project is read: whatever the jobs' order (uid order with older
    parents, parents read later, missing parents, cycles) and the depth cap asked for."""
    from tui.core.joblist import GrowingLineage

    graph = [(i, [p for p in parents if p < i] if earlier_only else parents)
             for i, parents in enumerate(parent_lists, start=1)]
    if not earlier_only and rnd.random() < 0.5:
        rnd.shuffle(graph)
    jobs = list(_graph(graph).values())
    growing, so_far, start = GrowingLineage(), {}, 0
    for turn, size in enumerate(sizes * 8):
        batch = jobs[start:start + size]
        if not batch:
            break
        start += size
        growing.add(batch)
        so_far.update((job.uid, job) for job in batch)
        cap = caps[turn % len(caps)]
        grown, built = growing.rows(cap), lineage_rows(so_far, cap)
        assert list(grown.rows) == list(built.rows) and grown.first_row == built.first_row

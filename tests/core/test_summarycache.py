"""The job-summary cache: reopening reads only what changed; corrupt, foreign and stale caches
are ignored and rewritten; --no-cache bypasses it; it holds summaries only."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import msgspec
import pytest

from forks import forking
from tui.cli import main
from tui.core import jobread
from tui.core.project import load_project
from tui.core.summarycache import cache_dir, cache_path


@pytest.fixture
def reads(monkeypatch) -> list[str]:
    """The job folders whose job.json was opened."""
    opened: list[str] = []
    original = jobread.read_job_file

    def counting(path: Path):
        opened.append(Path(path).parent.name)
        return original(path)

    monkeypatch.setattr(jobread, "read_job_file", counting)
    return opened


def summaries(project) -> dict[str, tuple]:
    return {uid: (j.type, j.title, j.status, j.created_at, j.parents, j.children, j.workspaces, j.schema,
                  j.version, j.error) for uid, j in project.jobs.items()}


def edit(job_json: Path, **changes) -> None:
    document = json.loads(job_json.read_text())
    document.update(changes)
    job_json.write_text(json.dumps(document))


def test_reopening_an_unchanged_project_reads_no_job_document(demo_project, reads):
    first = load_project(demo_project)
    assert sorted(reads) == sorted(first.jobs) and cache_path(first.path).is_file()
    outputs = [o.name for o in first.jobs["J5"].outputs]
    reads.clear()
    second = load_project(demo_project)
    assert reads == []
    assert summaries(second) == summaries(first)
    # inputs and outputs still come from the document, read when used
    assert [o.name for o in second.jobs["J5"].outputs] == outputs and outputs
    assert reads == ["J5"]


def test_an_edited_job_json_is_read_again(demo_project, reads):
    load_project(demo_project)
    reads.clear()
    job_json = demo_project / "J3" / "job.json"
    edit(job_json, title="renamed after the cache was written")
    project = load_project(demo_project)
    assert reads == ["J3"]
    assert project.jobs["J3"].title == "renamed after the cache was written"


def test_a_rewrite_of_the_same_size_is_noticed(demo_project, reads):
    load_project(demo_project)
    job_json = demo_project / "J3" / "job.json"
    text = job_json.read_text()
    title = json.loads(text)["title"]
    swapped = title[::-1] if title[::-1] != title else title.upper()
    os.replace(_written(job_json.with_name("new.json"), text.replace(json.dumps(title), json.dumps(swapped), 1)), job_json)
    reads.clear()
    project = load_project(demo_project)
    assert reads == ["J3"] and project.jobs["J3"].title == swapped


def _written(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_dates_come_back_with_their_utc_offset(demo_project, reads, capsys):
    edit(demo_project / "J2" / "job.json", created_at="2024-03-01T12:34:56.789012+02:00")
    edit(demo_project / "J3" / "job.json", created_at="2024-03-01T12:34:56-05:30")
    assert main(["jobs", str(demo_project), "--json"]) == 0
    first = capsys.readouterr().out
    reads.clear()
    assert main(["jobs", str(demo_project), "--json"]) == 0
    assert reads == [] and capsys.readouterr().out == first
    assert '"2024-03-01T12:34:56.789012+02:00"' in first and '"2024-03-01T12:34:56-05:30"' in first


def test_children_left_out_by_the_documents_are_kept_with_the_cache(demo_project, reads):
    edit(demo_project / "J1" / "job.json", children=[])  # J2 names J1 as a parent
    first = load_project(demo_project)
    assert "J2" in first.jobs["J1"].children
    reads.clear()
    again = load_project(demo_project)
    assert reads == [] and summaries(again) == summaries(first)
    edit(demo_project / "J2" / "job.json", parents=[])
    edited = load_project(demo_project)
    assert reads == ["J2"] and "J2" not in edited.jobs["J1"].children
    reads.clear()
    assert summaries(load_project(demo_project)) == summaries(edited) and reads == []
    edit(demo_project / "J2" / "job.json", parents=["J50"])
    load_project(demo_project)
    (demo_project / "J50").mkdir()  # no job.json: a broken job, still a parent
    assert load_project(demo_project).jobs["J50"].children == ("J2",)


def test_removed_and_added_jobs(demo_project, reads):
    first = load_project(demo_project)
    (demo_project / "J2" / "job.json").rename(demo_project / "J2" / "gone.json")
    new = demo_project / "J99"
    new.mkdir()
    document = json.loads((demo_project / "J1" / "job.json").read_text())
    document["uid"] = "J99"
    (new / "job.json").write_text(json.dumps(document))
    reads.clear()
    project = load_project(demo_project)
    assert sorted(reads) == ["J2", "J99"]  # J2 is tried (now missing), J99 is new
    assert project.jobs["J2"].error == "job.json is missing"
    assert project.jobs["J99"].title == first.jobs["J1"].title
    reads.clear()
    load_project(demo_project)
    assert reads == ["J2"]  # a missing job.json is never cached; J99 is now


@pytest.mark.parametrize("content", [b"", b"\x00" * 100, b"not msgpack at all", b"\x93\x01\x02\x03"])
def test_a_corrupt_cache_is_ignored_and_rewritten(demo_project, reads, content):
    first = load_project(demo_project)
    path = cache_path(first.path)
    path.write_bytes(content)
    reads.clear()
    project = load_project(demo_project)
    assert sorted(reads) == sorted(first.jobs)
    assert summaries(project) == summaries(first)
    assert path.read_bytes() != content
    reads.clear()
    load_project(demo_project)
    assert reads == []


def test_a_cache_whose_jobs_do_not_decode_is_read_around(demo_project, reads):
    """The jobs are decoded after the rest of the file (while the stats run): a header that
    checks out with jobs that do not decode is no cache either."""
    first = load_project(demo_project)
    path = cache_path(first.path)
    document = msgspec.msgpack.decode(path.read_bytes())
    document["jobs"][-1][2] = {"title": "not text"}
    path.write_bytes(msgspec.msgpack.encode(document))
    reads.clear()
    project = load_project(demo_project)
    assert sorted(reads) == sorted(first.jobs) and summaries(project) == summaries(first)
    reads.clear()
    load_project(demo_project)
    assert reads == []  # rewritten


def test_values_past_the_summary_in_a_cache_entry_are_not_taken(demo_project, reads):
    first = load_project(demo_project)
    outputs = [o.name for o in first.jobs["J5"].outputs]
    path = cache_path(first.path)
    document = msgspec.msgpack.decode(path.read_bytes())
    for entry in document["jobs"]:
        entry += ["/elsewhere/job.json", "not a loader", [["made", "up"]], [], "search text"]
    path.write_bytes(msgspec.msgpack.encode(document))
    reads.clear()
    project = load_project(demo_project)
    assert reads == [] and summaries(project) == summaries(first)
    job = project.jobs["J5"]
    assert job._source == str(demo_project.resolve() / "J5" / "job.json") and job._search is None
    assert [o.name for o in job.outputs] == outputs and reads == ["J5"]


def test_a_cache_of_another_project_is_ignored(demo_project, tmp_path, reads):
    first = load_project(demo_project)
    copy = tmp_path / "copy" / demo_project.name
    copy.parent.mkdir()
    os.rename(demo_project, copy)
    cache_path(copy).parent.mkdir(parents=True, exist_ok=True)
    cache_path(copy).write_bytes(cache_path(first.path).read_bytes())  # names the old path
    reads.clear()
    project = load_project(copy)
    assert sorted(reads) == sorted(first.jobs)
    assert summaries(project) == summaries(first)


def test_no_cache_neither_reads_nor_writes_it(demo_project, reads, capsys):
    assert main(["jobs", str(demo_project), "--json", "--no-cache"]) == 0
    assert not cache_dir().exists()
    project = load_project(demo_project)  # writes the cache
    written = cache_path(project.path).read_bytes()
    edit(demo_project / "J3" / "job.json", title="changed")
    reads.clear()
    assert main(["jobs", str(demo_project), "--json", "--no-cache"]) == 0
    assert sorted(reads) == sorted(project.jobs)
    assert cache_path(project.path).read_bytes() == written  # not rewritten, though J3 changed


def test_the_cache_holds_summaries_only(demo_project):
    project = load_project(demo_project)
    data = cache_path(project.path).read_bytes()
    for job in project.jobs.values():
        for group in job.outputs:
            for result in group.results:
                for metafile in result.metafiles:
                    assert metafile.encode() not in data
        for group in job.inputs:
            for slot in group.slots:
                assert f'"{slot.name}"'.encode() not in data


def test_an_unwritable_cache_only_costs_speed(demo_project, tmp_path, monkeypatch, reads):
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the cache folder would go")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked))
    project = load_project(demo_project)
    assert sorted(reads) == sorted(project.jobs) and not project.warnings


def test_the_config_file_can_turn_the_cache_off(demo_project, tmp_path, monkeypatch):
    config = tmp_path / "config.yaml"
    config.write_text("summary_cache: false\n")
    monkeypatch.setenv("CSREBIND_CONFIG", str(config))
    assert main(["jobs", str(demo_project), "--json"]) == 0
    assert not cache_dir().exists()
    config.write_text("summary_cache: true\n")
    assert main(["jobs", str(demo_project), "--json"]) == 0
    assert cache_dir().exists()


@pytest.fixture(scope="module")
def thousand_jobs(tmp_path_factory) -> Path:
    """A project read in several batches (200, 400, then the rest)."""
    from projectgen import generate_project

    return generate_project(tmp_path_factory.mktemp("thousand") / "P", num_jobs=1000, schema="v5", seed=3)


def listing(project) -> list:
    return [(uid, *summary) for uid, summary in summaries(project).items()]


@pytest.fixture(params=[False, True], ids=["stat here", "forked child"])
def forks(request, monkeypatch) -> tuple[bool, list[int]]:
    """The stats of a reopen made in this process, or by a child forked for the last two thirds
    (as for a big project): whether a fork is wanted, and the pids of the children forked."""
    return request.param, forking(monkeypatch, 100) if request.param else []


@pytest.mark.parametrize("change", ["edited late", "removed early", "added", "renumbered"])
def test_a_change_past_the_first_batches_reads_that_job_alone(thousand_jobs, tmp_path, reads, monkeypatch, forks,
                                                                change):
    """Batches are taken from the cache whole while the project is as cached; from a change on,
    by name: every job comes out as a read without the cache would give it, in uid order, whether
    the job.json files were stat'ed here or (the last ones) by a forked child."""
    root = tmp_path / "P"
    shutil.copytree(thousand_jobs, root)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    forking, pids = forks
    load_project(root)
    assert pids == []  # a first open reads every job.json: nothing to stat ahead
    if change == "edited late":
        edit(root / "J900" / "job.json", title="changed late")
        expected = ["J900"]
    elif change == "removed early":
        shutil.rmtree(root / "J150")  # in the first batch: every later batch is off by one
        expected = []
    elif change == "added":
        shutil.copytree(root / "J1000", root / "J1001")
        edit(root / "J1001" / "job.json", uid="J1001", title="new")
        expected = ["J1001"]
    else:  # J700 moved to J1500: the cache's J700 must not be taken for anything
        (root / "J700").rename(root / "J1500")
        expected = ["J1500"]
    reads.clear()
    project = load_project(root)
    assert len(pids) == forking
    assert sorted(reads) == expected
    assert listing(project) == listing(load_project(root, cache=False))
    assert list(project.jobs) == sorted(project.jobs, key=lambda uid: int(uid[1:]))
    reads.clear()
    again = load_project(root)
    assert reads == [] and listing(again) == listing(project)


@pytest.fixture
def listings(monkeypatch) -> list[str]:
    """The project folders listed (job_dir_names), the cache's listing of them not being used."""
    from tui.core import project as project_module

    listed: list[str] = []
    original = project_module.job_dir_names

    def counting(root):
        listed.append(Path(root).name)
        return original(root)

    monkeypatch.setattr(project_module, "job_dir_names", counting)
    return listed


def settled(monkeypatch) -> None:
    """As if every listing happened long after the folder's last change."""
    from tui.core import summarycache

    monkeypatch.setattr(summarycache, "SETTLED_NS", -10**12)


def test_an_unchanged_project_folder_is_not_listed_again(demo_project, listings, reads, monkeypatch):
    settled(monkeypatch)
    first = load_project(demo_project)
    assert listings == [demo_project.name]
    listings.clear()
    reads.clear()
    again = load_project(demo_project)
    assert listings == [] and reads == [] and list(again.jobs) == list(first.jobs)
    assert summaries(again) == summaries(first)


@pytest.mark.parametrize("change", ["added", "removed", "a folder without job.json"])
def test_a_job_folder_added_or_removed_is_found(demo_project, listings, reads, monkeypatch, change):
    import time

    settled(monkeypatch)
    load_project(demo_project)
    time.sleep(0.05)  # past the folder timestamp's tick
    if change == "added":
        shutil.copytree(demo_project / "J1", demo_project / "J99")
    elif change == "removed":
        shutil.rmtree(demo_project / "J2")
    else:
        (demo_project / "J77").mkdir()
    listings.clear()
    project = load_project(demo_project)
    assert listings == [demo_project.name]
    assert ("J99" in project.jobs) == (change == "added") and ("J2" in project.jobs) == (change != "removed")
    assert ("J77" in project.jobs) == (change == "a folder without job.json")
    assert listing(project) == listing(load_project(demo_project, cache=False))
    listings.clear()
    assert list(load_project(demo_project).jobs) == list(project.jobs) and listings == []


def test_a_folder_changed_just_before_it_was_listed_is_listed_again(demo_project, listings):
    """Within a timestamp's tick a folder can change and keep its stamp: a listing made just
    after a change is not trusted for the next read."""
    (demo_project / "J77").mkdir()  # the folder changes now; listed at once
    load_project(demo_project)
    listings.clear()
    load_project(demo_project)
    assert listings == [demo_project.name]


@pytest.mark.parametrize("folders", [["J1", "../../elsewhere"], ["J1", "J1"], ["J1", 5]])
def test_a_damaged_listing_in_the_cache_is_not_used(demo_project, listings, reads, monkeypatch, folders):
    settled(monkeypatch)
    first = load_project(demo_project)
    path = cache_path(first.path)
    document = msgspec.msgpack.decode(path.read_bytes())
    document["folders"] = folders
    path.write_bytes(msgspec.msgpack.encode(document))
    listings.clear()
    project = load_project(demo_project)
    assert listing(project) == listing(first)
    assert all(not name.startswith("..") for name in reads)

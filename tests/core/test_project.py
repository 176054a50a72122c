"""Reading projects and job documents in both schemas, and resolving references."""

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from tui.core.errors import ProjectError, RefError
from tui.core.jobdoc import job_from_bytes, normalise_count_max, parse_date
from tui.core.model import Job
from tui.core.project import Project, finish_loading, job_dir_names, load_project, missing_children
from tui.core.views import inputs_view, outputs_view


def _doc(project, uid):
    return json.loads((project / uid / "job.json").read_text())


def _write(project, uid, document):
    (project / uid).mkdir(exist_ok=True)
    text = document if isinstance(document, str) else json.dumps(document)
    (project / uid / "job.json").write_text(text)


def test_both_schemas_give_the_same_model(tmp_path):
    from conftest import DATA

    views = {}
    for schema in ("v4", "v5"):
        project = load_project(DATA / f"reference_{schema}")
        assert [j.schema for j in project.jobs.values()] == [schema, schema]
        views[schema] = [(outputs_view(j), inputs_view(j)) for j in project.jobs.values()]
    assert views["v4"] == views["v5"]


def test_reference_producer_outputs(reference_project):
    project = load_project(reference_project)
    job = project.job("J688")
    assert (job.type, job.title, job.status) == ("nonuniform_refine_new", "Non-uniform Refinement", "completed")
    assert job.created_at == datetime(2025, 3, 2, 10, 11, 12, tzinfo=timezone.utc)
    assert job.parents == ("J650", "J651") and job.workspaces == ("W1",)
    group = job.output("particles")
    assert (group.type, group.num_items, group.passthrough_input) == ("particle", 120000, "particles")
    names = [(r.name, r.dtype, r.passthrough, r.versions) for r in group.results]
    assert names == [
        ("blob", "blob", False, (0, 1, 2, 5, 8)),
        ("ctf", "ctf", False, (0, 1, 2, 5, 8)),
        ("alignments3D", "alignments3D", False, (0, 1, 2, 5, 8)),
        ("location", "location", True, (0,)),
        ("pick_stats", "pick_stats", True, (0,)),
    ]


def test_reference_consumer_inputs(reference_project):
    job = load_project(reference_project).job("J690")
    (particles,) = job.inputs
    assert (particles.type, particles.count_min, particles.count_max) == ("particle", 1, None)
    assert [(s.name, s.dtype, s.required) for s in particles.slots] == [
        ("blob", "blob", True), ("ctf", "ctf", True), ("alignments3D", "alignments3D", True)]
    (conn,) = particles.connections
    assert (conn.job, conn.output) == ("J688", "particles")
    assert {b.slot: str(b.ref) for b in conn.slot_bindings} == {
        "blob": "J683.particles.blob.F",
        "ctf": "J688.particles.ctf.F",
        "alignments3D": "J688.particles.alignments3D.5",
    }
    assert [str(b.ref) for b in conn.passthrough] == ["J688.particles.location.F", "J688.particles.pick_stats.F"]


def test_sparse_versions_resolve_by_value(reference_project):
    project = load_project(reference_project)
    five = project.resolve("J688.particles.alignments3D.5")
    assert (five.version, five.metafile, five.num_items) == (5, "J688/J688_005_particles.cs", 120000)
    final = project.resolve("J688.particles.alignments3D.F")
    assert (final.version, final.metafile) == (8, "J688/J688_008_particles.cs")
    passthrough = project.resolve("J688.particles.location")
    assert (passthrough.version, passthrough.metafile, passthrough.passthrough) == (
        0, "J688/J688_passthrough_particles.cs", True)
    with pytest.raises(RefError, match=r"version 3 is not stored; stored versions: 0, 1, 2, 5, 8"):
        project.resolve("J688.particles.alignments3D.3")


@pytest.mark.parametrize(
    "ref, message",
    [
        ("J999.particles.blob.F", "job J999 is not in project P12"),
        ("J688.volume.map.F", "job J688 has no output 'volume'; its outputs: particles"),
        ("J688.particles.mask.F", "J688.particles has no result 'mask'; its results: blob, ctf, alignments3D, location, pick_stats"),
        ("J688.particles.location.1", "version 1 is not stored; stored versions: 0"),
    ],
)
def test_unknown_parts_are_named(reference_project, ref, message):
    with pytest.raises(RefError) as info:
        load_project(reference_project).resolve(ref)
    assert message in str(info.value)


def test_dates_counts_and_extra_keys(reference_project):
    assert parse_date({"$date": 1740921072000}) == datetime(2025, 3, 2, 13, 11, 12, tzinfo=timezone.utc)
    assert parse_date({"$date": "2025-03-02T10:11:12.000Z"}).hour == 10
    assert parse_date("garbage") is None and parse_date(None) is None
    for unlimited in (None, 0, 0.0, float("inf"), "inf"):
        assert normalise_count_max(unlimited) is None
    assert normalise_count_max(1) == 1
    # A bare Infinity token (MongoDB-style dump) and unknown keys still load.
    doc = _doc(reference_project, "J690")
    doc["some_future_key"] = {"nested": [1, 2]}
    text = json.dumps(doc)
    if "spec" in doc:
        text = text.replace('"count_max": "inf"', '"count_max": Infinity')
    else:
        text = text.replace('"count_max": null', '"count_max": Infinity')
    assert "Infinity" in text
    job = job_from_bytes("J690", text.encode())
    assert not job.broken and job.inputs[0].count_max is None


def test_v4_num_items_as_int_and_empty_metafiles(reference_project, schema):
    doc = _doc(reference_project, "J688")
    results = doc["spec"]["outputs"]["particles"]["results"] if schema == "v5" else doc["output_results"]
    results[4]["versions"], results[4]["metafiles"], results[4]["num_items"] = [], [], []
    if schema == "v4":
        results[0]["num_items"] = 120000
    _write(reference_project, "J688", doc)
    project = load_project(reference_project)
    group = project.job("J688").output("particles")
    pick_stats = group.result("pick_stats")
    assert not pick_stats.complete
    with pytest.raises(RefError, match="no stored files"):
        project.resolve("J688.particles.pick_stats")
    assert group.result("blob").num_items[-1] == 120000


@pytest.mark.parametrize(
    "content, reason",
    [
        (None, "job.json is missing"),
        ("", "job.json is empty"),
        ('{"uid": "J5", "spec": {"type": "x", "inputs"', "not valid JSON (truncated or corrupt"),
        ("[1, 2, 3]", "not a job document"),
        ('{"uid": "J5", "title": "x"}', "not a job document"),
        ('{"uid": "J6", "spec": {"type": "x"}}', "describes J6, not J5"),
    ],
)
def test_broken_jobs_are_kept_with_a_reason(reference_project, content, reason):
    (reference_project / "J5").mkdir()
    if content is not None:
        (reference_project / "J5" / "job.json").write_text(content)
    project = load_project(reference_project)
    assert list(project.jobs) == ["J5", "J688", "J690"]
    broken = project.job("J5")
    assert broken.broken and reason in broken.error
    assert not project.job("J688").broken
    with pytest.raises(RefError, match="job J5 cannot be used"):
        project.resolve("J5.particles.blob")


def test_malformed_inputs_make_the_job_broken_not_the_project(reference_project, schema):
    doc = _doc(reference_project, "J690")
    if schema == "v5":
        doc["spec"]["inputs"]["particles"]["connections"][0]["results"][0]["version"] = "latest"
    else:
        doc["input_slot_groups"][0]["connections"][0]["slots"][0]["version"] = "latest"
    _write(reference_project, "J690", doc)
    job = load_project(reference_project).job("J690")
    assert job.inputs == () and "connection version 'latest'" in job.error


def test_inputs_are_made_only_when_asked_for(reference_project, schema, monkeypatch):
    """Outputs alone (what a search through every job's results reads) check and make no input;
    the inputs made later are the ones an eager parse of the same document gives."""
    from tui.core import jobdoc

    made: list[str] = []
    original = jobdoc.parse_inputs
    monkeypatch.setattr(jobdoc, "parse_inputs", lambda document, schema: made.append("inputs") or original(document, schema))
    job = load_project(reference_project).job("J688")
    assert [o.name for o in job.outputs] and made == []
    eager = original(_doc(reference_project, "J688"), schema)
    assert job.inputs == eager and len(eager) == 2 and made == ["inputs"]
    in_memory = job_from_bytes("J688", (reference_project / "J688" / "job.json").read_bytes())
    assert in_memory.outputs == job.outputs and made == ["inputs"]
    assert in_memory.inputs == eager and made == ["inputs", "inputs"]


def test_a_job_with_malformed_inputs_still_gives_its_outputs(reference_project, schema):
    """A source job is used for its outputs: its inputs section is not checked for that. As a
    target, or listed whole, it is refused with the reason."""
    doc = _doc(reference_project, "J688")
    if schema == "v5":
        doc["spec"]["inputs"]["particles"]["connections"][0]["results"][0]["version"] = "latest"
    else:
        doc["input_slot_groups"][0]["connections"][0]["slots"][0]["version"] = "latest"
    _write(reference_project, "J688", doc)
    project = load_project(reference_project)
    resolved = project.resolve("J688.particles.alignments3D")
    assert resolved.metafile.startswith("J688/") and not project.job("J688").broken
    with pytest.raises(RefError, match=r"job J688 cannot be used: inputs/outputs are malformed: .*'latest'"):
        project.usable_job("J688")
    assert project.job("J688").broken


def test_live_sessions_and_stray_files_are_skipped(reference_project):
    (reference_project / "S1").mkdir()
    (reference_project / "S1" / "exposures.bson").write_bytes(b"\x00")
    (reference_project / "J12.tar").write_text("not a job")
    (reference_project / "exports").mkdir()
    (reference_project / "workspaces.json").write_text(json.dumps([{"uid": "W1", "title": "Main"}, {"uid": "W2", "title": "Side"}]))
    project = load_project(reference_project)
    assert list(project.jobs) == ["J688", "J690"]
    assert {w.uid: w.title for w in project.workspaces.values()} == {"W1": "Main", "W2": "Side"}
    assert project.most_recent_building().uid == "J690"


def test_children_derived_from_parents(reference_project):
    project = load_project(reference_project)
    assert "J690" in project.job("J688").children


def test_missing_children_are_added_in_uid_order_after_the_listed_ones():
    jobs = {uid: Job(uid, parents=parents, children=children) for uid, parents, children in [
        ("J1", (), ("J3",)), ("J2", ("J1",), ()), ("J3", ("J1",), ()), ("J4", ("J1", "J9"), ()), ("J5", ("J5",), ())]}
    assert missing_children(jobs) == {"J1": ("J2", "J4"), "J5": ("J5",)}
    finish_loading(Project(Path("P1"), "P1", "", jobs))
    assert jobs["J1"].children == ("J3", "J2", "J4") and jobs["J5"].children == ("J5",)
    assert jobs["J2"].children == jobs["J3"].children == ()


def test_job_folders_are_sorted_by_number_and_only_j_numbers_count(tmp_path):
    for name in ["J10", "J2", "J1", "J100", "J9", "S1", "I3", "K4", "J", "Jx1", "J1x", "J²", "J3\nJ4", "exports"]:
        (tmp_path / name).mkdir()
    (tmp_path / "J5").write_text("a file, not a job folder")
    assert job_dir_names(tmp_path) == ["J1", "J2", "J9", "J10", "J100"]
    (tmp_path / "J007").mkdir()  # a leading zero: still ordered by number
    assert job_dir_names(tmp_path) == ["J1", "J2", "J007", "J9", "J10", "J100"]
    assert job_dir_names(tmp_path / "S1") == []


def test_not_a_project(tmp_path):
    with pytest.raises(ProjectError, match="no project.json"):
        load_project(tmp_path)
    with pytest.raises(ProjectError, match="no such directory"):
        load_project(tmp_path / "missing")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ProjectError, match="not a directory"):
        load_project(tmp_path / "file")


def test_corrupt_project_and_workspace_documents_only_warn(reference_project):
    (reference_project / "project.json").write_text("{oops")
    (reference_project / "workspaces.json").write_text('{"uid": "W1"}')
    project = load_project(reference_project)
    assert project.uid == reference_project.name
    assert any("project.json: not valid JSON" in w for w in project.warnings)
    assert any("workspaces.json: expected a list" in w for w in project.warnings)
    assert len(project.jobs) == 2


def test_progress_is_reported(reference_project):
    seen = []
    load_project(reference_project, progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (2, 2)


def test_malformed_outputs_found_when_the_job_is_used(reference_project, schema):
    doc = _doc(reference_project, "J688")
    if schema == "v5":
        doc["spec"]["outputs"]["particles"]["results"][0]["versions"] = ["x"]
    else:
        doc["output_results"][0]["versions"] = ["x"]
    _write(reference_project, "J688", doc)
    project = load_project(reference_project)
    with pytest.raises(RefError, match=r"job J688 cannot be used: inputs/outputs are malformed"):
        project.usable_job("J688")
    assert project.job("J688").broken

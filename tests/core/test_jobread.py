"""Reading job.json files: the summary decoder agrees with the full parse, documents are not kept,
a job.json changed since listing is noticed, and parsed inputs/outputs are kept for few jobs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tui.core import jobread
from tui.core.jobdoc import job_from_bytes
from tui.core.project import load_project

SUMMARY = ("uid", "type", "title", "status", "created_at", "parents", "children", "workspaces", "schema",
           "version", "error")


def fields(job) -> tuple:
    return tuple(getattr(job, name) for name in SUMMARY)


def test_the_summary_decoder_agrees_with_the_full_parse(demo_project, reference_project):
    for project in (demo_project, reference_project):
        for job_json in sorted(project.glob("J*/job.json")):
            data = job_json.read_bytes()
            uid = job_json.parent.name
            assert fields(jobread.summary_from_bytes(uid, data)) == fields(job_from_bytes(uid, data)), job_json


@pytest.mark.parametrize("change, expected", [
    ({"title": "\ud800 lone"}, "title"),  # the fast decoder refuses it: the full parse replaces it
    ({"parents": ["J1", 5]}, "parents[1]"),
    ({"uid": "J77"}, "describes J77"),
    ({"spec": "a string"}, None),
    ({"created_at": {"$date": float("inf")}}, None),
])
def test_documents_the_fast_decoder_refuses_get_the_full_parse_message(demo_project, change, expected):
    job_json = demo_project / "J3" / "job.json"
    document = json.loads(job_json.read_text())
    document.update(change)
    data = json.dumps(document).encode()  # Infinity written as a token, as MongoDB dumps can
    fast, full = jobread.summary_from_bytes("J3", data), job_from_bytes("J3", data)
    assert fields(fast) == fields(full)
    if expected:
        assert (expected in (fast.error or "")) or fast.title.startswith("\ufffd")


def test_a_deep_document_is_a_broken_job_not_a_recursion_error():
    data = b'{"output_results": [], "junk": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    job = jobread.summary_from_bytes("J1", data)
    assert job.broken and "J1/job.json" in job.error and "deep" in job.error


def test_no_document_bytes_are_kept(demo_project):
    project = load_project(demo_project)
    for job in project.jobs.values():
        assert not any(isinstance(getattr(job, slot), bytes) for slot in job.__slots__)
        assert job._outputs is None  # nothing parsed until used


def test_a_job_changed_since_listing_is_read_again(demo_project):
    project = load_project(demo_project)
    job = project.jobs["J5"]
    job_json = demo_project / "J5" / "job.json"
    document = json.loads(job_json.read_text())
    document["title"] = "retitled while csrebind was open"
    job_json.write_text(json.dumps(document))
    assert job.outputs  # read now, from the file as it is
    assert job.title == "retitled while csrebind was open"
    document["title"] = "and again"
    job_json.write_text(json.dumps(document) + " ")
    assert jobread.changed_on_disk(job)
    assert job._outputs is None and job.outputs and job.title == "and again"
    assert not jobread.changed_on_disk(job)


def test_a_job_json_broken_after_listing_makes_a_broken_job(demo_project):
    project = load_project(demo_project)
    (demo_project / "J5" / "job.json").write_text('{"output_results": [')
    job = project.jobs["J5"]
    assert job.outputs == () and job.broken and "J5" in job.error


def test_parsed_inputs_and_outputs_are_kept_for_few_jobs(demo_project, monkeypatch):
    monkeypatch.setattr(jobread, "PARSED", jobread._Parsed(2))
    project = load_project(demo_project)
    jobs = [project.jobs[uid] for uid in ("J1", "J2", "J3")]
    outputs = [job.outputs for job in jobs]
    assert [job._outputs is None for job in jobs] == [True, False, False]  # J1 was let go
    assert jobs[0].outputs == outputs[0]  # and is read again, the same
    assert jobs[1]._outputs is None


def test_jobs_come_back_in_uid_order_whatever_thread_reads_them(tmp_path, monkeypatch):
    import time

    from projectgen import generate_project

    project_dir = generate_project(tmp_path / "P1", num_jobs=120, schema="v5")
    original = jobread.read_job_file

    def slow_for_some(path: Path):
        if int(Path(path).parent.name[1:]) % 7 == 0:
            time.sleep(0.01)
        return original(path)

    monkeypatch.setattr(jobread, "read_job_file", slow_for_some)
    project = load_project(project_dir, cache=False)
    assert list(project.jobs) == [f"J{n}" for n in range(1, 121)]


def test_usable_documents_of_both_schemas_take_the_fast_path(demo_project, reference_project, monkeypatch):
    """The full parse is only for documents the summary decoder refuses (it is 6x slower)."""
    documents = [(p.parent.name, p.read_bytes()) for project in (demo_project, reference_project)
                 for p in sorted(project.glob("J*/job.json"))]
    usable = [(uid, data) for uid, data in documents if not job_from_bytes(uid, data).broken]
    assert len(usable) >= 10
    fell_back: list[str] = []
    monkeypatch.setattr(jobread, "job_from_bytes", lambda uid, data: fell_back.append(uid))
    for uid, data in usable:
        jobread.summary_from_bytes(uid, data)
    assert fell_back == []


def test_files_that_come_fast_are_read_here_and_slow_ones_by_the_pool(tmp_path, monkeypatch):
    """Threads only pay where opens are slow (a network filesystem): on a local disk, threads
    taking turns at the GIL halved the decoding speed."""
    import time

    from projectgen import generate_project

    dirs = [str(p) for p in sorted(generate_project(tmp_path / "P1", num_jobs=40, schema="v4").glob("J*"))]
    with jobread.Readers() as readers:
        local = jobread.read_summaries(dirs, readers)
        assert readers.parallel is False and readers.pool is None
    original = jobread.read_job_file
    monkeypatch.setattr(jobread, "read_job_file", lambda path: (time.sleep(0.002), original(path))[1])
    with jobread.Readers() as readers:
        slow = jobread.read_summaries(dirs, readers)
        assert readers.parallel is True and readers.pool is not None
    assert [j.uid for j in slow] == [j.uid for j in local] and [j.title for j in slow] == [j.title for j in local]

"""Reading ahead for a pass over many jobs' outputs (a candidates search): on a slow filesystem
the pool's threads read the next documents while the caller parses; the outputs are the same, each
document is read once, and what could not be read says so as a read at use would."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from tui.core import jobread
from tui.core.candidates import find_candidates
from tui.core.project import load_project
from tui.core.refs import SlotAddress
from tui.core.session import EditSession


@pytest.fixture(scope="module")
def hundred_jobs(tmp_path_factory) -> Path:
    from projectgen import generate_project

    return generate_project(tmp_path_factory.mktemp("ahead") / "P", num_jobs=100, schema="v5", seed=6)


@pytest.fixture
def reads(monkeypatch) -> list[tuple[str, int]]:
    """(job folder, reading thread) of every job.json read for its inputs/outputs; each read takes
    ``reads.latency`` seconds (a network filesystem when set)."""
    found: list[tuple[str, int]] = []
    original = jobread.read_job_file

    class Reads(list):
        latency = 0.0

    found = Reads()

    def reading(path):
        time.sleep(found.latency)
        found.append((Path(path).parent.name, threading.get_ident()))
        return original(path)

    monkeypatch.setattr(jobread, "read_job_file", reading)
    return found


def outputs_of(jobs) -> dict[str, tuple]:
    return {job.uid: job.outputs for job in jobs}


@pytest.mark.parametrize("latency", [0.0, 0.002])
def test_the_outputs_are_those_read_at_use_and_each_document_is_read_once(hundred_jobs, reads, latency):
    expected = outputs_of(load_project(hundred_jobs, cache=False).jobs.values())
    jobs = list(load_project(hundred_jobs, cache=False).jobs.values())
    reads.clear()
    reads.latency = latency
    caller = threading.get_ident()
    assert outputs_of(jobread.reading_ahead(jobs)) == expected
    assert sorted(folder for folder, _ in reads) == sorted(expected)
    by_threads = sum(thread != caller for _, thread in reads)
    if latency:
        assert by_threads >= len(jobs) - jobread.PROBE - 1  # all but the first, timed, by the pool
    else:
        assert by_threads == 0  # a fast filesystem: read when used, in this thread
    assert jobread._read_ahead == {}


def test_a_document_that_went_missing_says_so_as_at_use(hundred_jobs, tmp_path, reads):
    import shutil

    root = tmp_path / "P"
    shutil.copytree(hundred_jobs, root)
    jobs = list(load_project(root, cache=False).jobs.values())
    (root / "J60" / "job.json").unlink()
    reads.latency = 0.002
    seen = {job.uid: (job.outputs, job.error) for job in jobread.reading_ahead(jobs)}
    assert seen["J60"] == ((), "inputs/outputs are malformed: J60/job.json cannot be read again (No such file or directory)")
    assert all(error is None for uid, (_, error) in seen.items() if uid != "J60")


def test_a_pass_left_midway_keeps_nothing_read_ahead(hundred_jobs, reads):
    jobs = list(load_project(hundred_jobs, cache=False).jobs.values())
    reads.latency = 0.002
    passing = jobread.reading_ahead(jobs)
    for i in range(30):
        job = next(passing)
        if i >= 10:  # the first ten are passed over unparsed: what was read for them is let go too
            job.outputs
    assert len(jobread._read_ahead) == 10
    time.sleep(0.05)
    assert len(reads) > 40  # the next ones are being read
    passing.close()
    assert jobread._read_ahead == {}
    reads.clear()
    assert jobs[99].outputs and jobs[99].error is None and [f for f, _ in reads] == ["J100"]  # read when used


def test_candidates_on_a_slow_filesystem_are_those_on_a_fast_one(hundred_jobs, reads):
    project = load_project(hundred_jobs, cache=False)
    target, group, index, binding = next(
        (job.uid, g, i, b) for job in reversed(project.jobs.values()) if not job.broken
        for g in job.inputs for i, c in enumerate(g.connections) for b in c.slot_bindings
    )
    address = SlotAddress(group.name, index, binding.slot)
    fast = find_candidates(EditSession(load_project(hundred_jobs, cache=False), target), address)
    reads.clear()
    reads.latency = 0.002
    slow = find_candidates(EditSession(load_project(hundred_jobs, cache=False), target), address)
    assert slow == fast and len(fast) > 5
    assert sum(thread != threading.get_ident() for _, thread in reads) > 20

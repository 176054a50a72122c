"""The collector paused while many live objects are made: the objects of a job's document parse
(every job highlighted in a session) must not freeze anyone's cyclic garbage for good."""

from __future__ import annotations

import gc
import weakref

import pytest

from tui.core.gcpause import gc_paused
from tui.core.jobdoc import parse_io
from tui.demo import write_demo


class Node:
    def __init__(self) -> None:
        self.me = self  # a cycle: only the collector frees it


def garbage_cycle() -> weakref.ref:
    return weakref.ref(Node())


@pytest.fixture(autouse=True)
def thawed():
    yield
    gc.unfreeze()  # what a test froze goes back to the collector


def test_cyclic_garbage_made_before_a_document_parse_is_still_collected(tmp_path):
    for schema in ("v4", "v5"):
        document = (write_demo(tmp_path / schema, schema=schema) / "J9" / "job.json").read_bytes()
        dead = garbage_cycle()
        outputs, inputs = parse_io(document, "J9", schema)
        gc.collect()
        assert outputs and dead() is None, f"a {schema} parse froze garbage made before it"


def test_a_freeze_is_asked_for():
    alive = Node()
    with gc_paused(freeze=True):
        pass
    assert gc.get_freeze_count() > 0
    assert gc.is_tracked(alive)
    dead = garbage_cycle()
    with gc_paused():
        pass
    gc.collect()
    assert dead() is None


def test_the_collector_is_left_as_it_was():
    gc.disable()
    try:
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()
    with gc_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_a_listing_of_many_jobs_is_made_without_a_collection():
    """50,000 new dicts (``jobs --json``): the collector's passes over them, none garbage, took a
    third as long as making them. At most the one pass due when it is resumed."""
    from datetime import datetime, timezone

    from tui.core.model import Job
    from tui.core.views import job_summaries

    when = datetime(2023, 6, 1, tzinfo=timezone.utc)
    jobs = [Job(f"J{n}", "class_2D", "2D", "completed", when, (f"J{n - 1}",), (), ("W1",), "v5") for n in range(1, 20001)]
    collections: list[str] = []
    gc.collect()  # not one due from making the jobs above

    def counting(phase, info):
        if phase == "start":
            collections.append(info["generation"])

    gc.callbacks.append(counting)
    try:
        listing = job_summaries(jobs)
    finally:
        gc.callbacks.remove(counting)
    assert len(listing) == 20000 and listing[41]["parents"] == ("J41",) and len(collections) <= 1
    assert gc.isenabled()

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

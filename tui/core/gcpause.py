"""Pausing the garbage collector while tens of thousands of objects are made and none discarded."""

from __future__ import annotations

import gc
from contextlib import contextmanager


@contextmanager
def gc_paused(freeze: bool = False):
    """The collector's full passes over a growing heap of new, live objects (50,000 job
    summaries, 120,000 results of one document) would cost more than making them.

    ``freeze``: afterwards, move every object the collector tracks to its permanent generation
    (kept out of later passes; still freed by reference counting when dropped), which also spares
    the first pass after the pause. Only where what was made lives as long as the program and the
    call comes once per project read: cyclic garbage that exists at that moment, anyone's, is
    never collected, so a freeze on every job highlighted would leak for a whole session."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if freeze:
            gc.freeze()
        if collecting:
            gc.enable()

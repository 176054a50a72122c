"""Pausing the garbage collector while tens of thousands of objects are made and none discarded."""

from __future__ import annotations

import gc
from contextlib import contextmanager


@contextmanager
def gc_paused():
    """The collector's full passes over a growing heap of new, live objects (50,000 job
    summaries, 120,000 results of one document) would cost more than making them. They are
    frozen afterwards (kept out of later passes: they live on, and are freed by reference
    counting when dropped), which also spares the first pass after the pause."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if collecting:
            gc.enable()

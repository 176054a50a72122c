"""Pausing the garbage collector while tens of thousands of objects are made and none discarded."""

from __future__ import annotations

import gc
from contextlib import contextmanager


@contextmanager
def gc_paused():
    """The collector's full passes over a growing heap of new, live objects (50,000 job
    summaries, 120,000 results of one document) would cost more than making them."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()

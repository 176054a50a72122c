"""One place for failures nobody expected: every worker runs with ``exit_on_error=False``, and
its node hands an error to the app, which logs the traceback and shows a dialog instead of
ending (an edit in progress stays in the journal)."""

from __future__ import annotations

import traceback
from datetime import datetime
from pathlib import Path

from textual import work
from textual.worker import Worker, WorkerState

from ..core.config import state_dir

def background(method=None, **options):
    """A thread worker whose failure is reported, never fatal, described by its method's name:
    Textual would describe it by the repr of every argument, and the repr of a project of
    50,000 jobs took 40 ms on the UI thread at each call (each highlighted result)."""

    def decorate(function):
        return work(function, thread=True, exit_on_error=False, description=function.__qualname__, **options)

    return decorate(method) if method is not None else decorate


def log_path() -> Path:
    return state_dir() / "csrebind.log"


def log_failure(error: BaseException) -> Path | None:
    """Append the traceback to the log; None when even that cannot be written."""
    path = log_path()
    text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as log:
            log.write(f"--- {datetime.now().isoformat(timespec='seconds')}\n{text}\n")
    except OSError:
        return None
    return path


def failure_text(error: BaseException, log: Path | None) -> str:
    where = f"The details are in {log}." if log else "The details could not be logged."
    return f"{type(error).__name__}: {error}\n\n{where}\nNothing was lost: unsaved edits stay in the journal."


class ReportsWorkerFailures:
    """Mixed into every node that runs workers (Worker.StateChanged does not bubble)."""

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:  # by name: @on is not seen in a mixin
        if event.state is WorkerState.ERROR and event.worker.error is not None:
            self.app.show_failure(event.worker.error)

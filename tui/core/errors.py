"""Error types. Every user-facing failure is one of these, with a message that says
which file or string is wrong, what is wrong with it and, where it helps, what to do."""

from __future__ import annotations


class CsRebindError(Exception):
    """Base of every error csrebind reports to the user (never shown as a traceback)."""


class ProjectError(CsRebindError):
    """The project directory or one of its documents cannot be used."""


class JobDocumentError(ProjectError):
    """One job.json is missing, unreadable or not a job document."""


class RefError(CsRebindError):
    """A result reference or slot address is malformed or names something that does not exist."""


class CsFileError(CsRebindError):
    """A .cs file cannot be read: wrong format, truncated, missing, LFS pointer..."""

    def __init__(self, path: object, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class EditError(CsRebindError):
    """An edit was refused; the session is unchanged."""


class PlanError(CsRebindError):
    """A saved plan cannot be read or does not fit the project."""


class ExportError(CsRebindError):
    """An export cannot be produced; nothing was written."""


class CommandError(CsRebindError):
    """A command line that cannot be run as typed."""


class ApplyError(CsRebindError):
    """Live apply was refused or could not start; nothing was changed unless ``report`` (an
    ``ApplyReport`` of :mod:`tui.core.live`) says so."""

    def __init__(self, message: str, report: object | None = None) -> None:
        super().__init__(message)
        self.report = report  # an ApplyReport; typed loosely because errors sits below everything

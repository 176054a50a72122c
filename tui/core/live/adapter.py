"""The adapter to cryosparc-tools: the Job methods csrebind calls, with their parameters, and
what the installed library (or a job object from the server) can do.

Nothing here imports cryosparc-tools at module import time; the probes import it when called.
"""

from __future__ import annotations

import inspect
from typing import Any, Sequence

from ..errors import ApplyError
from ..refs import FINAL
from .operations import Operation

# The adapter: the cryosparc-tools 5.x Job (JobController) methods csrebind calls, with their
# parameters in order. Calls are made with these keyword names; tests/core/test_apply.py compares this
# table with the installed library, so a renamed or reordered parameter fails the tests.
JOB_METHOD_PARAMETERS: dict[str, tuple[str, ...]] = {
    "connect": ("target_input", "source_job_uid", "source_output"),
    "disconnect": ("target_input", "connection_idx"),
    "connect_result": (
        "target_input", "connection_idx", "slot", "source_job_uid", "source_output", "source_result", "source_version",
    ),
    "disconnect_result": ("target_input", "connection_idx", "slot"),
}
# Parameters with a default in the library (every other one is required). ``disconnect`` with
# no index clears *every* connection of the input, so csrebind always passes the index.
JOB_METHOD_DEFAULTS: dict[tuple[str, str], Any] = {
    ("connect_result", "source_version"): FINAL,
    ("disconnect", "connection_idx"): None,
}
VERSION_PARAMETER = "source_version"


# --- the adapter ----------------------------------------------------------------------------------


def call_arguments(op: Operation, *, source_version: bool = True) -> tuple[str, dict[str, Any]]:
    """The Job method and keyword arguments that carry out ``op``. With ``source_version=False``
    (a library whose ``connect_result`` has no version parameter) the version is left out,
    which only a final (``F``) version allows."""
    kind = op.kind
    if kind not in JOB_METHOD_PARAMETERS:
        raise ApplyError(f"unknown operation {kind!r}")
    if kind == "connect":
        values: tuple[Any, ...] = (op.input, op.source_job, op.source_output)
    elif kind == "disconnect":
        values = (op.input, op.connection)
    elif kind == "connect_result":
        if op.source is None:
            raise ApplyError(f"{op.describe()}: the operation names no source result")
        src = op.source
        values = (op.input, op.connection, op.slot, src.job, src.output, src.result, src.version)
    else:
        values = (op.input, op.connection, op.slot)
    kwargs = dict(zip(JOB_METHOD_PARAMETERS[kind], values))
    missing = [name for name, value in kwargs.items() if value is None]
    if missing:  # a disconnect without an index would clear every connection of the input
        raise ApplyError(f"{op.describe()}: incomplete operation (no {', '.join(missing)})")
    if kind == "connect_result" and not source_version:
        if kwargs[VERSION_PARAMETER] != FINAL:
            raise ApplyError(_version_message([op]))
        del kwargs[VERSION_PARAMETER]
    return kind, kwargs


def installed_tools_version() -> str | None:
    try:
        from importlib.metadata import version

        return version("cryosparc-tools")
    except Exception:  # not installed, or odd metadata
        return None


def installed_job_api() -> type | None:
    """The installed cryosparc-tools Job class: ``JobController`` (5.x) or ``Job`` (4.x)."""
    try:
        from cryosparc.controllers.job import JobController

        return JobController
    except ImportError:
        pass
    try:
        from cryosparc.job import Job  # type: ignore[import-not-found]

        return Job
    except ImportError:
        return None


def _signature(api: Any, name: str) -> inspect.Signature | None:
    """Signature of ``api.name`` without ``self``, for a class or an instance."""
    method = getattr(api, name, None)
    if method is None or not callable(method):
        return None
    try:
        signature = inspect.signature(method)
    except (TypeError, ValueError):
        return None
    if inspect.isclass(api):
        parameters = list(signature.parameters.values())[1:]
        signature = signature.replace(parameters=parameters)
    return signature


def accepts_source_version(api: Any) -> bool:
    """Whether ``api.connect_result`` (a Job class or object) takes ``source_version``."""
    signature = _signature(api, "connect_result")
    return signature is not None and VERSION_PARAMETER in signature.parameters


def _version_message(ops: Sequence[Operation]) -> str:
    refs = ", ".join(str(op.source) for op in ops)
    version = installed_tools_version() or "unknown"
    return (
        f"the installed cryosparc-tools ({version}) cannot connect a specific version: its "
        f"Job.connect_result has no source_version parameter, so it always connects the final one. "
        f"Needed for: {refs}. Install cryosparc-tools 5.x to match CryoSPARC 5, or choose version F"
    )


def unsupported(ops: Sequence[Operation], api: Any) -> str | None:
    """Why ``api`` (the installed Job class, or the job object) cannot run ``ops``; None if it can.
    Every call is bound to the method's real signature, so nothing is sent that would not fit."""
    versioned = [op for op in ops if op.kind == "connect_result" and op.source is not None and op.source.version != FINAL]
    with_version = accepts_source_version(api)
    if versioned and not with_version:
        return _version_message(versioned)
    for op in ops:
        name, kwargs = call_arguments(op, source_version=with_version)
        signature = _signature(api, name)
        if signature is None:
            version = installed_tools_version() or "unknown"
            added = " (added in cryosparc-tools 4.7.1)" if name.endswith("_result") else ""
            return f"the installed cryosparc-tools ({version}) has no Job.{name}{added}; it is needed to {op.describe()}"
        try:
            signature.bind(**kwargs)
        except TypeError as exc:
            return f"Job.{name}{signature} does not accept {sorted(kwargs)} ({exc}); cannot {op.describe()}"
    return None


def job_status(job: Any) -> str | None:
    """``job.status`` (5.x property over ``job.model.status``; 4.x property), else the model's."""
    for getter in (lambda: job.status, lambda: job.model.status, lambda: job.doc["status"]):
        try:
            value = getter()
        except Exception:
            continue
        if isinstance(value, str):
            return value
    return None

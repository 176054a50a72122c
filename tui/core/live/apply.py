"""Live apply: run an edit session's operations on a CryoSPARC instance through cryosparc-tools.

Nothing here imports cryosparc-tools at module import time; the library is imported inside the
functions that talk to a server. Every failure reaches the user as an :class:`ApplyError` or as
an :class:`ApplyReport`, with passwords, licence ids and tokens removed from the text. The
connection settings are described in :mod:`tui.core.live.settings`.
"""

from __future__ import annotations

import inspect
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Sequence

from ..errors import ApplyError
from ..model import InputGroup
from ..planfile import plan_target
from .adapter import (
    accepts_source_version, installed_job_api, invoke, job_status, planned_call, unsupported,
)
from .operations import Operation
from .settings import ConnectionSettings, error_text

BUILDING = "building"


def server_differences(job: Any, loaded: Sequence[InputGroup], inputs: Iterable[str]) -> list[str] | None:
    """Where the server's connections of ``inputs`` differ from ``loaded`` (what csrebind read
    from job.json and planned against). None when the job object does not expose its inputs
    in the 5.x shape (``job.inputs[name].connections``), so no comparison could be made."""
    try:
        server_inputs = job.inputs
        if not isinstance(server_inputs, Mapping):
            return None
    except Exception:
        return None
    local = {g.name: g for g in loaded}
    found: list[str] = []
    for name in sorted(set(inputs)):
        group = local.get(name)
        server = server_inputs.get(name)
        if group is None:
            continue
        if server is None:
            found.append(f"input {name} does not exist in CryoSPARC")
            continue
        try:
            connections = list(server.connections)
            ours = [(c.job, c.output) for c in group.connections]
            theirs = [(c.job_uid, c.output) for c in connections]
            if ours != theirs:
                found.append(f"input {name}: CryoSPARC has {_sources(theirs)}, job.json has {_sources(ours)}")
                continue
            for index, (mine, other) in enumerate(zip(group.connections, connections)):
                slots = {r.name: f"{r.job_uid}.{r.output}.{r.result}.{r.version}" for r in other.results if r.name}
                for binding in mine.slot_bindings:
                    if slots.get(binding.slot) != str(binding.ref):
                        found.append(f"{name}.{index}.{binding.slot}: CryoSPARC has "
                                     f"{slots.get(binding.slot) or '(empty)'}, job.json has {binding.ref}")
        except Exception:
            return None
    return found


def _sources(pairs: list[tuple[str, str]]) -> str:
    return ", ".join(f"{j}.{o}" for j, o in pairs) or "no connections"


# --- the report -----------------------------------------------------------------------------------


@dataclass
class ApplyReport:
    """What a live apply did: operations applied, the one that failed, the ones not attempted."""

    project: str
    target: str
    server: str = ""
    applied: list[Operation] = field(default_factory=list)
    failed: list[Operation] = field(default_factory=list)
    not_attempted: list[Operation] = field(default_factory=list)
    error: str | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed and not self.not_attempted and self.error is None

    @property
    def total(self) -> int:
        return len(self.applied) + len(self.failed) + len(self.not_attempted)

    def summary(self) -> str:
        where = f"{self.target} in project {self.project}" + (f" at {self.server}" if self.server else "")
        lines: list[str] = []
        if self.ok:
            if not self.applied:
                lines.append(f"Nothing to apply to {where}.")
            else:
                lines.append(f"Applied all {len(self.applied)} operation(s) to {where}.")
        elif not self.applied and not self.failed:
            lines.append(f"Nothing was changed on {where}: {self.error or 'not applied'}")
        else:
            lines.append(f"Stopped after an error: {len(self.applied)} of {self.total} operation(s) applied to {where}.")
            if self.applied:
                lines.append(f"{self.target} is now partly changed; fix the problem and apply the rest, "
                             "or undo the applied operations in CryoSPARC.")
        for op in self.applied:
            lines.append(f"  applied        {op.describe()}")
        for op in self.failed:
            lines.append(f"  FAILED         {op.describe()}")
            if self.error:
                lines.extend(f"                 {line}" for line in self.error.splitlines())
        for op in self.not_attempted:
            lines.append(f"  not attempted  {op.describe()}")
        lines.extend(f"  warning: {w}" for w in self.warnings)
        return "\n".join(lines)

    __str__ = summary


# --- applying -------------------------------------------------------------------------------------


ClientFactory = Callable[[ConnectionSettings], Any]


def default_client_factory(settings: ConnectionSettings) -> Any:
    """A ``cryosparc.tools.CryoSPARC`` connected with ``settings`` (imported here, not at load)."""
    from cryosparc.tools import CryoSPARC

    accepted = set(inspect.signature(CryoSPARC.__init__).parameters) - {"self"}
    return CryoSPARC(**settings.client_kwargs(accepted))


def apply_plan(
    plan: Mapping[str, Any],
    ops: Sequence[Operation],
    *,
    settings: ConnectionSettings | None = None,
    client_factory: ClientFactory | None = None,
    status_check: bool = True,
    loaded: Sequence[InputGroup] | None = None,
) -> ApplyReport:
    """Run ``ops`` (from :func:`tui.core.live.operations.operations`) on the plan's target job:
    each one is the call :func:`tui.core.live.adapter.planned_call` gives (a Job method, or an
    ``api.jobs`` endpoint of the job's client for ``reconnect``), the calls the user confirmed.

    Refused with :class:`ApplyError`, before any change, when: the plan is not valid; the
    installed cryosparc-tools cannot make one of the calls (e.g. a version other than F without
    ``source_version``); the server has no ``api.jobs.reconnect`` that an in-place replacement
    needs; the server cannot be reached or has no such job; the job is not in
    ``building`` status (unless ``status_check`` is False); or, with ``loaded`` (the inputs as
    csrebind read them), the server's connections differ from those. Otherwise the operations
    run in order and the first failure stops the run; the returned report says exactly which
    operations were applied, which failed and which were not attempted."""
    project_uid, target = plan_target(plan)
    ops = list(ops)
    settings = settings if settings is not None else ConnectionSettings.from_sources()
    report = ApplyReport(project_uid, target, settings.target, not_attempted=list(ops),
                         warnings=list(settings.warnings))

    def refuse(message: str) -> ApplyError:
        report.error = settings.redact(message)
        return ApplyError(report.error, report)

    if not ops:
        return report
    for op in ops:
        planned_call(op, project_uid, target)  # refuses incomplete operations before anything is sent
    library = installed_job_api()
    if library is not None:
        problem = unsupported(ops, library, project_uid=project_uid, job_uid=target)
        if problem:
            raise refuse(problem)

    factory = client_factory or default_client_factory
    failure: str | None = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            client = factory(settings)
            job = client.find_project(project_uid).find_job(target)
        except (Exception, KeyboardInterrupt) as exc:
            failure = f"cannot reach {target} in project {project_uid} at {settings.target}: " \
                      f"{error_text(exc, settings.secrets)}"
    report.warnings.extend(settings.redact(str(w.message)).splitlines()[0] for w in caught if str(w.message).strip())
    if failure is not None:  # raised outside the handler: no traceback chain holding secrets
        raise refuse(failure)

    if status_check:
        status = job_status(job)
        if status != BUILDING:
            raise refuse(
                f"{target} is {status or 'of unknown status'} in CryoSPARC; only a job in building status can "
                "be changed. Clear the job or clone it (the clone is building), then apply to that job."
            )
    problem = unsupported(ops, job, project_uid=project_uid, job_uid=target, server=settings.target)
    if problem:
        raise refuse(problem)
    if loaded is not None:
        differences = server_differences(job, loaded, {op.input for op in ops})
        if differences:
            raise refuse(
                f"{target} in CryoSPARC no longer matches the job.json csrebind planned against: "
                + "; ".join(differences) + ". Reload the project and make the edits again."
            )
        if differences is None:
            report.warnings.append("the server's current connections could not be compared with job.json")

    with_version = accepts_source_version(job)
    for index, op in enumerate(ops):
        call = planned_call(op, project_uid, target, source_version=with_version)
        error: str | None = None
        try:
            invoke(job, call)
        except (Exception, KeyboardInterrupt) as exc:
            error = error_text(exc, settings.secrets)
        if error is not None:
            report.failed = [op]
            report.not_attempted = ops[index + 1:]
            report.error = settings.redact(error)
            return report
        report.applied.append(op)
        report.not_attempted = ops[index + 1:]
    return report

"""The adapter to cryosparc-tools: the Job methods and API endpoints csrebind calls, with their
parameters, and what the installed library (or a job object from the server) can do.

Nothing here imports cryosparc-tools at module import time; the probes import it when called.
"""

from __future__ import annotations

import ast
import functools
import inspect
import json
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from ..errors import ApplyError
from ..refs import FINAL
from ..model import InputGroup
from .operations import Operation, operations

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

# The API endpoints csrebind calls itself, because no Job method of the installed cryosparc-tools
# (5.0.3) wraps them: ``api.jobs.reconnect`` replaces connection N of an input in place. An
# endpoint is generated at run time from the server's OpenAPI schema (its Python signature is
# ``(*args, **kwargs)``); the library declares it in ``cryosparc/api.pyi`` (class ``JobsAPI``), and
# that declaration is what a call is checked against: (positional-only, keyword-only) parameters.
API_ENDPOINT_PARAMETERS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "reconnect": (("project_uid", "job_uid", "input_name", "connection_index"), ("source_output_name", "source_job_uid")),
}
JOB = "job"  # a Job (JobController) method, called on the target job
API_JOBS = "api.jobs"  # an endpoint of the client's ``api.jobs`` namespace


# --- the adapter ----------------------------------------------------------------------------------


def call_arguments(op: Operation, *, source_version: bool = True) -> tuple[str, dict[str, Any]]:
    """The Job method and keyword arguments that carry out ``op``. With ``source_version=False``
    (a library whose ``connect_result`` has no version parameter) the version is left out,
    which only a final (``F``) version allows."""
    kind = op.kind
    if kind in API_ENDPOINT_PARAMETERS:
        raise ApplyError(f"{op.describe()}: {kind} is an api.jobs endpoint, not a Job method (see planned_call)")
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


@dataclass(frozen=True)
class Call:
    """One cryosparc-tools call, exactly as made: ``job.NAME(*args, **kwargs)`` on the target job
    (``owner`` :data:`JOB`) or ``cs.api.jobs.NAME(*args, **kwargs)`` (``owner`` :data:`API_JOBS`)."""

    owner: str
    name: str
    args: tuple[Any, ...] = ()
    kwargs: tuple[tuple[str, Any], ...] = ()

    @property
    def keywords(self) -> dict[str, Any]:
        return dict(self.kwargs)

    @property
    def target(self) -> str:
        return "job" if self.owner == JOB else "cs.api.jobs"

    def text(self) -> str:
        """The call as Python, e.g. ``job.disconnect(target_input="particles", connection_idx=2)``."""
        parts = [literal(a) for a in self.args] + [f"{k}={literal(v)}" for k, v in self.kwargs]
        return f"{self.target}.{self.name}({', '.join(parts)})"


def literal(value: Any) -> str:
    """A Python literal: strings in double quotes (JSON escapes are valid Python escapes)."""
    if isinstance(value, str):
        return json.dumps(value)
    return repr(value)


def planned_call(op: Operation, project_uid: str, job_uid: str, *, source_version: bool = True) -> Call:
    """The call that carries out ``op`` on job ``job_uid`` of project ``project_uid``."""
    if op.kind in API_ENDPOINT_PARAMETERS:
        positional, keyword_only = API_ENDPOINT_PARAMETERS[op.kind]
        args = (project_uid, job_uid, op.input, op.connection)
        kwargs = dict(zip(keyword_only, (op.source_output, op.source_job)))
        missing = [name for name, value in [*zip(positional, args), *kwargs.items()] if value is None]
        if missing:
            raise ApplyError(f"{op.describe()}: incomplete operation (no {', '.join(missing)})")
        return Call(API_JOBS, op.kind, args, tuple(kwargs.items()))
    name, kwargs = call_arguments(op, source_version=source_version)
    return Call(JOB, name, (), tuple(kwargs.items()))


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


def installed_api_stub() -> Path | None:
    """``cryosparc/api.pyi`` of the installed cryosparc-tools (5.x), found without importing it."""
    try:
        from importlib.util import find_spec

        spec = find_spec("cryosparc")
    except (ImportError, ValueError):
        return None
    for folder in (spec.submodule_search_locations or []) if spec else []:
        stub = Path(folder) / "api.pyi"
        if stub.is_file():
            return stub
    return None


def installed_endpoints(namespace: str = "JobsAPI") -> Any | None:
    """The ``api.jobs`` endpoints as the installed cryosparc-tools declares them (``cryosparc/api.pyi``,
    class ``JobsAPI``): an object whose attributes carry the declared signatures (without ``self``),
    for :func:`inspect.signature` and ``bind``; calling one raises. None without the declaration
    (cryosparc-tools 4.x has no api.pyi)."""
    stub = installed_api_stub()
    if stub is None:
        return None
    try:
        declared = _declared_signatures(str(stub), stub.stat().st_mtime_ns, namespace)
    except (OSError, SyntaxError, ValueError):
        return None
    if declared is None:
        return None
    return types.SimpleNamespace(**{name: _declaration(name, sig) for name, sig in declared.items()})


def _declaration(name: str, signature: inspect.Signature):
    def declared(*args: Any, **kwargs: Any) -> Any:
        raise ApplyError(f"api.jobs.{name} is only a declaration here (cryosparc/api.pyi); call it on a client")

    declared.__signature__ = signature  # type: ignore[attr-defined]
    declared.__name__ = name
    return declared


@functools.lru_cache(maxsize=4)
def _declared_signatures(path: str, mtime_ns: int, namespace: str) -> Mapping[str, inspect.Signature] | None:
    """The method signatures of class ``namespace`` in the stub at ``path``, read with :mod:`ast`
    (nothing is executed or imported). ``mtime_ns`` keys the cache."""
    tree = ast.parse(Path(path).read_text(encoding="utf-8"), filename=path)
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == namespace:
            return types.MappingProxyType({
                item.name: _ast_signature(item) for item in node.body if isinstance(item, ast.FunctionDef)
            })
    return None


def _ast_signature(node: ast.FunctionDef) -> inspect.Signature:
    """The signature a ``def`` declares, without its first parameter (``self``). Annotations are
    kept as source text; defaults are read as literals."""
    P = inspect.Parameter
    a = node.args
    positional = [*a.posonlyargs, *a.args]
    defaults: list[Any] = [P.empty] * (len(positional) - len(a.defaults)) + [_ast_default(d) for d in a.defaults]
    parameters: list[inspect.Parameter] = []
    for index, (arg, default) in enumerate(zip(positional, defaults)):
        kind = P.POSITIONAL_ONLY if index < len(a.posonlyargs) else P.POSITIONAL_OR_KEYWORD
        parameters.append(P(arg.arg, kind, default=default, annotation=_ast_annotation(arg)))
    if a.vararg:
        parameters.append(P(a.vararg.arg, P.VAR_POSITIONAL, annotation=_ast_annotation(a.vararg)))
    for arg, default in zip(a.kwonlyargs, a.kw_defaults):
        parameters.append(P(arg.arg, P.KEYWORD_ONLY, default=P.empty if default is None else _ast_default(default),
                            annotation=_ast_annotation(arg)))
    if a.kwarg:
        parameters.append(P(a.kwarg.arg, P.VAR_KEYWORD, annotation=_ast_annotation(a.kwarg)))
    return inspect.Signature(parameters[1:])


def _ast_annotation(arg: ast.arg) -> Any:
    return ast.unparse(arg.annotation) if arg.annotation is not None else inspect.Parameter.empty


def _ast_default(node: ast.expr) -> Any:
    try:
        return ast.literal_eval(node)
    except ValueError:
        return ast.unparse(node)


def endpoints_of(job: Any) -> Any | None:
    """``job.cs.api.jobs``: the endpoints of the client a (5.x) job object belongs to."""
    try:
        return job.cs.api.jobs
    except Exception:
        return None


_SAMPLE_RECONNECT = Operation("reconnect", "particles", 1, source_job="J1", source_output="particles")
_SAMPLE_DISCONNECT = Operation("disconnect", "particles", 1)


def in_place_available(job_api: Any = None, endpoints: Any = None) -> bool:
    """Whether connection N can be replaced and removed in place: ``endpoints`` (an ``api.jobs``
    namespace; by default as the installed library declares it) take ``reconnect(project, job,
    input, index, source_output_name=…, source_job_uid=…)`` and ``job_api`` (by default the
    installed Job class) takes ``disconnect(target_input=…, connection_idx=…)`` with the index as
    a named parameter. Both are checked by binding sample calls to the real signatures."""
    job_api = job_api if job_api is not None else installed_job_api()
    endpoints = endpoints if endpoints is not None else installed_endpoints()
    if job_api is None or endpoints is None:
        return False
    return all(_binds(job_api, endpoints, planned_call(op, "P1", "J1"))
               for op in (_SAMPLE_RECONNECT, _SAMPLE_DISCONNECT))


def _binds(job_api: Any, endpoints: Any, call: Call) -> bool:
    return _bind_problem(job_api, endpoints, call) is None


def _bind_problem(job_api: Any, endpoints: Any, call: Call) -> str | None:
    """None when ``call`` fits the real signature of its method; otherwise why not. A keyword the
    method only swallows into ``**kwargs`` does not fit (a misspelled connection_idx would make
    ``disconnect`` clear every connection)."""
    owner = job_api if call.owner == JOB else endpoints
    signature = _signature(owner, call.name) if owner is not None else None
    if signature is None:
        return "missing"
    try:
        bound = signature.bind(*call.args, **call.keywords)
    except TypeError as exc:
        return f"{call.target}.{call.name}{signature} does not accept {call.text()} ({exc})"
    for parameter in signature.parameters.values():
        if parameter.kind is inspect.Parameter.VAR_KEYWORD and bound.arguments.get(parameter.name) \
                and call.owner == JOB:
            extra = sorted(bound.arguments[parameter.name])
            return f"{call.target}.{call.name}{signature} has no parameter {', '.join(extra)}; it would ignore it"
    return None


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


def unsupported(ops: Sequence[Operation], api: Any, *, endpoints: Any = None, project_uid: str = "P1",
                job_uid: str = "J1", server: str | None = None) -> str | None:
    """Why ``api`` (the installed Job class, or the job object from the server) cannot run ``ops``;
    None if it can. Every call is bound to its method's real signature, so nothing is sent that
    would not fit: Job methods on ``api``, ``api.jobs`` endpoints on ``endpoints`` (by default the
    installed library's declaration for a class, the job's own client, ``job.cs.api.jobs``, for a
    job object). ``server`` names the instance in messages about a job object."""
    versioned = [op for op in ops if op.kind == "connect_result" and op.source is not None and op.source.version != FINAL]
    with_version = accepts_source_version(api)
    if versioned and not with_version:
        return _version_message(versioned)
    if endpoints is None:
        endpoints = installed_endpoints() if inspect.isclass(api) else endpoints_of(api)
    for op in ops:
        call = planned_call(op, project_uid, job_uid, source_version=with_version)
        problem = _bind_problem(api, endpoints, call)
        if problem is None:
            continue
        if problem != "missing":
            return f"{problem}; cannot {op.describe()}"
        version = installed_tools_version() or "unknown"
        if call.owner == API_JOBS:
            where = (f"CryoSPARC at {server}" if server else "this CryoSPARC") if not inspect.isclass(api) \
                else f"the installed cryosparc-tools ({version})"
            return (f"{where} has no api.jobs.{call.name}, which the planned calls use to {op.describe()} "
                    f"(it replaces a connection without touching the later ones; CryoSPARC 5.x). Nothing was sent. "
                    f"Use a cryosparc-tools release that matches the CryoSPARC version, then plan again")
        added = " (added in cryosparc-tools 4.7.1)" if call.name.endswith("_result") else ""
        return f"the installed cryosparc-tools ({version}) has no Job.{call.name}{added}; it is needed to {op.describe()}"
    return None


def invoke(job: Any, call: Call) -> Any:
    """Make ``call`` on ``job`` (a Job method) or on ``job.cs.api.jobs`` (an endpoint)."""
    owner = job if call.owner == JOB else endpoints_of(job)
    if owner is None:
        raise ApplyError(f"the job object has no client endpoints (job.cs.api.jobs) for {call.text()}")
    return getattr(owner, call.name)(*call.args, **call.keywords)


# --- what the user confirms -----------------------------------------------------------------------


def describe_calls(ops: Sequence[Operation], project_uid: str, job_uid: str, *,
                   source_version: bool | None = None, in_place: bool | None = None) -> str:
    """Every call live apply will make, in order, with its arguments, under the change it makes;
    then how connections are replaced (in place, or rebuilt) when any is. What the Confirm dialog
    shows before applying. ``source_version``/``in_place`` None ask the installed library."""
    if source_version is None:
        library = installed_job_api()
        source_version = accepts_source_version(library) if library is not None else True
    ops = list(ops)
    lines = [f"{len(ops)} call(s) to {job_uid} in project {project_uid}, in this order:"]
    width = len(str(len(ops)))
    for number, op in enumerate(ops, start=1):
        lines.append(f"{number:>{width}}. {op.describe()}")
        try:
            text = planned_call(op, project_uid, job_uid, source_version=source_version).text()
        except ApplyError as exc:
            text = f"(cannot be called: {exc})"
        lines.append(f"{'':>{width}}  {text}")
    kinds = {op.kind for op in ops}
    version = installed_tools_version() or "unknown"
    if "reconnect" in kinds:
        lines.append(f"cs.api.jobs.reconnect replaces a connection where it stands (declared by the installed "
                     f"cryosparc-tools {version} in cryosparc/api.pyi); the other connections keep their slots.")
    if "disconnect" in kinds:
        if in_place is None:
            in_place = "reconnect" in kinds or in_place_available()
        if in_place:
            lines.append("job.disconnect with an index removes that connection only; the connections after it "
                         "move up one index (the calls above count with the new indices).")
        elif "connect" in kinds:
            lines.append(f"The installed cryosparc-tools ({version}) has no api.jobs.reconnect: connections are "
                         "removed from the last one down, then the new and later ones are connected again in order.")
    return "\n".join(lines)


def describe_plan_calls(plan: Mapping[str, Any], ops: Sequence[Operation]) -> str:
    """:func:`describe_calls` for the project and target a plan names."""
    from ..planfile import plan_target

    try:
        project_uid, job_uid = plan_target(plan)
    except Exception as exc:  # the apply itself refuses such a plan, with this reason
        project = plan.get("project") if isinstance(plan, Mapping) else None
        project_uid = str((project or {}).get("uid") or "(no project uid)") if isinstance(project, Mapping) \
            else "(no project uid)"
        job_uid = str(plan.get("target") or "(no target)") if isinstance(plan, Mapping) else "(no target)"
        return describe_calls(ops, project_uid, job_uid) + f"\nThis plan cannot be applied: {exc}"
    return describe_calls(ops, project_uid, job_uid)


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


def planned_operations(loaded: tuple[InputGroup, ...], current: tuple[InputGroup, ...]) -> list[Operation]:
    """The operations that turn ``loaded`` into ``current``, in place when the installed
    cryosparc-tools can (:func:`in_place_available`), rebuilt otherwise."""
    return operations(loaded, current, in_place=in_place_available())

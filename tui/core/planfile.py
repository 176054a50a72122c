"""The plan file: an edit session saved as versioned JSON, in one place.

A plan names its project (uid and path), the target job (uid and status when saved), every input
of the target with its connections and bindings, and the changes as text. ``csrebind PROJECT
--plan FILE`` reopens one; ``csrebind apply FILE`` sends it to CryoSPARC. Like everything csrebind
writes, a plan goes beside the project, never inside it.

This module knows the format only; the edit session (``session.py``) builds and loads plans
through it, so nothing here imports the session.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

import orjson

from . import untrusted
from .destination import write_file_outside_project
from .errors import ApplyError, PlanError, RefError
from .model import Binding, Connection, InputGroup, Job
from .project import Project
from .refs import ResultRef

PLAN_FORMAT = "csrebind-plan"
PLAN_VERSION = 1


# --- building and checking a plan document ------------------------------------------------------


def plan_document(project: Project, target: Job, inputs: Iterable[InputGroup], changes: Iterable[object]
                  ) -> dict[str, Any]:
    """The plan of ``inputs`` (the session's state) for ``target``; ``changes`` are shown as text."""
    return {
        "format": PLAN_FORMAT,
        "format_version": PLAN_VERSION,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "project": {"uid": project.uid, "path": str(project.path)},
        "target": target.uid,
        "target_status": target.status,
        "inputs": [_input_entry(g) for g in inputs],
        "changes": [str(c) for c in changes],
    }


def _input_entry(group: InputGroup) -> dict[str, Any]:
    return {
        "name": group.name,
        "connections": [
            {
                "job": c.job,
                "output": c.output,
                "bindings": [{"slot": b.slot, "ref": str(b.ref), "dtype": b.dtype} for b in c.bindings],
            }
            for c in group.connections
        ],
    }


# --- reading a plan (untrusted) ------------------------------------------------------------------
#
# A plan comes from a file anyone may have edited, or from a journal: every value is checked here,
# where it is parsed (through :mod:`tui.core.untrusted`), and a bad one is a PlanError in one line
# naming the file and the key path: ``plan.json: inputs[0].connections: expected a list, found 5``.

JOB_UID = re.compile(r"J[0-9]+")


class PlanDocument(dict):
    """A plan document that remembers where it was read: ``file`` (a plan file), ``at`` (its key
    path inside that file: ``sessions[2]`` for a session of a journal), so that every message
    about it names them. A plain dict is a plan too (built in memory, or copied)."""

    file: str | None = None
    at: str = ""

    @classmethod
    def of(cls, document: dict, file: str | None = None, at: str = "") -> "PlanDocument":
        plan = cls(document)
        plan.file, plan.at = file, at
        return plan


def _join(at: str, where: str) -> str:
    if not at or not where:
        return at or where
    return f"{at}{where}" if where.startswith("[") else f"{at}.{where}"


def _refusal(plan: Any, where: str, problem: str, input_name: str | None = None) -> PlanError:
    """The PlanError for a bad value at ``where``: ``FILE: KEY.PATH: problem``. A plan in memory
    has no file: ``plan: KEY.PATH: problem`` (``plan input NAME: …`` inside an input), or for a
    plan that does not fit, ``plan targets J11, not J12 (target)``."""
    file, at = getattr(plan, "file", None), getattr(plan, "at", "")
    path = _join(at, where)
    if file or at or not where:
        return PlanError(": ".join(part for part in (file, path, problem) if part))
    if problem.startswith("plan "):
        return PlanError(f"{problem} ({path})")
    return PlanError(f"{f'plan input {input_name}' if input_name else 'plan'}: {path}: {problem}")


def check_plan_header(plan: Any) -> None:
    if not isinstance(plan, dict) or plan.get("format") != PLAN_FORMAT:
        raise _refusal(plan, "", f"not a csrebind plan (expected \"format\": \"{PLAN_FORMAT}\")")
    version = plan.get("format_version")
    if type(version) is not int or version != PLAN_VERSION:
        raise _refusal(plan, "", f"plan format version {untrusted.describe(version)} is not supported "
                                 f"(this csrebind reads version {PLAN_VERSION})")


def check_plan(plan: Any) -> dict[str, Any]:
    """Every value of a plan document checked (header, project, target, inputs, changes); raises
    PlanError naming the key. Returns the free-text values cleaned (``created``, ``target_status``,
    ``changes``: control characters and lone surrogates replaced), to be put back in the plan."""
    cleaned, _ = _checked(plan)
    return cleaned


def _checked(plan: Any) -> tuple[dict[str, Any], list[tuple[str, str, tuple[Connection, ...]]]]:
    check_plan_header(plan)
    try:
        _project_uid(plan)
        _project_path(plan)
        _target_uid(plan)
        cleaned: dict[str, Any] = {
            "created": untrusted.text(plan.get("created"), "created", 64),
            "target_status": untrusted.text(plan.get("target_status"), "target_status", 64),
            "changes": [untrusted.text(c, f"changes[{i}]", 1000)
                        for i, c in enumerate(untrusted.items(plan.get("changes"), "changes"))],
        }
    except untrusted.Invalid as exc:
        raise _refusal(plan, exc.where, exc.problem) from None
    return {key: value for key, value in cleaned.items() if key in plan}, _inputs(plan)


def _project_uid(plan: dict) -> str | None:
    project = untrusted.fields(plan.get("project"), "project")
    return untrusted.optional_name(project.get("uid"), "project.uid", "project uid")


def _project_path(plan: dict) -> str | None:
    """The project directory the plan was made for (``apply`` opens it when not told another)."""
    path = untrusted.fields(plan.get("project"), "project").get("path")
    return None if path is None or path == "" else untrusted.path_text(path, "project.path", "project directory")


def _target_uid(plan: dict) -> str:
    target = untrusted.name(plan.get("target"), "target", "job uid")
    if not JOB_UID.fullmatch(target):
        raise untrusted.Invalid("target", f"{untrusted.escape(target)} is not a job uid (J followed by a number)")
    return target


def _inputs(plan: dict) -> list[tuple[str, str, tuple[Connection, ...]]]:
    """The plan's inputs as (key path, name, connections), every value checked."""
    try:
        entries = untrusted.items(plan.get("inputs"), "inputs")
    except untrusted.Invalid as exc:
        raise _refusal(plan, exc.where, exc.problem) from None
    inputs: list[tuple[str, str, tuple[Connection, ...]]] = []
    seen: dict[str, str] = {}
    for i, entry in enumerate(entries):
        where, name = f"inputs[{i}]", None
        try:
            if not isinstance(entry, dict):
                raise untrusted.Invalid(where, f"expected an input (an object), found {untrusted.describe(entry)}")
            name = untrusted.name(entry.get("name"), f"{where}.name", "input name")
            if name in seen:
                raise untrusted.Invalid(f"{where}.name", f"input {untrusted.escape(name)} is given twice "
                                                         f"(also {seen[name]})")
            seen[name] = where
            connections = untrusted.items(entry.get("connections"), f"{where}.connections")
            inputs.append((where, name, tuple(_connection(c, f"{where}.connections[{j}]")
                                              for j, c in enumerate(connections))))
        except untrusted.Invalid as exc:
            raise _refusal(plan, exc.where, exc.problem, name) from None
    return inputs


def _connection(entry: Any, where: str) -> Connection:
    if not isinstance(entry, dict):
        raise untrusted.Invalid(where, f"malformed connection: expected an object, found {untrusted.describe(entry)}")
    for required in ("job", "output"):
        if entry.get(required) is None:
            raise untrusted.Invalid(where, f'malformed connection: it has no "{required}"')
    job = untrusted.name(entry["job"], f"{where}.job", "job uid")
    if not JOB_UID.fullmatch(job):
        raise untrusted.Invalid(f"{where}.job", f"{untrusted.escape(job)} is not a job uid (J followed by a number)")
    output = untrusted.name(entry["output"], f"{where}.output", "output name")
    bindings = untrusted.items(entry.get("bindings"), f"{where}.bindings")
    return Connection(job, output, tuple(_binding(b, f"{where}.bindings[{k}]") for k, b in enumerate(bindings)))


def _binding(entry: Any, where: str) -> Binding:
    if not isinstance(entry, dict):
        raise untrusted.Invalid(where, f"malformed binding: expected an object, found {untrusted.describe(entry)}")
    if entry.get("ref") is None:
        raise untrusted.Invalid(where, 'malformed binding: it has no "ref"')
    text = untrusted.name(entry["ref"], f"{where}.ref", "result reference")
    try:
        ref = ResultRef.parse(text)
    except RefError as exc:
        raise untrusted.Invalid(f"{where}.ref", str(exc)) from None
    if isinstance(ref.version, int) and ref.version > untrusted.UINT64_MAX:
        raise untrusted.Invalid(f"{where}.ref", f"{untrusted.escape(text)}: the version is not a version number "
                                                "(outside 0 to 2^64-1)")
    slot = untrusted.optional_name(entry.get("slot"), f"{where}.slot", "slot name")
    dtype = untrusted.optional_name(entry.get("dtype"), f"{where}.dtype", "dtype") or ""
    return Binding(slot, ref, dtype)


def plan_state(project: Project, target: Job, plan: Any) -> tuple[InputGroup, ...]:
    """The inputs of ``target`` as the plan gives them (inputs it does not name stay as loaded).
    Every value of the plan is checked first: a bad one is a PlanError naming its key."""
    _, inputs = _checked(plan)
    plan_project = _project_uid(plan)
    if plan_project and plan_project != project.uid:
        raise _refusal(plan, "project.uid", f"plan is for project {plan_project}, but {project.path} is project {project.uid}")
    plan_target = _target_uid(plan)
    if plan_target != target.uid:
        raise _refusal(plan, "target", f"plan targets {plan_target}, not {target.uid}")
    by_name = {g.name: g for g in target.inputs}
    state = dict(by_name)
    for where, name, connections in inputs:
        if name not in by_name:
            raise _refusal(plan, f"{where}.name", f"plan names input {untrusted.escape(name)}, which {target.uid} does not have")
        state[name] = by_name[name].with_connections(connections)
    return tuple(state[g.name] for g in target.inputs)


def plan_target(plan: Any) -> tuple[str, str]:
    """The CryoSPARC project and job uids a plan applies to (a live instance needs both)."""
    check_plan_header(plan)
    project = (plan.get("project") or {}).get("uid") if isinstance(plan.get("project"), dict) else None
    target = plan.get("target")
    if not isinstance(project, str) or not re.fullmatch(r"P[0-9]+", project):
        raise ApplyError("the plan names no CryoSPARC project uid (e.g. P3); the project's project.json "
                         "must give it before a plan can be applied to a live instance")
    if not isinstance(target, str) or not re.fullmatch(r"J[0-9]+", target):
        raise ApplyError("the plan names no target job uid (e.g. J12)")
    return project, target


# --- files --------------------------------------------------------------------------------------


def write_plan(plan: dict[str, Any], path: str | Path, *, project_dir: Path, force: bool = False) -> Path:
    """Write ``plan`` to ``path``, outside ``project_dir`` and over an existing file only with ``force``."""
    data = orjson.dumps(plan, option=orjson.OPT_INDENT_2) + b"\n"
    return write_file_outside_project(project_dir, path, data, force=force)


def read_plan(path: str | Path) -> PlanDocument:
    """The plan in file ``path``, every value checked; raises PlanError naming the file and the key."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise PlanError(f"{path}: no such plan file") from None
    except OSError as exc:
        raise PlanError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    try:
        document = untrusted.load_document(data, "csrebind plan")
    except untrusted.Invalid as exc:
        raise PlanError(f"{path}: {exc}") from None
    plan = PlanDocument.of(document, file=str(path)) if isinstance(document, dict) else document
    if not isinstance(plan, PlanDocument):
        raise PlanError(f"{path}: not a csrebind plan (expected \"format\": \"{PLAN_FORMAT}\")")
    plan.update(check_plan(plan))
    return plan

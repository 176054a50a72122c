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


def check_plan_header(plan: Any) -> None:
    if not isinstance(plan, dict) or plan.get("format") != PLAN_FORMAT:
        raise PlanError(f"not a csrebind plan (expected \"format\": \"{PLAN_FORMAT}\")")
    version = plan.get("format_version")
    if version != PLAN_VERSION:
        raise PlanError(f"plan format version {version!r} is not supported (this csrebind reads version {PLAN_VERSION})")


def plan_state(project: Project, target: Job, plan: Any) -> tuple[InputGroup, ...]:
    """The inputs of ``target`` as the plan gives them (inputs it does not name stay as loaded)."""
    check_plan_header(plan)
    plan_project = (plan.get("project") or {}).get("uid")
    if plan_project and plan_project != project.uid:
        raise PlanError(f"plan is for project {plan_project}, but {project.path} is project {project.uid}")
    if plan.get("target") != target.uid:
        raise PlanError(f"plan targets {plan.get('target')}, not {target.uid}")
    by_name = {g.name: g for g in target.inputs}
    state = dict(by_name)
    for entry in plan.get("inputs") or []:
        name = entry.get("name") if isinstance(entry, dict) else None
        if name not in by_name:
            raise PlanError(f"plan names input {name!r}, which {target.uid} does not have")
        state[name] = by_name[name].with_connections(tuple(_connection(name, c) for c in entry.get("connections") or []))
    return tuple(state[g.name] for g in target.inputs)


def _connection(input_name: str, entry: Any) -> Connection:
    try:
        bindings = tuple(
            Binding(b.get("slot"), ResultRef.parse(b["ref"]), str(b.get("dtype") or ""))
            for b in entry.get("bindings") or []
        )
        return Connection(str(entry["job"]), str(entry["output"]), bindings)
    except (KeyError, TypeError, AttributeError) as exc:
        raise PlanError(f"plan input {input_name}: malformed connection ({exc})") from None
    except RefError as exc:
        raise PlanError(f"plan input {input_name}: {exc}") from None


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


def read_plan(path: Path) -> dict[str, Any]:
    try:
        document = orjson.loads(Path(path).read_bytes())
    except FileNotFoundError:
        raise PlanError(f"{path}: no such plan file") from None
    except OSError as exc:
        raise PlanError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    except orjson.JSONDecodeError as exc:
        raise PlanError(f"{path}: not valid JSON ({exc})") from None
    try:
        check_plan_header(document)
    except PlanError as exc:
        raise PlanError(f"{path}: {exc}") from None
    return document

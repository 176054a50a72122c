"""Saving and reading plans (the edit session as versioned JSON), and the cryosparc-tools
script that applies one. Both are written beside the project, never inside it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from .atomic import write_bytes_atomic
from .destination import check_file_destination
from .errors import PlanError
from .operations import operations
from .script import render_script
from .session import EditSession, check_plan_header


def _output_path(session: EditSession, path: Path, overwrite: bool) -> Path:
    target = check_file_destination(session.project.path, path, force=overwrite)
    target.parent.mkdir(parents=True, exist_ok=True)
    return target


def write_plan(session: EditSession, path: Path, *, overwrite: bool = False) -> Path:
    data = orjson.dumps(session.to_plan(), option=orjson.OPT_INDENT_2) + b"\n"
    return write_bytes_atomic(_output_path(session, path, overwrite), data, overwrite=overwrite)


def write_script(session: EditSession, path: Path, *, overwrite: bool = False) -> Path:
    """A commented Python script that applies the session with cryosparc-tools."""
    text = render_script(session.to_plan(), operations(session.loaded, session.inputs))
    return write_bytes_atomic(_output_path(session, path, overwrite), text.encode("utf-8"), overwrite=overwrite)


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

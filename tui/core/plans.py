"""Saving and reading plans (the edit session as versioned JSON)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from .atomic import write_bytes_atomic
from .errors import PlanError
from .session import EditSession


def write_plan(session: EditSession, path: Path, *, overwrite: bool = False) -> Path:
    data = orjson.dumps(session.to_plan(), option=orjson.OPT_INDENT_2) + b"\n"
    return write_bytes_atomic(path, data, overwrite=overwrite)


def read_plan(path: Path) -> dict[str, Any]:
    try:
        document = orjson.loads(Path(path).read_bytes())
    except FileNotFoundError:
        raise PlanError(f"{path}: no such plan file") from None
    except OSError as exc:
        raise PlanError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    except orjson.JSONDecodeError as exc:
        raise PlanError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(document, dict):
        raise PlanError(f"{path}: not a csrebind plan")
    return document

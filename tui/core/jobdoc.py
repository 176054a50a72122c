"""Parse one job.json (either schema) into the normalised model.

v4 and earlier: ``input_slot_groups``, ``output_result_groups``, ``output_results``, dotted types.
v5: ``spec.inputs`` / ``spec.outputs``, bare dtypes. Detected per document.
"""

from __future__ import annotations

import json
import math
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import orjson

from .errors import JobDocumentError
from .model import Binding, Connection, InputGroup, InputSlot, Job, OutputGroup, OutputResult
from .refs import FINAL, ResultRef, Version

V4_KEYS = ("input_slot_groups", "output_results", "output_result_groups")


def load_json_bytes(data: bytes) -> Any:
    """orjson for speed; the standard parser as a fallback for the ``Infinity``/``NaN`` tokens
    that MongoDB-style dumps can contain and orjson rejects."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data)


def detect_schema(document: Any) -> str | None:
    if not isinstance(document, dict):
        return None
    if isinstance(document.get("spec"), dict):
        return "v5"
    if any(key in document for key in V4_KEYS):
        return "v4"
    return None


def parse_date(value: Any) -> datetime | None:
    """``{"$date": <int ms>}``, ``{"$date": "<ISO 8601>"}`` or a bare ISO string."""
    if isinstance(value, dict):
        value = value.get("$date")
    try:
        if isinstance(value, (int, float)) and math.isfinite(value):
            return datetime.fromtimestamp(value / 1000, tz=timezone.utc)
        if isinstance(value, str) and value:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
    except (ValueError, OverflowError, OSError):
        return None
    return None


def read_job(job_dir: Path) -> Job:
    """Read ``job_dir/job.json``; any problem makes a *broken* job with a one-line reason."""
    uid = job_dir.name
    path = job_dir / "job.json"
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return Job(uid, error="job.json is missing")
    except OSError as exc:
        return Job(uid, error=f"job.json cannot be read ({exc.strerror or exc})")
    return job_from_bytes(uid, data)


def job_from_bytes(uid: str, data: bytes) -> Job:
    if not data.strip():
        return Job(uid, error="job.json is empty")
    try:
        document = load_json_bytes(data)
    except ValueError as exc:
        return Job(uid, error=f"job.json is not valid JSON (truncated or corrupt: {_first_line(exc)})")
    try:
        return job_from_document(uid, document, data)
    except JobDocumentError as exc:
        return Job(uid, error=str(exc))


def job_from_document(uid: str, document: Any, raw: bytes | None = None) -> Job:
    """The summary fields now; inputs and outputs later, from ``raw`` (the document's bytes)."""
    schema = detect_schema(document)
    if schema is None:
        raise JobDocumentError("job.json is not a job document (no spec, input_slot_groups or output_results)")
    doc_uid = document.get("uid")
    if isinstance(doc_uid, str) and doc_uid and doc_uid != uid:
        raise JobDocumentError(f"job.json describes {doc_uid}, not {uid} (copied from another job?)")
    spec = document["spec"] if schema == "v5" else document
    return Job(
        uid=uid,
        type=_text(spec.get("type") if schema == "v5" else document.get("job_type") or document.get("type")),
        title=_text(document.get("title")),
        status=_text(document.get("status")),
        created_at=parse_date(document.get("created_at")),
        parents=_uids(document.get("parents")),
        children=_uids(document.get("children")),
        workspaces=_uids(document.get("workspace_uids")),
        schema=schema,
        version=_text(document.get("version")).strip(),
        _raw=raw if raw is not None else orjson.dumps(document),
        _parse=parse_io,
    )


def parse_io(raw: bytes, job_uid: str, schema: str | None) -> tuple[tuple[OutputGroup, ...], tuple[InputGroup, ...]]:
    """The outputs and inputs of a job document's bytes (what ``Job`` parses on first use)."""
    document = load_json_bytes(raw)
    return parse_outputs(document, job_uid, schema), parse_inputs(document, schema)


# --- outputs -------------------------------------------------------------------------------


def parse_outputs(document: dict, job_uid: str, schema: str | None) -> tuple[OutputGroup, ...]:
    if schema == "v5":
        outputs = document["spec"].get("outputs") or {}
        return tuple(_v5_output(job_uid, name, out) for name, out in outputs.items())
    results_by_group: dict[str, list[dict]] = {}
    for result in document.get("output_results") or []:
        results_by_group.setdefault(result["group_name"], []).append(result)
    return tuple(
        _v4_output(job_uid, group, results_by_group.get(group["name"], []))
        for group in document.get("output_result_groups") or []
    )


def _v4_output(job_uid: str, group: dict, results: list[dict]) -> OutputGroup:
    group_type = _text(group.get("type"))
    name = group["name"]
    parsed = tuple(
        _result(job_uid, name, group_type, r["name"], _bare_dtype(r.get("type")), r, bool(r.get("passthrough")))
        for r in results
    )
    passthrough = group.get("passthrough")
    return OutputGroup(
        job_uid, name, group_type, _text(group.get("title")), _count(group.get("num_items")), parsed,
        passthrough if isinstance(passthrough, str) else None,
    )


def _v5_output(job_uid: str, name: str, output: dict) -> OutputGroup:
    group_type = _text(output.get("type"))
    parsed = tuple(
        _result(job_uid, name, group_type, r["name"], _text(r.get("dtype")), r, bool(r.get("passthrough")))
        for r in output.get("results") or []
    )
    passthrough = output.get("passthrough")
    return OutputGroup(
        job_uid, name, group_type, _text(output.get("title")), _count(output.get("num_items")), parsed,
        passthrough if isinstance(passthrough, str) else None,
    )


def _result(job: str, output: str, group_type: str, name: str, dtype: str, raw: dict, passthrough: bool) -> OutputResult:
    versions = tuple(int(v) for v in raw.get("versions") or [])
    metafiles = tuple(str(m) for m in raw.get("metafiles") or [])
    return OutputResult(
        job, output, name, dtype, group_type, passthrough, versions, metafiles,
        _per_version_counts(raw.get("num_items"), len(versions)),
    )


def _per_version_counts(value: Any, num_versions: int) -> tuple[int | None, ...]:
    """v5 and the v4 fixtures store a list parallel to ``versions``; v4's type says int, which
    can only describe the final file."""
    if isinstance(value, list):
        counts = [_count(v) for v in value[:num_versions]]
        return tuple(counts + [None] * (num_versions - len(counts)))
    if num_versions == 0:
        return ()
    return (None,) * (num_versions - 1) + (_count(value),)


# --- inputs --------------------------------------------------------------------------------


def parse_inputs(document: dict, schema: str | None) -> tuple[InputGroup, ...]:
    if schema == "v5":
        inputs = document["spec"].get("inputs") or {}
        return tuple(_v5_input(name, spec) for name, spec in inputs.items())
    return tuple(_v4_input(group) for group in document.get("input_slot_groups") or [])


def _v4_input(group: dict) -> InputGroup:
    slots = tuple(
        InputSlot(s["name"], _bare_dtype(s.get("type")), not s.get("optional", False), _text(s.get("title")))
        for s in group.get("slots") or []
    )
    connections = tuple(
        Connection(
            c["job_uid"],
            c["group_name"],
            tuple(
                _binding(e.get("slot_name"), e.get("job_uid") or c["job_uid"], e.get("group_name") or c["group_name"],
                         e["result_name"], _bare_dtype(e.get("result_type")), e.get("version", FINAL))
                for e in c.get("slots") or []
            ),
        )
        for c in group.get("connections") or []
    )
    return _input(group["name"], group, slots, connections)


def _v5_input(name: str, spec: dict) -> InputGroup:
    slots = tuple(
        InputSlot(s["name"], _text(s.get("dtype")), bool(s.get("required", False)), _text(s.get("title")))
        for s in spec.get("slots") or []
    )
    connections = tuple(
        Connection(
            c["job_uid"],
            c["output"],
            tuple(
                _binding(e.get("name"), e.get("job_uid") or c["job_uid"], e.get("output") or c["output"],
                         e["result"], _text(e.get("dtype")), e.get("version", FINAL))
                for e in c.get("results") or []
            ),
        )
        for c in spec.get("connections") or []
    )
    return _input(name, spec, slots, connections)


def _input(name: str, spec: dict, slots: tuple[InputSlot, ...], connections: tuple[Connection, ...]) -> InputGroup:
    return InputGroup(
        name=name,
        type=_text(spec.get("type")),
        title=_text(spec.get("title")),
        slots=slots,
        connections=connections,
        count_min=_count(spec.get("count_min")) or 0,
        count_max=normalise_count_max(spec.get("count_max")),
        repeat_allowed=bool(spec.get("repeat_allowed", False)),
    )


def _binding(slot: Any, job: str, output: str, result: str, dtype: str, version: Any) -> Binding:
    return Binding(slot if isinstance(slot, str) and slot else None, ResultRef(job, output, result, _version(version)), dtype)


def normalise_count_max(value: Any) -> int | None:
    """None, 0, infinity and ``"inf"`` all mean unlimited (cryosparc-tools ``print_input_spec``)."""
    if value is None or isinstance(value, str):
        return None if value in (None, "inf", "Infinity", "") else _count(value)
    if isinstance(value, (int, float)) and (not math.isfinite(value) or value <= 0):
        return None
    return int(value)


def _version(value: Any) -> Version:
    if value is None or value == FINAL:
        return FINAL
    if isinstance(value, str) and value.isdigit():
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    raise ValueError(f"connection version {value!r} is neither F nor an iteration number")


def _bare_dtype(value: Any) -> str:
    """``particle.blob`` → ``blob`` (v4 types carry the group type as a prefix)."""
    text = _text(value)
    return text.split(".", 1)[1] if "." in text else text


def _count(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return int(value)
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _uids(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(v for v in value if isinstance(v, str))


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__

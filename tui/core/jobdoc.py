"""Parse one job.json (either schema) into the normalised model.

v4 and earlier: ``input_slot_groups``, ``output_result_groups``, ``output_results``, dotted types.
v5: ``spec.inputs`` / ``spec.outputs``, bare dtypes. Detected per document.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import Any, Callable, NamedTuple

import orjson

from . import untrusted
from .errors import JobDocumentError
from .fastdoc import NotFast, fast_io
from .gcpause import gc_paused
from .model import Binding, Connection, InputGroup, InputSlot, Job, OutputGroup, OutputResult
from .refs import FINAL, ResultRef, Version
from .untrusted import Invalid, describe, fields, flag, items, key, name, optional_name, text, uint

V4_KEYS = ("input_slot_groups", "output_results", "output_result_groups")


def load_json_bytes(data: bytes) -> Any:
    """orjson for speed; the standard parser as a fallback for the ``Infinity``/``NaN`` tokens
    that MongoDB-style dumps can contain and orjson rejects. Deep documents are refused (see
    :func:`untrusted.load_json`); raises ValueError (:class:`untrusted.Invalid`)."""
    return untrusted.load_json(data)


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


def job_from_bytes(uid: str, data: bytes) -> Job:
    if not data.strip():
        return Job(uid, error="job.json is empty")
    try:
        document = load_json_bytes(data)
    except Invalid as exc:
        reason = str(exc)
        return Job(uid, error=f"job.json is {reason}" if reason.startswith("not valid") else f"{uid}/job.json: {reason}")
    try:
        return job_from_document(uid, document, data)
    except JobDocumentError as exc:
        return Job(uid, error=str(exc))


def job_from_document(uid: str, document: Any, raw: bytes | None = None) -> Job:
    """The summary fields now (checked: a bad one makes a broken job naming its key); inputs and
    outputs later, from ``raw`` (the document's bytes)."""
    schema = detect_schema(document)
    if schema is None:
        raise JobDocumentError("job.json is not a job document (no spec, input_slot_groups or output_results)")
    try:
        doc_uid = untrusted.optional_name(document.get("uid"), "uid", "job uid")
        if doc_uid and doc_uid != uid:
            raise JobDocumentError(f"job.json describes {doc_uid}, not {uid} (copied from another job?)")
        spec = document["spec"] if schema == "v5" else document
        if schema == "v5":
            job_type = text(spec.get("type"), "spec.type")
        else:
            job_type = text(document.get("job_type"), "job_type") or text(document.get("type"), "type")
        return Job(
            uid=uid,
            type=job_type,
            title=text(document.get("title"), "title"),
            status=text(document.get("status"), "status"),
            created_at=parse_date(document.get("created_at")),
            parents=untrusted.names(document.get("parents"), "parents", "job uid"),
            children=untrusted.names(document.get("children"), "children", "job uid"),
            workspaces=untrusted.names(document.get("workspace_uids"), "workspace_uids", "workspace uid"),
            schema=schema,
            version=text(document.get("version"), "version", 100).strip(),
            _load=_in_memory(raw if raw is not None else orjson.dumps(document)),
        )
    except Invalid as exc:
        raise JobDocumentError(f"{uid}/job.json: {exc}") from None


def _in_memory(raw: bytes):
    """The loader of a document given as bytes (parsed when first used, then let go)."""
    return lambda job: parse_io(raw, job.uid, job.schema)


def parse_io(raw: bytes, job_uid: str, schema: str | None) -> tuple[tuple[OutputGroup, ...], ParsedInputs]:
    """The outputs and inputs of a job document's bytes (what ``Job`` parses on first use). Every
    value is checked as it is read: a bad one raises JobDocumentError naming the file and key
    (``J12/job.json: output_results[3].versions[0]: Infinity is not a version number``).

    The inputs come as a function that checks and makes them, when the typed decoder took the
    document: only a job being edited, or listed with ``csrebind inputs``, needs them, and a
    search through every job's outputs (``candidates``) spent a third of its time on them."""
    return _checked(job_uid, _parse_io, raw, job_uid, schema)


def _checked(job_uid: str, parse: Callable, *args: Any) -> Any:
    """``parse(*args)`` on a part of ``job_uid``'s document, with the collector paused (120,000
    results make as many objects, and no garbage); a bad value is a JobDocumentError naming the file."""
    try:
        with gc_paused():
            return parse(*args)
    except Invalid as exc:
        raise JobDocumentError(f"{job_uid}/job.json: {exc}") from None


# The inputs of a parsed document, or the function that checks and makes them.
ParsedInputs = tuple[InputGroup, ...] | Callable[[], tuple[InputGroup, ...]]


def _parse_io(raw: bytes, job_uid: str, schema: str | None) -> tuple[tuple[OutputGroup, ...], ParsedInputs]:
    """Typed structs first (:mod:`fastdoc`); the value-by-value checks when they cannot decide."""
    try:
        outputs, inputs = fast_io(raw, job_uid, schema)
    except NotFast:  # the careful way: it accepts the document or says where it is wrong
        document = load_json_bytes(raw)
        return parse_outputs(document, job_uid, schema), parse_inputs(document, schema)
    return outputs, lambda: _checked(job_uid, parse_inputs, inputs, schema)


# --- outputs -------------------------------------------------------------------------------
# Both schemas are read by the same checks (module untrusted); ``where`` is the key path so far.


def parse_outputs(document: dict, job_uid: str, schema: str | None) -> tuple[OutputGroup, ...]:
    if schema == "v5":
        where = "spec.outputs"
        outputs = fields(fields(document.get("spec"), "spec").get("outputs"), where)
        return tuple(
            _v5_output(job_uid, name(out_name, where, "output name"), fields(out, key(where, out_name)), key(where, out_name))
            for out_name, out in outputs.items()
        )
    results_by_group: dict[str, list[tuple[dict, str]]] = {}
    for i, result in enumerate(items(document.get("output_results"), "output_results")):
        where = f"output_results[{i}]"
        result = fields(result, where)
        group = name(result.get("group_name"), f"{where}.group_name", "group name")
        results_by_group.setdefault(group, []).append((result, where))
    groups = []
    for i, group in enumerate(items(document.get("output_result_groups"), "output_result_groups")):
        where = f"output_result_groups[{i}]"
        group = fields(group, where)
        group_name = name(group.get("name"), f"{where}.name", "group name")
        groups.append(_v4_output(job_uid, group_name, group, where, results_by_group.get(group_name, [])))
    return tuple(groups)


def _v4_output(job_uid: str, group_name: str, group: dict, where: str, results: list[tuple[dict, str]]) -> OutputGroup:
    group_type = text(group.get("type"), f"{where}.type", 100)
    parsed = tuple(
        _result(job_uid, group_name, group_type, r, at, _bare_dtype(text(r.get("type"), f"{at}.type", 200)))
        for r, at in results
    )
    return _output(job_uid, group_name, group_type, group, where, parsed)


def _v5_output(job_uid: str, out_name: str, output: dict, where: str) -> OutputGroup:
    group_type = text(output.get("type"), f"{where}.type", 100)
    parsed = []
    for i, r in enumerate(items(output.get("results"), f"{where}.results")):
        at = f"{where}.results[{i}]"
        r = fields(r, at)
        parsed.append(_result(job_uid, out_name, group_type, r, at, text(r.get("dtype"), f"{at}.dtype", 200)))
    return _output(job_uid, out_name, group_type, output, where, tuple(parsed))


def _output(job_uid: str, group_name: str, group_type: str, raw: dict, where: str,
            results: tuple[OutputResult, ...]) -> OutputGroup:
    passthrough = raw.get("passthrough")
    return OutputGroup(
        job_uid, group_name, group_type, text(raw.get("title"), f"{where}.title"),
        _count(raw.get("num_items"), f"{where}.num_items"), results,
        untrusted.optional_name(passthrough, f"{where}.passthrough", "input name") if isinstance(passthrough, str) else None,
    )


def _result(job: str, output: str, group_type: str, raw: dict, where: str, dtype: str) -> OutputResult:
    result_name = name(raw.get("name"), f"{where}.name", "result name")
    versions = untrusted.uints(raw.get("versions"), f"{where}.versions", "version number")
    metafiles = untrusted.relative_paths(raw.get("metafiles"), f"{where}.metafiles")
    return OutputResult(
        job, output, result_name, dtype, group_type, flag(raw.get("passthrough"), f"{where}.passthrough"),
        versions, metafiles, _per_version_counts(raw.get("num_items"), len(versions), f"{where}.num_items"),
    )


def _per_version_counts(value: Any, num_versions: int, where: str) -> tuple[int | None, ...]:
    """v5 and the v4 fixtures store a list parallel to ``versions``; v4's type says int, which
    can only describe the final file."""
    if isinstance(value, list):
        head = value[:num_versions]
        counts = [v if type(v) is int and 0 <= v <= untrusted.UINT64_MAX else _count(v, f"{where}[{i}]")
                  for i, v in enumerate(head)]
        return tuple(counts + [None] * (num_versions - len(counts)))
    if num_versions == 0:
        return ()
    return (None,) * (num_versions - 1) + (_count(value, where),)


# --- inputs --------------------------------------------------------------------------------


def parse_inputs(document: dict, schema: str | None) -> tuple[InputGroup, ...]:
    if schema == "v5":
        where = "spec.inputs"
        inputs = fields(fields(document.get("spec"), "spec").get("inputs"), where)
        return tuple(
            _input(name(in_name, where, "input name"), fields(spec, key(where, in_name)), key(where, in_name), _V5_INPUT)
            for in_name, spec in inputs.items()
        )
    groups = []
    for i, group in enumerate(items(document.get("input_slot_groups"), "input_slot_groups")):
        where = f"input_slot_groups[{i}]"
        group = fields(group, where)
        groups.append(_input(name(group.get("name"), f"{where}.name", "input name"), group, where, _V4_INPUT))
    return tuple(groups)


class _InputKeys(NamedTuple):
    """Where each schema keeps an input's parts: the same structure under other names."""

    slot_dtype: str
    slot_required: str
    says_optional: bool  # v4: slot_required is "optional", the opposite
    qualified_dtypes: bool  # v4: "particle.blob" for "blob"
    connection_output: str
    connection_results: str
    result_slot: str
    result_output: str
    result_name: str
    result_dtype: str


_V4_INPUT = _InputKeys("type", "optional", True, True, "group_name", "slots", "slot_name", "group_name", "result_name",
                       "result_type")
_V5_INPUT = _InputKeys("dtype", "required", False, False, "output", "results", "name", "output", "result", "dtype")


def _dtype(value: Any, where: str, keys: _InputKeys) -> str:
    dtype = text(value, where, 200)
    return _bare_dtype(dtype) if keys.qualified_dtypes else dtype


def _input(in_name: str, spec: dict, where: str, keys: _InputKeys) -> InputGroup:
    slots = []
    for i, s in enumerate(items(spec.get("slots"), f"{where}.slots")):
        at = f"{where}.slots[{i}]"
        s = fields(s, at)
        flagged = flag(s.get(keys.slot_required, False), f"{at}.{keys.slot_required}")
        slots.append(InputSlot(
            name(s.get("name"), f"{at}.name", "slot name"),
            _dtype(s.get(keys.slot_dtype), f"{at}.{keys.slot_dtype}", keys),
            flagged != keys.says_optional, text(s.get("title"), f"{at}.title"),
        ))
    connections = []
    for i, c in enumerate(items(spec.get("connections"), f"{where}.connections")):
        at = f"{where}.connections[{i}]"
        c = fields(c, at)
        job = name(c.get("job_uid"), f"{at}.job_uid", "job uid")
        output = name(c.get(keys.connection_output), f"{at}.{keys.connection_output}", "output name")
        bindings = []
        for j, e in enumerate(items(c.get(keys.connection_results), f"{at}.{keys.connection_results}")):
            entry = f"{at}.{keys.connection_results}[{j}]"
            e = fields(e, entry)
            bindings.append(_binding(
                optional_name(e.get(keys.result_slot), f"{entry}.{keys.result_slot}", "slot name"),
                optional_name(e.get("job_uid"), f"{entry}.job_uid", "job uid") or job,
                optional_name(e.get(keys.result_output), f"{entry}.{keys.result_output}", "output name") or output,
                name(e.get(keys.result_name), f"{entry}.{keys.result_name}", "result name"),
                _dtype(e.get(keys.result_dtype), f"{entry}.{keys.result_dtype}", keys),
                e.get("version", FINAL), f"{entry}.version",
            ))
        connections.append(Connection(job, output, tuple(bindings)))
    return InputGroup(
        name=in_name,
        type=text(spec.get("type"), f"{where}.type", 100),
        title=text(spec.get("title"), f"{where}.title"),
        slots=tuple(slots),
        connections=tuple(connections),
        count_min=_count(spec.get("count_min"), f"{where}.count_min") or 0,
        count_max=_count_max(spec.get("count_max"), f"{where}.count_max"),
        repeat_allowed=flag(spec.get("repeat_allowed", False), f"{where}.repeat_allowed"),
    )


def _binding(slot: str | None, job: str, output: str, result: str, dtype: str, version: Any, where: str) -> Binding:
    return Binding(slot, ResultRef(job, output, result, _version(version, where)), dtype)


def normalise_count_max(value: Any) -> int | None:
    """None, 0, infinity and ``"inf"`` all mean unlimited (cryosparc-tools ``print_input_spec``)."""
    return _count_max(value, "count_max")


def _count_max(value: Any, where: str) -> int | None:
    if value is None or value in ("inf", "Infinity", ""):
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool) and (value <= 0 or value == math.inf):
        return None  # 0, negative and Infinity: unlimited, as before
    count = uint(value, where, "connection count")
    return count or None


def _version(value: Any, where: str = "version") -> Version:
    if value is None or value == FINAL:
        return FINAL
    try:
        return uint(value, where, "version")
    except Invalid:
        raise Invalid(where, f"connection version {describe(value)} is neither F nor an iteration number") from None


def _bare_dtype(value: str) -> str:
    """``particle.blob`` → ``blob`` (v4 types carry the group type as a prefix)."""
    return value.split(".", 1)[1] if "." in value else value


def _count(value: Any, where: str = "num_items") -> int | None:
    """A row count: null (unknown) or a non-negative 64-bit integer; NaN, Infinity, negative,
    fractional and out-of-range values are refused."""
    if value is None:
        return None
    return uint(value, where, "row count")

"""Build CryoSPARC documents (job.json, project.json, workspaces.json) from a neutral description.

One description renders in either schema (cryosparc-data.md §3): ``"v4"`` (``input_slot_groups``,
``output_result_groups``, ``output_results``, dotted types) or ``"v5"`` (a ``spec`` with bare
dtypes, matching cryosparc-tools' pydantic ``Job`` model). No public real job.json exists, so these
documents are the team's model of one: the demo project and the synthetic benchmark projects are
both written from here.

Dates are MongoDB extended JSON, ``{"$date": ...}``. Both forms occur in real dumps (§3.1), so
``created_at``-like stamps use an ISO string and event stamps (``completed_at``, ...) integer
milliseconds; readers must accept both.

Pure: no textual, no rich, no file I/O.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any, Literal, Union

Schema = Literal["v4", "v5"]
DocVersion = Union[int, Literal["F"]]

SCHEMAS: tuple[str, ...] = ("v4", "v5")
JOB_STATUSES: tuple[str, ...] = (
    "building", "queued", "launched", "started", "running", "waiting", "completed", "killed", "failed",
)
CRYOSPARC_VERSION = {"v4": "v4.7.1", "v5": "v5.0.0"}


# --- the neutral description -------------------------------------------------------------------


@dataclass(frozen=True)
class DocResult:
    """One output result; ``versions``, ``metafiles`` and ``num_items`` are parallel lists."""

    name: str
    dtype: str
    versions: tuple[int, ...] = ()
    metafiles: tuple[str, ...] = ()
    num_items: tuple[int, ...] = ()
    passthrough: bool = False
    title: str = ""


@dataclass(frozen=True)
class DocOutput:
    name: str
    type: str
    title: str
    results: tuple[DocResult, ...] = ()
    passthrough_input: str | None = None
    num_items: int | None = None  # None: the final row count of the first result that has one
    description: str = ""
    summary: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DocSlot:
    name: str
    dtype: str
    required: bool = True
    title: str = ""


@dataclass(frozen=True)
class DocConnResult:
    """One entry of a connection: the slot it fills (None: passthrough) and its source result."""

    slot: str | None
    job_uid: str
    output: str
    result: str
    dtype: str
    version: DocVersion = "F"


@dataclass(frozen=True)
class DocConnection:
    job_uid: str
    output: str
    results: tuple[DocConnResult, ...] = ()


@dataclass(frozen=True)
class DocInput:
    name: str
    type: str
    title: str
    slots: tuple[DocSlot, ...] = ()
    connections: tuple[DocConnection, ...] = ()
    count_min: int = 1
    count_max: int | None = None  # None: unlimited
    repeat_allowed: bool = False
    description: str = ""


@dataclass(frozen=True)
class DocJob:
    uid: str
    type: str
    title: str
    status: str
    created_at: datetime
    parents: tuple[str, ...] = ()
    children: tuple[str, ...] = ()
    workspaces: tuple[str, ...] = ("W1",)
    inputs: tuple[DocInput, ...] = ()
    outputs: tuple[DocOutput, ...] = ()
    params: Mapping[str, Any] = field(default_factory=dict)  # values the user set
    param_defaults: Mapping[str, Any] = field(default_factory=dict)  # the job type's base values
    events: Mapping[str, datetime] = field(default_factory=dict)  # queued_at, completed_at, ...
    description: str = ""
    errors: tuple[str, ...] = ()  # run errors of a failed job
    interactive: bool = False
    created_by_user_id: str = "64aa00000000000000000001"


@dataclass(frozen=True)
class DocWorkspace:
    uid: str
    title: str
    created_at: datetime
    description: str = ""


@dataclass(frozen=True)
class DocProject:
    uid: str
    title: str
    project_dir: str
    created_at: datetime
    description: str = ""
    owner_user_id: str = "64aa00000000000000000001"
    detached: bool = False
    archived: bool = False


# --- helpers for describing jobs ---------------------------------------------------------------


def connect_output(
    job_uid: str, output: DocOutput, slots: Sequence[DocSlot], version: DocVersion = "F"
) -> DocConnection:
    """Connect a whole output to an input the way a group connect does (unconfirmed, §6.3): each
    slot takes the same-name result of its dtype, else the first result of that dtype; every
    result left over is carried as a passthrough entry with no slot name."""
    used: set[str] = set()
    entries = []
    for slot in slots:
        result = _match_result(output.results, slot, used)
        if result is not None:
            used.add(result.name)
            entries.append(DocConnResult(slot.name, job_uid, output.name, result.name, result.dtype, version))
    entries += [
        DocConnResult(None, job_uid, output.name, r.name, r.dtype, version)
        for r in output.results if r.name not in used
    ]
    return DocConnection(job_uid, output.name, tuple(entries))


def doc_slots(*names: str, dtypes: Mapping[str, str] | None = None) -> tuple[DocSlot, ...]:
    """Slots in cryosparc-tools shorthand: ``"ctf"`` is required, ``"?ctf"`` optional; the dtype is the
    name unless ``dtypes`` says otherwise (e.g. a volume's ``map`` slot takes ``blob``)."""
    dtypes = dtypes or {}
    return tuple(
        DocSlot(name.lstrip("?"), dtypes.get(name.lstrip("?"), name.lstrip("?")), not name.startswith("?"))
        for name in names
    )


def parents_of(inputs: Iterable[DocInput]) -> tuple[str, ...]:
    """The jobs an input connection or any of its entries comes from, in first-seen order."""
    return tuple(dict.fromkeys(
        uid for i in inputs for c in i.connections for uid in (c.job_uid, *(r.job_uid for r in c.results))
    ))


def _match_result(results: Sequence[DocResult], slot: DocSlot, used: set[str]) -> DocResult | None:
    free = [r for r in results if r.dtype == slot.dtype and r.name not in used]
    same_name = [r for r in free if r.name == slot.name]
    return (same_name or free or [None])[0]


def with_children(jobs: Iterable[DocJob]) -> list[DocJob]:
    """Fill each job's ``children`` from every other job's ``parents``."""
    jobs = list(jobs)
    children: dict[str, list[str]] = {job.uid: [] for job in jobs}
    for job in jobs:
        for parent in job.parents:
            children.setdefault(parent, []).append(job.uid)
    return [replace(job, children=tuple(children[job.uid])) for job in jobs]


def object_id(*parts: object) -> str:
    """A stable 24-hex MongoDB-style ``_id`` derived from ``parts`` (documents are reproducible)."""
    return hashlib.md5("/".join(map(str, parts)).encode()).hexdigest()[:24]


def iso_date(moment: datetime) -> dict:
    return {"$date": _utc(moment).isoformat(timespec="milliseconds").replace("+00:00", "Z")}


def ms_date(moment: datetime) -> dict:
    return {"$date": int(_utc(moment).timestamp() * 1000)}


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def uid_number(uid: str) -> int:
    """``"J42"`` → 42."""
    return int(uid.lstrip("JPWS"))


def final_count(result: DocResult) -> int | None:
    return result.num_items[-1] if result.num_items else None


def output_count(output: DocOutput) -> int:
    if output.num_items is not None:
        return output.num_items
    counts = [final_count(r) for r in output.results if r.num_items]
    return counts[0] if counts else 0


# --- titles and fields -------------------------------------------------------------------------

RESULT_TITLES = {
    "blob": "Particle data", "ctf": "CTF", "location": "Particle locations", "pick_stats": "Pick statistics",
    "alignments2D": "2D alignments", "alignments3D": "3D alignments", "movie_blob": "Movie data",
    "gain_ref_blob": "Gain reference", "mscope_params": "Microscope parameters",
    "micrograph_blob": "Micrograph data", "micrograph_blob_non_dw": "Non-dose-weighted micrograph data",
    "background_blob": "Background estimate", "rigid_motion": "Rigid motion trajectories",
    "spline_motion": "Spline motion trajectories", "micrograph_thumbnail_blob_1x": "Micrograph thumbnail (1x)",
    "micrograph_thumbnail_blob_2x": "Micrograph thumbnail (2x)", "ctf_stats": "CTF statistics",
    "map": "Volume data", "map_half_A": "Half map A", "map_half_B": "Half map B", "map_sharp": "Sharpened map",
    "mask_refine": "Refinement mask", "mask_fsc": "FSC mask", "mask_fsc_auto": "Auto-tightened FSC mask",
    "sym_expand": "Symmetry expansion",
}
GROUP_BLOB_TITLES = {"volume": "Volume data", "template": "Template images", "mask": "Mask data"}

_STR = "O"  # min_fields spell string fields as Python objects (cryosparc-tools 4.7.1 fixtures)
_IMAGE = [("path", _STR), ("idx", "u4"), ("shape", "2u4"), ("psize_A", "f4")]
_VOLUME = [("path", _STR), ("shape", "3u4"), ("psize_A", "f4")]
_ALIGN = [("split", "u4"), ("shift", "2f4"), ("psize_A", "f4"), ("error", "f4"), ("class_posterior", "f4"),
          ("class", "u4"), ("class_ess", "f4")]
_MOTION = [("type", _STR), ("path", _STR), ("idx", "u4"), ("frame_start", "u4"), ("frame_end", "u4"),
           ("zero_shift_frame", "u4"), ("psize_A", "f4")]
_THUMB = [("path", _STR), ("idx", "u4"), ("shape", "2u4"), ("format", _STR), ("binfactor", "u4"),
          ("micrograph_path", _STR), ("vmin", "f4"), ("vmax", "f4")]
MIN_FIELDS: dict[str, list[tuple[str, str]]] = {
    "blob": _IMAGE + [("sign", "f4"), ("import_sig", "u8")],
    "ctf": [("type", _STR), ("exp_group_id", "u4"), ("accel_kv", "f4"), ("cs_mm", "f4"), ("amp_contrast", "f4"),
            ("df1_A", "f4"), ("df2_A", "f4"), ("df_angle_rad", "f4"), ("phase_shift_rad", "f4")],
    "location": [("micrograph_uid", "u8"), ("exp_group_id", "u4"), ("micrograph_path", _STR),
                 ("micrograph_shape", "2u4"), ("center_x_frac", "f4"), ("center_y_frac", "f4")],
    "pick_stats": [("ncc_score", "f4"), ("power", "f4"), ("template_idx", "u4"), ("angle_rad", "f4")],
    "alignments2D": _ALIGN[:1] + [("shift", "2f4"), ("pose", "f4")] + _ALIGN[2:],
    "alignments3D": _ALIGN[:1] + [("shift", "2f4"), ("pose", "3f4")] + _ALIGN[2:],
    "sym_expand": [("idx", "u4"), ("src_uid", "u8")],
    "movie_blob": [("path", _STR), ("shape", "3u4"), ("psize_A", "f4"), ("is_gain_corrected", "u4"),
                   ("format", _STR), ("has_defect_file", "u4"), ("import_sig", "u8")],
    "gain_ref_blob": [("path", _STR), ("idx", "u4"), ("shape", "2u4"), ("flip_x", "u4"), ("flip_y", "u4"),
                      ("rotate_num", "u4")],
    "mscope_params": [("accel_kv", "f4"), ("cs_mm", "f4"), ("total_dose_e_per_A2", "f4"), ("phase_plate", "u4"),
                      ("neg_stain", "u4"), ("exp_group_id", "u4"), ("defect_path", _STR)],
    "micrograph_blob": _IMAGE + [("format", _STR), ("is_background_subtracted", "u4"), ("vmin", "f4"),
                                 ("vmax", "f4"), ("import_sig", "u8")],
    "stat_blob": [("path", _STR), ("idx", "u4"), ("binfactor", "u4"), ("shape", "2u4"), ("psize_A", "f4")],
    "motion": _MOTION,
    "thumbnail_blob": _THUMB,
    "ctf_stats": [("type", _STR), ("cross_corr", "f4"), ("ctf_fit_to_A", "f4"), ("df_range", "2f4"),
                  ("diag_image_path", _STR), ("fit_data_path", _STR), ("ice_thickness_rel", "f4")],
    "mask": _VOLUME,
}


def min_fields(group_type: str, dtype: str) -> list[list[str]]:
    """The v4 ``min_fields`` pairs for a result; volumes and templates have their own blob shape."""
    if dtype == "blob" and group_type in ("volume", "mask"):
        fields = _VOLUME
    elif dtype == "blob" and group_type == "template":
        fields = _IMAGE
    else:
        fields = MIN_FIELDS.get(dtype, [])
    return [list(pair) for pair in fields]


def result_title(group_type: str, result: DocResult) -> str:
    if result.title:
        return result.title
    if result.name == "blob" and group_type in GROUP_BLOB_TITLES:
        return GROUP_BLOB_TITLES[group_type]
    return RESULT_TITLES.get(result.name) or result.name.replace("_", " ").capitalize()


def slot_title(group_type: str, slot: DocSlot) -> str:
    return slot.title or result_title(group_type, DocResult(slot.name, slot.dtype))


# --- job.json ----------------------------------------------------------------------------------


def job_document(job: DocJob, project_uid: str, schema: Schema = "v4") -> dict:
    """The job.json a CryoSPARC of that schema would dump for ``job``."""
    if schema == "v4":
        return _v4_job(job, project_uid)
    if schema == "v5":
        return _v5_job(job, project_uid)
    raise ValueError(f"unknown schema {schema!r}; expected one of {SCHEMAS}")


def _identity(job: DocJob, project_uid: str) -> dict:
    return {
        "_id": object_id(project_uid, job.uid),
        "uid": job.uid,
        "uid_num": uid_number(job.uid),
        "project_uid": project_uid,
        "project_uid_num": uid_number(project_uid),
        "workspace_uids": list(job.workspaces),
    }


def _common(job: DocJob) -> dict:
    return {
        "title": job.title,
        "description": job.description,
        "status": job.status,
        "created_at": iso_date(job.created_at),
        "created_by_user_id": job.created_by_user_id,
        "deleted": False,
        "parents": list(job.parents),
        "children": list(job.children),
        **{name: ms_date(moment) for name, moment in job.events.items()},
    }


def _v4_job(job: DocJob, project_uid: str) -> dict:
    outputs = _v4_outputs(job)
    return {
        **_identity(job, project_uid),
        "type": job.type,
        "job_type": job.type,
        **_common(job),
        "version": CRYOSPARC_VERSION["v4"],
        "interactive": job.interactive,
        "errors_run": [{"message": message, "warning": False} for message in job.errors],
        "params_base": _v4_params_base(job.param_defaults),
        "params_spec": {name: {"value": value} for name, value in job.params.items()},
        "params_secs": {"general": {"title": "General settings", "desc": "", "order": 0}} if job.param_defaults else {},
        "input_slot_groups": [_v4_input(job, i) for i in job.inputs],
        **outputs,
    }


def _v4_params_base(defaults: Mapping[str, Any]) -> dict:
    return {
        name: {
            "value": value, "title": name.replace("_", " ").capitalize(), "desc": "", "order": order,
            "section": "general", "advanced": order >= 10, "hidden": False, "type": _param_type(value),
        }
        for order, (name, value) in enumerate(defaults.items())
    }


def _param_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    return "number" if isinstance(value, (int, float)) else "string"


def _v4_input(job: DocJob, spec: DocInput) -> dict:
    return {
        "type": spec.type,
        "name": spec.name,
        "title": spec.title,
        "description": spec.description,
        "count_min": spec.count_min,
        "count_max": spec.count_max,
        "repeat_allowed": spec.repeat_allowed,
        "slots": [
            {"type": f"{spec.type}.{s.dtype}", "name": s.name, "title": slot_title(spec.type, s), "description": "",
             "optional": not s.required}
            for s in spec.slots
        ],
        "connections": [
            {"job_uid": c.job_uid, "group_name": c.output, "slots": [_v4_conn_result(spec.type, r) for r in c.results]}
            for c in spec.connections
        ],
    }


def _v4_conn_result(group_type: str, entry: DocConnResult) -> dict:
    return {
        "slot_name": entry.slot,
        "job_uid": entry.job_uid,
        "group_name": entry.output,
        "result_name": entry.result,
        "result_type": f"{group_type}.{entry.dtype}",
        "version": entry.version,
    }


def _v4_outputs(job: DocJob) -> dict:
    """``output_result_groups`` (``J42-G1``) and the flattened ``output_results`` (``J42-R1``),
    numbered through the whole job."""
    groups, results = [], []
    for number, output in enumerate(job.outputs, start=1):
        contains = []
        for result in output.results:
            uid = f"{job.uid}-R{len(results) + 1}"
            contains.append({"uid": uid, "type": f"{output.type}.{result.dtype}", "name": result.name,
                             "group_name": output.name, "passthrough": result.passthrough})
            results.append(_v4_result(uid, output, result))
        groups.append({
            "uid": f"{job.uid}-G{number}", "type": output.type, "name": output.name, "title": output.title,
            "description": output.description, "contains": contains,
            "passthrough": output.passthrough_input or False, "num_items": output_count(output),
            "summary": dict(output.summary), "latest_summary_stats": {},
        })
    return {"output_result_groups": groups, "output_results": results}


def _v4_result(uid: str, output: DocOutput, result: DocResult) -> dict:
    return {
        "uid": uid,
        "type": f"{output.type}.{result.dtype}",
        "name": result.name,
        "group_name": output.name,
        "title": result_title(output.type, result),
        "description": "",
        "passthrough": result.passthrough,
        "min_fields": min_fields(output.type, result.dtype),
        "versions": list(result.versions),
        "num_items": list(result.num_items),
        "metafiles": list(result.metafiles),
    }


def _v5_job(job: DocJob, project_uid: str) -> dict:
    dumped = max([job.created_at, *job.events.values()])
    return {
        **_identity(job, project_uid),
        "job_dir": job.uid,
        "job_dir_size": 0,
        "job_dir_size_last_updated": iso_date(dumped),
        **_common(job),
        "status_num": JOB_STATUSES.index(job.status) if job.status in JOB_STATUSES else 0,
        "build_errors": [],
        "errors_run": [{"message": message, "warning": False} for message in job.errors],
        "version_created": CRYOSPARC_VERSION["v5"],
        "version": CRYOSPARC_VERSION["v5"],
        "spec": {
            "type": job.type,
            "params": {**job.param_defaults, **job.params},
            "inputs": {i.name: _v5_input(i) for i in job.inputs},
            "outputs": {o.name: _v5_output(o) for o in job.outputs},
            "ui_tile_width": 1,
            "ui_tile_height": 1,
            "resource_spec": {"cpu": 4, "gpu": 1 if job.outputs or job.inputs else 0, "ram": 3, "ssd": False},
        },
        "dumped_at": iso_date(dumped),
        "last_dumped_version": CRYOSPARC_VERSION["v5"],
        "autodump": False,
    }


def _v5_input(spec: DocInput) -> dict:
    return {
        "type": spec.type,
        "title": spec.title,
        "description": spec.description,
        "count_min": spec.count_min,
        "count_max": "inf" if spec.count_max is None else spec.count_max,
        "repeat_allowed": spec.repeat_allowed,
        "slots": [{"name": s.name, "dtype": s.dtype, "required": s.required} for s in spec.slots],
        "connections": [
            {"job_uid": c.job_uid, "output": c.output, "results": [_v5_conn_result(r) for r in c.results]}
            for c in spec.connections
        ],
    }


def _v5_conn_result(entry: DocConnResult) -> dict:
    return {
        "name": entry.slot,
        "dtype": entry.dtype,
        "job_uid": entry.job_uid,
        "output": entry.output,
        "result": entry.result,
        "version": entry.version,
    }


def _v5_output(output: DocOutput) -> dict:
    return {
        "type": output.type,
        "title": output.title,
        "description": output.description,
        "slots": [{"name": r.name, "dtype": r.dtype} for r in output.results if not r.passthrough],
        "passthrough": output.passthrough_input,
        "results": [
            {"name": r.name, "dtype": r.dtype, "versions": list(r.versions), "metafiles": list(r.metafiles),
             "num_items": list(r.num_items), "passthrough": r.passthrough}
            for r in output.results
        ],
        "num_items": output_count(output),
        "image": None,
        "summary": dict(output.summary),
        "latest_summary_stats": {},
    }


# --- project.json and workspaces.json ----------------------------------------------------------


def project_document(project: DocProject, schema: Schema = "v4", updated_at: datetime | None = None) -> dict:
    updated = updated_at or project.created_at
    document = {
        "_id": object_id(project.uid),
        "uid": project.uid,
        "uid_num": uid_number(project.uid),
        "title": project.title,
        "description": project.description,
        "project_dir": project.project_dir,
        "owner_user_id": project.owner_user_id,
        "created_at": iso_date(project.created_at),
        "deleted": False,
        "users_with_access": [project.owner_user_id],
        "size": 0,
        "archived": project.archived,
        "detached": project.detached,
        "project_params_pdef": {},
        "generate_intermediate_results_settings": {"class_2D_new": False, "class_3D": False, "var_3D_disp": False},
    }
    if schema == "v4":
        return {**document, "hidden": False, "project_stats": {}, "last_accessed": {}}
    return {
        **document,
        "updated_at": iso_date(updated),
        "size_last_updated": iso_date(updated),
        "dumped_at": iso_date(updated),
        "last_dumped_version": CRYOSPARC_VERSION["v5"],
        "autodump": False,
        "created_at_version": CRYOSPARC_VERSION["v5"],
    }


def workspaces_document(project_uid: str, workspaces: Sequence[DocWorkspace], schema: Schema = "v4") -> list[dict]:
    """workspaces.json: a list, one entry per workspace."""
    return [_workspace(project_uid, w, schema) for w in workspaces]


def _workspace(project_uid: str, workspace: DocWorkspace, schema: Schema) -> dict:
    document = {
        "_id": object_id(project_uid, workspace.uid),
        "uid": workspace.uid,
        "uid_num": uid_number(workspace.uid),
        "project_uid": project_uid,
        "project_uid_num": uid_number(project_uid),
        "created_at": iso_date(workspace.created_at),
        "created_by_user_id": "64aa00000000000000000001",
        "deleted": False,
        "title": workspace.title,
        "description": workspace.description,
        "workspace_type": "base",
    }
    if schema == "v5":
        document |= {"updated_at": iso_date(workspace.created_at), "autodump": False}
    return document

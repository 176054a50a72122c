"""Large synthetic CryoSPARC projects for benchmarks (not a test module).

``generate_project(directory, num_jobs=5000)`` writes project.json, workspaces.json and
``J1 … J<num_jobs>/job.json`` through ``tui.demo.docgen``: about 100 parameters per job, inputs and
outputs with several results and sparse versions, a lineage that branches and joins (multi-parent
jobs), a mix of statuses, a few CryoSPARC Live ``S<N>/`` folders and stray files. No ``.cs`` files
are written, so metafiles named in the documents do not exist (as in a cleared project).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import orjson

from tui.demo.docgen import (
    DocInput, DocJob, DocOutput, DocProject, DocResult, DocSlot, DocWorkspace, connect_output, doc_slots,
    job_document, parents_of, project_document, with_children, workspaces_document,
)

PROJECT_UID = "P42"
START = datetime(2023, 6, 1, 8, 0, tzinfo=timezone.utc)

EXPOSURE_NEW = ("micrograph_blob", "micrograph_blob_non_dw", "background_blob", "rigid_motion", "spline_motion",
                "micrograph_thumbnail_blob_1x", "micrograph_thumbnail_blob_2x")
DTYPES = {  # result name → dtype where they differ (cryosparc-data.md §6.2)
    "micrograph_blob_non_dw": "micrograph_blob", "background_blob": "stat_blob", "rigid_motion": "motion",
    "spline_motion": "motion", "micrograph_thumbnail_blob_1x": "thumbnail_blob",
    "micrograph_thumbnail_blob_2x": "thumbnail_blob", "map": "blob", "map_half_A": "blob", "map_half_B": "blob",
    "mask_refine": "mask", "mask_fsc": "mask",
}


@dataclass(frozen=True)
class _In:
    name: str
    type: str
    slots: tuple[DocSlot, ...]
    count_max: int | None = None


@dataclass(frozen=True)
class _Out:
    name: str
    type: str
    new: tuple[str, ...]  # result names the job writes; every other input result is passed through
    passthrough_input: str | None = None
    iterative: bool = False  # several (sparse) versions rather than one


@dataclass(frozen=True)
class _Type:
    key: str
    title: str
    inputs: tuple[_In, ...]
    outputs: tuple[_Out, ...]
    weight: float


def _slots(*names: str) -> tuple[DocSlot, ...]:
    return doc_slots(*names, dtypes=DTYPES)


PARTICLES = _In("particles", "particle", _slots("blob", "ctf", "?alignments3D"))
VOLUME = _In("volume", "volume", _slots("map"), count_max=1)
REFINE_OUT = (_Out("particles", "particle", ("blob", "ctf", "alignments3D"), "particles", True),
              _Out("volume", "volume", ("map", "map_half_A", "map_half_B", "mask_refine", "mask_fsc"), None, True))
JOB_TYPES = (
    _Type("import_movies", "Import Movies", (),
          (_Out("imported_movies", "exposure", ("movie_blob", "gain_ref_blob", "mscope_params")),), 0.2),
    _Type("patch_motion_correction_multi", "Patch Motion Correction",
          (_In("movies", "exposure", _slots("movie_blob", "mscope_params", "?gain_ref_blob")),),
          (_Out("micrographs", "exposure", EXPOSURE_NEW, "movies"),), 0.4),
    _Type("patch_ctf_estimation_multi", "Patch CTF Estimation",
          (_In("exposures", "exposure", _slots("micrograph_blob", "mscope_params")),),
          (_Out("exposures", "exposure", ("ctf", "ctf_stats"), "exposures"),), 0.4),
    _Type("blob_picker_gpu", "Blob Picker", (_In("micrographs", "exposure", _slots("micrograph_blob", "?ctf")),),
          (_Out("particles", "particle", ("location", "pick_stats")),
           _Out("micrographs", "exposure", ("micrograph_blob",), "micrographs")), 0.5),
    _Type("extract_micrographs_multi", "Extract From Micrographs",
          (_In("micrographs", "exposure", _slots("micrograph_blob", "?ctf")),
           _In("particles", "particle", _slots("location"))),
          (_Out("particles", "particle", ("blob", "ctf", "location"), "particles"),
           _Out("micrographs", "exposure", ("micrograph_blob",), "micrographs")), 0.8),
    _Type("class_2D_new", "2D Classification", (_In("particles", "particle", _slots("blob", "ctf", "?alignments2D")),),
          (_Out("particles", "particle", ("alignments2D",), "particles"),
           _Out("class_averages", "template", ("blob",))), 2.0),
    _Type("select_2D", "Select 2D Classes",
          (_In("particles", "particle", _slots("alignments2D")), _In("templates", "template", _slots("blob"), 1)),
          (_Out("particles_selected", "particle", ("alignments2D",), "particles"),
           _Out("particles_excluded", "particle", ("alignments2D",), "particles"),
           _Out("templates_selected", "template", ("blob",))), 1.5),
    _Type("homo_abinit", "Ab-Initio Reconstruction", (_In("particles", "particle", _slots("blob", "?ctf")),),
          (_Out("particles_class_0", "particle", ("alignments3D",), "particles", True),
           _Out("volume_class_0", "volume", ("map",), None, True),
           _Out("particles_class_1", "particle", ("alignments3D",), "particles", True),
           _Out("volume_class_1", "volume", ("map",), None, True)), 1.0),
    _Type("homo_refine_new", "Homogeneous Refinement", (PARTICLES, VOLUME), REFINE_OUT, 1.5),
    _Type("nonuniform_refine_new", "Non-uniform Refinement", (PARTICLES, VOLUME), REFINE_OUT, 1.5),
    _Type("hetero_refine", "Heterogeneous Refinement", (_In("particles", "particle", _slots("blob", "ctf")),
                                                         _In("volume", "volume", _slots("map"))),
          tuple(_Out(f"{kind}_class_{k}", group, new, pt, True) for k in range(3) for kind, group, new, pt in (
              ("particles", "particle", ("alignments3D",), "particles"), ("volume", "volume", ("map",), None))), 0.8),
    _Type("new_local_refine", "Local Refinement", (_In("particles", "particle", _slots("blob", "ctf", "alignments3D")),
                                                   VOLUME, _In("mask", "volume", _slots("?mask_refine"), 1)),
          REFINE_OUT, 0.8),
    _Type("ctf_refine_global", "Global CTF Refinement",
          (_In("particles", "particle", _slots("blob", "ctf", "alignments3D")), VOLUME),
          (_Out("particles", "particle", ("ctf",), "particles"),), 0.6),
    _Type("particle_sets", "Particle Sets Tool", (_In("particles", "particle", _slots("blob")),),
          (_Out("split_0", "particle", ("blob",), "particles"),
           _Out("split_1", "particle", ("blob",), "particles")), 0.5),
)
STATUSES = ("completed",) * 40 + ("failed", "failed", "killed", "building", "queued", "running")
_WORDS = ("res", "max", "min", "num", "iter", "use", "batch", "window", "thresh", "scale", "sigma", "bfactor",
          "mask", "pad", "filter", "align", "shift", "pose", "ctf", "gpu", "cache", "fsc", "dynamic", "noise")


def generate_project(directory: str | Path, num_jobs: int = 5000, schema: str = "v4", seed: int = 0) -> Path:
    """Write a synthetic project of ``num_jobs`` jobs into ``directory`` and return it."""
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    jobs = with_children(_Lineage(rng).build(num_jobs))
    for job in jobs:
        write_job_json(root / job.uid, job_document(job, PROJECT_UID, schema))  # type: ignore[arg-type]
    project = DocProject(PROJECT_UID, "Synthetic benchmark project", str(root.resolve()), START - timedelta(days=1))
    updated = jobs[-1].created_at
    _write(root / "project.json", project_document(project, schema, updated_at=updated))  # type: ignore[arg-type]
    _write(root / "workspaces.json", workspaces_document(PROJECT_UID, WORKSPACES, schema))  # type: ignore[arg-type]
    _write_strays(root, rng)
    return root


def write_job_json(job_dir: str | Path, document: dict) -> Path:
    """Write ``document`` as ``job_dir/job.json`` (creating the directory). Compact, unlike the demo's
    indented files: readers meet both."""
    path = Path(job_dir) / "job.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(orjson.dumps(document))
    return path


def _write(path: Path, document: object) -> None:
    path.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2))


WORKSPACES = tuple(DocWorkspace(f"W{i}", title, START + timedelta(days=7 * (i - 1))) for i, title in enumerate(
    ("Preprocessing", "2D cleanup", "Refinements", "Local refinements", "Side projects"), start=1))


def _write_strays(root: Path, rng: random.Random) -> None:
    """What sits beside job directories in real projects: Live sessions, exports and odd files."""
    for number in (1, 2, 3):
        session = root / f"S{number}"
        session.mkdir(exist_ok=True)
        (session / "exposures.bson").write_bytes(rng.randbytes(2048))
    (root / "exports" / "groups").mkdir(parents=True, exist_ok=True)
    (root / "job_manifest.json").write_text("{}\n")
    (root / "notes.txt").write_text("grid 2 looked thin; re-pick with larger blob later\n")
    (root / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")


class _Lineage:
    """Jobs in creation order; each takes its inputs from earlier outputs of the same group type,
    mostly recent ones (a working branch) and sometimes far back (a new branch)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.available: dict[str, list[tuple[str, DocOutput]]] = {}
        self.params = {t.key: _param_defaults(rng, t.key) for t in JOB_TYPES}

    def build(self, num_jobs: int) -> list[DocJob]:
        weights = [t.weight for t in JOB_TYPES]
        jobs = []
        for number in range(1, num_jobs + 1):
            kind = self.rng.choices(JOB_TYPES, weights)[0]
            if any(not self.available.get(i.type) for i in kind.inputs):
                kind = JOB_TYPES[0]  # nothing to connect yet: start a new dataset
            jobs.append(self.job(number, kind))
        return jobs

    def pick_source(self, group_type: str) -> tuple[str, DocOutput]:
        candidates = self.available[group_type]
        if self.rng.random() < 0.8:
            return self.rng.choice(candidates[-12:])
        return self.rng.choice(candidates)

    def job(self, number: int, kind: _Type) -> DocJob:
        uid = f"J{number}"
        status = self.rng.choice(STATUSES) if kind.inputs else "completed"
        inputs, sources = [], {}
        for spec in kind.inputs:
            if spec.count_max == 1 and spec.slots[0].required is False and self.rng.random() < 0.5:
                inputs.append(DocInput(spec.name, spec.type, spec.name.capitalize(), spec.slots,
                                       count_min=0, count_max=1))  # an optional input left empty
                continue
            source_uid, output = self.pick_source(spec.type)
            sources[spec.name] = output
            inputs.append(DocInput(spec.name, spec.type, spec.name.capitalize(), spec.slots,
                                   (connect_output(source_uid, output, spec.slots),), count_max=spec.count_max))
        outputs = tuple(self.output(uid, out, sources, status) for out in kind.outputs)
        if status == "completed":
            for output in outputs:
                self.available.setdefault(output.type, []).append((uid, output))
        created = START + timedelta(minutes=7 * number + self.rng.randint(0, 5))
        defaults = self.params[kind.key]
        chosen = self.rng.sample(sorted(defaults), 6)
        return DocJob(
            uid, kind.key, kind.title, status, created, parents=parents_of(inputs),
            workspaces=self.workspaces(number), inputs=tuple(inputs),
            outputs=() if status in ("building", "queued") else outputs,
            params={name: _tweak(defaults[name]) for name in chosen}, param_defaults=defaults,
            events=_events(created, status),
            errors=("Job process terminated abnormally.",) if status == "failed" else (),
        )

    def workspaces(self, number: int) -> tuple[str, ...]:
        first = WORKSPACES[min(number * len(WORKSPACES) // 5000, len(WORKSPACES) - 1)].uid
        return (first, "W5") if self.rng.random() < 0.05 and first != "W5" else (first,)

    def output(self, uid: str, out: _Out, sources: dict[str, DocOutput], status: str) -> DocOutput:
        source = sources.get(out.passthrough_input or "")
        rows = self.rows(out, source)
        versions = self.versions(out) if status == "completed" else ((0,) if status == "failed" else ())
        results = [self.result(uid, out, name, versions, rows, False) for name in out.new]
        if source is not None:
            inherited = [r for r in source.results if r.name not in out.new]
            results += [self.result(uid, out, r.name, (0,) if versions else (), rows, True, r.dtype) for r in inherited]
        title = out.name.replace("_", " ").capitalize()
        return DocOutput(out.name, out.type, title, tuple(results), out.passthrough_input)

    def rows(self, out: _Out, source: DocOutput | None) -> int:
        if out.type in ("volume", "volume_multi", "mask"):
            return 1
        if out.type == "template":
            return self.rng.choice((50, 100, 200))
        if source is None:
            return self.rng.randint(500, 5000) if out.type == "exposure" else self.rng.randint(100_000, 2_000_000)
        upstream = next((r.num_items[-1] for r in source.results if r.num_items), 100_000)
        return max(1, int(upstream * self.rng.uniform(0.4, 1.0)))

    def versions(self, out: _Out) -> tuple[int, ...]:
        if not out.iterative:
            return (0,)
        last = self.rng.randint(5, 150)
        kept = self.rng.sample(range(last), min(last, self.rng.randint(2, 12)))
        return tuple(sorted(set(kept))) + (last,)

    def result(self, uid: str, out: _Out, name: str, versions: tuple[int, ...], rows: int, passthrough: bool,
               dtype: str | None = None) -> DocResult:
        if passthrough:
            files = tuple(f"{uid}/{uid}_passthrough_{out.name}.cs" for _ in versions)
        elif out.iterative:
            files = tuple(f"{uid}/{uid}_{v:03d}_{out.name}.cs" for v in versions)
        else:
            files = tuple(f"{uid}/{out.name}.cs" for _ in versions)
        return DocResult(name, dtype or DTYPES.get(name, name), versions, files, (rows,) * len(versions),
                         passthrough)


def _param_defaults(rng: random.Random, key: str) -> dict:
    """About a hundred base parameters per job type, of the kinds CryoSPARC has."""
    defaults: dict = {}
    while len(defaults) < 100:
        name = "_".join(rng.sample(_WORDS, rng.randint(2, 3)))
        defaults[f"{key.split('_')[0]}_{name}"] = rng.choice(
            (rng.randint(0, 500), round(rng.uniform(0, 20), 3), rng.random() < 0.5, None, "auto", "C1"))
    return defaults


def _tweak(value: object) -> object:
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return value * 2
    return value if value is not None else 4


def _events(created: datetime, status: str) -> dict[str, datetime]:
    if status == "building":
        return {}
    queued = created + timedelta(minutes=1)
    events = {"queued_at": queued}
    if status == "queued":
        return events
    events |= {"launched_at": queued + timedelta(seconds=30), "started_at": queued + timedelta(seconds=35),
               "running_at": queued + timedelta(seconds=50)}
    end = {"completed": "completed_at", "failed": "failed_at", "killed": "killed_at"}.get(status)
    return events | ({end: queued + timedelta(minutes=45)} if end else {})

"""Write a small, realistic CryoSPARC project to try csrebind on (``csrebind --demo``, tests).

The project follows the design brief's workflow, J1–J12 in two workspaces::

    J1 import_movies → J2 patch motion → J3 patch CTF → J4 blob picker
    J5 extract (box 452 ``particles`` + F-cropped box 96 ``particles_fcrop``; parents J3, J4)
    J6 2D classification of the 96-px particles → J7 Select 2D → J8 ab-initio
    J9 homogeneous refinement (sparse versions 0,1,2,3,5,7; parents J7, J8)
    J10 2D of the full-size particles, killed (workspace W2; every result empty)
    J11 non-uniform refinement, failed after iteration 0 (some results empty)
    J12 local refinement, *building*, connected to J9's particles and volume

J12 is where the product's canonical rebinding happens: point ``particles.0.blob`` at J5's
full-size ``particles.blob``. Every ``.cs`` is a real NPY file; particle uids are shared by all
jobs, and every file has its own row order, so readers must join on ``uid``. The job documents
are described from the files actually written, so ``num_items`` always matches the rows.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import orjson
import yaml

from .docgen import (
    CRYOSPARC_VERSION, DocInput, DocJob, DocOutput, DocProject, DocResult, DocSlot, DocWorkspace, Schema,
    connect_output, doc_slots, job_document, parents_of, project_document, with_children, workspaces_document,
)
from ..core.errors import ProjectError

PROJECT_UID = "P3"
MARKER = ".csrebind-demo"  # marks a directory this module may overwrite
EXTRACT_UID, REFINE_UID, LOCAL_REFINE_UID = "J5", "J9", "J12"

N_MICS, N_PICKED, N_EXTRACTED, N_GOOD = 20, 1650, 1500, 1000
N_CLASSES, N_GOOD_CLASSES = 50, 18
BOX_FULL, BOX_CROP = 452, 96
PSIZE_CROP = 5.25
PSIZE_FULL = PSIZE_CROP * BOX_CROP / BOX_FULL  # ≈ 1.115 Å, the micrograph pixel size
MIC_SHAPE = (4092, 5760)  # K3 (ny, nx)
N_FRAMES = 40
CLASS2D_FINAL = 20  # 20 online-EM iterations; intermediates are off by default (§4)
ABINIT_PARTICLE_VERSIONS = (0, 100, 200, 300, 400, 863)
ABINIT_VOLUME_VERSIONS = (0, 100, 200, 300, 400, 862)  # ends one earlier than the particles (§4)
ABINIT_COUNTS = (90, 450, 880, N_GOOD, N_GOOD, N_GOOD)  # ab-initio grows its minibatch
REFINE_VERSIONS = (0, 1, 2, 3, 5, 7)
VOLUME_BOX = 96

START = datetime(2024, 3, 12, 9, 0, tzinfo=timezone.utc)
RAW_DATA = "/data/krios2/2024-03-12_LR"

# result name → dtype where they differ (§6.2)
RESULT_DTYPES = {
    "micrograph_blob_non_dw": "micrograph_blob", "background_blob": "stat_blob", "rigid_motion": "motion",
    "spline_motion": "motion", "micrograph_thumbnail_blob_1x": "thumbnail_blob",
    "micrograph_thumbnail_blob_2x": "thumbnail_blob", "map": "blob", "map_half_A": "blob", "map_half_B": "blob",
    "map_sharp": "blob", "mask_refine": "mask", "mask_fsc": "mask", "mask_fsc_auto": "mask",
}

Columns = dict[str, np.ndarray]  # field name (no prefix) → column


def write_demo(directory: str | Path, schema: Schema = "v4", seed: int = 0) -> Path:
    """Write the demo project into ``directory`` (created if needed) and return its path.

    Refuses a non-empty directory unless an earlier demo wrote it, which is then replaced."""
    root = Path(directory)
    _prepare_directory(root)
    demo = _Demo(root, np.random.default_rng(seed), _Truth.make(np.random.default_rng([seed, 1])))
    jobs = with_children(demo.build_jobs())
    for job in jobs:
        _write_json(root / job.uid / "job.json", job_document(job, PROJECT_UID, schema))
        for output in job.outputs:
            _write_csg(root, job, output, schema)
    _write_json(root / "project.json", project_document(_project(root), schema, updated_at=jobs[-1].created_at))
    _write_json(root / "workspaces.json", workspaces_document(PROJECT_UID, WORKSPACES, schema))
    (root / MARKER).write_text(f"csrebind demo project, schema {schema}, seed {seed}\n")
    return root


# --- the directory -----------------------------------------------------------------------------


def _prepare_directory(root: Path) -> None:
    if root.exists() and not root.is_dir():
        raise ProjectError(f"{root}: exists and is not a directory; choose a new or empty directory for the demo")
    root.mkdir(parents=True, exist_ok=True)
    entries = list(root.iterdir())
    if not entries:
        return
    if not (root / MARKER).is_file():
        raise ProjectError(
            f"{root}: directory is not empty and holds no earlier demo; choose a new or empty directory "
            "(the demo never writes over other files)"
        )
    for entry in entries:  # only what an earlier demo wrote; anything else stays
        if entry.is_dir() and re.fullmatch(r"J\d+", entry.name):
            shutil.rmtree(entry)
        elif entry.name in ("project.json", "workspaces.json", MARKER):
            entry.unlink()


def _write_json(path: Path, document: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2))


def _project(root: Path) -> DocProject:
    return DocProject(PROJECT_UID, "Demo: LR-complex 2024-03", str(root.resolve()), START - timedelta(minutes=5),
                      description="csrebind demo project: downsampled refinement ready for a full-size blob")


WORKSPACES = (
    DocWorkspace("W1", "Main processing", START - timedelta(minutes=5)),
    DocWorkspace("W2", "Full-size tests", START + timedelta(hours=3, minutes=8)),
)


def _write_csg(root: Path, job: DocJob, output: DocOutput, schema: Schema) -> None:
    """``<J>_<output>.csg``: the final version of every result, paths relative to the job directory (§9)."""
    results = {
        r.name: {"metafile": ">" + Path(r.metafiles[-1]).name, "num_items": r.num_items[-1],
                 "type": f"{output.type}.{r.dtype}"}
        for r in output.results if r.metafiles
    }
    if not results:
        return
    document = {
        "created": max([job.created_at, *job.events.values()]).strftime("%Y-%m-%d %H:%M:%S.%f"),
        "group": {"description": output.description, "name": output.name, "title": output.title, "type": output.type},
        "results": results,
        "version": CRYOSPARC_VERSION[schema],
    }
    (root / job.uid / f"{job.uid}_{output.name}.csg").write_text(yaml.safe_dump(document, sort_keys=True))


# --- ground truth every file is cut from -------------------------------------------------------


def _unique_uids(rng: np.random.Generator, count: int) -> np.ndarray:
    uids = np.unique(rng.integers(1, 2**64 - 1, size=count + 16, dtype=np.uint64))
    rng.shuffle(uids)
    return uids[:count]


def _r2(values: np.ndarray) -> np.ndarray:
    """Two decimals, as the numbers people quote from these files."""
    return np.round(values, 2).astype(np.float32)


@dataclass
class _Truth:
    """Per-micrograph and per-pick values shared by all files; particle arrays index picks."""

    mic_uid: np.ndarray
    mic_stem: list[str]
    mic_df: np.ndarray
    mic_astig: np.ndarray
    mic_angle: np.ndarray
    pick_uid: np.ndarray
    pick_mic: np.ndarray
    pick_xy: np.ndarray
    pick_ncc: np.ndarray
    pick_power: np.ndarray
    pick_angle: np.ndarray
    extracted: np.ndarray  # pick indices, in extraction order
    stack_idx: np.ndarray  # per pick: index in its micrograph's particle stack (-1: not extracted)
    good: np.ndarray  # pick indices of the particles Select 2D keeps
    junk: np.ndarray
    class2d: np.ndarray  # per pick
    pose: np.ndarray  # per pick, true Rodrigues vector
    shift: np.ndarray  # per pick, true shift in 96-px pixels
    split: np.ndarray

    @classmethod
    def make(cls, rng: np.random.Generator) -> _Truth:
        mic_uid = _unique_uids(rng, N_MICS)
        stems = [
            f"{uid:021d}_grid2_sq{3 + i // 5:02d}_hole{17 + 7 * i:03d}_{i % 4}_fractions"
            for i, uid in enumerate(mic_uid)
        ]
        pick_mic = np.sort(rng.integers(0, N_MICS, N_PICKED))
        extracted = np.sort(rng.choice(N_PICKED, N_EXTRACTED, replace=False))
        stack_idx = np.full(N_PICKED, -1, dtype=np.int64)
        for mic in range(N_MICS):
            members = extracted[pick_mic[extracted] == mic]
            stack_idx[members] = np.arange(len(members))
        good = np.sort(rng.choice(extracted, N_GOOD, replace=False))
        junk = np.setdiff1d(extracted, good)
        class2d = np.zeros(N_PICKED, dtype=np.uint32)
        class2d[good] = rng.integers(0, N_GOOD_CLASSES, len(good))
        class2d[junk] = rng.integers(N_GOOD_CLASSES, N_CLASSES, len(junk))
        axis = rng.normal(size=(N_PICKED, 3))
        pose = axis / np.linalg.norm(axis, axis=1, keepdims=True) * rng.uniform(0, np.pi, (N_PICKED, 1))
        return cls(
            mic_uid=mic_uid, mic_stem=stems, mic_df=rng.uniform(9000, 24000, N_MICS),
            mic_astig=rng.uniform(50, 600, N_MICS), mic_angle=rng.uniform(-np.pi / 2, np.pi / 2, N_MICS),
            pick_uid=_unique_uids(rng, N_PICKED), pick_mic=pick_mic, pick_xy=rng.uniform(0.04, 0.96, (N_PICKED, 2)),
            pick_ncc=rng.uniform(0.18, 0.62, N_PICKED), pick_power=rng.uniform(40, 320, N_PICKED),
            pick_angle=rng.uniform(0, 2 * np.pi, N_PICKED), extracted=extracted, stack_idx=stack_idx,
            good=good, junk=junk, class2d=class2d, pose=pose, shift=rng.normal(0, 1.5, (N_PICKED, 2)),
            split=rng.integers(0, 2, N_PICKED).astype(np.uint32),
        )

    def mic_path(self, mic: np.ndarray, suffix: str = "_patch_aligned_doseweighted.mrc") -> np.ndarray:
        return _bytes([f"J2/motioncorrected/{self.mic_stem[m]}{suffix}" for m in mic])


def _bytes(texts: list[str]) -> np.ndarray:
    """Fixed-width bytes, as CryoSPARC writes strings (``|S<n>``, §7.1)."""
    return np.array(texts, dtype="S") if texts else np.zeros(0, dtype="S1")


def _const(value: object, count: int, dtype: str) -> np.ndarray:
    return np.full(count, value, dtype=dtype)


def _pairs(first: float, second: float, count: int, dtype: str = "u4") -> np.ndarray:
    return np.tile(np.array([first, second], dtype=dtype), (count, 1))


# --- exposure columns (rows are micrograph indices) --------------------------------------------


def _movie_blob(t: _Truth, mics: np.ndarray, rng: np.random.Generator) -> Columns:
    n = len(mics)
    return {
        "path": _bytes([f"J1/imported/{t.mic_stem[m]}.tiff" for m in mics]),
        "shape": np.tile(np.array([N_FRAMES, *MIC_SHAPE], dtype="u4"), (n, 1)),
        "psize_A": _const(PSIZE_FULL, n, "f4"), "is_gain_corrected": _const(0, n, "u4"),
        "format": _bytes(["TIFF"] * n), "has_defect_file": _const(0, n, "u4"),
        "import_sig": rng.integers(1, 2**63, n, dtype=np.uint64),
    }


def _gain_ref_blob(t: _Truth, mics: np.ndarray, rng: np.random.Generator) -> Columns:
    n = len(mics)
    return {"path": _bytes(["J1/imported/gain_ref_K3.mrc"] * n), "idx": _const(0, n, "u4"),
            "shape": _pairs(*MIC_SHAPE, n), "flip_x": _const(0, n, "u4"), "flip_y": _const(1, n, "u4"),
            "rotate_num": _const(0, n, "u4")}


def _mscope_params(t: _Truth, mics: np.ndarray, rng: np.random.Generator) -> Columns:
    n = len(mics)
    return {"accel_kv": _const(300, n, "f4"), "cs_mm": _const(2.7, n, "f4"),
            "total_dose_e_per_A2": _const(50, n, "f4"), "phase_plate": _const(0, n, "u4"),
            "neg_stain": _const(0, n, "u4"), "exp_group_id": _const(1, n, "u4"), "defect_path": _bytes([""] * n)}


def _micrograph_blob(
    t: _Truth, mics: np.ndarray, rng: np.random.Generator, suffix: str = "_patch_aligned_doseweighted.mrc"
) -> Columns:
    n = len(mics)
    return {"path": t.mic_path(mics, suffix), "idx": _const(0, n, "u4"), "shape": _pairs(*MIC_SHAPE, n),
            "psize_A": _const(PSIZE_FULL, n, "f4"), "format": _bytes(["MRC/1.0"] * n),
            "is_background_subtracted": _const(1, n, "u4"), "vmin": _r2(rng.uniform(-3.2, -2.4, n)),
            "vmax": _r2(rng.uniform(2.4, 3.2, n)), "import_sig": _const(0, n, "u8")}


def _background_blob(t: _Truth, mics: np.ndarray, rng: np.random.Generator) -> Columns:
    n = len(mics)
    return {"path": t.mic_path(mics, "_background.mrc"), "idx": _const(0, n, "u4"), "binfactor": _const(8, n, "u4"),
            "shape": _pairs(512, 720, n), "psize_A": _const(PSIZE_FULL * 8, n, "f4")}


def _motion(kind: str):
    def columns(t: _Truth, mics: np.ndarray, rng: np.random.Generator) -> Columns:
        n = len(mics)
        suffix = "_traj.npy" if kind == "rigid" else "_bending_traj.npy"
        return {"type": _bytes([kind] * n), "path": t.mic_path(mics, suffix), "idx": _const(0, n, "u4"),
                "frame_start": _const(0, n, "u4"), "frame_end": _const(N_FRAMES, n, "u4"),
                "zero_shift_frame": _const(0, n, "u4"), "psize_A": _const(PSIZE_FULL, n, "f4")}
    return columns


def _thumbnail(scale: int):
    def columns(t: _Truth, mics: np.ndarray, rng: np.random.Generator) -> Columns:
        n = len(mics)
        return {"path": _bytes([f"J2/thumbnails/{t.mic_stem[m]}_thumb_@{scale}x.png" for m in mics]),
                "idx": _const(0, n, "u4"), "shape": _pairs(174 * scale, 245 * scale, n),
                "format": _bytes(["png"] * n), "binfactor": _const(24 // scale, n, "u4"),
                "micrograph_path": t.mic_path(mics), "vmin": _r2(rng.uniform(-3.2, -2.4, n)),
                "vmax": _r2(rng.uniform(2.4, 3.2, n))}
    return columns


def _ctf_columns(df: np.ndarray, astig: np.ndarray, angle: np.ndarray) -> Columns:
    n = len(df)
    zeros = np.zeros(n, dtype="f4")
    return {"type": _bytes(["spline"] * n), "exp_group_id": _const(1, n, "u4"), "accel_kv": _const(300, n, "f4"),
            "cs_mm": _const(2.7, n, "f4"), "amp_contrast": _const(0.1, n, "f4"), "df1_A": _r2(df + astig / 2),
            "df2_A": _r2(df - astig / 2), "df_angle_rad": _r2(angle), "phase_shift_rad": zeros,
            "scale": _const(1, n, "f4"), "scale_const": zeros, "shift_A": np.zeros((n, 2), "f4"),
            "tilt_A": np.zeros((n, 2), "f4"), "trefoil_A": np.zeros((n, 2), "f4"),
            "tetra_A": np.zeros((n, 4), "f4"), "anisomag": np.zeros((n, 4), "f4"), "bfactor": zeros}


def _exposure_ctf(t: _Truth, mics: np.ndarray, rng: np.random.Generator) -> Columns:
    return _ctf_columns(t.mic_df[mics], t.mic_astig[mics], t.mic_angle[mics])


def _ctf_stats(t: _Truth, mics: np.ndarray, rng: np.random.Generator) -> Columns:
    n = len(mics)
    df = t.mic_df[mics]
    return {"type": _bytes(["spline"] * n), "cross_corr": _r2(rng.uniform(0.05, 0.2, n)),
            "ctf_fit_to_A": _r2(rng.uniform(2.6, 5.5, n)),
            "df_range": np.stack([_r2(df - 400), _r2(df + 400)], axis=1),
            "diag_image_path": _bytes([f"J3/ctfestimated/{t.mic_stem[m]}_diag_spect.png" for m in mics]),
            "fit_data_path": _bytes([f"J3/ctfestimated/{t.mic_stem[m]}_fit_data.npy" for m in mics]),
            "ice_thickness_rel": _r2(rng.uniform(1.0, 1.09, n))}


MOTION_RESULTS = {
    "micrograph_blob": _micrograph_blob,
    "micrograph_blob_non_dw": lambda t, m, rng: _micrograph_blob(t, m, rng, "_patch_aligned.mrc"),
    "background_blob": _background_blob, "rigid_motion": _motion("rigid"), "spline_motion": _motion("spline"),
    "micrograph_thumbnail_blob_1x": _thumbnail(1), "micrograph_thumbnail_blob_2x": _thumbnail(2),
}
IMPORT_RESULTS = {"movie_blob": _movie_blob, "gain_ref_blob": _gain_ref_blob, "mscope_params": _mscope_params}


# --- particle columns (rows are pick indices) --------------------------------------------------


def _location(t: _Truth, picks: np.ndarray) -> Columns:
    n = len(picks)
    mics = t.pick_mic[picks]
    return {"micrograph_uid": t.mic_uid[mics], "exp_group_id": _const(1, n, "u4"),
            "micrograph_path": t.mic_path(mics), "micrograph_shape": _pairs(*MIC_SHAPE, n),
            "micrograph_psize_A": _const(PSIZE_FULL, n, "f4"),
            "center_x_frac": np.round(t.pick_xy[picks, 0], 4).astype("f4"),
            "center_y_frac": np.round(t.pick_xy[picks, 1], 4).astype("f4"), "min_dist_A": _const(200, n, "f4")}


def _pick_stats(t: _Truth, picks: np.ndarray) -> Columns:
    return {"ncc_score": _r2(t.pick_ncc[picks]), "power": _r2(t.pick_power[picks]),
            "template_idx": _const(0, len(picks), "u4"), "angle_rad": _r2(t.pick_angle[picks])}


def _particle_blob(t: _Truth, picks: np.ndarray, box: int, psize: float, suffix: str = "") -> Columns:
    n = len(picks)
    stems = [t.mic_stem[m] for m in t.pick_mic[picks]]
    return {"path": _bytes([f"J5/extract/{s}_patch_aligned_doseweighted_particles{suffix}.mrc" for s in stems]),
            "idx": t.stack_idx[picks].astype("u4"), "shape": _pairs(box, box, n), "psize_A": _const(psize, n, "f4"),
            "sign": _const(-1, n, "f4"), "import_sig": _const(0, n, "u8")}


def _particle_ctf(t: _Truth, picks: np.ndarray) -> Columns:
    """Per-particle defocus: the micrograph's plus a tilt across the field of view."""
    mics = t.pick_mic[picks]
    tilt = (t.pick_xy[picks, 0] - 0.5) * 180 + (t.pick_xy[picks, 1] - 0.5) * 90
    return _ctf_columns(t.mic_df[mics] + tilt, t.mic_astig[mics], t.mic_angle[mics])


def _alignment_stats(rng: np.random.Generator, n: int, error: float) -> Columns:
    err = _r2(rng.normal(error, error * 0.02, n))
    image_pow = _r2(rng.normal(error * 1.04, error * 0.02, n))
    return {"error": err, "error_min": _r2(err - rng.uniform(0, 2, n)), "resid_pow": err.copy(),
            "slice_pow": _r2(rng.uniform(20, 90, n)), "image_pow": image_pow,
            "cross_cor": _r2(rng.uniform(40, 180, n)), "alpha": _r2(rng.uniform(0.7, 1.3, n)),
            "alpha_min": np.zeros(n, "f4"), "weight": np.zeros(n, "f4"), "pose_ess": np.zeros(n, "f4"),
            "shift_ess": np.zeros(n, "f4")}


def _alignments2D(t: _Truth, picks: np.ndarray, rng: np.random.Generator) -> Columns:
    n = len(picks)
    return {"split": t.split[picks], "shift": _r2(t.shift[picks] + rng.normal(0, 0.3, (n, 2))),
            "pose": _r2(np.mod(t.pose[picks, 2] * 2, 2 * np.pi)), "psize_A": _const(PSIZE_CROP, n, "f4"),
            **_alignment_stats(rng, n, 7100.0), "class_posterior": _r2(rng.uniform(0.55, 1.0, n)),
            "class": t.class2d[picks], "class_ess": _r2(rng.uniform(1.0, 1.6, n))}


def _alignments3D(t: _Truth, picks: np.ndarray, rng: np.random.Generator, progress: float) -> Columns:
    """``progress`` 0 → 1: poses and shifts converge on the truth, the error falls."""
    n = len(picks)
    spread = 0.6 * (1 - progress) + 0.03
    return {"split": t.split[picks], "shift": _r2(t.shift[picks] + rng.normal(0, 2 * spread, (n, 2))),
            "pose": _r2(t.pose[picks] + rng.normal(0, spread, (n, 3))), "psize_A": _const(PSIZE_CROP, n, "f4"),
            **_alignment_stats(rng, n, 7050.0 - 90 * progress), "class_posterior": _const(1, n, "f4"),
            "class": _const(0, n, "u4"), "class_ess": _const(1, n, "f4")}


def _template_blob(count: int, path: str) -> Columns:
    return {"path": _bytes([path] * count), "idx": np.arange(count, dtype="u4"),
            "shape": _pairs(BOX_CROP, BOX_CROP, count), "psize_A": _const(PSIZE_CROP, count, "f4")}


def _volume_blob(path: str) -> Columns:
    return {"path": _bytes([path]), "shape": np.array([[VOLUME_BOX] * 3], "u4"), "psize_A": _const(PSIZE_CROP, 1, "f4")}


# --- metafiles and outputs ---------------------------------------------------------------------


@dataclass
class _Metafile:
    """One .cs file to write: results (column prefix → fields) for ``uids``."""

    path: str  # project-relative
    uids: np.ndarray
    results: dict[str, Columns]
    version: int = 0
    passthrough: bool = False


def _take(columns: Columns, rows: np.ndarray) -> Columns:
    return {name: column[rows] for name, column in columns.items()}


EXPOSURE_RESULTS = {**IMPORT_RESULTS, **MOTION_RESULTS, "ctf": _exposure_ctf, "ctf_stats": _ctf_stats}


@dataclass
class _Demo:
    root: Path
    rng: np.random.Generator
    t: _Truth
    jobs: dict[str, DocJob] = field(default_factory=dict)
    exposures: dict[str, Columns] = field(init=False)  # every exposure result, all micrographs
    alignments2D: Columns = field(init=False)  # 2D alignments of all picks (passthroughs copy them)
    class_uids: np.ndarray = field(init=False)  # uid of 2D class k

    def __post_init__(self) -> None:
        # Computed once and sliced, so that a passthrough file is an exact copy of its source.
        mics = np.arange(N_MICS)
        self.exposures = {name: build(self.t, mics, self.rng) for name, build in EXPOSURE_RESULTS.items()}
        self.alignments2D = _alignments2D(self.t, np.arange(N_PICKED), self.rng)
        self.class_uids = _unique_uids(self.rng, N_CLASSES)

    # - writing -

    def write_cs(self, metafile: _Metafile) -> int:
        """Write a shuffled NPY structured array (row order differs from every other file)."""
        order = self.rng.permutation(len(metafile.uids))
        dtype = [("uid", "<u8")] + [
            (f"{prefix}/{name}", column.dtype, column.shape[1:])
            for prefix, columns in metafile.results.items() for name, column in columns.items()
        ]
        array = np.zeros(len(order), dtype=dtype)
        array["uid"] = metafile.uids[order]
        for prefix, columns in metafile.results.items():
            for name, column in columns.items():
                array[f"{prefix}/{name}"] = column[order]
        path = self.root / metafile.path
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as handle:  # a handle, so numpy appends no .npy suffix
            np.save(handle, array)
        return len(order)

    def output(self, name: str, type: str, title: str, metafiles: list[_Metafile], passthrough_input: str | None = None,
               empty: tuple[str, ...] = (), description: str = "") -> DocOutput:
        """Write ``metafiles`` and describe the output from them; ``empty`` results have no file yet."""
        written = [(m, self.write_cs(m)) for m in metafiles]
        names = list(dict.fromkeys(prefix for m in metafiles for prefix in m.results)) + list(empty)
        results = []
        for result in names:
            files = [(m, count) for m, count in written if result in m.results]
            results.append(DocResult(
                result, RESULT_DTYPES.get(result, result),
                versions=tuple(m.version for m, _ in files), metafiles=tuple(m.path for m, _ in files),
                num_items=tuple(count for _, count in files), passthrough=any(m.passthrough for m, _ in files),
            ))
        return DocOutput(name, type, title, tuple(results), passthrough_input, description=description)

    def out(self, uid: str, name: str) -> DocOutput:
        return next(o for o in self.jobs[uid].outputs if o.name == name)

    def connected(self, name: str, type: str, title: str, slots: tuple[DocSlot, ...], *sources: tuple[str, str],
                  count_max: int | None = None, count_min: int = 1) -> DocInput:
        connections = tuple(connect_output(uid, self.out(uid, output), slots) for uid, output in sources)
        return DocInput(name, type, title, slots, connections, count_min=count_min, count_max=count_max)

    # - exposure columns for a set of results -

    def exposure_columns(self, names, mics: np.ndarray | None = None) -> dict[str, Columns]:
        rows = np.arange(N_MICS) if mics is None else mics
        return {name: _take(self.exposures[name], rows) for name in names}

    def exposures_except(self, *names: str, mics: np.ndarray | None = None) -> dict[str, Columns]:
        return self.exposure_columns([n for n in EXPOSURE_RESULTS if n not in names], mics)

    # - the jobs -

    def build_jobs(self) -> list[DocJob]:
        for build in (self.import_movies, self.motion, self.ctf, self.blob_picker, self.extract, self.class2d,
                      self.select2d, self.abinit, self.refine, self.class2d_full_size, self.nu_refine_failed,
                      self.local_refine):
            job = build()
            self.jobs[job.uid] = job
        return list(self.jobs.values())

    def import_movies(self) -> DocJob:
        movies = self.output("imported_movies", "exposure", "Imported movies", [
            _Metafile("J1/imported_movies.cs", self.t.mic_uid, self.exposure_columns(IMPORT_RESULTS))])
        return _job("J1", "import_movies", "Import Movies", 0, 4, outputs=(movies,), params={
            "blob_paths": f"{RAW_DATA}/*.tiff", "gainref_path": f"{RAW_DATA}/gain_ref_K3.mrc",
            "psize_A": round(PSIZE_FULL, 4), "accel_kv": 300, "cs_mm": 2.7, "total_dose_e_per_A2": 50})

    def motion(self) -> DocJob:
        slots = doc_slots("movie_blob", "mscope_params", "?gain_ref_blob")
        movies = self.connected("movies", "exposure", "Movies", slots, ("J1", "imported_movies"))
        micrographs = self.output("micrographs", "exposure", "Motion-corrected micrographs", [
            _Metafile("J2/J2_micrographs.cs", self.t.mic_uid, self.exposure_columns(MOTION_RESULTS)),
            _Metafile("J2/J2_passthrough_micrographs.cs", self.t.mic_uid, self.exposure_columns(IMPORT_RESULTS),
                      passthrough=True)], "movies")
        incomplete = self.output("micrographs_incomplete", "exposure", "Incomplete micrographs", [], "movies",
                                 empty=(*MOTION_RESULTS, *IMPORT_RESULTS))  # nothing failed: no file written
        return _job("J2", "patch_motion_correction_multi", "Patch Motion Correction", 10, 35, inputs=(movies,),
                    outputs=(micrographs, incomplete), params={"compute_num_gpus": 2})

    def ctf(self) -> DocJob:
        slots = doc_slots("micrograph_blob", "mscope_params")
        exposures = self.connected("exposures", "exposure", "Micrographs", slots, ("J2", "micrographs"))
        out = self.output("exposures", "exposure", "Micrographs with CTF", [
            _Metafile("J3/exposures_ctf_estimated.cs", self.t.mic_uid, self.exposure_columns(("ctf", "ctf_stats"))),
            _Metafile("J3/J3_passthrough_exposures.cs", self.t.mic_uid, self.exposures_except("ctf", "ctf_stats"),
                      passthrough=True)], "exposures")
        return _job("J3", "patch_ctf_estimation_multi", "Patch CTF Estimation", 50, 12, inputs=(exposures,),
                    outputs=(out,), params={"res_max_align": 4, "df_search_min": 3000})

    def blob_picker(self) -> DocJob:
        mics_in = self.connected("micrographs", "exposure", "Micrographs", doc_slots("micrograph_blob", "?ctf"),
                                 ("J3", "exposures"))
        picks = np.arange(N_PICKED)
        particles = self.output("particles", "particle", "Picked particles", [
            _Metafile("J4/picked_particles.cs", self.t.pick_uid,
                      {"location": _location(self.t, picks), "pick_stats": _pick_stats(self.t, picks)})])
        return _job("J4", "blob_picker_gpu", "Blob Picker", 65, 8, inputs=(mics_in,),
                    outputs=(self.micrographs_out("J4"), particles), params={"diameter": 380, "diameter_max": 460})

    def micrographs_out(self, uid: str) -> DocOutput:
        """A picker's or extractor's micrographs: micrograph_blob rewritten, the rest passed through."""
        return self.output("micrographs", "exposure", "Micrographs", [
            _Metafile(f"{uid}/picked_micrographs.cs", self.t.mic_uid, self.exposure_columns(("micrograph_blob",))),
            _Metafile(f"{uid}/{uid}_passthrough_micrographs.cs", self.t.mic_uid,
                      self.exposures_except("micrograph_blob"), passthrough=True)], "micrographs")

    def extract(self) -> DocJob:
        mics_in = self.connected("micrographs", "exposure", "Micrographs", doc_slots("micrograph_blob", "?ctf"),
                                 ("J3", "exposures"))
        parts_in = self.connected("particles", "particle", "Particles", doc_slots("location"), ("J4", "particles"))
        outputs = (
            self.micrographs_out(EXTRACT_UID),
            self.extract_incomplete(),
            self.extracted("particles", "Extracted particles", BOX_FULL, PSIZE_FULL, ""),
            self.extracted("particles_fcrop", "Extracted particles (Fourier-cropped)", BOX_CROP, PSIZE_CROP, "_fcrop"),
        )
        return _job(EXTRACT_UID, "extract_micrographs_multi", "Extract From Micrographs", 80, 10,
                    workspaces=("W1", "W2"), inputs=(mics_in, parts_in), outputs=outputs,
                    params={"box_size_pix": BOX_FULL, "bin_size_pix": BOX_CROP, "output_f16": False})

    def extract_incomplete(self) -> DocOutput:
        """Micrographs extraction gave up on: none here, but the (empty) files are still written."""
        none = np.zeros(0, dtype=np.int64)
        return self.output("micrographs_incomplete", "exposure", "Incomplete micrographs", [
            _Metafile("J5/incomplete_micrographs.cs", self.t.mic_uid[none],
                      self.exposure_columns(("micrograph_blob",), none)),
            _Metafile("J5/J5_passthrough_micrographs_incomplete.cs", self.t.mic_uid[none],
                      self.exposures_except("micrograph_blob", mics=none), passthrough=True)], "micrographs")

    def extracted(self, name: str, title: str, box: int, psize: float, suffix: str) -> DocOutput:
        """One extraction output: the same particles and uids at a given box, each file in its own order."""
        picks = self.t.extracted
        uids = self.t.pick_uid[picks]
        return self.output(name, "particle", title, [
            _Metafile(f"J5/extracted_{name}.cs", uids, {
                "blob": _particle_blob(self.t, picks, box, psize, suffix), "ctf": _particle_ctf(self.t, picks),
                "location": _location(self.t, picks)}),
            _Metafile(f"J5/J5_passthrough_{name}.cs", uids, {"pick_stats": _pick_stats(self.t, picks)},
                      passthrough=True)], "particles", description=f"box {box} px at {psize:.4f} Å/px")

    def particles_passthrough(self, path: str, picks: np.ndarray, *names: str) -> _Metafile:
        """A passthrough file: copies of the 96-px particles' inherited results."""
        builders = {
            "blob": lambda: _particle_blob(self.t, picks, BOX_CROP, PSIZE_CROP, "_fcrop"),
            "ctf": lambda: _particle_ctf(self.t, picks), "location": lambda: _location(self.t, picks),
            "pick_stats": lambda: _pick_stats(self.t, picks),
            "alignments2D": lambda: _take(self.alignments2D, picks),
        }
        return _Metafile(path, self.t.pick_uid[picks], {n: builders[n]() for n in names}, passthrough=True)

    def class2d(self) -> DocJob:
        picks = self.t.extracted
        parts_in = self.connected("particles", "particle", "Particle stacks", SLOTS_2D,
                                  (EXTRACT_UID, "particles_fcrop"))
        final = f"J6/J6_{CLASS2D_FINAL:03d}"
        particles = self.output("particles", "particle", "Particles with 2D alignments", [
            _Metafile(f"{final}_particles.cs", self.t.pick_uid[picks],
                      {"alignments2D": _take(self.alignments2D, picks)}, version=CLASS2D_FINAL),
            self.particles_passthrough("J6/J6_passthrough_particles.cs", picks, *INHERITED_2D),
        ], "particles")
        classes = self.output("class_averages", "template", "2D class averages", [
            _Metafile(f"{final}_class_averages.cs", self.class_uids,
                      {"blob": _template_blob(N_CLASSES, f"{final}_class_averages.mrc")}, version=CLASS2D_FINAL)])
        return _job("J6", "class_2D_new", "2D Classification (96 px)", 95, 25, inputs=(parts_in,),
                    outputs=(particles, classes), params={"class2D_K": N_CLASSES})

    def select2d(self) -> DocJob:
        parts_in = self.connected("particles", "particle", "Particles", doc_slots("alignments2D"), ("J6", "particles"))
        templates_in = self.connected("templates", "template", "Templates", doc_slots("blob"),
                                      ("J6", "class_averages"), count_max=1)
        averages = _template_blob(N_CLASSES, f"J6/J6_{CLASS2D_FINAL:03d}_class_averages.mrc")
        outputs = []
        for kind, picks, classes in (("selected", self.t.good, np.arange(N_GOOD_CLASSES)),
                                     ("excluded", self.t.junk, np.arange(N_GOOD_CLASSES, N_CLASSES))):
            outputs.append(self.selection(f"particles_{kind}", picks))
            outputs.append(self.output(f"templates_{kind}", "template", f"Templates {kind}", [
                _Metafile(f"J7/templates_{kind}.cs", self.class_uids[classes], {"blob": _take(averages, classes)})]))
        return _job("J7", "select_2D", "Select 2D Classes", 125, 6, inputs=(parts_in, templates_in),
                    outputs=tuple(outputs), interactive=True)

    def selection(self, name: str, picks: np.ndarray) -> DocOutput:
        return self.output(name, "particle", name.replace("_", " ").capitalize(), [
            _Metafile(f"J7/{name}.cs", self.t.pick_uid[picks], {"alignments2D": _take(self.alignments2D, picks)}),
            self.particles_passthrough(f"J7/J7_passthrough_{name}.cs", picks, *INHERITED_2D),
        ], "particles")

    def abinit(self) -> DocJob:
        parts_in = self.connected("particles", "particle", "Particle stacks", doc_slots("blob", "?ctf"),
                                  ("J7", "particles_selected"))
        good = self.t.good
        seen = np.random.default_rng(11).permutation(len(good))  # the minibatches a version has used
        particle_files = []
        for i, (version, count) in enumerate(zip(ABINIT_PARTICLE_VERSIONS, ABINIT_COUNTS)):
            picks = np.sort(good[seen[:count]])
            label = _abinit_label(version, ABINIT_PARTICLE_VERSIONS)
            particle_files.append(_Metafile(
                f"J8/J8_class_00_{label}_particles.cs", self.t.pick_uid[picks],
                {"alignments3D": _alignments3D(self.t, picks, self.rng, 0.5 * (i + 1) / len(ABINIT_COUNTS))}, version))
        particle_files.append(
            self.particles_passthrough("J8/J8_passthrough_particles_class_0.cs", good, *INHERITED_3D))
        volume_uid = _unique_uids(self.rng, 1)
        volume_files = [
            _Metafile(f"J8/J8_class_00_{_abinit_label(v, ABINIT_VOLUME_VERSIONS)}_volume.cs", volume_uid,
                      {"map": _volume_blob(f"J8/J8_class_00_{v:05d}_volume.mrc")}, v)
            for v in ABINIT_VOLUME_VERSIONS
        ]
        outputs = (self.output("particles_class_0", "particle", "Particles class 0", particle_files, "particles"),
                   self.output("volume_class_0", "volume", "Volume class 0", volume_files))
        return _job("J8", "homo_abinit", "Ab-Initio Reconstruction", 135, 40, inputs=(parts_in,), outputs=outputs,
                    params={"abinit_K": 1})

    def refine_outputs(self, uid: str, versions: tuple[int, ...], empty_volume: tuple[str, ...] = ()) -> tuple:
        """A refinement's ``particles`` (new blob/ctf/alignments3D per version + one passthrough file) and
        ``volume`` (maps and masks per version; sharpened map and FSC masks only at the end)."""
        t, picks = self.t, self.t.good
        particle_files = [
            _Metafile(f"{uid}/{uid}_{v:03d}_particles.cs", t.pick_uid[picks], {
                "blob": _particle_blob(t, picks, BOX_CROP, PSIZE_CROP, "_fcrop"), "ctf": _particle_ctf(t, picks),
                "alignments3D": _alignments3D(t, picks, self.rng, 0.5 + 0.5 * (i + 1) / len(versions))}, v)
            for i, v in enumerate(versions)
        ]
        particle_files.append(self.particles_passthrough(f"{uid}/{uid}_passthrough_particles.cs", picks, *INHERITED_3D))
        volume_uid = _unique_uids(self.rng, 1)
        volume_files = []
        for v in versions:
            names = ["map", "map_half_A", "map_half_B", "mask_refine"]
            if v == versions[-1]:
                names += [n for n in ("map_sharp", "mask_fsc", "mask_fsc_auto") if n not in empty_volume]
            maps = {name: _volume_blob(f"{uid}/{uid}_{v:03d}_volume_{name}.mrc") for name in names}
            volume_files.append(_Metafile(f"{uid}/{uid}_{v:03d}_volume.cs", volume_uid, maps, v))
        return (self.output("particles", "particle", "All particles", particle_files, "particles"),
                self.output("volume", "volume", "Refined volume", volume_files, empty=empty_volume))

    def refine_inputs(self) -> tuple[DocInput, DocInput]:
        """Curated 96-px particles from Select 2D, initial volume from ab-initio."""
        return (self.connected("particles", "particle", "Particle stacks", SLOTS_REFINE, ("J7", "particles_selected")),
                self.connected("volume", "volume", "Initial volume", MAP_SLOT, ("J8", "volume_class_0"), count_max=1))

    def refine(self) -> DocJob:
        return _job(REFINE_UID, "homo_refine_new", "Homogeneous Refinement (96 px)", 180, 50,
                    inputs=self.refine_inputs(), outputs=self.refine_outputs(REFINE_UID, REFINE_VERSIONS),
                    params={"refine_symmetry": "C1", "refine_num_final_iterations": 1})

    def class2d_full_size(self) -> DocJob:
        parts_in = self.connected("particles", "particle", "Particle stacks", SLOTS_2D, (EXTRACT_UID, "particles"))
        particles = self.output("particles", "particle", "Particles with 2D alignments", [], "particles",
                                empty=("alignments2D", "blob", "ctf", "location", "pick_stats"))
        classes = self.output("class_averages", "template", "2D class averages", [], empty=("blob",))
        return _job("J10", "class_2D_new", "2D Classification (452 px, too slow)", 190, 15, status="killed",
                    workspaces=("W2",), inputs=(parts_in,), outputs=(particles, classes),
                    params={"class2D_K": N_CLASSES})

    def nu_refine_failed(self) -> DocJob:
        outputs = self.refine_outputs("J11", (0,), empty_volume=("map_sharp", "mask_fsc", "mask_fsc_auto"))
        return _job("J11", "nonuniform_refine_new", "Non-uniform Refinement", 240, 7, status="failed",
                    inputs=self.refine_inputs(), outputs=outputs, params={"refine_symmetry": "C1"},
                    errors=("CUDA_ERROR_OUT_OF_MEMORY: out of memory (iteration 1, engine 0)",))

    def local_refine(self) -> DocJob:
        particles = self.connected("particles", "particle", "Particle stacks",
                                   doc_slots("blob", "ctf", "alignments3D", "?sym_expand"), (REFINE_UID, "particles"))
        volume = self.connected("volume", "volume", "Initial volume", MAP_SLOT, (REFINE_UID, "volume"), count_max=1)
        # a mask group carries its map as blob (mask.blob, §6.2); optional and left empty
        mask = DocInput("mask", "mask", "Static mask", doc_slots("?mask", dtypes={"mask": "blob"}),
                        count_min=0, count_max=1)
        return _job(LOCAL_REFINE_UID, "new_local_refine", "Local Refinement (for full-size blob)", 270, None,
                    status="building", inputs=(particles, volume, mask),
                    params={"use_pose_prior": True, "fulcrum_mode": "mask_center"})


SLOTS_2D = doc_slots("blob", "ctf", "?alignments2D")
SLOTS_REFINE = doc_slots("blob", "ctf", "?alignments3D")
MAP_SLOT = doc_slots("map", dtypes={"map": "blob"})
INHERITED_2D = ("blob", "ctf", "location", "pick_stats")  # what 2D classification and Select 2D pass through
INHERITED_3D = ("alignments2D", "location", "pick_stats")  # what 3D jobs pass through from curated particles


def _abinit_label(version: int, versions: tuple[int, ...]) -> str:
    """Ab-initio names its last file ``final`` although its version is the iteration number (§4)."""
    return "final" if version == versions[-1] else f"{version:05d}"


def _job(uid: str, type: str, title: str, start_min: int, run_min: int | None, status: str = "completed",
         inputs: tuple[DocInput, ...] = (), **fields) -> DocJob:
    """A job created ``start_min`` minutes into the session that ran for ``run_min`` minutes; its
    parents are the jobs its inputs connect to."""
    created = START + timedelta(minutes=start_min)
    return DocJob(uid, type, title, status, created, parents=parents_of(inputs), inputs=inputs,
                  events=_events(created, status, run_min), **fields)


def _events(created: datetime, status: str, run_min: int | None) -> dict[str, datetime]:
    if status == "building" or run_min is None:
        return {}
    queued = created + timedelta(minutes=2)
    events = {"queued_at": queued, "launched_at": queued + timedelta(seconds=20),
              "started_at": queued + timedelta(seconds=25), "running_at": queued + timedelta(seconds=40)}
    end = {"completed": "completed_at", "killed": "killed_at", "failed": "failed_at"}[status]
    return events | {end: queued + timedelta(minutes=run_min)}

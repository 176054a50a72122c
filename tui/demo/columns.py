"""The demo project's numbers: one ground truth (micrographs, picks, particles with their uids)
and the columns of every result, cut from it so that every file agrees with every other."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np

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

"""How two results of one type differ, on the particles they share: two versions of one result
(iteration 3 against the final one) or one type of result from two jobs (two refinements).

Rows are matched by ``uid`` on sorted arrays (the cached uid columns of :mod:`tui.core.uids`),
and only the columns a measure needs are read (memory-mapped):

* alignments3D: the angle of the relative rotation R_a^T R_b of the poses (Rodrigues vectors),
  median and 90th percentile; the shift change in pixels and in Å (shifts are in pixels of
  ``psize_A``); the fraction of particles whose ``class`` changed.
* alignments2D: the same with the in-plane angle (``pose`` is a scalar in radians).
* ctf: the median |Δdf1| and |Δdf2|, and which fields differ.
* anything else: which shared fields differ, and in how many rows.

Differences are cached by the two files' (path, size, mtime), so the version picker opens again
without reading anything.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import Any, Callable, Iterator

import numpy as np

from .csfile import CsHeader, load, read_header
from .errors import CsFileError, CsRebindError
from .filecache import FileCache, file_key
from .model import ALIGNMENT_DTYPES, OutputResult
from .project import Project
from .refs import ResultRef
from .uids import UidColumn, uid_column

LINEAGE = "no uid in common: different particle lineage (re-extracted or imported?)"

_cache: FileCache["ResultDiff"] = FileCache(max_items=1024)
_orders: FileCache[np.ndarray] = FileCache(max_items=256, max_bytes=256 * 2**20, size_of=lambda order: order.nbytes)


class DiffError(CsRebindError):
    """Two results cannot be compared (different types, or a file that cannot be read: then
    ``metafile`` and ``problem`` say which and what)."""

    def __init__(self, message: str, metafile: str | None = None, problem: str | None = None) -> None:
        super().__init__(message)
        self.metafile, self.problem = metafile, problem


@dataclass(frozen=True)
class FieldDifference:
    """A field both files hold and the shared rows in which its values differ."""

    field: str  # without the result prefix, e.g. ``df1_A``
    rows: int


@dataclass(frozen=True)
class ResultDiff:
    """Result B against result A, measured on the uids both hold."""

    ref_a: str
    ref_b: str
    dtype: str
    metafile_a: str
    metafile_b: str
    rows_a: int
    rows_b: int
    shared: int
    pose_median_deg: float | None = None
    pose_p90_deg: float | None = None
    shift_median_px: float | None = None  # None when the two files' pixel sizes differ
    shift_median_A: float | None = None
    class_changed_rows: int | None = None  # None when either file has no class column
    df1_median_A: float | None = None
    df2_median_A: float | None = None
    fields_compared: tuple[str, ...] | None = None  # None: not a field-by-field comparison
    differing: tuple[FieldDifference, ...] = ()
    only_in_a: tuple[str, ...] = ()
    only_in_b: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def class_changed_fraction(self) -> float | None:
        if self.class_changed_rows is None or self.shared == 0:
            return None
        return self.class_changed_rows / self.shared

    def summary(self) -> str:
        """One short line (the version picker's): ``pose 2.13° · shift 0.31 px (1.63 Å) · class 0.0%``."""
        if self.shared == 0:
            return "no uid in common"
        parts: list[str] = []
        if self.pose_median_deg is not None:
            parts.append(f"pose {_num(self.pose_median_deg)}°")
        if self.shift_median_A is not None:
            px = f"{_num(self.shift_median_px)} px " if self.shift_median_px is not None else ""
            parts.append(f"shift {px}({_num(self.shift_median_A)} Å)" if px else f"shift {_num(self.shift_median_A)} Å")
        elif self.shift_median_px is not None:
            parts.append(f"shift {_num(self.shift_median_px)} px")
        if self.class_changed_fraction is not None:
            parts.append(f"class {_percent(self.class_changed_fraction)}")
        if self.df1_median_A is not None or self.df2_median_A is not None:
            parts.append("defocus " + " / ".join(f"{_num(v)} Å" for v in (self.df1_median_A, self.df2_median_A)
                                                if v is not None))
        if self.fields_compared is not None:
            parts.append(f"{len(self.differing)} of {len(self.fields_compared)} fields differ"
                         if self.differing else "no field differs")
        return " · ".join(parts) or "nothing to compare"

    def lines(self) -> list[str]:
        out = [
            f"{self.ref_a} → {self.ref_b}  ({self.dtype})",
            f"  A: {self.metafile_a}  {self.rows_a:,} rows",
            f"  B: {self.metafile_b}  {self.rows_b:,} rows",
            f"  shared uids: {self.shared:,}"
            + (f" (only in A: {self.rows_a - self.shared:,}, only in B: {self.rows_b - self.shared:,})"
               if self.shared and (self.shared != self.rows_a or self.shared != self.rows_b) else ""),
        ]
        if self.pose_median_deg is not None:
            out.append(f"  pose change: median {_num(self.pose_median_deg)}°, "
                       f"90th percentile {_num(self.pose_p90_deg)}°")
        if self.shift_median_A is not None or self.shift_median_px is not None:
            px = f"{_num(self.shift_median_px)} px" if self.shift_median_px is not None else None
            angstrom = f"{_num(self.shift_median_A)} Å" if self.shift_median_A is not None else None
            text = f"{px} ({angstrom})" if px and angstrom else (px or angstrom)
            out.append(f"  shift change: median {text}")
        if self.class_changed_rows is not None:
            out.append(f"  class changed: {self.class_changed_rows:,} of {self.shared:,} rows "
                       f"({_percent(self.class_changed_fraction or 0.0)})")
        if self.df1_median_A is not None or self.df2_median_A is not None:
            both = ", ".join(f"|Δ{name}| {_num(v)} Å" for name, v in
                             (("df1", self.df1_median_A), ("df2", self.df2_median_A)) if v is not None)
            out.append(f"  defocus change: median {both}")
        if self.fields_compared is not None:
            if self.differing:
                out.append(f"  fields that differ ({len(self.differing)} of {len(self.fields_compared)}):")
                out.extend(f"    {d.field}: {d.rows:,} of {self.shared:,} rows" for d in self.differing)
            elif self.shared:
                out.append(f"  no field differs ({len(self.fields_compared)} compared)")
            if self.only_in_a:
                out.append(f"  only in A: {', '.join(self.only_in_a)}")
            if self.only_in_b:
                out.append(f"  only in B: {', '.join(self.only_in_b)}")
        out.extend(f"  note: {note}" for note in self.notes)
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "a": {"ref": self.ref_a, "metafile": self.metafile_a, "rows": self.rows_a},
            "b": {"ref": self.ref_b, "metafile": self.metafile_b, "rows": self.rows_b},
            "dtype": self.dtype,
            "shared": self.shared,
            "pose_change_deg": None if self.pose_median_deg is None
            else {"median": self.pose_median_deg, "p90": self.pose_p90_deg},
            "shift_change": None if self.shift_median_A is None and self.shift_median_px is None
            else {"median_px": self.shift_median_px, "median_A": self.shift_median_A},
            "class_changed": None if self.class_changed_rows is None
            else {"rows": self.class_changed_rows, "fraction": self.class_changed_fraction},
            "defocus_change_A": None if self.df1_median_A is None and self.df2_median_A is None
            else {"df1_median": self.df1_median_A, "df2_median": self.df2_median_A},
            "fields": None if self.fields_compared is None else {
                "compared": list(self.fields_compared),
                "differing": {d.field: d.rows for d in self.differing},
                "only_in_a": list(self.only_in_a),
                "only_in_b": list(self.only_in_b),
            },
            "notes": list(self.notes),
        }


def _num(value: float | None) -> str:
    """Two decimals below 10, one above (9.99996 is 10.0, as 10.00001 is)."""
    if value is None:
        return "?"
    return f"{value:.1f}" if abs(round(value, 2)) >= 10 else f"{value:.2f}"


def _percent(fraction: float) -> str:
    return f"{100 * fraction:.1f}%"


# --- comparing two references -------------------------------------------------------------------


def diff_results(project: Project, ref_a: ResultRef | str, ref_b: ResultRef | str) -> ResultDiff:
    """B against A (RefError for an unknown reference, DiffError when they cannot be compared)."""
    ref_a = ResultRef.parse(ref_a) if isinstance(ref_a, str) else ref_a
    ref_b = ResultRef.parse(ref_b) if isinstance(ref_b, str) else ref_b
    a, b = project.resolve(ref_a), project.resolve(ref_b)
    if a.dtype != b.dtype:
        raise DiffError(
            f"{ref_a} is {a.dtype} and {ref_b} is {b.dtype}: only results of one type can be compared"
        )
    return _diff_files(project, (ref_a, a.metafile), (ref_b, b.metafile), a.dtype)


def _diff_files(project: Project, a: tuple[ResultRef, str], b: tuple[ResultRef, str], dtype: str) -> ResultDiff:
    """B against A, from the cache when neither file changed since they were last compared."""
    (ref_a, metafile_a), (ref_b, metafile_b) = a, b
    path_a, path_b = project.absolute(metafile_a), project.absolute(metafile_b)
    try:
        key_a = file_key(path_a)
        found = _cache.get(path_b, ("diff", key_a, ref_a.result, ref_b.result, dtype),
                           lambda: _measure(path_a, path_b, ref_a.result, ref_b.result, dtype))
    except CsFileError as exc:  # say which reference the file holds, and what is wrong with it
        ref, metafile = (ref_a, metafile_a) if exc.path == os.fspath(path_a) else (ref_b, metafile_b)
        raise DiffError(f"{ref} ({metafile}): {exc.problem}", metafile, exc.problem) from None
    return replace(found, ref_a=str(ref_a), ref_b=str(ref_b), metafile_a=metafile_a, metafile_b=metafile_b)


# --- the versions of one result -----------------------------------------------------------------


@dataclass(frozen=True)
class VersionStep:
    """One stored version of a result, compared with the version stored before it."""

    version: int
    metafile: str
    rows: int | None  # rows in the file; job.json's count when the file cannot be read
    previous: int | None  # the version compared against (None for the first)
    diff: ResultDiff | None = None
    error: str | None = None  # why there is no difference to show

    def to_json(self) -> dict[str, Any]:
        return {"version": self.version, "metafile": self.metafile, "rows": self.rows, "previous": self.previous,
                "diff": self.diff.to_json() if self.diff else None, "error": self.error}


def version_step(project: Project, result: OutputResult, index: int) -> VersionStep:
    """Version ``index`` (a position in ``result.versions``) against the one stored before it.
    Never raises for a file that cannot be read: the step says what is wrong instead."""
    version, metafile = result.versions[index], result.metafiles[index]
    listed = result.num_items[index] if index < len(result.num_items) else None
    try:
        rows: int | None = len(uid_column(project.absolute(metafile)))
    except CsFileError as exc:
        return VersionStep(version, metafile, listed, _previous(result, index), error=f"{metafile}: {exc.problem}")
    previous = _previous(result, index)
    if previous is None:
        return VersionStep(version, metafile, rows, None)
    ref = result.ref(version)
    try:
        found = _diff_files(project, (result.ref(previous), result.metafiles[index - 1]), (ref, metafile), result.dtype)
    except DiffError as exc:
        error = f"{exc.metafile}: {exc.problem}" if exc.metafile else str(exc)
        return VersionStep(version, metafile, rows, previous, error=error)
    return VersionStep(version, metafile, rows, previous, diff=found)


def version_steps(project: Project, result: OutputResult) -> Iterator[VersionStep]:
    """Every stored version of ``result`` with its rows and its difference from the version stored
    before it, newest first (what the version picker shows at the top comes first)."""
    count = min(len(result.versions), len(result.metafiles))
    for index in reversed(range(count)):
        yield version_step(project, result, index)


def _previous(result: OutputResult, index: int) -> int | None:
    return result.versions[index - 1] if index > 0 else None


# --- measuring ----------------------------------------------------------------------------------


def _measure(path_a, path_b, prefix_a: str, prefix_b: str, dtype: str) -> ResultDiff:
    """The numbers only: references and metafiles are filled in by the caller (one cached
    measurement serves ``J9.particles.alignments3D.7`` and ``….F`` alike)."""
    uids_a, uids_b = uid_column(path_a), uid_column(path_b)
    rows_a, rows_b = _shared_rows(uids_a, uids_b, lambda: _file_order(path_a, uids_a),
                                  lambda: _file_order(path_b, uids_b))
    base = ResultDiff("", "", dtype, "", "", len(uids_a), len(uids_b), int(len(rows_a)))
    header_a, header_b = read_header(path_a), read_header(path_b)
    names_a, names_b = _suffixes(header_a, prefix_a), _suffixes(header_b, prefix_b)
    if dtype in ALIGNMENT_DTYPES:
        found = _alignments(path_a, path_b, prefix_a, prefix_b, names_a, names_b, rows_a, rows_b) if base.shared else {}
    else:
        found = _fields(path_a, path_b, prefix_a, prefix_b, names_a, names_b, rows_a, rows_b)
        if dtype == "ctf" and base.shared:
            found.update(_defocus(path_a, path_b, prefix_a, prefix_b, names_a, names_b, rows_a, rows_b))
    notes = list(found.pop("notes", ()))
    if base.shared == 0:
        notes.insert(0, LINEAGE)
    return replace(base, **found, notes=tuple(notes))


def _shared_rows(a: UidColumn, b: UidColumn, order_a: Callable[[], np.ndarray],
                 order_b: Callable[[], np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Row numbers in A and in B of every uid both hold, in uid order (a repeated uid counts once,
    at its first row). Sorted arrays and searchsorted: no hashing, no Python sets."""
    if len(a) == 0 or len(b) == 0:
        return np.empty(0, dtype=np.intp), np.empty(0, dtype=np.intp)
    distinct = b.sorted[np.concatenate(([True], b.sorted[1:] != b.sorted[:-1]))]
    pos = np.minimum(np.searchsorted(a.sorted, distinct), len(a) - 1)
    common = distinct[a.sorted[pos] == distinct]
    return order_a()[np.searchsorted(a.sorted, common)], order_b()[np.searchsorted(b.sorted, common)]


def _file_order(path, column: UidColumn) -> np.ndarray:
    """The rows of ``path`` in uid order (``column.uids[order] == column.sorted``; stable, so a
    repeated uid's first row comes first), cached like the uid column itself."""
    return _orders.get(path, "uid-order", lambda: np.argsort(column.uids, kind="stable"))


def _suffixes(header: CsHeader, prefix: str) -> dict[str, str]:
    """``pose`` → ``alignments3D/pose`` for every column of the result."""
    return {name.split("/", 1)[1]: name for name in header.fields_of(prefix)}


def _columns(path, names: list[str]) -> dict[str, np.ndarray]:
    if not names:
        return {}
    table = load(path, fields=names)
    return {name: table[name] for name in names}


def _alignments(path_a, path_b, prefix_a, prefix_b, names_a, names_b, rows_a, rows_b) -> dict[str, Any]:
    wanted = [s for s in ("pose", "shift", "psize_A", "class") if s in names_a and s in names_b]
    notes = [f"no {s} column in {'A' if s not in names_a else 'B'}" for s in ("pose", "shift")
             if s not in wanted]
    col_a = _columns(path_a, [names_a[s] for s in wanted])
    col_b = _columns(path_b, [names_b[s] for s in wanted])

    def pair(suffix: str) -> tuple[np.ndarray, np.ndarray]:
        return (np.asarray(col_a[names_a[suffix]])[rows_a].astype(np.float64),
                np.asarray(col_b[names_b[suffix]])[rows_b].astype(np.float64))

    out: dict[str, Any] = {}
    try:
        if "pose" in wanted:
            pose_a, pose_b = pair("pose")
            if pose_a.shape[1:] != pose_b.shape[1:]:
                notes.append(f"poses of different shapes ({pose_a.shape[1:]} and {pose_b.shape[1:]}) not compared")
            else:
                angles = pose_change_deg(pose_a, pose_b)
                out["pose_median_deg"], out["pose_p90_deg"] = _median(angles), _percentile(angles, 90)
        if "shift" in wanted:
            shift_a, shift_b = pair("shift")
            out.update(_shift_change(shift_a, shift_b, pair("psize_A") if "psize_A" in wanted else None, notes))
        if "class" in wanted:
            class_a = np.asarray(col_a[names_a["class"]])[rows_a]
            class_b = np.asarray(col_b[names_b["class"]])[rows_b]
            out["class_changed_rows"] = int(np.count_nonzero(class_a != class_b))
    except (ValueError, TypeError) as exc:  # a column of an unexpected shape or type
        raise CsFileError(path_b, f"cannot compare its alignment columns with {os.fspath(path_a)} ({exc})") from None
    out["notes"] = notes
    return out


def pose_change_deg(pose_a: np.ndarray, pose_b: np.ndarray) -> np.ndarray:
    """Per row, the angle in degrees between two poses: Rodrigues vectors (N, 3), the angle of
    R_a^T R_b; or in-plane angles in radians (N,), the wrapped difference."""
    pose_a, pose_b = np.asarray(pose_a, dtype=np.float64), np.asarray(pose_b, dtype=np.float64)
    if pose_a.ndim == 1 or pose_a.shape[1:] in ((), (1,)):
        delta = pose_b.reshape(len(pose_b)) - pose_a.reshape(len(pose_a))
        return np.degrees(np.abs(np.remainder(delta + np.pi, 2 * np.pi) - np.pi))
    w_a, v_a = _quaternions(pose_a)
    w_b, v_b = _quaternions(pose_b)
    # q_a* q_b: scalar part w_a w_b + v_a·v_b, vector part w_a v_b - w_b v_a - v_a × v_b.
    w = w_a * w_b + np.einsum("ij,ij->i", v_a, v_b)
    v = w_a[:, None] * v_b - w_b[:, None] * v_a - np.cross(v_a, v_b)
    # atan2 stays accurate near 0° and 180°, where arccos of a dot product does not; q and -q
    # are one rotation, hence |w|.
    return np.degrees(2 * np.arctan2(np.sqrt(np.einsum("ij,ij->i", v, v)), np.abs(w)))


def _quaternions(rotvecs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unit quaternions (w, v) of Rodrigues rotation vectors (axis × angle in radians)."""
    angle = np.sqrt(np.einsum("ij,ij->i", rotvecs, rotvecs))
    # sin(angle/2)/angle, well defined at 0 (→ 1/2): np.sinc(x) = sin(πx)/(πx).
    scale = 0.5 * np.sinc(angle / (2 * np.pi))
    return np.cos(angle / 2), rotvecs * scale[:, None]


def _shift_change(shift_a, shift_b, psizes, notes: list[str]) -> dict[str, Any]:
    shift_a, shift_b = shift_a.reshape(len(shift_a), -1), shift_b.reshape(len(shift_b), -1)
    out: dict[str, Any] = {}
    same_pixels = True
    if psizes is not None:
        psize_a, psize_b = (p.reshape(len(p)) for p in psizes)
        same_pixels = bool(np.allclose(psize_a, psize_b, rtol=1e-5, atol=0))
        moved_A = np.linalg.norm(shift_b * psize_b[:, None] - shift_a * psize_a[:, None], axis=1)
        out["shift_median_A"] = _median(moved_A)
        if not same_pixels:
            notes.append("the pixel sizes of A and B differ: the shift change is given in Å only")
    else:
        notes.append("no psize_A column: the shift change is given in pixels only")
    if same_pixels:
        out["shift_median_px"] = _median(np.linalg.norm(shift_b - shift_a, axis=1))
    return out


def _defocus(path_a, path_b, prefix_a, prefix_b, names_a, names_b, rows_a, rows_b) -> dict[str, Any]:
    wanted = [s for s in ("df1_A", "df2_A") if s in names_a and s in names_b]
    col_a = _columns(path_a, [names_a[s] for s in wanted])
    col_b = _columns(path_b, [names_b[s] for s in wanted])
    out: dict[str, Any] = {}
    for suffix in wanted:
        a = np.asarray(col_a[names_a[suffix]])[rows_a].astype(np.float64)
        b = np.asarray(col_b[names_b[suffix]])[rows_b].astype(np.float64)
        out[f"{suffix[:3]}_median_A"] = _median(np.abs(b - a))
    return out


def _fields(path_a, path_b, prefix_a, prefix_b, names_a, names_b, rows_a, rows_b) -> dict[str, Any]:
    """Field by field: in how many shared rows the values differ (NaN equals NaN)."""
    shared = [s for s in names_a if s in names_b]
    notes: list[str] = []
    differing: list[FieldDifference] = []
    compared: list[str] = []
    col_a = _columns(path_a, [names_a[s] for s in shared])
    col_b = _columns(path_b, [names_b[s] for s in shared])
    count = len(rows_a)
    for suffix in shared:
        a = np.asarray(col_a[names_a[suffix]])
        b = np.asarray(col_b[names_b[suffix]])
        if a.shape[1:] != b.shape[1:]:
            notes.append(f"{suffix}: shapes differ ({a.shape[1:]} and {b.shape[1:]}), not compared")
            continue
        if (a.dtype.kind in "SUO") != (b.dtype.kind in "SUO"):
            notes.append(f"{suffix}: text in one file, numbers in the other ({a.dtype.str} and {b.dtype.str})")
            continue
        compared.append(suffix)
        if count == 0:
            continue
        va, vb = a[rows_a].reshape(count, -1), b[rows_b].reshape(count, -1)
        same = va == vb
        if va.dtype.kind in "fc" and vb.dtype.kind in "fc":
            same |= np.isnan(va) & np.isnan(vb)
        rows = int(np.count_nonzero(~same.all(axis=1)))
        if rows:
            differing.append(FieldDifference(suffix, rows))
    return {
        "fields_compared": tuple(compared),
        "differing": tuple(differing),
        "only_in_a": tuple(s for s in names_a if s not in names_b),
        "only_in_b": tuple(s for s in names_b if s not in names_a),
        "notes": notes,
    }


def _median(values: np.ndarray) -> float | None:
    values = values[np.isfinite(values)]
    return float(np.median(values)) if values.size else None


def _percentile(values: np.ndarray, q: float) -> float | None:
    values = values[np.isfinite(values)]
    return float(np.percentile(values, q)) if values.size else None



"""Joining a slot's result on something other than ``uid`` (issue 10 item 4): the connection's
particles and the bound result come from different uid lineages, but the same particles.

``uid``       the ordinary inner join (CryoSPARC's own).
``src_uid``   symmetry expansion gives every copy a new uid and keeps the original one in
              ``sym_expand/src_uid`` (cryosparc-tools ``docs/examples/upscale-expanded-particles``):
              each connection row takes the bound row whose ``uid`` is its ``src_uid``, many to one.
``location``  particles extracted twice get new uids: rows are matched on
              ``location/micrograph_uid`` and the pick position in micrograph pixels
              (``center_x_frac × micrograph_shape[1]``, ``center_y_frac × micrograph_shape[0]``)
              within a tolerance in pixels (Euclidean).
``path``      rows are matched on ``blob/path`` + ``blob/idx`` (the same image in the same stack).

A connection row with exactly one counterpart is matched; with several it is ambiguous and
refused (dropped, never guessed); with none it is dropped. Several connection rows may take the
same bound row (the copies of an expanded particle). Everything is sorting and searching on
numpy arrays: no Python sets, no per-row loops. This module is pure; join.py reads the columns.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ExportError

MATCH_MODES: tuple[str, ...] = ("uid", "src_uid", "location", "path")
DEFAULT_TOLERANCE = 3.0  # pixels of the micrograph
MAX_CANDIDATE_PAIRS = 50_000_000  # location pairs within the tolerance, before the distance check

# the fields each side needs, per mode: (connection side, bound side)
KEY_FIELDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "src_uid": (("sym_expand/src_uid",), ("uid",)),
    "path": (("blob/path", "blob/idx"), ("blob/path", "blob/idx")),
    "location": (
        ("location/micrograph_uid", "location/micrograph_shape", "location/center_x_frac", "location/center_y_frac"),
    ) * 2,
}
KEY_TEXT = {
    "src_uid": "sym_expand/src_uid → uid",
    "path": "blob/path + blob/idx",
    "location": "location/micrograph_uid + pick position",
}


@dataclass(frozen=True)
class MatchReport:
    """How the connection's rows found their rows in one matched file."""

    mode: str
    considered: int  # connection rows it was matched for (those the uid join kept)
    matched: int
    ambiguous: int  # several counterparts: refused, dropped
    unmatched: int  # no counterpart (or no key): dropped
    tolerance: float | None = None

    def text(self) -> str:
        within = f" within {self.tolerance:g} px" if self.tolerance is not None else ""
        return (
            f"matched on {KEY_TEXT[self.mode]}{within}: {self.matched:,} of {self.considered:,} rows matched, "
            f"{self.ambiguous:,} ambiguous (refused, never guessed), {self.unmatched:,} without a match (dropped)"
        )


@dataclass(frozen=True)
class MatchSpec:
    """How each slot of an export is joined: ``mode`` for every slot bound to another output
    than its connection's own (a rebinding), ``slots`` for named slots whatever they are bound
    to, and the location tolerance in micrograph pixels."""

    mode: str = "uid"
    slots: tuple[tuple[str, str], ...] = ()
    tolerance: float = DEFAULT_TOLERANCE

    def __post_init__(self) -> None:
        for mode in (self.mode, *(m for _, m in self.slots)):
            if mode not in MATCH_MODES:
                raise ExportError(f"--match {mode}: expected one of {', '.join(MATCH_MODES)}")
        if not self.tolerance > 0:
            raise ExportError(f"--tolerance {self.tolerance}: expected a positive number of pixels")

    @classmethod
    def parse(cls, values: list[str] | tuple[str, ...] | None, tolerance: float | None = None) -> "MatchSpec":
        """``["src_uid"]`` (every rebound slot) and/or ``["blob=location"]`` (one slot)."""
        mode, slots = "uid", []
        for value in values or ():
            slot, sep, chosen = value.partition("=")
            if sep:
                slots.append((slot.strip().split(".")[-1], chosen.strip()))
            else:
                mode = value.strip()
        return cls(mode, tuple(slots), DEFAULT_TOLERANCE if tolerance is None else float(tolerance))

    @property
    def active(self) -> bool:
        return self.mode != "uid" or any(m != "uid" for _, m in self.slots)

    def for_slot(self, slot: str, rebound: bool) -> str:
        explicit = next((m for s, m in self.slots if s == slot), None)
        if explicit is not None:
            return explicit
        return self.mode if rebound else "uid"

    def text(self) -> str:
        parts = [f"--match {self.mode}"] if self.mode != "uid" else []
        parts += [f"--match {s}={m}" for s, m in self.slots]
        if any(m == "location" for m in (self.mode, *(m for _, m in self.slots))):
            parts.append(f"--tolerance {self.tolerance:g}")
        return " ".join(parts)


@dataclass(frozen=True)
class Matched:
    """One bound file matched onto the connection's rows."""

    rows: np.ndarray  # per query row: the bound row, or -1
    ambiguous: int
    unmatched: int

    @property
    def matched(self) -> int:
        return int(np.count_nonzero(self.rows >= 0))


def match_keys(query: np.ndarray, keys: np.ndarray, valid: np.ndarray | None = None) -> Matched:
    """Many-to-one equality join: each query takes the row of ``keys`` equal to it; a key that
    occurs more than once makes its queries ambiguous. ``valid`` masks queries without a key."""
    order = np.argsort(keys, kind="stable")
    ordered = keys[order]
    left = np.searchsorted(ordered, query, side="left")
    right = np.searchsorted(ordered, query, side="right")
    count = right - left
    if valid is not None:
        count = np.where(valid, count, 0)
    rows = np.full(len(query), -1, dtype=np.int64)
    one = count == 1
    rows[one] = order[left[one]]
    return _counted(rows, int(np.count_nonzero(count > 1)))


def _counted(rows: np.ndarray, ambiguous: int) -> Matched:
    """Every query row is matched, ambiguous, or unmatched (no key, or no counterpart)."""
    return Matched(rows, ambiguous, len(rows) - int(np.count_nonzero(rows >= 0)) - ambiguous)


def path_keys(paths_q: np.ndarray, idx_q: np.ndarray, paths_s: np.ndarray, idx_s: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray]:
    """One uint64 per (path, idx) on both sides: the path's rank among all paths, then the index."""
    paths = np.concatenate([paths_q.astype(np.bytes_), paths_s.astype(np.bytes_)])
    _, inverse = np.unique(paths, return_inverse=True)
    inverse = inverse.astype(np.uint64).reshape(-1)
    rank_q, rank_s = inverse[: len(paths_q)], inverse[len(paths_q):]
    return ((rank_q << np.uint64(32)) | idx_q.astype(np.uint64),
            (rank_s << np.uint64(32)) | idx_s.astype(np.uint64))


def pick_position(shape: np.ndarray, x_frac: np.ndarray, y_frac: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pick centre in micrograph pixels: ``micrograph_shape`` is (ny, nx)."""
    shape = np.asarray(shape, dtype=np.float64).reshape(len(x_frac), -1)
    return x_frac.astype(np.float64) * shape[:, 1], y_frac.astype(np.float64) * shape[:, 0]


def match_location(mic_q: np.ndarray, x_q: np.ndarray, y_q: np.ndarray, mic_s: np.ndarray, x_s: np.ndarray,
                   y_s: np.ndarray, tolerance: float, valid: np.ndarray | None = None) -> Matched:
    """Each query pick takes the bound pick on the same micrograph within ``tolerance`` pixels;
    two or more within it make it ambiguous. Bucketed by micrograph, then a sorted sweep on x:
    candidate pairs are the bound picks whose x is within the tolerance (one ``searchsorted``
    each side), checked on the distance, all as array operations."""
    n = len(mic_q)
    rows = np.full(n, -1, dtype=np.int64)
    if n == 0 or len(mic_s) == 0:
        return _counted(rows, 0)
    # micrographs as dense integers, shared by both sides
    _, mic_rank = np.unique(np.concatenate([mic_q, mic_s]), return_inverse=True)
    mic_rank = mic_rank.reshape(-1).astype(np.float64)
    rank_q, rank_s = mic_rank[:n], mic_rank[n:]
    finite_q = np.isfinite(x_q) & np.isfinite(y_q)
    finite_s = np.isfinite(x_s) & np.isfinite(y_s)
    span = float(max(np.abs(x_q[finite_q]).max(initial=0.0), np.abs(x_s[finite_s]).max(initial=0.0)))
    stride = 2.0 * (span + tolerance) + 1.0  # micrographs never overlap on the combined axis
    line_s = np.where(finite_s, rank_s * stride + x_s, np.inf)
    order = np.argsort(line_s, kind="stable")
    ordered = line_s[order]
    line_q = rank_q * stride + x_q
    ok_q = finite_q if valid is None else (finite_q & valid)
    low = np.searchsorted(ordered, line_q - tolerance, side="left")
    high = np.searchsorted(ordered, line_q + tolerance, side="right")
    counts = np.where(ok_q, high - low, 0)
    total = int(counts.sum())
    if total > MAX_CANDIDATE_PAIRS:
        raise ExportError(
            f"--match location: {total:,} candidate pairs within {tolerance:g} px on x; "
            "the tolerance is far larger than a particle: give a smaller --tolerance"
        )
    query = np.repeat(np.arange(n), counts)
    starts = np.repeat(low, counts)
    offsets = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
    bound = order[starts + offsets]
    dx = x_s[bound] - x_q[query]
    dy = y_s[bound] - y_q[query]
    close = dx * dx + dy * dy <= tolerance * tolerance
    query, bound = query[close], bound[close]
    hits = np.bincount(query, minlength=n)
    one = hits == 1
    rows[query[one[query]]] = bound[one[query]]
    return _counted(rows, int(np.count_nonzero(hits > 1)))

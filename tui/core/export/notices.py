"""What an export tells the user about a connection: why no row is kept, lineage that cannot be
joined on uid, and pixel sizes that differ after a swap. Text only; the join decides nothing here."""

from __future__ import annotations

import math

from ..model import ALIGNMENT_DTYPES
from .layout import ConnectionLayout, ExportLayout, SourceLayout
from .match import MatchReport


def no_rows_message(conn: ConnectionLayout, primary: SourceLayout, overlaps: list[tuple[SourceLayout, int]],
                     matches: dict[int, MatchReport] | None = None) -> str:
    disjoint = [src for src, count in overlaps if count == 0]
    how = "joining on uid" if not matches else "joining and matching"
    lines = [f"{conn.label}: no rows left after {how}, nothing written."]
    for src, count in overlaps:
        lines.append(f"{primary.metafile} ({primary.rows} rows) and {src.metafile} ({src.rows} rows) share {count} uid(s).")
    for i, found in (matches or {}).items():
        lines.append(f"{conn.sources[i].metafile} {found.text()}.")
    if (disjoint or _sym_expand_mix(conn)) and not matches:
        lines.append(LINEAGE_HINT)
    return " ".join(lines)


LINEAGE_HINT = (
    "The sources look like different uid lineages: symmetry expansion and re-extraction give particles "
    "new uids (symmetry expansion keeps the old one in sym_expand/src_uid), so rows cannot be matched on uid. "
    "Bind results that descend from the same particle set (e.g. take blob from the expanded or re-extracted "
    "output itself, or repeat the expansion/extraction on the branch whose results you want), "
    "or export with a match instead of the uid join: --match src_uid (symmetry-expanded particles), "
    "--match location or --match path (particles extracted twice)."
)


def _sym_expand_mix(conn: ConnectionLayout) -> bool:
    real = [s for s in conn.sources if not s.order_only]
    has = ["sym_expand/src_uid" in s.header.fields for s in real]
    return any(has) and not all(has)


def lineage_warnings(layout: ExportLayout) -> list[str]:
    return [
        f"{conn.label}: only some sources carry sym_expand/src_uid; {LINEAGE_HINT}"
        for conn in layout.connections if _sym_expand_mix(conn) and not conn.matched
    ]


# pixel sizes ---------------------------------------------------------------------------------
#
# ``alignments*/shift`` is in pixels of ``alignments*/psize_A``: readers that need the shift in Å
# multiply the two (public cryosparc-tools-based readers do), and CryoSPARC keeps both
# when it swaps in full-size particles itself (Extract's "Particles small" → "Particles" blob,
# Downsample). So the export keeps the values as they are and says so; only tools that take the
# shift as pixels of the particle images (STAR conversions, cryoDRGN's parse_pose_csparc with the
# new box) must rescale, by alignments psize / blob psize. The comparison is made only where the
# blob and the alignments come from different outputs: without a swap the two pixel sizes can
# differ by design (heterogeneous refinement aligns at its own, smaller box) and nothing is wrong.


def _swapped(conn: ConnectionLayout, layout: ExportLayout) -> list[str]:
    """The alignment prefixes of ``conn`` whose result comes from another output than its blob's."""
    blob = conn.origin("blob")
    if blob is None:
        return []
    return [
        prefix for prefix, where in conn.origins
        if where != blob and layout.types.get(prefix, "").split(".", 1)[-1] in ALIGNMENT_DTYPES
    ]


def psize_fields(conn: ConnectionLayout, layout: ExportLayout) -> dict[int, dict[str, str]]:
    """Per source index: source field → output field, for the psize_A columns worth comparing
    (none when no alignment comes from another output than the blob: nothing is read then)."""
    swapped = _swapped(conn, layout)
    if not swapped:
        return {}
    wanted = {f"{prefix}/psize_A" for prefix in ("blob", *swapped)}
    found: dict[int, dict[str, str]] = {}
    for i, src in enumerate(conn.sources):
        for col in src.columns:
            if col.output in wanted:
                found.setdefault(i, {})[col.source] = col.output
    return found


def psize_warnings(conn: ConnectionLayout, psizes: dict[str, list[float]]) -> list[str]:
    blob = psizes.get("blob/psize_A")
    if not blob:
        return []
    warnings = []
    for name, values in psizes.items():
        prefix = name.split("/", 1)[0]
        if name == "blob/psize_A" or _close(blob, values):
            continue
        warnings.append(_psize_text(conn, prefix, blob, values))
    return warnings


def _close(a: list[float], b: list[float]) -> bool:
    return math.isclose(a[0], b[0], rel_tol=1e-4) and math.isclose(a[1], b[1], rel_tol=1e-4)


def _span(values: list[float]) -> str:
    low, high = values
    return f"{low:.4f} Å" if math.isclose(low, high, rel_tol=1e-6) else f"{low:.4f}–{high:.4f} Å"


def psize_factor(blob_psize: float, align_psize: float) -> float:
    """What a shift in pixels of the alignments' images is multiplied by to be in pixels of the
    blob's images: shift_px × align_psize = shift in Å = new_shift_px × blob_psize."""
    return align_psize / blob_psize


def _psize_text(conn: ConnectionLayout, prefix: str, blob: list[float], align: list[float]) -> str:
    """What the user does about it: nothing for CryoSPARC; a rescale, by the factor given, for
    conversions that read shifts in pixels of the particle images."""
    text = (
        f"{conn.label}: pixel sizes differ: blob/psize_A {_span(blob)} (blob from {conn.origin('blob')}), "
        f"{prefix}/psize_A {_span(align)} ({prefix} from {conn.origin(prefix)}); values exported unchanged. "
        f"CryoSPARC needs nothing: it reads {prefix}/shift in pixels of {prefix}/psize_A, which is kept, "
        f"so the poses fit the new images as they are. Only a conversion that takes {prefix}/shift as pixels "
        f"of the particle images (a .star file, cryoDRGN) must rescale: "
    )
    fixed = math.isclose(blob[0], blob[1], rel_tol=1e-6) and math.isclose(align[0], align[1], rel_tol=1e-6)
    if fixed and blob[0]:
        factor = f"{align[0]:.4f}/{blob[0]:.4f} = {psize_factor(blob[0], align[0]):.4f}"
        return text + f"multiply {prefix}/shift by {prefix}/psize_A / blob/psize_A = {factor}"
    return text + f"multiply {prefix}/shift by {prefix}/psize_A / blob/psize_A, row by row (the pixel sizes vary)"


# reading source files -------------------------------------------------------------------------

"""Facts about one output result, read from its .cs file: what a scientist checks before a
rebinding — the box and pixel size of a blob, the pixel size shifts are in, particles per
class, the defocus range, the stacks and micrographs the rows come from.

Only the columns a fact needs are read (memory-mapped), and facts are cached by the file's
(path, size, mtime), so highlighting the same result again costs nothing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .csfile import CsHeader, load, read_header
from .errors import CsFileError
from .filecache import FileCache

MAX_CLASSES_SHOWN = 10
_cache: FileCache["ResultFacts"] = FileCache(max_items=256)


@dataclass(frozen=True)
class Span:
    """The range of a value over the rows: one number when every row agrees."""

    low: float
    high: float
    distinct: int

    def text(self, unit: str) -> str:
        if self.distinct <= 1:
            return f"{self.low:.6g} {unit}"
        return f"{self.low:.6g}–{self.high:.6g} {unit} ({self.distinct:,} values)"


@dataclass(frozen=True)
class ResultFacts:
    result: str
    file_rows: int
    box: tuple[int, ...] | None = None  # <result>/shape, when every row agrees
    boxes: int = 0  # distinct shapes
    psize_A: Span | None = None
    classes: dict[int, int] = field(default_factory=dict)  # class → rows (populated classes only)
    defocus_A: Span | None = None  # over df1 and df2
    voltage_kV: Span | None = None
    stacks: int | None = None  # distinct <result>/path values
    path_prefix: str | None = None  # the folder the stacks share
    micrographs: int | None = None

    def lines(self) -> list[str]:
        """One line per fact, as the details pane shows them."""
        out: list[str] = []
        if self.box is not None:
            out.append(f"box {_box_text(self.box)}"
                       + (f", {self.psize_A.text('Å/px')}" if self.psize_A else ""))
        elif self.boxes > 1:
            out.append(f"{self.boxes} different box sizes")
        elif self.psize_A is not None:
            out.append(f"shifts in {self.psize_A.text('Å/px')}")
        if self.classes:
            out.append(self._classes_text())
        if self.defocus_A is not None:
            low, high = self.defocus_A.low / 1e4, self.defocus_A.high / 1e4
            out.append(f"defocus {low:.2f}–{high:.2f} µm"
                       + (f", {self.voltage_kV.text('kV')}" if self.voltage_kV else ""))
        if self.stacks is not None:
            where = f" under {self.path_prefix}" if self.path_prefix else ""
            out.append(f"{self.stacks:,} stack file{'s' if self.stacks != 1 else ''}{where}")
        if self.micrographs is not None:
            out.append(f"from {self.micrographs:,} micrograph{'s' if self.micrographs != 1 else ''}")
        return out

    def _classes_text(self) -> str:
        count = len(self.classes)
        if count == 1:
            (only, rows), = self.classes.items()
            return f"1 class (class {only}, {rows:,} rows)"
        biggest = sorted(self.classes.items(), key=lambda item: (-item[1], item[0]))
        shown = sorted(biggest[:MAX_CLASSES_SHOWN]) if count <= MAX_CLASSES_SHOWN else biggest[:MAX_CLASSES_SHOWN]
        parts = " · ".join(f"{k}: {n:,}" for k, n in shown)
        more = f" · … {count - MAX_CLASSES_SHOWN} more" if count > MAX_CLASSES_SHOWN else ""
        return f"{count} classes, rows per class: {parts}{more}"

    def to_json(self) -> dict[str, Any]:
        def span(value: Span | None) -> dict | None:
            return None if value is None else {"min": value.low, "max": value.high, "distinct": value.distinct}

        return {
            "file_rows": self.file_rows,
            "box": list(self.box) if self.box else None,
            "psize_A": span(self.psize_A),
            "classes": {str(k): n for k, n in sorted(self.classes.items())},
            "defocus_A": span(self.defocus_A),
            "voltage_kV": span(self.voltage_kV),
            "stacks": self.stacks,
            "path_prefix": self.path_prefix,
            "micrographs": self.micrographs,
        }


def _box_text(box: tuple[int, ...]) -> str:
    if len(set(box)) == 1:
        return f"{box[0]}{'³' if len(box) == 3 else ''} px"
    return " × ".join(str(n) for n in box) + " px"


def result_facts(path: str | os.PathLike, result: str) -> ResultFacts:
    """The facts of ``result``'s columns in the .cs file at ``path`` (cached by size and mtime)."""
    return _cache.get(path, result, lambda: _read_facts(path, result))


def _read_facts(path: str | os.PathLike, result: str) -> ResultFacts:
    header = read_header(path)
    wanted = _wanted_fields(header, result)
    facts: dict[str, Any] = {"result": result, "file_rows": header.num_rows}
    if not wanted or header.num_rows == 0:
        return ResultFacts(**facts)
    table = load(path, fields=wanted)
    column = {name.split("/", 1)[1]: table[name] for name in wanted}
    try:
        facts.update(_shape_facts(column))
        facts.update(_value_facts(column, result))
    except (ValueError, TypeError) as exc:  # a column of an unexpected shape or type
        raise CsFileError(path, f"{result}: cannot summarise its columns ({exc})") from None
    return ResultFacts(**facts)


FACT_FIELDS = ("shape", "psize_A", "class", "df1_A", "df2_A", "accel_kv", "path", "micrograph_uid")


def _wanted_fields(header: CsHeader, result: str) -> list[str]:
    present = set(header.fields_of(result))
    return [f"{result}/{name}" for name in FACT_FIELDS if f"{result}/{name}" in present]


def _span(values) -> Span | None:
    values = np.asarray(values).ravel()
    values = values[np.isfinite(values)]
    if values.size == 0:
        return None
    # str() of a numpy scalar is its shortest exact text: 1.7138 from float32, not 1.71379995...
    return Span(float(str(values.min())), float(str(values.max())), int(np.unique(values).size))


def _shape_facts(column: dict) -> dict[str, Any]:
    shape = column.get("shape")
    if shape is None:
        return {"psize_A": _span(column["psize_A"])} if "psize_A" in column else {}
    shapes = np.unique(np.asarray(shape).reshape(len(shape), -1), axis=0)
    out: dict[str, Any] = {"boxes": int(len(shapes))}
    if len(shapes) == 1:
        out["box"] = tuple(int(n) for n in shapes[0])
    if "psize_A" in column:
        out["psize_A"] = _span(column["psize_A"])
    return out


def _value_facts(column: dict, result: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "class" in column:
        counts = np.bincount(np.asarray(column["class"], dtype=np.int64).ravel().clip(min=0))
        out["classes"] = {int(k): int(n) for k, n in enumerate(counts) if n}
    if "df1_A" in column or "df2_A" in column:
        both = [np.asarray(column[name]).ravel() for name in ("df1_A", "df2_A") if name in column]
        out["defocus_A"] = _span(np.concatenate(both))
        if "accel_kv" in column:
            out["voltage_kV"] = _span(column["accel_kv"])
    if "path" in column:
        paths = np.unique(np.asarray(column["path"]))
        out["stacks"] = int(paths.size)
        ends = [p.decode("utf-8", "replace") if isinstance(p, bytes) else str(p) for p in (paths[0], paths[-1])]
        out["path_prefix"] = _common_folder(ends)  # sorted: the first and last share what all share
    if "micrograph_uid" in column:
        out["micrographs"] = int(np.unique(np.asarray(column["micrograph_uid"])).size)
    return out


def _common_folder(paths: list[str]) -> str | None:
    """The folder every stack path starts with (``>`` export markers ignored), or None."""
    paths = [p.lstrip(">") for p in paths if p]
    if not paths:
        return None
    prefix = os.path.commonprefix(paths)
    folder = prefix.rpartition("/")[0]
    return folder + "/" if folder else None

"""Plain-text tables for the command line: left-aligned columns two spaces apart."""

from __future__ import annotations

from operator import methodcaller
from typing import Any


def table(rows: list[list[Any]], headers: list[str]) -> str:
    """Left-aligned columns two spaces apart (None is an empty cell)."""
    columns = zip(*rows) if rows else [[] for _ in headers]
    return column_table([[cell(c) for c in column] for column in columns], headers)


def cell(value: Any) -> str:
    """A value as table text: None is an empty cell."""
    return "" if value is None else value if value.__class__ is str else str(value)


def column_table(columns: list[list[str]], headers: list[str]) -> str:
    """``table`` of columns of text given whole, padded a column at a time: a job can have
    120,000 results."""
    cells = [[header, *column] for header, column in zip(headers, columns)]
    widths = [max(map(len, column)) for column in cells]
    padded = [[c.ljust(width) for c in column] for column, width in zip(cells[:-1], widths)]
    return "\n".join(map(_without_end_spaces, map("  ".join, zip(*padded, cells[-1]))))


_without_end_spaces = methodcaller("rstrip", " ")

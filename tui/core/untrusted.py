"""The boundary for untrusted documents (job.json, project.json, workspaces.json, plans, journals).

Every value csrebind takes from such a document goes through one of these checks where it is
parsed, so that what the rest of the code sees has the type, range and shape it expects:

* ``load_json``: JSON bytes → Python values; absurdly deep documents refused (orjson stops at
  1024 levels, before any recursion of ours), invalid UTF-8 refused;
* ``name``: a result, slot, group or job name: text, 1–255 printable characters (no NUL,
  control character or lone surrogate);
* ``text``: free text (titles): control characters and lone surrogates replaced by U+FFFD,
  cut at ``MAX_TEXT`` characters;
* ``uint``: versions and counts: non-negative integers that fit in 64 bits (NaN, Infinity,
  booleans, fractions refused);
* ``relative_path``: a metafile: relative, inside the project lexically (no ``..`` escape), no
  NUL, sane length;
* ``items`` / ``fields``: a list / a mapping (null reads as empty);
* ``load_document`` / ``path_text``: the same for plans and journals (``planfile``, ``journal``).

A failed check raises :class:`Invalid`, whose text names the key path
(``output_results[3].versions[0]: Infinity is not a version number``); the caller puts the
file's name in front. Messages quote at most a few escaped characters of any value
(:func:`describe`), never a repr of an arbitrary structure.
"""

from __future__ import annotations

import math
import posixpath
import unicodedata
from typing import Any

import orjson

MAX_NAME = 255  # characters of a name (a file name's limit, far above any CryoSPARC name)
MAX_TEXT = 4096  # characters of a title kept; the rest is cut
MAX_PATH = 1024  # characters of a metafile path (each component at most MAX_NAME)
UINT64_MAX = 2**64 - 1
SHOWN = 40  # characters of a value quoted in a message, at most


class Invalid(ValueError):
    """A value of an untrusted document failed its check: ``where`` is its key path."""

    def __init__(self, where: str, problem: str) -> None:
        self.where, self.problem = where, problem
        super().__init__(f"{where}: {problem}" if where else problem)


# --- quoting values in messages ---------------------------------------------------------------


def escape(text: str, limit: int = SHOWN) -> str:
    """``text`` quoted and ASCII-escaped, cut to ``limit`` characters (lone surrogates and control
    characters come out as ``\\ud800``, ``\\x00``)."""
    shown = ascii(text[:limit])
    return shown + "…" if len(text) > limit else shown


def describe(value: Any) -> str:
    """A short, safe description of any JSON value for a message (never a repr of a structure,
    which for a deeply nested list would itself fail)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return escape(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return repr(value)
    if isinstance(value, int):
        return str(value) if abs(value) < 10**30 else f"an integer of {value.bit_length()} bits"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def key(where: str, name: str) -> str:
    """The key path of ``name`` inside the object at ``where``: ``spec.outputs.particles``, or
    ``spec.outputs['a b']`` for a key that is not a plain word."""
    part = f".{name}" if name.isidentifier() and name.isascii() and len(name) <= SHOWN else f"[{escape(name)}]"
    return f"{where}{part}" if where else part.lstrip(".")


# --- parsing ------------------------------------------------------------------------------


def load_json(data: bytes) -> Any:
    """Parse JSON bytes with orjson; the standard parser as a fallback only for the ``NaN`` /
    ``Infinity`` tokens that MongoDB-style dumps can contain (and for lone surrogate escapes,
    which orjson refuses and :func:`name` / :func:`text` deal with). Raises :class:`Invalid`."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        if "depth limit" in str(exc) or "recursion" in str(exc).lower():
            raise Invalid("", "nested more than 1024 levels deep; not a job document") from None
        first = _first_line(exc)
    try:
        import json  # only for the tokens orjson refuses: not imported at start-up

        return json.loads(data)
    except RecursionError:
        raise Invalid("", "nested too deeply; not a job document") from None
    except UnicodeDecodeError as exc:
        raise Invalid("", f"not valid UTF-8 (byte {exc.start}: {exc.reason})") from None
    except ValueError:
        raise Invalid("", f"not valid JSON (truncated or corrupt: {first})") from None


def _first_line(exc: Exception) -> str:
    text = str(exc)
    return text.splitlines()[0] if text else type(exc).__name__


# --- checks -------------------------------------------------------------------------------


def items(value: Any, where: str) -> list:
    """A list (null or absent: empty)."""
    if value is None:
        return []
    if isinstance(value, list):
        return value
    raise Invalid(where, f"expected a list, found {describe(value)}")


def fields(value: Any, where: str) -> dict:
    """A mapping (null or absent: empty)."""
    if value is None:
        return {}
    if isinstance(value, dict):
        return value
    raise Invalid(where, f"expected an object, found {describe(value)}")


def name(value: Any, where: str, what: str = "name") -> str:
    """A name: text of 1–255 printable characters (a space is allowed, a control character, NUL
    or lone surrogate is not). Non-ASCII is allowed here; writers check what they need."""
    if not isinstance(value, str):
        raise Invalid(where, f"expected a {what} (text), found {describe(value)}")
    if not value:
        raise Invalid(where, f"the {what} is empty")
    if len(value) > MAX_NAME:
        raise Invalid(where, f"a {what} of {len(value):,} characters (at most {MAX_NAME}): {escape(value)}")
    if not value.isprintable():
        raise Invalid(where, f"the {what} {escape(value)} holds a control character, NUL or lone surrogate")
    return value


def optional_name(value: Any, where: str, what: str = "name") -> str | None:
    """A name, or None for null / absent / empty text."""
    if value is None or value == "":
        return None
    return name(value, where, what)


def names(value: Any, where: str, what: str = "uid") -> tuple[str, ...]:
    """A list of names (parents, children, workspace uids)."""
    return tuple(name(v, f"{where}[{i}]", what) for i, v in enumerate(items(value, where)))


def text(value: Any, where: str, limit: int = MAX_TEXT) -> str:
    """Free text (a title, a status): null reads as empty; control characters and lone surrogates
    become U+FFFD (tabs and line breaks a space), and it is cut at ``limit`` characters."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise Invalid(where, f"expected text, found {describe(value)}")
    if len(value) <= limit and value.isprintable():
        return value
    return "".join(_clean(c) for c in value[:limit]) + ("…" if len(value) > limit else "")


def _clean(char: str) -> str:
    if char.isprintable():
        return char
    if char in "\t\n\r":
        return " "
    category = unicodedata.category(char)
    return "\ufffd" if category in ("Cc", "Cs", "Zl", "Zp", "Cn", "Co") else char


def uint(value: Any, where: str, what: str = "count") -> int:
    """A non-negative integer that fits in 64 bits (an integral float such as ``120000.0`` and
    digit strings are taken too)."""
    if isinstance(value, int) and not isinstance(value, bool):
        if 0 <= value <= UINT64_MAX:
            return value
        raise Invalid(where, f"{describe(value)} is not a {what} (outside 0 to 2^64-1)")
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        if 0 <= value < 2.0**64:  # 2^64 itself (what orjson makes of 18446744073709551616) is out
            return int(value)
        raise Invalid(where, f"{describe(value)} is not a {what} (outside 0 to 2^64-1)")
    if isinstance(value, str) and 0 < len(value) <= 20 and value.isascii() and value.isdigit():
        if int(value) <= UINT64_MAX:
            return int(value)
        raise Invalid(where, f"{describe(value)} is not a {what} (outside 0 to 2^64-1)")
    raise Invalid(where, f"{describe(value)} is not a {what}")


def optional_uint(value: Any, where: str, what: str = "count") -> int | None:
    return None if value is None else uint(value, where, what)


def flag(value: Any, where: str) -> bool:
    """true / false (null, 0 and 1 are taken too)."""
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise Invalid(where, f"expected true or false, found {describe(value)}")


def uints(value: Any, where: str, what: str = "count") -> tuple[int, ...]:
    """A list of :func:`uint` (``where[i]`` names a bad one); plain in-range ints take a fast path."""
    values = items(value, where)
    if all(type(v) is int and 0 <= v <= UINT64_MAX for v in values):
        return tuple(values)
    return tuple(uint(v, f"{where}[{i}]", what) for i, v in enumerate(values))


def relative_paths(value: Any, where: str) -> tuple[str, ...]:
    """A list of :func:`relative_path`."""
    values = items(value, where)
    if all(type(v) is str for v in values):
        joined = "/".join(values)  # the common case, decided without normalising each path
        if (joined.isascii() and joined.isprintable() and ".." not in joined
                and all(0 < len(v) <= MAX_NAME and v[0] not in "/\\." and v[1:2] != ":" for v in values)):
            return tuple(values)
    return tuple(relative_path(v, f"{where}[{i}]") for i, v in enumerate(values))


def relative_path(value: Any, where: str) -> str:
    """A file path relative to the project directory that stays inside it lexically: not
    absolute, no ``..`` that climbs out, no NUL or control character, at most ``MAX_PATH``
    characters and ``MAX_NAME`` per component."""
    if not isinstance(value, str):
        raise Invalid(where, f"expected a file path (text), found {describe(value)}")
    if not value:
        raise Invalid(where, "the file path is empty")
    if len(value) > MAX_PATH:
        raise Invalid(where, f"a file path of {len(value):,} characters (at most {MAX_PATH}): {escape(value)}")
    if not value.isprintable():
        raise Invalid(where, f"the file path {escape(value)} holds a control character, NUL or lone surrogate")
    if value.startswith(("/", "\\")) or (len(value) > 1 and value[1] == ":"):
        raise Invalid(where, f"the file path {escape(value)} is absolute; metafiles are relative to the project")
    normal = posixpath.normpath(value)
    if normal == ".." or normal.startswith("../") or normal == ".":
        raise Invalid(where, f"the file path {escape(value)} leaves the project directory; refused")
    if any(len(part) > MAX_NAME for part in value.split("/")):
        raise Invalid(where, f"the file path {escape(value)} has a component longer than {MAX_NAME} characters")
    return value


# --- documents other than job documents (plans, journals) -------------------------------------------


def load_document(data: bytes, what: str) -> Any:
    """:func:`load_json` for a document that is not a job document (``what``: "csrebind plan",
    "csrebind journal"): the same checks, with its own name in the messages."""
    try:
        return load_json(data)
    except Invalid as exc:
        raise Invalid(exc.where, exc.problem.replace("a job document", f"a {what}")) from None


def path_text(value: Any, where: str, what: str = "directory") -> str:
    """A file system path written in a document (a plan's project directory): text of 1 to
    ``MAX_PATH`` printable characters (no NUL, control character or lone surrogate), refused
    otherwise rather than cleaned, since a cleaned path would name another file."""
    if not isinstance(value, str):
        raise Invalid(where, f"expected a {what} path (text), found {describe(value)}")
    if not value:
        raise Invalid(where, f"the {what} path is empty")
    if len(value) > MAX_PATH:
        raise Invalid(where, f"a {what} path of {len(value):,} characters (at most {MAX_PATH}): {escape(value)}")
    if not value.isprintable():
        raise Invalid(where, f"the {what} path {escape(value)} holds a control character, NUL or lone surrogate")
    return value


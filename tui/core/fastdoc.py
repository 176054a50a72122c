"""The outputs of a job document decoded by typed structs: a 50 MB document in well under a second.

A job with 120,000 results takes seconds when every value goes through the Python checks of
:mod:`untrusted`. Here msgspec decodes only the output sections, into structs whose types and
ranges are checked in C, with patterns *stricter* than those checks (printable ASCII names,
plain relative paths): whatever passes here would pass there unchanged. Anything else — an
unusual but valid name, a float version, a missing list, a deep document — raises
:class:`NotFast`, and the caller parses the document the careful way, which accepts it or says
precisely what is wrong and where.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from msgspec import Meta

from .gcpause import gc_paused
from .model import OutputGroup, OutputResult
from .untrusted import MAX_NAME

UInt = Annotated[int, Meta(ge=0, le=2**63 - 1)]  # msgspec bounds stop at int64; the rest goes the careful way


class NotFast(Exception):
    """The document needs the careful parse (which may well accept it)."""


# Strings are checked after decoding, all of a kind at once (a regex per string cost more than
# the whole decoding): see _check_strings.
class _Result(msgspec.Struct, gc=False):
    name: str
    versions: tuple[UInt, ...] = ()
    metafiles: tuple[str, ...] = ()
    num_items: list[UInt | None] | UInt | None = None
    passthrough: bool = False
    type: str = ""  # v4: "particle.blob"
    dtype: str = ""  # v5: "blob"


class _V4Result(_Result, gc=False):
    group_name: str = ""


class _Group(msgspec.Struct):
    type: str = ""
    title: str = ""
    num_items: UInt | None = None
    passthrough: Any = None


class _V4Group(_Group):
    name: str = ""


class _V5Output(_Group):
    results: list[_Result] = []


class _V4Outputs(msgspec.Struct):
    output_result_groups: list[_V4Group] = []
    output_results: list[_V4Result] = []
    input_slot_groups: Any = None  # small: checked by jobdoc.parse_inputs as before


class _V5Spec(msgspec.Struct):
    outputs: dict[str, _V5Output] = {}
    inputs: Any = None


class _V5Outputs(msgspec.Struct):
    spec: _V5Spec


_DECODERS = {"v4": msgspec.json.Decoder(_V4Outputs), "v5": msgspec.json.Decoder(_V5Outputs)}


def fast_io(raw: bytes, job_uid: str, schema: str | None) -> tuple[tuple[OutputGroup, ...], dict]:
    """The outputs of ``raw``, and its inputs section as a document for jobdoc.parse_inputs
    (raises NotFast when the careful parse must decide)."""
    decoder = _DECODERS.get(schema or "")
    if decoder is None:
        raise NotFast
    try:
        with gc_paused():
            document = decoder.decode(raw)
    except (msgspec.DecodeError, RecursionError, ValueError):  # ValidationError is a DecodeError
        raise NotFast from None
    if schema == "v5":
        named = document.spec.outputs
        results = [r for out in named.values() for r in out.results]
        _check_strings(list(named), named.values(), results, "dtype")
        outputs = tuple(_output(job_uid, name, out, out.results, _dtypes) for name, out in named.items())
        return outputs, {"spec": {"inputs": document.spec.inputs}}
    _check_strings([r.group_name for r in document.output_results] + [g.name for g in document.output_result_groups],
                   document.output_result_groups, document.output_results, "type")
    by_group: dict[str, list[_V4Result]] = {}
    for result in document.output_results:
        if not result.group_name:
            raise NotFast
        by_group.setdefault(result.group_name, []).append(result)
    groups = []
    for group in document.output_result_groups:
        if not group.name:
            raise NotFast
        groups.append(_output(job_uid, group.name, group, by_group.get(group.name, []), _bare_types))
    return tuple(groups), {"input_slot_groups": document.input_slot_groups}


def _check_strings(group_names: list[str], groups, results: list[_Result], dtype_key: str) -> None:
    """What untrusted.name / text / relative_paths would take unchanged, checked for all strings of
    a kind at once, more strictly (printable ASCII): anything else raises NotFast."""
    names = group_names + [r.name for r in results]
    if names and not (0 < min(map(len, names)) and max(map(len, names)) <= MAX_NAME and _plain("".join(names))):
        raise NotFast
    dtypes = [getattr(r, dtype_key) for r in results]
    group_types = [g.type for g in groups]
    titles = [g.title for g in groups]
    for texts, limit in ((dtypes, 200), (group_types, 100), (titles, 200)):
        if texts and not (max(map(len, texts)) <= limit and _plain("".join(texts))):
            raise NotFast
    paths = [path for r in results for path in r.metafiles]
    if paths and not _plain_paths(paths):
        raise NotFast


def _plain(text: str) -> bool:
    return text.isascii() and text.isprintable()


def _plain_paths(paths: list[str]) -> bool:
    """Relative, inside the project, printable ASCII, at most MAX_NAME characters each: the fast
    path of untrusted.relative_paths, which returns such paths unchanged."""
    joined = "/".join(paths)
    return (_plain(joined) and ".." not in joined and 0 < min(map(len, paths)) and max(map(len, paths)) <= MAX_NAME
            and not any(p[0] in "/\\." or p[1:2] == ":" for p in paths))


def _bare_types(results: list[_V4Result]) -> list[str]:
    """v4 types name the group's type too ("particle.blob"): the result's own part."""
    return [t.split(".", 1)[1] if "." in t else t for t in (r.type for r in results)]


def _dtypes(results: list[_Result]) -> list[str]:
    return [r.dtype for r in results]


def _counts(value, num_versions: int) -> tuple[int | None, ...]:
    """jobdoc._per_version_counts for values the decoder has checked already."""
    if isinstance(value, list):
        counts = tuple(value[:num_versions])
        return counts + (None,) * (num_versions - len(counts))
    return (None,) * (num_versions - 1) + (value,) if num_versions else ()


def _output(job_uid: str, name: str, group: _Group, results, dtypes_of) -> OutputGroup:
    passthrough = group.passthrough
    if passthrough is not None and not isinstance(passthrough, str):
        passthrough = None
    elif passthrough == "":
        passthrough = None
    elif passthrough is not None and not (len(passthrough) <= MAX_NAME and passthrough.isascii()
                                          and passthrough.isprintable()):
        raise NotFast
    # One comprehension, no call per result but the struct's: a job can have 120,000 of them.
    parsed = tuple(
        OutputResult(job_uid, name, r.name, dtype, group.type, r.passthrough, r.versions, r.metafiles,
                     tuple(counts) if counts.__class__ is list and len(counts) == len(r.versions)
                     else _counts(counts, len(r.versions)))
        for r, dtype, counts in zip(results, dtypes_of(results), [r.num_items for r in results])
    )
    return OutputGroup(job_uid, name, group.type, group.title, group.num_items, parsed, passthrough)

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

Name = Annotated[str, Meta(min_length=1, max_length=MAX_NAME, pattern=r"^[\x20-\x7e]+$")]
Text = Annotated[str, Meta(max_length=200, pattern=r"^[\x20-\x7e]*$")]
GroupType = Annotated[str, Meta(max_length=100, pattern=r"^[\x20-\x7e]*$")]
UInt = Annotated[int, Meta(ge=0, le=2**63 - 1)]  # msgspec bounds stop at int64; the rest goes the careful way
# Relative, inside the project, printable ASCII, one component or several of at most 255
# characters: what untrusted.relative_paths takes on its fast path and returns unchanged.
Metafile = Annotated[str, Meta(min_length=1, max_length=MAX_NAME,
                               pattern=r"^(?!.*\.\.)[\x20-\x2d\x30-\x5b\x5d-\x7e](?!:)[\x20-\x7e]*$")]


class NotFast(Exception):
    """The document needs the careful parse (which may well accept it)."""


class _Result(msgspec.Struct):
    name: Name
    versions: list[UInt] = []
    metafiles: list[Metafile] = []
    num_items: list[UInt | None] | UInt | None = None
    passthrough: bool = False
    type: Text = ""  # v4: "particle.blob"
    dtype: Text = ""  # v5: "blob"


class _V4Result(_Result):
    group_name: Name = ""


class _Group(msgspec.Struct):
    type: GroupType = ""
    title: Text = ""
    num_items: UInt | None = None
    passthrough: Any = None


class _V4Group(_Group):
    name: Name = ""


class _V5Output(_Group):
    results: list[_Result] = []


class _V4Outputs(msgspec.Struct):
    output_result_groups: list[_V4Group] = []
    output_results: list[_V4Result] = []
    input_slot_groups: Any = None  # small: checked by jobdoc.parse_inputs as before


class _V5Spec(msgspec.Struct):
    outputs: dict[Name, _V5Output] = {}
    inputs: Any = None


class _V5Outputs(msgspec.Struct):
    spec: _V5Spec


_DECODERS = {"v4": msgspec.json.Decoder(_V4Outputs), "v5": msgspec.json.Decoder(_V5Outputs)}


def fast_io(raw: bytes, job_uid: str, schema: str | None, per_version_counts) -> tuple[tuple[OutputGroup, ...], dict]:
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
        outputs = tuple(_output(job_uid, name, out, out.results, lambda r: r.dtype, per_version_counts)
                        for name, out in document.spec.outputs.items())
        return outputs, {"spec": {"inputs": document.spec.inputs}}
    by_group: dict[str, list[_V4Result]] = {}
    for result in document.output_results:
        if not result.group_name:
            raise NotFast
        by_group.setdefault(result.group_name, []).append(result)
    groups = []
    for group in document.output_result_groups:
        if not group.name:
            raise NotFast
        groups.append(_output(job_uid, group.name, group, by_group.get(group.name, ()), _bare_type,
                              per_version_counts))
    return tuple(groups), {"input_slot_groups": document.input_slot_groups}


def _bare_type(result: _Result) -> str:
    return result.type.split(".", 1)[1] if "." in result.type else result.type


def _output(job_uid: str, name: str, group: _Group, results, dtype_of, per_version_counts) -> OutputGroup:
    passthrough = group.passthrough
    if passthrough is not None and not isinstance(passthrough, str):
        passthrough = None
    elif passthrough == "":
        passthrough = None
    elif passthrough is not None and not (len(passthrough) <= MAX_NAME and passthrough.isascii()
                                          and passthrough.isprintable()):
        raise NotFast
    parsed = tuple(
        OutputResult(job_uid, name, r.name, dtype_of(r), group.type, r.passthrough, tuple(r.versions),
                     tuple(r.metafiles), per_version_counts(r.num_items, len(r.versions), "num_items"))
        for r in results
    )
    return OutputGroup(job_uid, name, group.type, group.title, group.num_items, parsed, passthrough)

"""Result references and slot addresses, written exactly as CryoSPARC writes them.

``J688.particles.blob.F``        job.output.result.version (F = final, a number = that iteration)
``particles.0.blob``             input.connection.slot (on the target job)
``J690.particles.0.blob``        the same, with the job named
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, Union

from .errors import RefError

Version = Union[int, Literal["F"]]
FINAL: Literal["F"] = "F"

_JOB = r"J[0-9]+"
_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_VERSION = r"F|0|[1-9][0-9]*"
_RESULT_RE = re.compile(rf"({_JOB})\.({_NAME})\.({_NAME})(?:\.({_VERSION}))?")
_SLOT_RE = re.compile(rf"(?:({_JOB})\.)?({_NAME})\.(0|[1-9][0-9]*)\.({_NAME})")
_JOB_RE = re.compile(_JOB)
# Part-by-part patterns, used only to explain what is wrong with a rejected string.
_PART_CHECKS = {
    "job": re.compile(_JOB),
    "name": re.compile(_NAME),
    "version": re.compile(_VERSION),
    "index": re.compile(r"0|[1-9][0-9]*"),
}


def parse_version(text: str) -> Version:
    """``"F"`` or a non-negative iteration number."""
    text = text.strip()
    if text == FINAL:
        return FINAL
    if re.fullmatch(_VERSION, text):
        return int(text)
    raise RefError(f"version {text!r} is not valid: use F (final) or an iteration number such as 3")


def format_version(version: Version) -> str:
    return str(version)


def check_job_uid(text: str) -> str:
    """Normalise a job uid typed by a user (``j42`` and ``42`` → ``J42``) or explain why it is not
    one. Only for a word that can be nothing but a job uid (a command's JOB argument): references
    and slot addresses, and what plans store, keep the exact ``J42``."""
    uid = text.strip()
    if uid[:1] == "j":
        uid = "J" + uid[1:]
    elif uid[:1].isdigit():
        uid = "J" + uid
    if not _JOB_RE.fullmatch(uid):
        raise RefError(f"{text!r} is not a job uid: expected J followed by a number, e.g. J42 (or j42, or 42)")
    return uid


@dataclass(frozen=True, slots=True)
class OutputRef:
    """A whole output group of one job: ``J683.particles`` (what ``Y`` yanks, ``P`` connects)."""

    job: str
    output: str

    def __str__(self) -> str:
        return f"{self.job}.{self.output}"


@dataclass(frozen=True, slots=True)
class ResultRef:
    """One output result of one job at one version: ``J683.particles.blob.F``."""

    job: str
    output: str
    result: str
    version: Version = FINAL

    def __str__(self) -> str:
        return f"{self.job}.{self.output}.{self.result}.{self.version}"

    @property
    def short(self) -> str:
        """The GUI label: the version is left out when it is the final one."""
        base = f"{self.job}.{self.output}.{self.result}"
        return base if self.version == FINAL else f"{base}.{self.version}"

    def at(self, version: Version) -> "ResultRef":
        return ResultRef(self.job, self.output, self.result, version)

    @classmethod
    def parse(cls, text: str) -> "ResultRef":
        """Parse ``J683.particles.blob.F`` (the version may be left out: it means F)."""
        if not isinstance(text, str):
            raise RefError(f"a result reference must be text, not {type(text).__name__}")
        match = _RESULT_RE.fullmatch(text.strip())
        if match is None:
            raise RefError(_explain_result(text))
        job, output, result, version = match.groups()
        return cls(job, output, result, parse_version(version) if version else FINAL)


@dataclass(frozen=True, slots=True)
class SlotAddress:
    """One slot of one connection of one input: ``particles.0.blob``."""

    input: str
    connection: int
    slot: str
    job: str | None = None

    def __str__(self) -> str:
        local = f"{self.input}.{self.connection}.{self.slot}"
        return f"{self.job}.{local}" if self.job else local

    @property
    def local(self) -> str:
        return f"{self.input}.{self.connection}.{self.slot}"

    @classmethod
    def parse(cls, text: str) -> "SlotAddress":
        if not isinstance(text, str):
            raise RefError(f"a slot address must be text, not {type(text).__name__}")
        match = _SLOT_RE.fullmatch(text.strip())
        if match is None:
            raise RefError(_explain_slot(text))
        job, input_name, index, slot = match.groups()
        return cls(input_name, int(index), slot, job)


def _explain_result(text: str) -> str:
    parts = text.strip().split(".")
    shown = f"{text!r} is not a result reference"
    example = "expected JOB.OUTPUT.RESULT[.VERSION], e.g. J683.particles.blob.F"
    if len(parts) not in (3, 4):
        return f"{shown}: it has {len(parts)} dot-separated parts; {example}"
    roles = ["job", "name", "name", "version"]
    labels = ["job uid", "output name", "result name", "version"]
    for part, role, label in zip(parts, roles, labels):
        if not _PART_CHECKS[role].fullmatch(part):
            hint = {
                "job": "J followed by a number, e.g. J683",
                "name": "letters, digits and _, not starting with a digit",
                "version": "F or an iteration number",
            }[role]
            return f"{shown}: {label} {part!r} is not valid ({hint}); {example}"
    return f"{shown}; {example}"


def _explain_slot(text: str) -> str:
    parts = text.strip().split(".")
    shown = f"{text!r} is not a slot address"
    example = "expected INPUT.CONNECTION.SLOT, e.g. particles.0.blob (or J690.particles.0.blob)"
    if parts and _PART_CHECKS["job"].fullmatch(parts[0]) and len(parts) == 4:
        parts = parts[1:]
    if len(parts) != 3:
        return f"{shown}: it has {len(parts)} dot-separated parts; {example}"
    for part, role, label in zip(parts, ["name", "index", "name"], ["input name", "connection index", "slot name"]):
        if not _PART_CHECKS[role].fullmatch(part):
            return f"{shown}: {label} {part!r} is not valid; {example}"
    return f"{shown}; {example}"

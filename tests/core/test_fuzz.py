"""Structure-aware fuzzing of the readers through the CLI (issue 11, item 5).

A demo project of each schema is written once per module; each example damages one file in it
(J9's or J12's job.json, parsed and mutated at a random key path or damaged byte by byte, or one
of J9's .cs files), runs every read-only CLI command in-process, and restores the file. Every
command must end with exit status 0, 1 or 2, print no traceback, let no exception escape
``main``, name the file or job when it fails, write nothing inside the project, and finish in
well under 2 s.

The number of examples follows the Hypothesis profile (tests/conftest.py): "ci", the default,
is small and derandomized; ``python -m pytest tests/core/test_fuzz.py --hypothesis-profile=long``
runs a longer, randomized campaign.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from digest import tree_digest
from tui.cli import main

PROFILE = settings.get_current_profile_name()
EXAMPLES = settings.default.max_examples if PROFILE != "ci" else 40
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                           HealthCheck.data_too_large, HealthCheck.large_base_example],
)
SECONDS_PER_COMMAND = 2.0

COMMANDS = [
    ["jobs"],
    ["jobs", "--json"],
    ["outputs", "J9"],
    ["outputs", "J9", "--json"],
    ["inputs", "J12"],
    ["resolve", "J9.particles.blob"],
    ["preview", "J12"],
    ["candidates", "J12", "particles.0.blob"],
    ["export", "J12", "particles", "--out", "{out}"],
]
NAMES = ("J9", "J12", ".cs", "job.json")


@pytest.fixture(scope="module")
def projects(tmp_path_factory) -> dict[str, Path]:
    from tui.demo import write_demo

    root = tmp_path_factory.mktemp("fuzz")
    return {schema: write_demo(root / f"CS-fuzz-{schema}", schema=schema) for schema in ("v4", "v5")}


# --- running every command on a damaged project ------------------------------------------------


def _run_all(project: Path, capsys, scratch: Path) -> None:
    capsys.readouterr()
    before = tree_digest(project)
    for number, command in enumerate(COMMANDS):
        out = scratch / f"export-{number}"
        argv = [command[0], str(project)] + [part.replace("{out}", str(out)) for part in command[1:]]
        started = time.perf_counter()
        try:
            code = main(argv)
        except SystemExit as exit_:  # argparse's own exit is allowed, as 2
            code = exit_.code
        elapsed = time.perf_counter() - started
        captured = capsys.readouterr()
        text = captured.out + captured.err
        assert code in (0, 1, 2), (argv, code, text[-2000:])
        assert "Traceback" not in text, (argv, text[-4000:])
        if code == 1:
            assert any(name in captured.err for name in NAMES), (argv, captured.err[-2000:])
        assert elapsed < SECONDS_PER_COMMAND, (argv, elapsed)
        shutil.rmtree(out, ignore_errors=True)
    assert tree_digest(project) == before, "a command wrote inside the project"


class _Damage:
    """Replace one path in the project for the duration of a ``with`` block, then restore it."""

    def __init__(self, path: Path, content: bytes | None):
        self.path, self.content = path, content  # None: a directory where the file belongs

    def __enter__(self):
        self.original = self.path.read_bytes()
        self.path.unlink()
        if self.content is None:
            self.path.mkdir()
            (self.path / "inner").write_bytes(self.original[:64])
        else:
            self.path.write_bytes(self.content)
        return self

    def __exit__(self, *exc):
        if self.path.is_dir():
            shutil.rmtree(self.path)
        elif self.path.exists():
            self.path.unlink()
        self.path.write_bytes(self.original)


# --- job.json: structural mutations -------------------------------------------------------------

UIDS = st.sampled_from(["J9", "J12", "J1", "J99", "P3", "W1", "", "J", "J-1", "j9", "J9 ", "../J9", "J0"])
ODD_TEXT = st.one_of(
    st.text(max_size=20),
    st.text(st.characters(codec="utf-8", categories=["Cc", "Cf", "Zl", "Zp"]), min_size=1, max_size=8),
    st.sampled_from(["\ud800", "a\udfff", "\x00", "\x1b[31m", "\u202e", "x" * 5000, "../../etc/passwd",
                     "/abs/path.cs", "J9/J9_007_particles.cs\x00", "inf", "NaN", "-1", "1e400"]),
)
NUMBERS = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, -1, 2**63, 2**64, 2**64 - 1, 10**400, -(10**400)]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([math.nan, math.inf, -math.inf, 1e308, -0.0, 0.5]),
)
SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, ODD_TEXT, UIDS)
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                        st.dictionaries(st.text(max_size=6), inner, max_size=4)),
                      max_leaves=8)


def _paths(node, prefix=()):
    yield prefix
    if len(prefix) > 40:  # not into the deep nesting an earlier round may have put there
        return
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, prefix + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _paths(value, prefix + (index,))


def _deep(depth: int) -> str:
    """A marker that _dump replaces by ``depth`` nested lists (built as text: no recursion)."""
    return f"<deep {depth}>"


@st.composite
def mutated_document(draw, document):
    paths = list(_paths(document))
    doc = json.loads(json.dumps(document))
    for _ in range(draw(st.integers(1, 3))):
        paths = list(_paths(doc))
        path = draw(st.sampled_from(paths))
        parent = doc
        for step in path[:-1]:
            parent = parent[step]
        action = draw(st.sampled_from(["drop", "rename", "replace", "replace", "uid", "duplicate",
                                       "shorten", "deep", "stringify", "wrap"]))
        if not path:  # the whole document
            doc = draw(st.one_of(VALUES, st.just(_deep(draw(st.integers(10, 100_000))))))
            if not isinstance(doc, (dict, list)):
                break
            continue
        key = path[-1]
        value = parent[key]
        if action == "drop":
            del parent[key]
        elif action == "rename" and isinstance(parent, dict):
            parent[draw(st.text(max_size=8))] = parent.pop(key)
        elif action == "uid":
            parent[key] = draw(UIDS)
        elif action == "duplicate" and isinstance(value, list):
            value.extend(value[: draw(st.integers(1, 3))] or [draw(SCALARS)])
        elif action == "shorten" and isinstance(value, list) and value:
            del value[draw(st.integers(0, len(value) - 1))]
        elif action == "deep":
            parent[key] = _deep(draw(st.integers(10, 100_000)))
        elif action == "stringify":
            parent[key] = json.dumps(value)
        elif action == "wrap":
            parent[key] = draw(st.sampled_from([[value], {"$numberLong": value}, {"value": value}]))
        else:
            parent[key] = draw(VALUES)
    return doc


def _dump(document) -> bytes:
    import re

    try:
        text = json.dumps(document, allow_nan=True)
    except ValueError:  # an integer too long for str()
        return b"[" * 100_000
    return re.sub(r'"<deep (\d+)>"', lambda m: "[" * int(m[1]) + "1" + "]" * int(m[1]), text).encode()


def _job_file(projects, schema, uid) -> tuple[Path, Path]:
    project = projects[schema]
    return project, project / uid / "job.json"


@FUZZ
@given(data=st.data(), schema=st.sampled_from(["v4", "v5"]), uid=st.sampled_from(["J9", "J12"]))
def test_structurally_mutated_job_documents(projects, capsys, tmp_path, data, schema, uid):
    project, path = _job_file(projects, schema, uid)
    document = json.loads(path.read_bytes())
    damaged = _dump(data.draw(mutated_document(document), label="document"))
    with _Damage(path, damaged):
        _run_all(project, capsys, tmp_path)


# --- job.json: byte-level damage ---------------------------------------------------------------


@st.composite
def damaged_bytes(draw, original: bytes):
    kind = draw(st.sampled_from(["truncate", "bom", "bom16", "invalid", "flip", "empty", "nul", "directory",
                                 "trailing", "latin1"]))
    position = draw(st.integers(0, len(original)))
    if kind == "truncate":
        return original[:position]
    if kind == "bom":
        return b"\xef\xbb\xbf" + original
    if kind == "bom16":
        return original.decode().encode("utf-16")
    if kind == "invalid":
        return original[:position] + draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x80\x80"])) + original[position:]
    if kind == "flip":
        index = min(position, len(original) - 1)
        return original[:index] + bytes([original[index] ^ draw(st.integers(1, 255))]) + original[index + 1:]
    if kind == "nul":
        return original[:position] + b"\x00" + original[position:]
    if kind == "trailing":
        return original + draw(st.sampled_from([b"{}", b"garbage", b"\n\x00", b"]"]))
    if kind == "latin1":
        return original.decode().replace("Refinement", "Réfinement").encode("latin-1", errors="replace")
    if kind == "directory":
        return None
    return b""


@FUZZ
@given(data=st.data(), schema=st.sampled_from(["v4", "v5"]), uid=st.sampled_from(["J9", "J12"]))
def test_byte_damaged_job_documents(projects, capsys, tmp_path, data, schema, uid):
    project, path = _job_file(projects, schema, uid)
    with _Damage(path, data.draw(damaged_bytes(path.read_bytes()), label="bytes")):
        _run_all(project, capsys, tmp_path)


# --- .cs files ---------------------------------------------------------------------------------

LFS_POINTER = (b"version https://git-lfs.github.com/spec/v1\n"
               b"oid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\n"
               b"size 12345\n")


@st.composite
def damaged_cs(draw, original: bytes):
    kind = draw(st.sampled_from(["truncate", "flip", "lfs", "header", "directory", "empty", "header_length"]))
    position = draw(st.integers(0, len(original) - 1))
    if kind == "truncate":
        return original[:position]
    if kind == "flip":
        damaged = bytearray(original)
        for _ in range(draw(st.integers(1, 8))):
            index = draw(st.integers(0, min(len(original) - 1, 4096))) if draw(st.booleans()) else draw(st.integers(0, len(original) - 1))
            damaged[index] ^= draw(st.integers(1, 255))
        return bytes(damaged)
    if kind == "lfs":
        return LFS_POINTER
    if kind == "directory":
        return None
    if kind == "empty":
        return b""
    header_end = original.index(b"\n") + 1
    header = original[:header_end]
    if kind == "header_length":  # the 2-byte header length after the magic and version
        return original[:8] + draw(st.binary(min_size=2, max_size=2)) + original[10:]
    text = header[10:].decode("latin-1")
    lie = draw(st.sampled_from([
        ("'shape': (", "'shape': (99999999999, "), ("'shape': (", "'shape': (-3, "), ("'shape': (", "'shape': (2**70, "),
        ("'fortran_order': False", "'fortran_order': True"), ("'descr': [", "'descr': [('x', 'O'), "),
        ("'descr': [", "'descr': 'S0', 'x': ["), ("{", "{'shape': (), "), ("}", ", 'extra': __import__('os')}"),
        ("'descr'", "'desc'"),
    ]))
    lied = text.replace(*lie).encode("latin-1")
    pad = (-(10 + len(lied))) % 64
    lied = lied.rstrip(b"\n").rstrip(b" ") + b" " * pad + b"\n" if pad else lied
    body = original[:8] + len(lied).to_bytes(2, "little") + lied
    return body + original[header_end:]


@FUZZ
@given(data=st.data(), schema=st.sampled_from(["v4", "v5"]),
       name=st.sampled_from(["J9_007_particles.cs", "J9_passthrough_particles.cs", "J9_particles.csg"]))
def test_damaged_cs_files(projects, capsys, tmp_path, data, schema, name):
    project = projects[schema]
    path = project / "J9" / name
    original = path.read_bytes()
    damaged = data.draw(damaged_bytes(original) if name.endswith(".csg") else damaged_cs(original), label="bytes")
    with _Damage(path, damaged):
        _run_all(project, capsys, tmp_path)


# --- targeted shapes the generic mutation reaches only rarely ---------------------------------


def _targeted(document: dict, schema: str, uid: str, case: str) -> dict:
    doc = json.loads(json.dumps(document))
    results = (doc["output_results"] if schema == "v4"
               else [r for group in doc["spec"].get("outputs", {}).values() for r in group.get("results", [])])
    if case == "cycle":
        doc["parents"] = [uid, "J12" if uid == "J9" else "J9"]
        doc["children"] = [uid] + doc.get("children", [])
    elif case == "uid_mismatch":
        doc["uid"] = "J12" if uid == "J9" else "J9"
    elif case == "versions_longer":
        for result in results:
            result["versions"] = list(result["versions"]) + [99]
    elif case == "metafiles_shorter":
        for result in results:
            result["metafiles"] = result["metafiles"][:-1]
    elif case == "metafile_outside":
        for result in results:
            result["metafiles"] = ["../../outside.cs" for _ in result["metafiles"]]
    elif case == "metafile_absent":
        for result in results:
            result["metafiles"] = ["J9/J9_404_particles.cs" for _ in result["metafiles"]]
    elif case == "metafile_is_directory":
        for result in results:
            result["metafiles"] = ["J9" for _ in result["metafiles"]]
    elif case == "version_nan":
        for result in results:
            result["versions"] = [math.nan for _ in result["versions"]]
    return doc


@pytest.mark.parametrize("case", ["cycle", "uid_mismatch", "versions_longer", "metafiles_shorter",
                                  "metafile_outside", "metafile_absent", "metafile_is_directory", "version_nan"])
@pytest.mark.parametrize("uid", ["J9", "J12"])
@pytest.mark.parametrize("schema", ["v4", "v5"])
def test_targeted_damage(projects, capsys, tmp_path, schema, uid, case):
    project, path = _job_file(projects, schema, uid)
    document = json.loads(path.read_bytes())
    with _Damage(path, _dump(_targeted(document, schema, uid, case))):
        _run_all(project, capsys, tmp_path)


# --- the harness itself sees failures (so the properties above are not vacuous) ---------------


def test_the_harness_sees_a_failing_command(projects, capsys, tmp_path):
    project = projects["v5"]
    with _Damage(project / "J9" / "J9_007_particles.cs", LFS_POINTER):
        capsys.readouterr()
        assert main(["resolve", str(project), "J9.particles.blob"]) == 1
        assert "J9_007_particles.cs: this is a Git LFS pointer" in capsys.readouterr().err
    with _Damage(project / "J9" / "job.json", b'{"uid": "J9"'):
        assert main(["outputs", str(project), "J9"]) == 1
        assert "job J9 cannot be used: job.json is not valid JSON" in capsys.readouterr().err
        _run_all(project, capsys, tmp_path)

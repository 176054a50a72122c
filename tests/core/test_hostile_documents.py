"""The boundary for untrusted documents (tui/core/untrusted.py) and where the readers use it:
job.json in both schemas, project.json, workspaces.json, metafile paths, and the .csg writer."""

from __future__ import annotations

import json
import math

import pytest
import yaml

from tui.core import untrusted
from tui.core.errors import RefError
from tui.core.export.write import csg_text
from tui.core.jobdoc import job_from_bytes
from tui.core.project import load_project
from tui.core.untrusted import Invalid


def _doc(project, uid):
    return json.loads((project / uid / "job.json").read_text())


def _write(project, uid, document):
    (project / uid).mkdir(exist_ok=True)
    text = document if isinstance(document, str) else json.dumps(document)
    (project / uid / "job.json").write_text(text)


# --- the checks ---------------------------------------------------------------------------------


@pytest.mark.parametrize("value, expected", [
    (0, 0), (120000, 120000), (2**64 - 1, 2**64 - 1), (120000.0, 120000), ("12", 12), ("18446744073709551615", 2**64 - 1),
])
def test_uint_takes_non_negative_64_bit_integers(value, expected):
    assert untrusted.uint(value, "x") == expected


@pytest.mark.parametrize("value, problem", [
    (math.inf, "Infinity is not a version number"),
    (-math.inf, "-Infinity is not a version number"),
    (math.nan, "NaN is not a version number"),
    (-1, "-1 is not a version number (outside 0 to 2^64-1)"),
    (2**64, "18446744073709551616 is not a version number (outside"),
    (float(2**64), "1.8446744073709552e+19 is not a version number (outside"),
    (10**400, "an integer of 1329 bits is not a version number"),
    (True, "true is not a version number"),
    (1.5, "1.5 is not a version number"),
    ("x", "'x' is not a version number"),
    ("18446744073709551616", "'18446744073709551616' is not a version number (outside"),
    ([1], "a list is not a version number"),
    ({"$numberLong": "5"}, "an object is not a version number"),
])
def test_uint_refuses_everything_else(value, problem):
    with pytest.raises(Invalid) as caught:
        untrusted.uint(value, "output_results[3].versions[0]", "version number")
    assert str(caught.value).startswith(f"output_results[3].versions[0]: {problem}")


@pytest.mark.parametrize("value, problem", [
    (True, "expected a slot name (text), found true"),
    (None, "expected a slot name (text), found null"),
    (["blob"], "expected a slot name (text), found a list"),
    ("", "the slot name is empty"),
    ("x" * 256, "a slot name of 256 characters (at most 255): 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'…"),
    ("a\x00b", "the slot name 'a\\x00b' holds a control character, NUL or lone surrogate"),
    ("\x1b[31mred", "the slot name '\\x1b[31mred' holds a control character"),
    ("a\ud800", "the slot name 'a\\ud800' holds a control character, NUL or lone surrogate"),
    ("a\nb", "holds a control character"),
])
def test_names(value, problem):
    with pytest.raises(Invalid) as caught:
        untrusted.name(value, "s", "slot name")
    assert str(caught.value).startswith("s: ") and problem in str(caught.value)
    assert untrusted.name("alignments3D", "s") == "alignments3D"
    assert untrusted.name("\U0001f600 é", "s") == "\U0001f600 é"  # allowed here; writers check what they need


def test_text_is_cleaned_not_refused():
    assert untrusted.text(None, "t") == ""
    assert untrusted.text("Non-uniform Refinement", "t") == "Non-uniform Refinement"
    assert untrusted.text("Re\ud800fine\x00\x1b[2J", "t") == "Re\ufffdfine\ufffd\ufffd[2J"
    assert untrusted.text("a\tb\nc", "t") == "a b c"
    assert untrusted.text("x" * 5000, "t") == "x" * untrusted.MAX_TEXT + "…"
    assert untrusted.text("\U0001f600 é\u00a0", "t") == "\U0001f600 é\u00a0"
    with pytest.raises(Invalid, match=r"^title: expected text, found a list$"):
        untrusted.text(["x"], "title")


@pytest.mark.parametrize("path", ["J5/J5_000_particles.cs", "J5/../J6/x.cs", "imports/a b/x.cs", "J5/./x.cs"])
def test_relative_paths_inside_the_project(path):
    assert untrusted.relative_path(path, "m") == path


@pytest.mark.parametrize("path, problem", [
    ("/etc/passwd", "is absolute"),
    ("/proc/self/cmdline", "is absolute"),
    ("\\\\server\\share", "is absolute"),
    ("C:\\x.cs", "is absolute"),
    ("../../../../etc/passwd", "leaves the project directory"),
    ("J5/../../x.cs", "leaves the project directory"),
    ("..", "leaves the project directory"),
    (".", "leaves the project directory"),
    ("J5/x\x00.cs", "holds a control character, NUL"),
    ("", "the file path is empty"),
    ("J5/" + "x" * 300, "has a component longer than 255 characters"),
    ("J5/" + "x/" * 600, "a file path of 1,203 characters (at most 1024)"),
    (5, "expected a file path (text), found 5"),
])
def test_relative_paths_refused(path, problem):
    with pytest.raises(Invalid) as caught:
        untrusted.relative_path(path, "metafiles[0]")
    assert str(caught.value).startswith("metafiles[0]: ") and problem in str(caught.value)
    assert len(str(caught.value)) < 200


def test_describe_never_recurses_or_floods():
    deep: list = []
    for _ in range(100_000):
        deep = [deep]
    assert untrusted.describe(deep) == "a list"
    assert untrusted.describe("x" * 10**6) == "'" + "x" * untrusted.SHOWN + "'…"
    assert untrusted.describe(10**5000) == "an integer of 16610 bits"
    assert untrusted.key("spec.outputs", "particles") == "spec.outputs.particles"
    assert untrusted.key("spec.outputs", "a b\x00") == "spec.outputs['a b\\x00']"


@pytest.mark.parametrize("data, problem", [
    (b"[" * 100_000, "nested more than 1024 levels deep"),
    (b'{"a": [Infinity, ' + b"[" * 5000, "nested too deeply"),  # the fallback parser (for Infinity) too
    (b'{"title": "\xff"}', "not valid UTF-8"),
    (b'{"title": ', "not valid JSON (truncated or corrupt"),
])
def test_load_json_refuses_in_one_line(data, problem):
    with pytest.raises(Invalid) as caught:
        untrusted.load_json(data)
    assert problem in str(caught.value) and "\n" not in str(caught.value)


def test_load_json_keeps_the_tokens_mongodb_dumps_write():
    document = untrusted.load_json(b'{"count_max": Infinity, "x": NaN, "t": "\\ud800"}')
    assert document["count_max"] == math.inf and document["t"] == "\ud800"


# --- job documents, both schemas ---------------------------------------------------------------


def _results(doc):
    return doc["spec"]["outputs"]["particles"]["results"] if "spec" in doc else doc["output_results"]


def _results_path(schema, i):
    return f"spec.outputs.particles.results[{i}]" if schema == "v5" else f"output_results[{i}]"


@pytest.mark.parametrize("change, key, problem", [
    (lambda r: r.__setitem__("versions", "0,1"), "versions", "expected a list, found '0,1'"),
    (lambda r: r["versions"].__setitem__(1, -3), "versions[1]", "-3 is not a version number"),
    (lambda r: r["num_items"].__setitem__(2, 1.5), "num_items[2]", "1.5 is not a row count"),
    (lambda r: r["metafiles"].__setitem__(0, None), "metafiles[0]", "expected a file path (text), found null"),
    (lambda r: r.__setitem__("passthrough", "yes"), "passthrough", "expected true or false, found 'yes'"),
    (lambda r: r.__setitem__("name", {"x": 1}), "name", "expected a result name (text), found an object"),
])
def test_a_bad_output_value_breaks_the_job_naming_the_key(reference_project, schema, change, key, problem):
    doc = _doc(reference_project, "J688")
    change(_results(doc)[2])
    _write(reference_project, "J688", doc)
    project = load_project(reference_project)
    with pytest.raises(RefError) as caught:
        project.usable_job("J688")
    assert str(caught.value).startswith(
        f"job J688 cannot be used: inputs/outputs are malformed: J688/job.json: {_results_path(schema, 2)}.{key}: {problem}")
    assert not project.usable_job("J690").broken  # the rest of the project loads


@pytest.mark.parametrize("key, value, problem", [
    ("title", ["x"], "J5/job.json: title: expected text, found a list"),
    ("parents", "J1", "J5/job.json: parents: expected a list, found 'J1'"),
    ("parents", ["J1", 7], "J5/job.json: parents[1]: expected a job uid (text), found 7"),
    ("workspace_uids", [["W1"]], "J5/job.json: workspace_uids[0]: expected a workspace uid (text), found a list"),
    ("uid", ["J5"], "J5/job.json: uid: expected a job uid (text), found a list"),
])
def test_a_bad_summary_value_breaks_the_job_at_listing(key, value, problem, schema):
    document = {"uid": "J5", "spec": {"type": "x"}} if schema == "v5" else {"uid": "J5", "output_results": []}
    document[key] = value
    job = job_from_bytes("J5", json.dumps(document).encode())
    assert job.broken and job.error == problem


def test_hostile_summary_text_is_cleaned(schema):
    document = {"uid": "J5", "spec": {"type": "x\x1b]0;"}} if schema == "v5" else {"uid": "J5", "output_results": [], "job_type": "x\x1b]0;"}
    document["title"] = "T" * 10_000
    document["status"] = "done\x00"
    job = job_from_bytes("J5", json.dumps(document).encode())
    assert not job.broken
    assert (job.type, job.status, len(job.title)) == ("x\ufffd]0;", "done\ufffd", untrusted.MAX_TEXT + 1)


def test_count_max_and_versions_keep_their_old_meanings(reference_project, schema):
    doc = _doc(reference_project, "J690")
    group = doc["spec"]["inputs"]["particles"] if schema == "v5" else doc["input_slot_groups"][0]
    entries = group["connections"][0]["results" if schema == "v5" else "slots"]
    entries[2]["version"] = "5"
    group["count_max"] = -1
    _write(reference_project, "J690", doc)
    job = load_project(reference_project).job("J690")
    assert not job.broken and job.inputs[0].count_max is None
    assert str(job.inputs[0].connections[0].bindings[2].ref) == "J688.particles.alignments3D.5"


def test_project_absolute_refuses_paths_outside(reference_project):
    project = load_project(reference_project)
    assert project.absolute("J688/x.cs") == project.path / "J688" / "x.cs"
    for outside in ("../x.cs", "/etc/passwd", "J1/\x00"):
        with pytest.raises(RefError, match=r"^P12_v[45]: metafile: the file path"):
            project.absolute(outside)


# --- project.json and workspaces.json -----------------------------------------------------------


def test_bad_project_and_workspace_values_only_warn(reference_project):
    (reference_project / "project.json").write_text(json.dumps({"uid": ["P12"], "title": "A\ud800", "last_dumped_version": 4}))
    (reference_project / "workspaces.json").write_text(json.dumps(
        [{"uid": "W1", "title": "Main"}, {"uid": True}, 5, {"uid": "W3", "title": {"x": 1}}]))
    project = load_project(reference_project)
    assert project.uid == reference_project.name and project.title == "A\ufffd"
    assert project.warnings == [
        "project.json: uid: expected a project uid (text), found a list; ignored",
        "project.json: last_dumped_version: expected text, found 4; ignored",
        "workspaces.json: [1].uid: expected a workspace uid (text), found true; ignored",
        "workspaces.json: [2]: expected an object, found 5; ignored",
        "workspaces.json: [3].title: expected text, found an object; ignored",
    ]
    assert list(project.workspaces) == ["W1"] and len(project.jobs) == 2


def test_deep_project_json_only_warns(reference_project):
    (reference_project / "project.json").write_bytes(b"[" * 100_000)
    project = load_project(reference_project)
    assert project.warnings == ["project.json: nested more than 1024 levels deep; not a job document"]


# --- the .csg writer -----------------------------------------------------------------------------


@pytest.mark.parametrize("value", [
    "true", "null", "~", "yes", "- x", "a: b", "#c", "'", '"', "\x00", "\U0001f600", "\u2028", "\x85", "\ufeff",
    "\x1b[31m", "a\nb", " lead", "trail ", "1e3", "0x10", "é → x",
])
def test_csg_text_writes_any_string_so_it_reads_back(value):
    document = {"group": {"description": value, "name": value, "title": value, "type": "particle"},
                "results": {"blob": {"metafile": ">x.cs", "num_items": 3, "type": value}}, "version": value}
    text = csg_text(document)
    assert text.isascii()
    assert yaml.safe_load(text) == document


def test_list_checks_take_a_fast_path_and_still_name_the_bad_item():
    assert untrusted.uints([0, 1, 2**64 - 1], "v") == (0, 1, 2**64 - 1)
    assert untrusted.uints([0, 5.0, "7"], "v") == (0, 5, 7)
    with pytest.raises(Invalid, match=r"^v\[1\]: true is not a version number$"):
        untrusted.uints([0, True], "v", "version number")
    assert untrusted.relative_paths(["J1/a..b.cs", "./J1/x.cs", "J1/./x.cs"], "m") == ("J1/a..b.cs", "./J1/x.cs", "J1/./x.cs")
    for bad, index in ((["J1/a.cs", "../x"], 1), (["/x", "J1/a.cs"], 0), (["J1/a.cs", "a\x00"], 1), (["a", 3], 1)):
        with pytest.raises(Invalid, match=rf"^m\[{index}\]: "):
            untrusted.relative_paths(bad, "m")

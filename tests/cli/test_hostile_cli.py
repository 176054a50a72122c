"""Issue 11's table of minimal hostile cases, in both schemas: each is one job.json in a one-job
project (or one job of the demo project, for export), run through the CLI in process. Each gives
exit 1 and one clear line naming the file and the key path; never a traceback, never a byte of a
file outside the project. (The two .cs rows of the table are csfile's, issue 11 item 4.)"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from conftest import DATA, REPO
from tui.cli import main

INFINITY = "__INFINITY__"  # replaced by a bare Infinity token once the document is JSON text


def run(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def one_job(tmp_path, schema: str, uid: str, mutate) -> str:
    """A project holding only ``uid`` of the reference project, its job.json changed by ``mutate``
    (which edits the document, or returns the text to write instead)."""
    root = tmp_path / "P12"
    root.mkdir()
    shutil.copy(DATA / f"reference_{schema}" / "project.json", root)
    document = json.loads((DATA / f"reference_{schema}" / uid / "job.json").read_text())
    text = mutate(document)
    if text is None:
        text = json.dumps(document).replace(f'"{INFINITY}"', "Infinity")
    (root / uid).mkdir()
    (root / uid / "job.json").write_text(text, encoding="utf-8", errors="surrogatepass")
    return str(root)


def results(document: dict) -> list[dict]:
    """The producer's (J688's) output results, either schema."""
    if "spec" in document:
        return document["spec"]["outputs"]["particles"]["results"]
    return document["output_results"]


def result_path(schema: str, index: int) -> str:
    return f"spec.outputs.particles.results[{index}]" if schema == "v5" else f"output_results[{index}]"


def connection(document: dict) -> dict:
    """The consumer's (J690's) first connection, either schema."""
    if "spec" in document:
        return document["spec"]["inputs"]["particles"]["connections"][0]
    return document["input_slot_groups"][0]["connections"][0]


def connection_path(schema: str) -> str:
    return "spec.inputs.particles.connections[0]" if schema == "v5" else "input_slot_groups[0].connections[0]"


def entries(document: dict) -> list[dict]:
    conn = connection(document)
    return conn["results"] if "results" in conn else conn["slots"]


def assert_refused(code: int, err: str, *fragments: str) -> None:
    assert code == 1, err
    assert err.startswith("csrebind: ") and err.count("\n") == 1, err  # one line
    for fragment in fragments:
        assert fragment in err, (fragment, err)


# --- the table ------------------------------------------------------------------------------


def test_deep_nesting(tmp_path, capsys, schema):
    """``[`` × 100,000: orjson stops at 1024 levels; the job is broken, the listing goes on."""
    project = one_job(tmp_path, schema, "J688", lambda doc: "[" * 100_000)
    code, out, err = run(capsys, "jobs", project)
    assert code == 0  # a listing shows broken jobs, as it always has
    (line,) = [line for line in out.splitlines() if line.startswith("J688")]
    assert "BROKEN" in line and "J688/job.json: nested more than 1024 levels deep" in line
    code, _, err = run(capsys, "outputs", project, "J688")
    assert_refused(code, err, "job J688 cannot be used: J688/job.json: nested more than 1024 levels deep")


def test_infinity_as_a_version(tmp_path, capsys, schema):
    def mutate(doc):
        results(doc)[3]["versions"][0] = INFINITY

    code, _, err = run(capsys, "outputs", one_job(tmp_path, schema, "J688", mutate), "J688")
    assert_refused(code, err, f"J688/job.json: {result_path(schema, 3)}.versions[0]: Infinity is not a version number")


def test_a_count_beyond_64_bits(tmp_path, capsys, schema):
    def mutate(doc):
        results(doc)[0]["num_items"][0] = 2**64

    code, out, err = run(capsys, "outputs", one_job(tmp_path, schema, "J688", mutate), "J688", "--json")
    assert_refused(code, err, f"J688/job.json: {result_path(schema, 0)}.num_items[0]: ",
                   "is not a row count (outside 0 to 2^64-1)")
    assert out == ""


@pytest.mark.parametrize("json_flag", [[], ["--json"]])
def test_a_title_with_a_lone_surrogate(tmp_path, json_flag, schema):
    """Replaced by U+FFFD: the listing works, as text and as JSON, in a real process (whose
    stdout encodes strictly)."""
    def mutate(doc):
        return json.dumps({**doc, "title": "Refine"}).replace('"Refine"', '"Re\\ud800fine"')

    project = one_job(tmp_path, schema, "J688", mutate)
    done = subprocess.run([sys.executable, "-m", "tui.cli", "jobs", project, *json_flag], cwd=REPO,
                          capture_output=True, env={"PYTHONIOENCODING": "utf-8", "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0 and b"Traceback" not in done.stderr, done.stderr
    assert "Re\ufffdfine".encode() in done.stdout


def test_an_output_group_named_true(tmp_path, capsys, schema):
    def mutate(doc):
        if schema == "v5":
            doc["spec"]["outputs"] = {"particles": {**doc["spec"]["outputs"]["particles"], "name": True}}
            return json.dumps(doc).replace('"particles": {"type"', 'true: {"type"', 1)  # not JSON any more
        doc["output_result_groups"][0]["name"] = True
        for r in doc["output_results"]:
            r["group_name"] = True

    project = one_job(tmp_path, schema, "J688", mutate)
    code, _, err = run(capsys, "resolve", project, "J688.particles.blob")
    if schema == "v5":  # a JSON object key cannot be a boolean: the document itself is refused
        assert_refused(code, err, "job J688 cannot be used: job.json is not valid JSON")
    else:
        assert_refused(code, err, "J688/job.json: output_results[0].group_name: expected a group name (text), found true")


def test_a_result_named_nan(tmp_path, capsys, schema):
    def mutate(doc):
        results(doc)[1]["name"] = INFINITY
        return json.dumps(doc).replace(f'"{INFINITY}"', "NaN")

    code, _, err = run(capsys, "outputs", one_job(tmp_path, schema, "J688", mutate), "J688")
    assert_refused(code, err, f"J688/job.json: {result_path(schema, 1)}.name: expected a result name (text), found NaN")


def test_a_metafile_with_nul(tmp_path, capsys, schema):
    def mutate(doc):
        results(doc)[0]["metafiles"][-1] = "J688/J688_008\u0000particles.cs"

    code, _, err = run(capsys, "resolve", one_job(tmp_path, schema, "J688", mutate), "J688.particles.blob")
    assert_refused(code, err, f"J688/job.json: {result_path(schema, 0)}.metafiles[4]: the file path "
                   "'J688/J688_008\\x00particles.cs' holds a control character, NUL or lone surrogate")


def test_a_metafile_name_of_5000_characters(tmp_path, capsys, schema):
    def mutate(doc):
        results(doc)[0]["metafiles"][-1] = "J688/" + "x" * 5000 + ".cs"

    code, _, err = run(capsys, "resolve", one_job(tmp_path, schema, "J688", mutate), "J688.particles.blob")
    assert_refused(code, err, f"{result_path(schema, 0)}.metafiles[4]: a file path of 5,008 characters (at most 1024)")
    assert len(err) < 400  # the name is quoted cut short, not whole


@pytest.mark.parametrize("where", ["job_uid", "slot"])
def test_a_job_uid_or_slot_name_that_is_a_list(tmp_path, capsys, schema, where):
    def mutate(doc):
        if where == "job_uid":
            connection(doc)["job_uid"] = ["J688"]
        else:
            entries(doc)[0]["name" if schema == "v5" else "slot_name"] = ["blob"]

    code, _, err = run(capsys, "inputs", one_job(tmp_path, schema, "J690", mutate), "J690")
    if where == "job_uid":
        assert_refused(code, err, f"J690/job.json: {connection_path(schema)}.job_uid: expected a job uid (text), found a list")
    else:
        key = "results[0].name" if schema == "v5" else "slots[0].slot_name"
        assert_refused(code, err, f"J690/job.json: {connection_path(schema)}.{key}: expected a slot name (text), found a list")


def test_a_nested_list_as_a_connection_version(tmp_path, capsys, schema):
    def mutate(doc):
        entries(doc)[2]["version"] = INFINITY
        return json.dumps(doc).replace(f'"{INFINITY}"', "[" * 900 + "]" * 900)

    code, _, err = run(capsys, "inputs", one_job(tmp_path, schema, "J690", mutate), "J690")
    key = "results[2]" if schema == "v5" else "slots[2]"
    assert_refused(code, err, f"J690/job.json: {connection_path(schema)}.{key}.version: "
                   "connection version a list is neither F nor an iteration number")


@pytest.mark.parametrize("outside", ["../../../../etc/passwd", "/proc/self/cmdline", "J688/../../secret.cs"])
def test_a_metafile_outside_the_project(tmp_path, capsys, schema, outside):
    secret = tmp_path / "secret.cs"
    secret.write_bytes(b"SECRET-BYTES " * 10)

    def mutate(doc):
        results(doc)[0]["metafiles"][-1] = outside

    code, out, err = run(capsys, "resolve", one_job(tmp_path, schema, "J688", mutate), "J688.particles.blob")
    reason = "is absolute" if outside.startswith("/") else "leaves the project directory"
    assert_refused(code, err, f"J688/job.json: {result_path(schema, 0)}.metafiles[4]: the file path", reason)
    assert "root:" not in out + err and "SECRET" not in out + err and "\x00" not in err


# --- export: names that cannot be written as they are ----------------------------------------


def _demo(tmp_path, schema):
    from tui.demo import write_demo

    return write_demo(tmp_path / f"CS-demo-{schema}", schema=schema)


def _edit(path, change):
    document = json.loads(path.read_text())
    change(document)
    path.write_text(json.dumps(document))


def _rename_slot(document: dict, old: str, new) -> None:
    if "spec" in document:
        group = document["spec"]["inputs"]["particles"]
        for s in group["slots"]:
            s["name"] = new if s["name"] == old else s["name"]
        for e in group["connections"][0]["results"]:
            e["name"] = new if e["name"] == old else e["name"]
    else:
        group = next(g for g in document["input_slot_groups"] if g["name"] == "particles")
        for s in group["slots"]:
            s["name"] = new if s["name"] == old else s["name"]
        for e in group["connections"][0]["slots"]:
            e["slot_name"] = new if e["slot_name"] == old else e["slot_name"]


@pytest.mark.parametrize("slot", ["\U0001f600", "a: b", "x.y", "é", "- x", "0ctf"])
def test_a_slot_name_that_cannot_be_a_column_is_refused_before_writing(tmp_path, capsys, schema, slot):
    project = _demo(tmp_path, schema)
    _edit(project / "J12" / "job.json", lambda doc: _rename_slot(doc, "ctf", slot))
    out = tmp_path / "out"
    code, _, err = run(capsys, "export", project, "J12", "particles", "--out", out)
    assert_refused(code, err, "particles.0: slot name ", "cannot be written as a .cs column name", "nothing was written")
    assert slot not in err or slot.isascii()  # non-ASCII is shown escaped
    assert not out.exists() or not any(out.iterdir())


@pytest.mark.parametrize("slot", ["true", "null", "yes"])
def test_a_slot_name_yaml_would_misread_is_written_quoted(tmp_path, capsys, schema, slot):
    """A plain word YAML would read as a boolean or null is a valid column name: the .csg quotes it."""
    import yaml

    project = _demo(tmp_path, schema)
    _edit(project / "J12" / "job.json", lambda doc: _rename_slot(doc, "ctf", slot))
    code, _, err = run(capsys, "export", project, "J12", "particles", "--out", tmp_path / "out", "--name", "x")
    assert code == 0, err
    text = (tmp_path / "out" / "x.csg").read_text()
    assert f"  '{slot}':\n" in text
    assert slot in yaml.safe_load(text)["results"]


def test_a_slot_name_that_is_a_list_is_refused_by_export(tmp_path, capsys, schema):
    project = _demo(tmp_path, schema)
    _edit(project / "J12" / "job.json", lambda doc: _rename_slot(doc, "ctf", ["ctf"]))
    code, _, err = run(capsys, "export", project, "J12", "particles", "--out", tmp_path / "out")
    assert_refused(code, err, "J12/job.json: ", "expected a slot name (text), found a list")


def test_a_5000_character_metafile_is_refused_by_export(tmp_path, capsys, schema):
    project = _demo(tmp_path, schema)

    def change(doc):
        results(doc)[0]["metafiles"][-1] = "J9/" + "x" * 5000 + ".cs"

    _edit(project / "J9" / "job.json", change)
    code, _, err = run(capsys, "export", project, "J12", "particles", "--out", tmp_path / "out")
    assert_refused(code, err, "J9/job.json: ", ".metafiles[", "a file path of 5,006 characters")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_hostile_titles_and_descriptions_reach_the_csg_escaped(tmp_path, capsys, schema):
    """The input's title and the job's version are free text: written, YAML-escaped, ASCII."""
    import yaml

    project = _demo(tmp_path, schema)

    def change(doc):
        doc["version"] = "v4.7.1\u2028\x85: true # \U0001f600"

    _edit(project / "J12" / "job.json", change)
    code, out, err = run(capsys, "export", project, "J12", "particles", "--out", tmp_path / "out", "--name", "x")
    assert code == 0, err
    text = (tmp_path / "out" / "x.csg").read_text(encoding="utf-8")
    assert text.isascii()
    assert yaml.safe_load(text)["version"] == "v4.7.1\ufffd\ufffd: true # \U0001f600"

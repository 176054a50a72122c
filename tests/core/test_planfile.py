"""Plan files are untrusted documents (issue 11 item 1): every value is checked where the plan is
parsed (``planfile.read_plan`` / ``plan_state``, through ``tui.core.untrusted``); a malformed plan
is a PlanError in one line naming the file and the key path, exit 1 from the CLI, never a
traceback. Hand-picked mutations first, then Hypothesis mutating a real plan at random key paths
(profile "ci": small and derandomized; ``--hypothesis-profile=long`` for a longer campaign)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from digest import tree_digest
from tui.cli import main
from tui.core.errors import PlanError
from tui.core.planfile import PlanDocument, plan_state, read_plan
from tui.core.project import load_project
from tui.core.session import EditSession

INFINITY, NAN = "__INFINITY__", "__NAN__"  # bare tokens once the document is JSON text


@pytest.fixture(scope="module")
def project_dir(tmp_path_factory) -> Path:
    from tui.demo import write_demo

    return write_demo(tmp_path_factory.mktemp("plans") / "CS-plans", schema="v5")


@pytest.fixture(scope="module")
def project(project_dir):
    return load_project(project_dir)


@pytest.fixture(scope="module")
def project_digest(project_dir) -> str:
    return tree_digest(project_dir)


@pytest.fixture(scope="module")
def good_plan(project) -> dict:
    session = EditSession(project, "J12")
    session.put("particles.0.blob", "J5.particles.blob")
    session.put("particles.0.alignments3D", "J9.particles.alignments3D.3")
    return json.loads(json.dumps(session.to_plan()))


def dump(document) -> str:
    """JSON text, with the markers replaced by bare Infinity / NaN and lone surrogates kept."""
    text = json.dumps(document, ensure_ascii=True)
    return text.replace(f'"{INFINITY}"', "Infinity").replace(f'"{NAN}"', "NaN")


def write(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "hostile-plan.json"
    if isinstance(text, str):
        text = text.encode("utf-8", errors="surrogatepass")
    path.write_bytes(text)
    return path


def binding(plan: dict) -> dict:
    return plan["inputs"][0]["connections"][0]["bindings"][0]


def setter(get, key, value):
    def mutate(plan):
        get(plan)[key] = value
    return mutate


def dropper(get, key):
    def mutate(plan):
        del get(plan)[key]
    return mutate


TOP = lambda p: p  # noqa: E731
INPUT = lambda p: p["inputs"][0]  # noqa: E731
CONNECTION = lambda p: p["inputs"][0]["connections"][0]  # noqa: E731

# (id, mutation of the plan document, the key path the message must name)
MUTATIONS = [
    ("connections-5", setter(INPUT, "connections", 5), "inputs[0].connections"),  # the known TypeError
    ("connections-text", setter(INPUT, "connections", "J9.particles"), "inputs[0].connections"),
    ("connections-object", setter(INPUT, "connections", {"job": "J9"}), "inputs[0].connections"),
    ("connection-5", lambda p: INPUT(p)["connections"].insert(0, 5), "inputs[0].connections[0]"),
    ("connection-null", lambda p: INPUT(p)["connections"].insert(0, None), "inputs[0].connections[0]"),
    ("inputs-5", setter(TOP, "inputs", 5), "inputs"),
    ("inputs-object", setter(TOP, "inputs", {"particles": []}), "inputs"),
    ("input-text", lambda p: p["inputs"].insert(0, "particles"), "inputs[0]"),
    ("input-name-missing", dropper(INPUT, "name"), "inputs[0].name"),
    ("input-name-list", setter(INPUT, "name", ["particles"]), "inputs[0].name"),
    ("input-name-true", setter(INPUT, "name", True), "inputs[0].name"),
    ("input-name-surrogate", setter(INPUT, "name", "\ud800"), "inputs[0].name"),
    ("input-name-nul", setter(INPUT, "name", "parti\x00cles"), "inputs[0].name"),
    ("input-name-escape", setter(INPUT, "name", "\x1b[31mred"), "inputs[0].name"),
    ("input-name-huge", setter(INPUT, "name", "p" * 100_000), "inputs[0].name"),
    ("input-name-nan", setter(INPUT, "name", NAN), "inputs[0].name"),
    ("input-twice", lambda p: p["inputs"].append(json.loads(json.dumps(INPUT(p)))), "inputs[3].name"),
    ("input-unknown", setter(INPUT, "name", "nope"), "inputs[0].name"),
    ("job-missing", dropper(CONNECTION, "job"), "inputs[0].connections[0]"),
    ("job-list", setter(CONNECTION, "job", ["J9"]), "inputs[0].connections[0].job"),
    ("job-number", setter(CONNECTION, "job", 9), "inputs[0].connections[0].job"),
    ("job-not-a-uid", setter(CONNECTION, "job", "../J9"), "inputs[0].connections[0].job"),
    ("job-nul", setter(CONNECTION, "job", "J\x009"), "inputs[0].connections[0].job"),
    ("output-true", setter(CONNECTION, "output", True), "inputs[0].connections[0].output"),
    ("output-surrogate", setter(CONNECTION, "output", "a\udfff"), "inputs[0].connections[0].output"),
    ("bindings-5", setter(CONNECTION, "bindings", 5), "inputs[0].connections[0].bindings"),
    ("binding-text", lambda p: CONNECTION(p)["bindings"].insert(0, "blob"), "inputs[0].connections[0].bindings[0]"),
    ("ref-missing", dropper(binding, "ref"), "inputs[0].connections[0].bindings[0]"),
    ("ref-number", setter(binding, "ref", 5), "inputs[0].connections[0].bindings[0].ref"),
    ("ref-infinity", setter(binding, "ref", INFINITY), "inputs[0].connections[0].bindings[0].ref"),
    ("ref-malformed", setter(binding, "ref", "J5..blob"), "inputs[0].connections[0].bindings[0].ref"),
    ("ref-version-huge", setter(binding, "ref", "J5.particles.blob." + "9" * 40),
     "inputs[0].connections[0].bindings[0].ref"),
    ("ref-huge", setter(binding, "ref", "J5." + "x" * 1_000_000), "inputs[0].connections[0].bindings[0].ref"),
    ("slot-list", setter(binding, "slot", ["blob"]), "inputs[0].connections[0].bindings[0].slot"),
    ("slot-nul", setter(binding, "slot", "bl\x00ob"), "inputs[0].connections[0].bindings[0].slot"),
    ("dtype-number", setter(binding, "dtype", 5), "inputs[0].connections[0].bindings[0].dtype"),
    ("project-text", setter(TOP, "project", "P3"), "project"),
    ("project-uid-list", lambda p: p["project"].update(uid=["P3"]), "project.uid"),
    ("project-other", lambda p: p["project"].update(uid="P77"), "project.uid"),
    ("project-path-number", lambda p: p["project"].update(path=5), "project.path"),
    ("project-path-nul", lambda p: p["project"].update(path="/data/\x00P3"), "project.path"),
    ("target-list", setter(TOP, "target", ["J12"]), "target"),
    ("target-missing", dropper(TOP, "target"), "target"),
    ("target-not-a-uid", setter(TOP, "target", "P3"), "target"),
    ("target-other", setter(TOP, "target", "J11"), "target"),
    ("target-status-number", setter(TOP, "target_status", 5), "target_status"),
    ("changes-5", setter(TOP, "changes", 5), "changes"),
    ("change-list", setter(TOP, "changes", [["x"]]), "changes[0]"),
    ("created-object", setter(TOP, "created", {}), "created"),
    ("format-version-infinity", setter(TOP, "format_version", INFINITY), "plan format version Infinity"),
    ("format-version-nan", setter(TOP, "format_version", NAN), "plan format version NaN"),
    ("format-version-true", setter(TOP, "format_version", True), "plan format version true"),
    ("format-version-float", setter(TOP, "format_version", 1.5), "plan format version 1.5"),
    ("format-version-huge", setter(TOP, "format_version", 10**400), "plan format version an integer of"),
    ("format-missing", dropper(TOP, "format"), "not a csrebind plan"),
]


def check_message(message: str, path: Path, key: str) -> None:
    assert "\n" not in message and "Traceback" not in message
    assert message.startswith(f"{path}: "), message
    assert f": {key}" in message, (key, message)
    assert len(message) < 600, message  # never a whole hostile value


FITS_NOT = {"input-unknown", "project-other", "target-other"}  # well-formed plans that do not fit the target


@pytest.mark.parametrize("case, mutate, key", MUTATIONS, ids=[m[0] for m in MUTATIONS])
def test_a_malformed_plan_file_is_a_plan_error_naming_file_and_key(project, project_dir, good_plan, tmp_path,
                                                                    capsys, case, mutate, key):
    plan = json.loads(json.dumps(good_plan))
    mutate(plan)
    path = write(tmp_path, dump(plan))
    with pytest.raises(PlanError) as info:
        EditSession(project, "J12").load_plan(read_plan(path))
    check_message(str(info.value), path, key)
    commands = [["plan", str(project_dir), "J12", "--plan", str(path), "--out", str(tmp_path / "out.json")],
                ["apply", str(path)]]  # apply takes the plan's own target: J11's inputs, for "target-other"
    if case not in FITS_NOT:  # refused before the UI starts (one that does not fit: "plan not loaded" in it)
        commands.append([str(project_dir), "--plan", str(path)])
    for argv in commands:
        code = main(argv)
        out, err = capsys.readouterr()
        assert code == 1 and "Traceback" not in out + err
        check_message(err.strip().removeprefix("csrebind: "), path, key if key != "target" or argv[0] == "plan" else "")
    assert not (tmp_path / "out.json").exists()


@pytest.mark.parametrize("mutate, key", [m[1:] for m in MUTATIONS if "NaN" not in m[2] and "Infinity" not in m[2]],
                         ids=[m[0] for m in MUTATIONS if "NaN" not in m[2] and "Infinity" not in m[2]])
def test_a_malformed_plan_in_memory_is_a_plan_error_naming_the_key(project, good_plan, mutate, key):
    """A plan given as a document (a journal's session, a caller's dict): the same checks, in
    plan_state itself. ``"connections": 5`` raised TypeError here."""
    plan = json.loads(json.dumps(good_plan))
    mutate(plan)
    with pytest.raises(PlanError) as info:
        plan_state(project, project.job("J12"), plan)
    message = str(info.value)
    assert "\n" not in message and key in message and len(message) < 600


def test_a_journal_session_names_its_key_path_in_the_journal(project, good_plan):
    plan = PlanDocument.of({**good_plan, "inputs": [{"name": "particles", "connections": 5}]}, at="sessions[2]")
    with pytest.raises(PlanError, match=re.escape("sessions[2].inputs[0].connections: expected a list, found 5")):
        plan_state(project, project.job("J12"), plan)


@pytest.mark.parametrize("text, problem", [
    ("[" * 100_000, "nested more than 1024 levels deep; not a csrebind plan"),
    ('{"format": "csrebind-plan", "inputs": ' + "[" * 5000 + "]" * 5000 + "}", "nested more than 1024 levels deep"),
    ("", "not valid JSON"),
    ('{"format": "csrebind-plan", "format_version": 1, "target": "J12", "inputs": [', "not valid JSON"),
    (b"\xef\xbb\xbf{}", "not a csrebind plan"),  # a BOM is read past, as in job documents
    (b'{"format": "csrebind-plan\xff"}', "not valid"),
    ("[]", "not a csrebind plan"),
    ("null", "not a csrebind plan"),
    ('"csrebind-plan"', "not a csrebind plan"),
    ('{"format": "csrebind-plan", "format_version": 1e400}', "plan format version Infinity is not supported"),
])
def test_a_plan_file_that_is_not_a_plan_document_is_refused(tmp_path, capsys, project_dir, text, problem):
    path = write(tmp_path, text)
    with pytest.raises(PlanError) as info:
        read_plan(path)
    assert str(info.value).startswith(f"{path}: ") and problem in str(info.value) and "\n" not in str(info.value)
    code = main(["apply", str(path)])
    assert code == 1 and "Traceback" not in capsys.readouterr().err


def test_a_good_plan_reads_back_with_its_file(project, good_plan, tmp_path):
    path = write(tmp_path, json.dumps(good_plan))
    plan = read_plan(path)
    assert isinstance(plan, PlanDocument) and plan.file == str(path) and plan == good_plan
    session = EditSession(project, "J12")
    session.load_plan(plan)
    assert [str(c) for c in session.changes()] == good_plan["changes"]
    with pytest.raises(PlanError, match=re.escape(f"{path}: target: plan targets J12, not J11")):
        EditSession(project, "J11").load_plan(plan)  # a plan that does not fit names its file too


def test_free_text_of_a_plan_is_cleaned_not_refused(good_plan, tmp_path):
    path = write(tmp_path, dump({**good_plan, "changes": ["a\x1b[2Jb", "\ud800"], "target_status": "bui\nlding"}))
    plan = read_plan(path)
    assert plan["changes"] == ["a\ufffd[2Jb", "\ufffd"] and plan["target_status"] == "bui lding"


# --- Hypothesis: a real plan mutated at random key paths ---------------------------------------------

FUZZ = settings(
    max_examples=settings.default.max_examples if settings.get_current_profile_name() != "ci" else 60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                           HealthCheck.data_too_large, HealthCheck.large_base_example],
)
ODD_TEXT = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["\ud800", "a\udfff", "\x00", "\x1b[31m", "\u202e", "x" * 5000, "../J9", "J9", "J12", "J99",
                     "particles", "blob", "J5.particles.blob", "J5.particles.blob.99999999999999999999999", "F",
                     "csrebind-plan", "P3", "P77", "", "NaN", "Infinity"]),
)
NUMBERS = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, 1, -1, 2**64, 10**400]),
    st.floats(allow_nan=True, allow_infinity=True),
)
SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, ODD_TEXT)
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                        st.dictionaries(st.text(max_size=6), inner, max_size=3)),
                      max_leaves=6)


def key_paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from key_paths(value, prefix + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from key_paths(value, prefix + (index,))


@st.composite
def mutated(draw, document):
    """``document`` with 1-3 mutations at random key paths: a key dropped or renamed, a value
    replaced by another type, a list emptied or its items repeated, deep nesting."""
    doc = json.loads(json.dumps(document))
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from([p for p in key_paths(doc) if p]))
        parent = doc
        for step in path[:-1]:
            parent = parent[step]
        key, value = path[-1], parent[path[-1]]
        action = draw(st.sampled_from(["drop", "rename", "replace", "replace", "replace", "repeat", "empty", "deep",
                                       "wrap", "stringify"]))
        if action == "drop":
            del parent[key]
        elif action == "rename" and isinstance(parent, dict):
            parent[draw(st.text(max_size=8))] = parent.pop(key)
        elif action == "repeat" and isinstance(value, list):
            value.extend(value[:2] or [draw(SCALARS)])
        elif action == "empty" and isinstance(value, (list, dict)):
            value.clear()
        elif action == "deep":
            parent[key] = f"<deep {draw(st.sampled_from([50, 900, 1100, 50_000]))}>"
        elif action == "wrap":
            parent[key] = draw(st.sampled_from([[value], {"value": value}]))
        elif action == "stringify":
            parent[key] = json.dumps(value)
        else:
            parent[key] = draw(VALUES)
    return doc


def dump_fuzzed(document) -> bytes:
    try:
        text = json.dumps(document, allow_nan=True)
    except ValueError:  # an integer too long for str()
        return b"[" * 100_000
    text = re.sub(r'"<deep (\d+)>"', lambda m: "[" * int(m[1]) + "1" + "]" * int(m[1]), text)
    return text.encode("utf-8", errors="surrogatepass")


@FUZZ
@given(data=st.data())
def test_mutated_plans_are_read_or_refused_cleanly(project, project_dir, project_digest, good_plan, tmp_path, capsys,
                                                   data):
    document = data.draw(mutated(good_plan), label="plan")
    path = write(tmp_path, dump_fuzzed(document))
    try:
        plan = read_plan(path)
        EditSession(project, "J12").load_plan(plan)
    except PlanError as exc:
        message = str(exc)
        assert message.startswith(f"{path}: ") and "\n" not in message and len(message) < 600, message
    code = main(["plan", str(project_dir), "J12", "--plan", str(path), "--out", str(tmp_path / "out.json"), "--force"])
    out, err = capsys.readouterr()
    assert code in (0, 1) and "Traceback" not in out + err, err[-2000:]
    assert len(err) < 5000
    assert tree_digest(project_dir) == project_digest, "a plan command wrote inside the project"

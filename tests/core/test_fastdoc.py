"""The typed fast path for inputs/outputs gives exactly what the careful parse gives, takes the
ordinary documents, and hands every doubtful one to the careful parse."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tui.core import fastdoc
from tui.core.jobdoc import detect_schema, parse_inputs, parse_outputs
from tui.core.untrusted import Invalid


def careful(raw: bytes, uid: str, schema: str):
    document = json.loads(raw)
    return parse_outputs(document, uid, schema), parse_inputs(document, schema)


def fast(raw: bytes, uid: str, schema: str):
    outputs, inputs = fastdoc.fast_io(raw, uid, schema)
    return outputs, parse_inputs(inputs, schema)


def documents(*projects: Path) -> list[tuple[str, bytes, str]]:
    found = []
    for project in projects:
        for path in sorted(project.glob("J*/job.json")):
            raw = path.read_bytes()
            try:
                schema = detect_schema(json.loads(raw))
            except ValueError:
                continue
            if schema:
                found.append((path.parent.name, raw, schema))
    return found


def test_real_sized_documents_take_the_fast_path_and_agree(demo_project, reference_project, tmp_path):
    from projectgen import generate_project
    from realproject import j744_project

    generated = generate_project(tmp_path / "gen", num_jobs=60, schema="v5")
    generated_v4 = generate_project(tmp_path / "gen4", num_jobs=60, schema="v4")
    cases = documents(demo_project, reference_project, generated, generated_v4, j744_project(tmp_path / "J744"))
    fast_ones = 0
    for uid, raw, schema in cases:
        try:
            expected = careful(raw, uid, schema)
        except Invalid:
            with pytest.raises(fastdoc.NotFast):
                fast(raw, uid, schema)
            continue
        assert fast(raw, uid, schema) == expected, uid
        fast_ones += 1
    assert fast_ones >= 100


V4 = {
    "uid": "J1", "job_type": "extract",
    "output_result_groups": [{"name": "particles", "type": "particle", "title": "Particles", "num_items": 10}],
    "output_results": [{"group_name": "particles", "name": "blob", "type": "particle.blob", "versions": [0, 1],
                        "metafiles": ["J1/a.cs", "J1/b.cs"], "num_items": [10, 10], "passthrough": False}],
    "input_slot_groups": [],
}


def mutated(change) -> bytes:
    document = json.loads(json.dumps(V4))
    change(document)
    return json.dumps(document).encode()


def result(document) -> dict:
    return document["output_results"][0]


MUTATIONS = {
    "unicode name": lambda d: result(d).update(name="blöb"),
    "control character": lambda d: result(d).update(name="bl\u0007ob"),
    "float version": lambda d: result(d).update(versions=[0, 1.0]),
    "huge version": lambda d: result(d).update(versions=[0, 2**63]),
    "top version": lambda d: result(d).update(versions=[0, 2**64 - 1]),
    "negative count": lambda d: result(d).update(num_items=[10, -1]),
    "string count": lambda d: result(d).update(num_items="10"),
    "null list": lambda d: result(d).update(metafiles=None),
    "climbing path": lambda d: result(d).update(metafiles=["J1/../../etc/passwd", "J1/b.cs"]),
    "absolute path": lambda d: result(d).update(metafiles=["/etc/passwd", "J1/b.cs"]),
    "drive path": lambda d: result(d).update(metafiles=["C:x.cs", "J1/b.cs"]),
    "dot path": lambda d: result(d).update(metafiles=["./J1/a.cs", "J1/b.cs"]),
    "long component": lambda d: result(d).update(metafiles=["J1/" + "a" * 300, "J1/b.cs"]),
    "long type": lambda d: d["output_result_groups"][0].update(type="p" * 150),
    "passthrough 1": lambda d: result(d).update(passthrough=1),
    "passthrough null": lambda d: result(d).update(passthrough=None),
    "group passthrough": lambda d: d["output_result_groups"][0].update(passthrough="particles"),
    "group passthrough empty": lambda d: d["output_result_groups"][0].update(passthrough=""),
    "group passthrough number": lambda d: d["output_result_groups"][0].update(passthrough=5),
    "no group name": lambda d: result(d).pop("group_name"),
    "empty name": lambda d: result(d).update(name=""),
    "name a number": lambda d: result(d).update(name=5),
    "results null": lambda d: d.update(output_results=None),
    "inputs broken": lambda d: d.update(input_slot_groups=[{"name": 5}]),
    "count list short": lambda d: result(d).update(num_items=[10]),
    "count int": lambda d: result(d).update(num_items=7),
    "title unicode": lambda d: d["output_result_groups"][0].update(title="Partikel — gut"),
}


@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_doubtful_documents_go_the_careful_way_or_agree_with_it(name):
    raw = mutated(MUTATIONS[name])
    try:
        expected = careful(raw, "J1", "v4")
    except Invalid:
        with pytest.raises((fastdoc.NotFast, Invalid)):  # refused either way, the careful parse says why
            fast(raw, "J1", "v4")
        return
    try:
        got = fast(raw, "J1", "v4")
    except fastdoc.NotFast:
        return  # the careful parse decides, and it accepts
    assert got == expected, name


def test_tokens_the_typed_decoder_refuses_go_the_careful_way():
    raw = json.dumps(V4).replace('"num_items": 10', '"num_items": NaN').encode()
    with pytest.raises(fastdoc.NotFast):
        fast(raw, "J1", "v4")

"""``csrebind candidates``: the list the UI's candidates dialog shows, as a table or JSON."""

from __future__ import annotations

import json

from realproject import j744_project
from tui.cli import main


def run(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_candidates_json_shape_and_ranking(demo_project, capsys):
    code, out, err = run(capsys, "candidates", str(demo_project), "J12", "particles.0.blob", "--json")
    assert code == 0, err
    document = json.loads(out)
    assert (document["job"], document["slot"]) == ("J12", "particles.0.blob")
    found = document["candidates"]
    assert set(found[0]) == {"ref", "job", "title", "status", "created_at", "passthrough", "rows", "current",
                             "kept", "of", "unknown", "error", "fact"}
    kept = [c["kept"] for c in found]
    assert kept == sorted(kept, reverse=True)
    j5 = next(c for c in found if c["ref"] == "J5.particles.blob.F")
    assert (j5["kept"], j5["of"], j5["rows"], j5["current"]) == (1000, 1000, 1500, False)
    assert j5["fact"].startswith("box 452 px")
    assert [c["ref"] for c in found if c["current"]] == ["J9.particles.blob.F"]
    assert found[-1]["kept"] == 0 and "different particle lineage" in found[-1]["error"]


def test_candidates_table(demo_project, capsys):
    code, out, _ = run(capsys, "candidates", str(demo_project), "J12", "particles.0.blob")
    assert code == 0
    header, *lines = out.splitlines()
    assert header.split()[:3] == ["candidate", "job", "title"]
    j5 = next(line for line in lines if line.startswith("J5.particles.blob.F "))
    assert "keeps 1,000 of 1,000" in j5 and "box 452 px" in j5
    assert any(line.startswith("J9.particles.blob.F (current)") for line in lines)


def test_candidates_with_an_edit_on_the_real_refinement(tmp_path, capsys):
    """Iteration 0 of the real J744 holds 2,270 of its 5,908 particles: once the poses are pinned
    to it, any blob keeps at most those."""
    project = j744_project(tmp_path / "P2")
    code, out, err = run(capsys, "candidates", str(project), "J745", "particles.0.blob", "--json",
                         "--set", "particles.0.alignments3D=J744.particles.alignments3D.0")
    assert code == 0, err
    (j744,) = [c for c in json.loads(out)["candidates"] if c["ref"] == "J744.particles.blob.F"]
    assert (j744["kept"], j744["of"], j744["rows"]) == (2270, 5908, 5908)


def test_candidates_refuses_a_slot_that_is_not_there(demo_project, capsys):
    code, _, err = run(capsys, "candidates", str(demo_project), "J12", "particles.0.nope")
    assert code == 1 and "input particles has no slot 'nope'; its slots: blob" in err
    code, _, err = run(capsys, "candidates", str(demo_project), "J12", "particles.2.blob")
    assert code == 1 and "no connection 2" in err
    code, _, err = run(capsys, "candidates", str(demo_project), "J12", "blob")
    assert code == 2 and "'blob' is not a slot address" in err and "e.g. particles.0.blob" in err

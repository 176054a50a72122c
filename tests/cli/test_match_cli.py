"""csrebind export/preview --match and --tolerance (issue 10 item 4) on the generated project of
tests/core/test_match.py: symmetry-expanded particles (J3) and a re-extraction of their picks (J4)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from digest import tree_digest
from test_match import CROWDED, LOST_BY_J4, N, make_project
from tui.cli import main

FULL_BLOB = "particles.0.blob=J1.particles.blob"
RE_EXTRACTED = "particles.0.blob=J4.particles.blob"


def run(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def project(tmp_path, schema):
    return make_project(tmp_path / f"match-{schema}", schema)


def test_export_match_src_uid(project, tmp_path, capsys):
    before = tree_digest(project)
    code, _, err = run(capsys, "export", str(project), "J10", "particles", "--set", FULL_BLOB, "--out", str(tmp_path / "a"))
    assert code == 1 and "no rows left" in err and "--match src_uid" in err
    code, out, err = run(capsys, "export", str(project), "J10", "particles", "--set", FULL_BLOB,
                         "--match", "src_uid", "--out", str(tmp_path / "b"))
    assert code == 0, err
    assert f"matched on sym_expand/src_uid → uid: {2 * N:,} of {2 * N:,} rows matched, 0 ambiguous" in err
    assert f"({2 * N} rows)" in out
    table = np.load(tmp_path / "b" / "J10_particles_rebound.cs")
    assert table["uid"].tolist() == np.load(project / "J3/J3_particles_expanded.cs")["uid"].tolist()
    assert tree_digest(project) == before


def test_export_match_location_with_tolerance(project, tmp_path, capsys):
    code, _, err = run(capsys, "export", str(project), "J10", "particles", "--set", RE_EXTRACTED,
                       "--match", "blob=location", "--tolerance", "2.5", "--out", str(tmp_path / "c"))
    assert code == 0, err
    refused = 2 * (len(LOST_BY_J4) + 1)
    assert (f"within 2.5 px: {2 * N - refused} of {2 * N} rows matched, 2 ambiguous (refused, never guessed), "
            f"{2 * len(LOST_BY_J4)} without a match (dropped)") in err
    table = np.load(tmp_path / "c" / "J10_particles_rebound.cs")
    assert len(table) == 2 * N - refused and CROWDED not in table["blob/idx"]


def test_preview_match_and_hint(project, capsys):
    code, out, err = run(capsys, "preview", str(project), "J10", "--set", FULL_BLOB)
    assert code == 1
    assert "hint: an export with --match src_uid would keep 120 of 120 rows" in out
    code, out, _ = run(capsys, "preview", str(project), "J10", "--set", FULL_BLOB, "--match", "src_uid", "--json")
    assert code == 0
    [connection] = json.loads(out)["connections"]
    assert connection["rows"] == 2 * N and "match_hint" not in connection
    [matched] = [f for f in connection["files"] if "match" in f]
    assert matched["metafile"] == "J1/extracted.cs" and matched["kept"] == N


def test_match_errors(project, tmp_path, capsys):
    code, _, err = run(capsys, "export", str(project), "J10", "particles", "--set", FULL_BLOB,
                       "--match", "nearest", "--out", str(tmp_path / "d"))
    assert code == 1 and "expected one of uid, src_uid, location, path" in err
    code, _, err = run(capsys, "export", str(project), "J11", "particles", "--match", "src_uid",
                       "--set", "particles.0.blob=J1.particles.blob", "--out", str(tmp_path / "e"))
    assert code == 1 and "not symmetry-expanded" in err
    code, _, err = run(capsys, "plan", str(project), "J10", "--set", FULL_BLOB, "--out", str(tmp_path / "p.json"))
    assert code == 1 and "can be neither applied live nor planned for apply" in err
    assert not (tmp_path / "d").exists() and not (tmp_path / "e").exists() and not (tmp_path / "p.json").exists()

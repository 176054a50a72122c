"""``csrebind diff PROJECT REF_A REF_B [--json]`` on the real J744 refinement: the JSON shape, the
human report and the exit codes (0 compared, 1 data error or nothing shared, 2 usage)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from realproject import VERSION_FILES, j744_project
from tui.cli import main
from tui.core.csfile import load, save

A3D = "J744.particles.alignments3D"


@pytest.fixture
def root(tmp_path):
    return j744_project(tmp_path / "P2")


def run(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_diff_json_shape(root, capsys):
    code, out, err = run(capsys, "diff", str(root), f"{A3D}.0", f"{A3D}.F", "--json")
    assert code == 0, err
    view = json.loads(out)
    assert set(view) == {"a", "b", "dtype", "shared", "pose_change_deg", "shift_change", "class_changed",
                         "defocus_change_A", "fields", "notes"}
    assert view["a"] == {"ref": f"{A3D}.0", "metafile": f"J744/{VERSION_FILES[0]}", "rows": 2270}
    assert view["b"] == {"ref": f"{A3D}.F", "metafile": f"J744/{VERSION_FILES[5]}", "rows": 5908}
    assert view["dtype"] == "alignments3D" and view["shared"] == 2270
    assert set(view["pose_change_deg"]) == {"median", "p90"}
    assert 0 < view["pose_change_deg"]["median"] <= view["pose_change_deg"]["p90"] <= 180
    assert set(view["shift_change"]) == {"median_px", "median_A"}
    assert view["shift_change"]["median_A"] == pytest.approx(view["shift_change"]["median_px"] * 1.7138, rel=1e-3)
    assert view["class_changed"] == {"rows": 0, "fraction": 0.0}
    assert view["defocus_change_A"] is None and view["fields"] is None and view["notes"] == []


def test_diff_json_of_another_dtype_lists_fields(root, capsys):
    code, out, err = run(capsys, "diff", str(root), "J744.particles.ctf.0", "J744.particles.ctf", "--json")
    assert code == 0, err
    view = json.loads(out)
    assert view["pose_change_deg"] is None
    assert view["defocus_change_A"] == {"df1_median": 0.0, "df2_median": 0.0}
    assert view["fields"]["differing"] == {} and "df1_A" in view["fields"]["compared"]


def test_diff_human_report(root, capsys):
    code, out, err = run(capsys, "diff", str(root), f"{A3D}.4", f"{A3D}.F")
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0] == f"{A3D}.4 → {A3D}.F  (alignments3D)"
    assert "  shared uids: 5,908" in lines
    assert any(line.startswith("  pose change: median ") and "90th percentile" in line for line in lines)
    assert "  class changed: 0 of 5,908 rows (0.0%)" in lines


@pytest.mark.parametrize("args, message", [
    ((f"{A3D}.0", "J744.particles.ctf.F"),
     f"csrebind: {A3D}.0 is alignments3D and J744.particles.ctf.F is ctf: only results of one type can be compared"),
    ((f"{A3D}.9", f"{A3D}.F"), "version 9 is not stored"),
    ((f"{A3D}.0", "J999.particles.alignments3D"), "job J999 is not in project"),
])
def test_diff_data_errors_exit_1(root, capsys, args, message):
    code, out, err = run(capsys, "diff", str(root), *args)
    assert code == 1 and out == ""
    assert message in err and "Traceback" not in err


def test_diff_missing_file_exits_1_naming_it(root, capsys):
    (root / "J744" / VERSION_FILES[0]).unlink()
    code, out, err = run(capsys, "diff", str(root), f"{A3D}.0", f"{A3D}.F", "--json")
    assert code == 1 and out == ""
    assert err.startswith(f"csrebind: {A3D}.0 (J744/{VERSION_FILES[0]}): cannot be read (missing")


def test_diff_with_no_uid_in_common_reports_and_exits_1(root, capsys):
    path = root / "J744" / VERSION_FILES[4]
    table = np.array(load(path))
    table["uid"] += np.uint64(10**12)
    save(path, table)
    code, out, err = run(capsys, "diff", str(root), f"{A3D}.4", f"{A3D}.F", "--json")
    assert code == 1
    assert json.loads(out)["shared"] == 0
    assert "have no uid in common" in err


def test_diff_usage_errors_exit_2(root, capsys):
    code, _, err = run(capsys, "diff", str(root), f"{A3D}.0")
    assert code == 2 and "the following arguments are required: ref_b" in err

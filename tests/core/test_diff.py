"""Version differences (tui.core.diff) on the real J744 refinement (six versions; version 000
holds 2,270 of the 5,908 particles) and on files rewritten from it with known changes.

Expected values are worked out here independently: shared uids with numpy's own reader and
np.intersect1d, pose angles with rotation matrices (the module uses quaternions)."""

from __future__ import annotations

import numpy as np
import pytest

from realproject import VERSION_FILES, j744_project
from tui.core.csfile import load, save
from tui.core.diff import DiffError, FieldDifference, diff_results, pose_change_deg, version_steps
from tui.core.project import load_project
from tui.core.refs import ResultRef

A3D = "J744.particles.alignments3D"


@pytest.fixture
def root(tmp_path):
    return j744_project(tmp_path / "P2")


@pytest.fixture
def project(root):
    return load_project(root)


def version_file(root, version: int):
    return root / "J744" / VERSION_FILES[version]


def rewrite_version_4(root, change) -> np.ndarray:
    """Version 004 becomes the final version's rows with ``change(table)`` applied."""
    table = np.array(load(version_file(root, 5)))
    change(table)
    save(version_file(root, 4), table)
    return table


# --- independent rotation helpers ------------------------------------------------------------------


def matrices(rotvecs: np.ndarray) -> np.ndarray:
    """Rodrigues' formula, R = I + sin θ K + (1 - cos θ) K²."""
    rotvecs = np.asarray(rotvecs, dtype=np.float64)
    theta = np.linalg.norm(rotvecs, axis=1)
    axis = rotvecs / np.where(theta == 0, 1, theta)[:, None]
    k = np.zeros((len(rotvecs), 3, 3))
    k[:, 0, 1], k[:, 0, 2], k[:, 1, 2] = -axis[:, 2], axis[:, 1], -axis[:, 0]
    k -= k.transpose(0, 2, 1)
    s, c = np.sin(theta)[:, None, None], np.cos(theta)[:, None, None]
    return np.eye(3) + s * k + (1 - c) * (k @ k)


def matrix_angles_deg(pose_a, pose_b) -> np.ndarray:
    relative = matrices(pose_a).transpose(0, 2, 1) @ matrices(pose_b)
    cos = (np.trace(relative, axis1=1, axis2=2) - 1) / 2
    return np.degrees(np.arccos(np.clip(cos, -1, 1)))


def rotated_about_z(rotvecs: np.ndarray, degrees: float) -> np.ndarray:
    """R · Rz(degrees) as a rotation vector, composed with quaternions."""
    theta = np.linalg.norm(rotvecs, axis=1)
    axis = rotvecs / np.where(theta == 0, 1, theta)[:, None]
    w1, v1 = np.cos(theta / 2), axis * np.sin(theta / 2)[:, None]
    half = np.radians(degrees) / 2
    w2, v2 = np.cos(half), np.array([0.0, 0.0, np.sin(half)])
    w = w1 * w2 - v1 @ v2
    v = w1[:, None] * v2 + w2 * v1 + np.cross(v1, v2)
    angle = 2 * np.arctan2(np.linalg.norm(v, axis=1), w)
    return v / np.linalg.norm(v, axis=1)[:, None] * angle[:, None]


# --- the real files ---------------------------------------------------------------------------------


def test_version_0_against_final_shares_exactly_the_uids_in_both(root, project):
    raw_0 = np.load(version_file(root, 0))["uid"]
    raw_f = np.load(version_file(root, 5))["uid"]
    expected = len(np.intersect1d(raw_0, raw_f))
    found = diff_results(project, f"{A3D}.0", f"{A3D}.F")
    assert (found.rows_a, found.rows_b, found.shared) == (len(raw_0), len(raw_f), expected)
    assert (found.rows_a, found.rows_b) == (2270, 5908)
    assert found.ref_a == f"{A3D}.0" and found.ref_b == f"{A3D}.F"
    assert found.metafile_a == f"J744/{VERSION_FILES[0]}" and found.metafile_b == f"J744/{VERSION_FILES[5]}"
    assert found.class_changed_rows == 0  # a homogeneous refinement: one class throughout


def test_shared_uids_of_a_partial_overlap(root, project):
    def new_uids_for_odd_rows(table):
        table["uid"][1::2] += np.uint64(10**12)

    table = rewrite_version_4(root, new_uids_for_odd_rows)
    expected = len(np.intersect1d(np.load(version_file(root, 5))["uid"], table["uid"]))
    found = diff_results(project, f"{A3D}.4", f"{A3D}.F")
    assert found.shared == expected == 2954
    assert found.pose_median_deg == 0.0  # the rows it shares are the final rows unchanged


def test_a_repeated_uid_counts_once_at_its_first_row(root, project):
    def repeat_first_uid(table):
        table["uid"][1] = table["uid"][0]
        table["alignments3D/class"][1] = 7  # the second row of the repeated uid is not the one compared

    table = rewrite_version_4(root, repeat_first_uid)
    expected = len(np.intersect1d(np.load(version_file(root, 5))["uid"], table["uid"]))
    found = diff_results(project, f"{A3D}.4", f"{A3D}.F")
    assert found.shared == expected == 5907
    assert found.class_changed_rows == 0


def test_pose_change_agrees_with_rotation_matrices_on_real_poses(root, project):
    pose_3 = np.load(version_file(root, 3))["alignments3D/pose"]
    pose_f = np.load(version_file(root, 5))["alignments3D/pose"]
    assert np.array_equal(np.load(version_file(root, 3))["uid"], np.load(version_file(root, 5))["uid"])
    expected = matrix_angles_deg(pose_3, pose_f)
    assert pose_change_deg(pose_3, pose_f) == pytest.approx(expected, abs=1e-3)
    found = diff_results(project, f"{A3D}.3", f"{A3D}.F")
    assert found.pose_median_deg == pytest.approx(np.median(expected), abs=1e-3)
    assert found.pose_p90_deg == pytest.approx(np.percentile(expected, 90), abs=1e-3)
    assert found.pose_median_deg > 0.5  # the poses did move between these iterations


@pytest.mark.parametrize("ref", [f"{A3D}.F", f"{A3D}.3", "J744.particles.alignments2D.F"])
def test_a_version_against_itself_changes_nothing(project, ref):
    found = diff_results(project, ref, ref)
    assert found.shared == found.rows_a == found.rows_b
    assert (found.pose_median_deg, found.pose_p90_deg) == (0.0, 0.0)
    assert (found.shift_median_px, found.shift_median_A) == (0.0, 0.0)
    assert found.class_changed_rows == 0 and found.class_changed_fraction == 0.0


# --- known changes ---------------------------------------------------------------------------------


def test_poses_rotated_by_10_degrees_about_z_change_by_10_degrees(root, project):
    def rotate(table):
        table["alignments3D/pose"] = rotated_about_z(table["alignments3D/pose"], 10.0)

    table = rewrite_version_4(root, rotate)
    final = np.load(version_file(root, 5))["alignments3D/pose"]
    assert not np.allclose(table["alignments3D/pose"], final)  # the rewrite really moved them
    found = diff_results(project, f"{A3D}.4", f"{A3D}.F")
    assert found.pose_median_deg == pytest.approx(10.0, abs=1e-3)
    assert found.pose_p90_deg == pytest.approx(10.0, abs=1e-3)
    assert found.shift_median_px == 0.0 and found.class_changed_rows == 0
    assert "  pose change: median 10.0°, 90th percentile 10.0°" in found.lines()


def test_in_plane_angles_wrap_around():
    a = np.array([0.1, 6.2, 3.0], dtype=np.float32)
    b = a + np.radians(np.array([10.0, 350.0, -10.0]))
    assert pose_change_deg(a, np.mod(b, 2 * np.pi)) == pytest.approx([10.0, 10.0, 10.0], abs=1e-4)


def test_shift_change_is_given_in_pixels_and_in_angstrom(root, project):
    def move(table):
        table["alignments3D/shift"] += np.array([3.0, 4.0], dtype=np.float32)

    table = rewrite_version_4(root, move)
    psize = float(np.median(table["alignments3D/psize_A"]))
    assert psize == pytest.approx(1.7138)
    found = diff_results(project, f"{A3D}.4", f"{A3D}.F")
    assert found.shift_median_px == pytest.approx(5.0, abs=1e-5)
    assert found.shift_median_A == pytest.approx(5.0 * psize, abs=1e-4)
    assert found.pose_median_deg == 0.0


def test_shift_change_between_pixel_sizes_is_in_angstrom_only(root, project):
    def resample(table):
        table["alignments3D/psize_A"] = 2.5

    rewrite_version_4(root, resample)
    final = np.load(version_file(root, 5))
    shift_len = np.linalg.norm(final["alignments3D/shift"].astype(np.float64), axis=1)
    expected = np.median(shift_len * abs(2.5 - final["alignments3D/psize_A"].astype(np.float64)))
    found = diff_results(project, f"{A3D}.4", f"{A3D}.F")
    assert found.shift_median_px is None
    assert found.shift_median_A == pytest.approx(expected, rel=1e-5)
    assert any("pixel sizes of A and B differ" in note for note in found.notes)


def test_class_changed_fraction(root, project):
    def reclassify(table):
        table["alignments3D/class"][::4] = 3

    rewrite_version_4(root, reclassify)
    found = diff_results(project, f"{A3D}.4", f"{A3D}.F")
    assert found.class_changed_rows == len(range(0, 5908, 4)) == 1477
    assert found.class_changed_fraction == pytest.approx(0.25)
    assert found.to_json()["class_changed"] == {"rows": 1477, "fraction": 0.25}
    assert "class 25.0%" in found.summary()


def test_ctf_defocus_change_and_the_fields_that_differ(root, project):
    def refocus(table):
        table["ctf/df1_A"] += 100
        table["ctf/df2_A"] -= 50

    rewrite_version_4(root, refocus)
    found = diff_results(project, "J744.particles.ctf.4", "J744.particles.ctf.F")
    assert found.df1_median_A == pytest.approx(100, abs=0.01)
    assert found.df2_median_A == pytest.approx(50, abs=0.01)
    assert found.differing == (FieldDifference("df1_A", 5908), FieldDifference("df2_A", 5908))
    assert "df1_A" in found.fields_compared and "bfactor" in found.fields_compared
    assert found.pose_median_deg is None


def test_other_dtypes_report_which_fields_differ_and_in_how_many_rows(root, project):
    def renumber(table):
        table["blob/idx"][:10] += 1

    rewrite_version_4(root, renumber)
    found = diff_results(project, "J744.particles.blob.4", "J744.particles.blob.F")
    assert found.differing == (FieldDifference("idx", 10),)
    assert found.fields_compared == ("path", "idx", "shape", "psize_A", "sign")
    assert found.to_json()["fields"] == {
        "compared": ["path", "idx", "shape", "psize_A", "sign"], "differing": {"idx": 10},
        "only_in_a": [], "only_in_b": [],
    }
    assert "    idx: 10 of 5,908 rows" in found.lines()


def test_no_uid_in_common(root, project):
    def new_lineage(table):
        table["uid"] += np.uint64(10**12)

    rewrite_version_4(root, new_lineage)
    found = diff_results(project, f"{A3D}.4", f"{A3D}.F")
    assert found.shared == 0 and found.pose_median_deg is None and found.class_changed_fraction is None
    assert found.summary() == "no uid in common"
    assert "different particle lineage" in found.notes[0]


# --- refusals and unreadable files ------------------------------------------------------------------


def test_results_of_different_types_are_refused(project):
    with pytest.raises(DiffError) as caught:
        diff_results(project, f"{A3D}.0", "J744.particles.ctf.F")
    assert str(caught.value) == (
        f"{A3D}.0 is alignments3D and J744.particles.ctf.F is ctf: only results of one type can be compared"
    )


def test_a_missing_file_is_named_with_its_reference(root, project):
    version_file(root, 0).unlink()
    with pytest.raises(DiffError) as caught:
        diff_results(project, f"{A3D}.0", f"{A3D}.F")
    message = str(caught.value)
    assert message.startswith(f"{A3D}.0 (J744/{VERSION_FILES[0]}): cannot be read (missing")
    assert caught.value.metafile == f"J744/{VERSION_FILES[0]}"


def test_an_empty_file_is_named_with_what_is_wrong(root, project):
    version_file(root, 5).write_bytes(b"")
    with pytest.raises(DiffError) as caught:
        diff_results(project, f"{A3D}.0", f"{A3D}.F")
    assert str(caught.value).startswith(f"{A3D}.F (J744/{VERSION_FILES[5]}): empty file (0 bytes)")


# --- the versions of one result (the version picker) -----------------------------------------------


def result_of(project, text: str):
    return project.result(ResultRef.parse(text))


def test_version_steps_compare_each_version_with_the_one_before(project):
    steps = list(version_steps(project, result_of(project, A3D)))
    assert [s.version for s in steps] == [5, 4, 3, 2, 1, 0]
    assert [s.previous for s in steps] == [4, 3, 2, 1, 0, None]
    assert [s.rows for s in steps] == [5908] * 5 + [2270]
    assert steps[-1].diff is None and steps[-1].error is None
    for step in steps[:-1]:
        expected = diff_results(project, f"{A3D}.{step.previous}", f"{A3D}.{step.version}")
        assert step.diff == expected and step.error is None
    assert steps[-2].diff.shared == 2270


def test_version_steps_are_cached_by_file(root, project, monkeypatch):
    result = result_of(project, A3D)
    first = list(version_steps(project, result))

    def no_reading(*args, **kwargs):
        raise AssertionError("read a file that was already compared")

    monkeypatch.setattr("tui.core.diff.load", no_reading)
    assert list(version_steps(project, result)) == first
    rewrite_version_4(root, lambda table: None)  # rewritten: a new mtime, read again
    with pytest.raises(AssertionError, match="already compared"):
        list(version_steps(project, result))


def test_a_missing_version_file_is_reported_in_its_steps(root, project):
    version_file(root, 2).unlink()
    steps = {s.version: s for s in version_steps(project, result_of(project, A3D))}
    missing = f"J744/{VERSION_FILES[2]}: cannot be read (missing"
    assert steps[2].error.startswith(missing) and steps[2].diff is None and steps[2].rows == 5908
    assert steps[3].error.startswith(missing) and steps[3].diff is None
    assert steps[4].diff is not None and steps[1].diff is not None

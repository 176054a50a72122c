"""Facts about a result, from its .cs columns: real CryoSPARC files first, then edge cases."""

from __future__ import annotations

import os

import numpy as np
import pytest
from cryosparc.dataset import CSDAT_FORMAT, Dataset

from conftest import REALDATA
from tui.core.errors import CsFileError
from tui.core.facts import result_facts

J744 = REALDATA / "kttn8769__cryopicls/tests/cryosparc_consensus"
FINAL = J744 / "cryosparc_P2_J744_005_particles.cs"
PASSTHROUGH = J744 / "P2_J744_passthrough_particles.cs"
P12 = REALDATA / "ml-struct-bio__cryodrgn/tests/data/cryosparc_P12_J24_001_particles.cs"
FOUR_K = REALDATA / "cryoem-uoft__cryosparc-tools/tests/data/4k_dataset.cs"
EMPIAR = REALDATA / "ml-struct-bio__cryodrgn/tests/data/empiar_10076_7.cs"


def test_j744_blob_box_pixel_size_and_stacks():
    facts = result_facts(FINAL, "blob")
    assert facts.file_rows == 5908
    assert facts.box == (256, 256) and facts.psize_A.low == facts.psize_A.high == pytest.approx(1.7138)
    assert facts.stacks == 1446 and facts.path_prefix == "J29/extract/"
    assert facts.lines() == ["box 256 px, 1.7138 Å/px", "1,446 stack files under J29/extract/"]


def test_j744_ctf_defocus_range_from_the_columns():
    table = np.load(FINAL, mmap_mode="r")
    low = min(table["ctf/df1_A"].min(), table["ctf/df2_A"].min())
    high = max(table["ctf/df1_A"].max(), table["ctf/df2_A"].max())
    facts = result_facts(FINAL, "ctf")
    assert facts.defocus_A.low == pytest.approx(low) and facts.defocus_A.high == pytest.approx(high)
    assert facts.lines() == [f"defocus {low / 1e4:.2f}–{high / 1e4:.2f} µm, 200 kV"]


def test_j744_classes_per_result():
    refined = result_facts(FINAL, "alignments3D")
    assert refined.classes == {0: 5908}
    assert refined.lines() == ["shifts in 1.7138 Å/px", "1 class (class 0, 5,908 rows)"]
    classes2d = result_facts(PASSTHROUGH, "alignments2D")
    expected = np.bincount(np.load(PASSTHROUGH)["alignments2D/class"])
    assert classes2d.classes == {k: int(n) for k, n in enumerate(expected) if n}
    assert sum(classes2d.classes.values()) == 5908 and len(classes2d.classes) == 12
    text = classes2d.lines()[1]
    assert text.startswith("12 classes, rows per class: 182: 972 · 6: 938") and text.endswith("… 2 more")


def test_j744_location_counts_micrographs():
    facts = result_facts(PASSTHROUGH, "location")
    assert facts.micrographs == len(np.unique(np.load(PASSTHROUGH)["location/micrograph_uid"]))
    assert result_facts(PASSTHROUGH, "pick_stats").lines() == []


def test_v2_refinement_and_cryodrgn_cut_file():
    p12 = result_facts(P12, "blob")
    table = np.load(P12)
    assert p12.box == tuple(int(n) for n in table["blob/shape"][0])
    assert result_facts(EMPIAR, "blob").stacks == 1
    assert result_facts(EMPIAR, "blob").path_prefix is None  # a bare file name: no folder


def test_zero_rows_has_no_facts():
    facts = result_facts(FOUR_K, "alignments3D")
    assert facts.file_rows == 0 and facts.lines() == []


def write(path, **columns):
    rows = len(next(iter(columns.values())))
    dtype = [("uid", "<u8")] + [(name, np.asarray(v).dtype, np.asarray(v).shape[1:]) for name, v in columns.items()]
    table = np.zeros(rows, dtype=dtype)
    table["uid"] = np.arange(rows)
    for name, values in columns.items():
        table[name] = values
    with open(path, "wb") as f:
        np.save(f, table)
    return path


def test_mixed_pixel_sizes_and_boxes_are_not_hidden(tmp_path):
    path = write(tmp_path / "mixed.cs", **{
        "blob/shape": np.array([[64, 64], [128, 128], [64, 64]], dtype="<u4"),
        "blob/psize_A": np.array([1.05, 2.1, 1.05], dtype="<f4"),
    })
    facts = result_facts(path, "blob")
    assert facts.box is None and facts.boxes == 2
    assert facts.psize_A.distinct == 2
    assert facts.lines() == ["2 different box sizes"]


def test_volume_box_is_cubed(tmp_path):
    path = write(tmp_path / "map.cs", **{"map/shape": np.array([[200, 200, 200]], dtype="<u4"),
                                         "map/psize_A": np.array([0.83], dtype="<f4")})
    assert result_facts(path, "map").lines() == ["box 200³ px, 0.83 Å/px"]


def test_csdat_file_facts_match_numpy(tmp_path):
    dset = Dataset.allocate(3, [("blob/path", "O"), ("blob/shape", "<u4", (2,)), ("blob/psize_A", "<f4")])
    dset["blob/path"] = ["J1/a/x.mrc", "J1/a/y.mrc", "J1/a/x.mrc"]
    dset["blob/shape"] = [[96, 96]] * 3
    dset["blob/psize_A"] = [2.5] * 3
    dset.save(tmp_path / "stream.cs", format=CSDAT_FORMAT)
    facts = result_facts(tmp_path / "stream.cs", "blob")
    assert facts.box == (96, 96) and facts.stacks == 2 and facts.path_prefix == "J1/a/"


def test_cache_notices_a_changed_file(tmp_path):
    path = write(tmp_path / "c.cs", **{"alignments2D/class": np.array([0, 0, 1], dtype="<u4")})
    assert result_facts(path, "alignments2D").classes == {0: 2, 1: 1}
    write(path, **{"alignments2D/class": np.array([2, 2, 2, 2], dtype="<u4")})
    os.utime(path, ns=(1, 10**18))  # a different mtime, whatever the clock's resolution
    assert result_facts(path, "alignments2D").classes == {2: 4}


def test_missing_or_damaged_files_name_the_file(tmp_path):
    with pytest.raises(CsFileError, match="nope.cs: cannot be read"):
        result_facts(tmp_path / "nope.cs", "blob")
    bad = tmp_path / "bad.cs"
    bad.write_bytes(b"not a cs file at all")
    with pytest.raises(CsFileError) as info:
        result_facts(bad, "blob")
    assert str(info.value).startswith(str(bad))

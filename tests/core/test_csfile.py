"""Tests for tui.core.csfile: real CryoSPARC files, generated edge cases and every bad input."""

from __future__ import annotations

import gc
import json
import os
import stat
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from cryosparc.dataset import CSDAT_FORMAT, Dataset
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numpy.lib import format as npformat

from conftest import REALDATA, REPO
from tui.core import csfile
from tui.core.csfile import CsHeader, load, read_header, save
from tui.core.errors import CsFileError

P12 = REALDATA / "ml-struct-bio__cryodrgn/tests/data/cryosparc_P12_J24_001_particles.cs"
J2_EXPORTED = REALDATA / "ml-struct-bio__cryodrgn/tests/data/cryosparc_J2_particles_exported.cs"
EMPIAR = REALDATA / "ml-struct-bio__cryodrgn/tests/data/empiar_10076_7.cs"
FOUR_K = REALDATA / "cryoem-uoft__cryosparc-tools/tests/data/4k_dataset.cs"
MOLNODES = REALDATA / "PlethoraChutney__MolecularNodes/tests/data/cryosparc/cryosparc_metadata.cs"
CRYOSPAX = REALDATA / "michael-0brien__cryospax/tests/data/test_csfile.cs"
J744_DIR = REALDATA / "kttn8769__cryopicls/tests/cryosparc_consensus"
J744_VERSIONS = [J744_DIR / f"cryosparc_P2_J744_{v:03d}_particles.cs" for v in range(6)]
J744_PASSTHROUGH = J744_DIR / "P2_J744_passthrough_particles.cs"
J744_CSG = J744_DIR / "P2_J744_particles.csg"
REAL_FILES = [P12, J2_EXPORTED, EMPIAR, FOUR_K, MOLNODES, CRYOSPAX, *J744_VERSIONS, J744_PASSTHROUGH]


def reference(path: Path) -> np.ndarray:
    return np.load(path, mmap_mode="r", max_header_size=2**30)


def npy_data_offset(path: Path) -> int:
    """Independent header-length parse: magic(6) + version(2) + u16/u32 length."""
    raw = path.read_bytes()[:12]
    if raw[6] == 1:
        return 10 + struct.unpack("<H", raw[8:10])[0]
    return 12 + struct.unpack("<I", raw[8:12])[0]


def write_npy(path: Path, array: np.ndarray) -> Path:
    with open(path, "wb") as f:
        np.save(f, array, allow_pickle=False)
    return path


def small_table(rows: int = 3) -> np.ndarray:
    dtype = [
        ("uid", "<u8"),
        ("blob/path", "S12"),
        ("blob/shape", "<u4", (2,)),
        ("ctf/df1_A", "<f4"),
        ("alignments3D/pose", "<f4", (3,)),
        ("alignments3D_multi/pose", "<f4", (3,)),
    ]
    table = np.zeros(rows, dtype=dtype)
    table["uid"] = np.arange(1000, 1000 + rows, dtype=np.uint64)
    table["blob/path"] = [f"J1/p{i}.mrc".encode() for i in range(rows)]
    table["blob/shape"] = [[64, 64]] * rows
    table["ctf/df1_A"] = np.linspace(10000, 12000, rows, dtype=np.float32)
    table["alignments3D/pose"] = np.arange(rows * 3, dtype=np.float32).reshape(rows, 3)
    table["alignments3D_multi/pose"] = -table["alignments3D/pose"]
    return table


def problem_of(path: Path) -> str:
    """The problem text of the CsFileError read_header raises, after checking it names the file."""
    with pytest.raises(CsFileError) as info:
        read_header(path)
    assert str(info.value).startswith(f"{path}: ")
    assert info.value.path == str(path)
    return info.value.problem


# ---------------------------------------------------------------------------- real data


def test_all_real_files_are_present():
    found = sorted(REALDATA.rglob("*.cs"))
    assert found == sorted(REAL_FILES)


@pytest.mark.parametrize("path", REAL_FILES, ids=lambda p: p.name)
def test_real_header_matches_numpy(path: Path):
    ref = reference(path)
    header = read_header(path)
    assert header.path == str(path)
    assert header.format == "numpy"
    assert header.num_rows == len(ref)
    assert header.dtype == ref.dtype
    assert header.fields == ref.dtype.names
    assert header.fields[0] == "uid"
    assert header.data_offset == npy_data_offset(path)
    assert header.data_offset + header.num_rows * ref.dtype.itemsize == path.stat().st_size


@pytest.mark.parametrize("mmap", [True, False])
@pytest.mark.parametrize("path", REAL_FILES, ids=lambda p: p.name)
def test_real_load_all_equals_numpy(path: Path, mmap: bool):
    ref = reference(path)
    table = load(path, mmap=mmap)
    assert type(table) is np.ndarray
    assert table.dtype.names == ref.dtype.names
    assert len(table) == len(ref)
    for name in ref.dtype.names:
        np.testing.assert_array_equal(table[name], ref[name])


@pytest.mark.parametrize("path", [p for p in REAL_FILES if p != FOUR_K], ids=lambda p: p.name)
def test_real_load_one_prefix(path: Path):
    ref = reference(path)
    header = read_header(path)
    prefix = "blob" if "blob" in header.prefixes else header.prefixes[0]  # a passthrough file has no blob
    table = load(path, prefixes=[prefix])
    assert table.dtype.names == ("uid", *header.fields_of(prefix))
    assert all(name.startswith(f"{prefix}/") for name in table.dtype.names[1:])
    for name in table.dtype.names:
        np.testing.assert_array_equal(table[name], ref[name])


def test_p12_particles_facts():
    header = read_header(P12)
    assert header.num_rows == 2019
    assert header.prefixes == ("blob", "ctf", "alignments3D")
    assert header.data_offset == 1072
    assert header.data_offset % 64 != 0  # old numpy, 16-byte alignment: never assume 64
    assert header.describe_field("blob/shape") == "<u4 (2,)"
    paths = load(P12, fields=["blob/path"])["blob/path"]
    assert paths[0] == b"J19/extract/20150917_05196_DNA-TET-25k-DE20_raw.region_000.sum-all_003-072_particles.mrc"
    assert header.describe_field("blob/path") == "|S89"


def test_p12_matches_cryosparc_tools():
    ours = load(P12, prefixes=["alignments3D"])
    theirs = Dataset.load(P12, prefixes=["alignments3D"])
    assert ours.dtype.names == tuple(theirs.fields())
    for name in ours.dtype.names:
        np.testing.assert_array_equal(ours[name], theirs[name])


def test_4k_dataset_facts():
    assert FOUR_K.stat().st_size == 4096
    header = read_header(FOUR_K)
    assert header.num_rows == 0
    assert len(header.fields) == 106
    assert header.data_offset == 4096
    assert "alignments_class_2" in header.prefixes
    for mmap in (True, False):
        table = load(FOUR_K, prefixes=["alignments3D", "pick_stats"], mmap=mmap)
        assert len(table) == 0
        assert table.dtype.names == ("uid", *header.fields_of("alignments3D"), *header.fields_of("pick_stats"))


def test_j2_exported_paths_carry_export_marker():
    table = load(J2_EXPORTED, fields=["blob/path"])
    assert len(table) == 22
    assert all(value.startswith(b">") for value in table["blob/path"])
    assert table["blob/path"][0] == b">J1/imported/000090334788266266069_18jam15b_0345_ali_DW.mrcs"
    assert read_header(J2_EXPORTED).prefixes == ("blob", "ctf", "alignments2D")


def test_molecular_nodes_export_facts():
    header = read_header(MOLNODES)
    assert header.num_rows == 100
    assert header.prefixes == ("blob", "ctf", "alignments3D", "location", "pick_stats")
    # Columns are not grouped by prefix: location/min_dist_A comes after pick_stats/*.
    assert header.fields[-1] == "location/min_dist_A"
    assert header.fields_of("location")[-1] == "location/min_dist_A"
    table = load(MOLNODES, prefixes=["blob", "location"])
    assert len(table) == 100
    assert all(value.startswith(b">") for value in table["blob/path"])
    assert all(value.startswith(b">") for value in table["location/micrograph_path"])
    assert table.dtype.names.index("location/min_dist_A") == len(table.dtype.names) - 1


def test_empiar_facts():
    header = read_header(EMPIAR)
    assert header.num_rows == 7
    assert header.describe_field("blob/path") == "|S63"
    assert header.data_offset == 704
    table = load(EMPIAR, fields=["blob/path", "blob/idx"])
    assert table.dtype.names == ("uid", "blob/path", "blob/idx")
    assert table["blob/path"].tolist() == [b"empiar_10076_7.mrc"] * 7
    assert table["blob/idx"].tolist() == list(range(7))


def test_cryospax_synthetic_file_loads():
    header = read_header(CRYOSPAX)
    assert header.num_rows == 3
    assert header.prefixes == ("blob", "ctf", "alignments3D")
    table = load(CRYOSPAX)
    assert table["uid"].tolist() == [0, 0, 0]
    assert table["blob/path"][0] == b"img_00000.mrcs"


def test_j744_versions_have_real_sparse_row_counts():
    """A real v2.15 refinement: iteration 000 wrote only 2,270 of the 5,908 particles."""
    rows = [read_header(path).num_rows for path in J744_VERSIONS]
    assert rows == [2270, 5908, 5908, 5908, 5908, 5908]
    final = load(J744_VERSIONS[5], prefixes=["blob", "alignments3D"])
    first = load(J744_VERSIONS[0], fields=[])
    assert np.isin(first["uid"], final["uid"]).all()  # a subset of the final particles, by uid
    assert np.unique(final["uid"]).size == 5908
    assert final["blob/shape"][0].tolist() == [256, 256]
    assert final["blob/psize_A"][0] == pytest.approx(1.7138)
    assert final["alignments3D/psize_A"][0] == pytest.approx(1.7138)
    for path in J744_VERSIONS:
        assert read_header(path).prefixes == ("blob", "ctf", "alignments3D")


def test_j744_passthrough_matches_final_version_row_for_row():
    header = read_header(J744_PASSTHROUGH)
    assert header.prefixes == ("alignments2D", "location", "pick_stats")
    passthrough = load(J744_PASSTHROUGH, fields=[])
    final = load(J744_VERSIONS[5], fields=[])
    np.testing.assert_array_equal(passthrough["uid"], final["uid"])


def test_j744_csg_rows_match_the_files_it_names():
    """The .csg CryoSPARC wrote names its metafiles relative to itself ('>FILE.cs')."""
    import yaml

    document = yaml.safe_load(J744_CSG.read_text())
    assert document["version"] == "v2.15.0"
    for name, entry in document["results"].items():
        assert entry["metafile"].startswith(">")
        header = read_header(J744_DIR / entry["metafile"][1:])
        assert header.num_rows == entry["num_items"] == 5908
        assert name in header.prefixes
        assert entry["type"] == f"particle.{name}"


@pytest.mark.parametrize("path", [J744_VERSIONS[0], J744_VERSIONS[5], J744_PASSTHROUGH], ids=lambda p: p.name)
def test_j744_matches_cryosparc_tools(path: Path):
    ours = load(path)
    theirs = Dataset.load(path)
    assert ours.dtype.names == tuple(theirs.fields())
    for name in ours.dtype.names:
        expected = theirs[name]
        if ours.dtype[name].kind == "S":  # Dataset hands fixed-width strings back decoded
            expected = np.char.encode(np.asarray(expected, dtype=str), "utf-8")
        np.testing.assert_array_equal(ours[name], expected)


# ---------------------------------------------------------------------------- generated files


def test_header_properties_and_exact_prefix_match(tmp_path):
    path = write_npy(tmp_path / "small.cs", small_table())
    header = read_header(path)
    assert header.prefixes == ("blob", "ctf", "alignments3D", "alignments3D_multi")
    assert header.fields_of("alignments3D") == ("alignments3D/pose",)
    assert header.fields_of("alignments3D_multi") == ("alignments3D_multi/pose",)
    assert header.fields_of("nothing") == ()
    assert header.describe_field("uid") == "<u8"
    assert header.describe_field("alignments3D/pose") == "<f4 (3,)"
    assert header.describe_field("blob/path") == "|S12"
    with pytest.raises(CsFileError, match="no field 'nope'"):
        header.describe_field("nope")

    table = load(path, prefixes=["alignments3D"])
    assert table.dtype.names == ("uid", "alignments3D/pose")


def test_load_keeps_file_order_and_accepts_both_selectors(tmp_path):
    path = write_npy(tmp_path / "small.cs", small_table())
    table = load(path, fields=["ctf/df1_A", "blob/path"], prefixes=["alignments3D_multi"])
    assert table.dtype.names == ("uid", "blob/path", "ctf/df1_A", "alignments3D_multi/pose")
    assert load(path, fields="ctf/df1_A").dtype.names == ("uid", "ctf/df1_A")  # bare string, not characters
    assert load(path, fields=[]).dtype.names == ("uid",)


@pytest.mark.parametrize("mmap", [True, False])
def test_load_values_and_writeability(tmp_path, mmap: bool):
    source = small_table(5)
    path = write_npy(tmp_path / "small.cs", source)
    table = load(path, prefixes=["blob"], mmap=mmap)
    assert table["blob/path"].tolist() == [f"J1/p{i}.mrc".encode() for i in range(5)]
    assert table["uid"].tolist() == [1000, 1001, 1002, 1003, 1004]
    np.testing.assert_array_equal(table["blob/shape"], source["blob/shape"])
    assert table.flags.writeable  # always a packed copy: files are read, never memory-mapped
    assert table.dtype.itemsize == 8 + 12 + 8


def test_unknown_fields_and_prefixes_are_named(tmp_path):
    path = write_npy(tmp_path / "small.cs", small_table())
    with pytest.raises(CsFileError) as info:
        load(path, fields=["blob/path", "ctf/nope"], prefixes=["alignments2D", "ctf"])
    assert str(info.value) == (
        f"{path}: no field 'ctf/nope', prefix 'alignments2D' in this file; "
        "available prefixes: blob, ctf, alignments3D, alignments3D_multi"
    )


def test_wide_header_over_numpy_default_limit(tmp_path):
    dtype = [("uid", "<u8")]
    for k in range(100):
        prefix = f"alignments_class3D_{k}"
        dtype += [
            (f"{prefix}/pose", "<f4", (3,)),
            (f"{prefix}/shift", "<f4", (2,)),
            (f"{prefix}/psize_A", "<f4"),
            (f"{prefix}/class", "<u4"),
        ]
    table = np.zeros(4, dtype=dtype)
    table["uid"] = [7, 8, 9, 10]
    table["alignments_class3D_7/class"] = [1, 2, 3, 4]
    path = write_npy(tmp_path / "wide.cs", table)

    with pytest.raises(ValueError, match="max_header_size"):
        np.load(path, mmap_mode="r")  # numpy's own 10 kB limit
    header = read_header(path)
    assert header.data_offset > 10_000
    assert header.data_offset == npy_data_offset(path)
    assert len(header.fields) == 401
    assert len(header.prefixes) == 100
    assert header.num_rows == 4
    loaded = load(path, prefixes=["alignments_class3D_7"])
    assert loaded.dtype.names == ("uid", *(f"alignments_class3D_7/{f}" for f in ("pose", "shift", "psize_A", "class")))
    assert loaded["alignments_class3D_7/class"].tolist() == [1, 2, 3, 4]
    assert load(path, mmap=False)["uid"].tolist() == [7, 8, 9, 10]


def test_file_of_exactly_4096_bytes_with_rows(tmp_path):
    dtype = np.dtype([("uid", "<u8"), ("ctf/df1_A", "<f8")])
    probe = write_npy(tmp_path / "probe.cs", np.zeros(1, dtype))
    header_bytes = probe.stat().st_size - dtype.itemsize
    rows, leftover = divmod(4096 - header_bytes, dtype.itemsize)
    assert leftover == 0
    table = np.zeros(rows, dtype)
    table["uid"] = np.arange(rows)
    table["ctf/df1_A"] = np.arange(rows) * 0.5
    path = write_npy(tmp_path / "4k_rows.cs", table)
    assert path.stat().st_size == 4096
    assert read_header(path).num_rows == rows
    for mmap in (True, False):
        loaded = load(path, mmap=mmap)
        np.testing.assert_array_equal(loaded["ctf/df1_A"], table["ctf/df1_A"])
        assert loaded["uid"][-1] == rows - 1


def test_trailing_bytes_after_data_are_tolerated(tmp_path):
    path = write_npy(tmp_path / "small.cs", small_table())
    with open(path, "ab") as f:
        f.write(b"\0" * 5)
    assert load(path)["uid"].tolist() == [1000, 1001, 1002]


# ---------------------------------------------------------------------------- CSDAT


def csdat_dataset(paths: list[str]) -> Dataset:
    fields = [("blob/path", "O"), ("blob/idx", "<u4"), ("blob/shape", "<u4", (2,)), ("ctf/df1_A", "<f4")]
    dset = Dataset.allocate(len(paths), fields)
    dset["blob/path"] = paths
    dset["blob/idx"] = list(range(len(paths)))
    if paths:
        dset["blob/shape"] = [[32, 32]] * len(paths)
    return dset


def test_csdat_header_and_values(tmp_path):
    paths = ["J1/a.mrc", "J1/bb.mrc", "J1/ccc.mrc", "J1/é.mrc"]
    dset = csdat_dataset(paths)
    path = tmp_path / "stream.cs"
    dset.save(path, format=CSDAT_FORMAT)
    assert path.read_bytes()[:6] == b"\x95CSDAT"

    header = read_header(path)
    assert header.format == "csdat"
    assert header.data_offset is None
    assert header.num_rows == 4
    assert header.fields == ("uid", "blob/path", "blob/idx", "blob/shape", "ctf/df1_A")
    assert header.prefixes == ("blob", "ctf")
    assert header.dtype["blob/path"] == np.dtype("O")
    assert header.describe_field("blob/path") == "|O"
    assert header.describe_field("blob/shape") == "<u4 (2,)"

    table = load(path)
    assert type(table) is np.ndarray
    assert table.dtype.names == header.fields
    # Longest UTF-8 value (10 bytes) + NUL, as cryosparc-tools writes it.
    assert table.dtype["blob/path"] == np.dtype("S11")
    assert table["blob/path"].tolist() == [p.encode() for p in paths]
    assert table["uid"].tolist() == dset["uid"].tolist()
    assert table["blob/idx"].tolist() == [0, 1, 2, 3]
    assert table["blob/shape"].tolist() == [[32, 32]] * 4

    selected = load(path, prefixes=["ctf"], fields=["blob/idx"])
    assert selected.dtype.names == ("uid", "blob/idx", "ctf/df1_A")
    with pytest.raises(CsFileError, match="no prefix 'alignments3D' in this file; available prefixes: blob, ctf"):
        load(path, prefixes=["alignments3D"])


@pytest.mark.parametrize(
    "paths",
    [
        ["J1/a.mrc", "J1/bb.mrc", "J1/a.mrc", "", "J2/é/ünïcode.mrc"],  # duplicates, empty, non-ASCII
        ["", ""],  # an empty string heap
        [f"J{i % 7}/extract/{i:06d}_particles.mrc" for i in range(3000)],  # several LZ4 blocks' worth
    ],
    ids=["mixed", "all-empty", "many"],
)
def test_csdat_values_match_cryosparc_tools(tmp_path, paths: list[str]):
    dset = csdat_dataset(paths)
    dset["ctf/df1_A"] = np.linspace(1, 2, len(paths), dtype=np.float32)
    path = tmp_path / "stream.cs"
    dset.save(path, format=CSDAT_FORMAT)
    theirs = Dataset.load(path).to_records(fixed=True)
    ours = load(path)
    assert ours.dtype == np.dtype(theirs.dtype.descr)
    for name in ours.dtype.names:
        np.testing.assert_array_equal(ours[name], theirs[name])
    assert [value.decode() for value in ours["blob/path"]] == paths


def test_csdat_corrupt_compressed_block(tmp_path):
    # cryosparc-tools 5.0.3 Dataset.load crashes the interpreter (segfault at garbage
    # collection) on this file; load() must report it instead.
    path = tmp_path / "stream.cs"
    csdat_dataset(["J1/a.mrc", "J1/bb.mrc", "J1/ccc.mrc"]).save(path, format=CSDAT_FORMAT)
    data = bytearray(path.read_bytes())
    header_len = struct.unpack("<I", data[6:10])[0]
    uid_block = 10 + header_len
    assert struct.unpack("<I", data[uid_block : uid_block + 4])[0] == 3 * 8  # uid is stored uncompressed
    path_block = uid_block + 4 + 24
    data[path_block + 4] = 0xA4  # first byte of the LZ4 block of blob/path
    path.write_bytes(bytes(data))
    with pytest.raises(CsFileError, match=r"damaged: column blob/path cannot be decompressed \(Could not decompress"):
        load(path)
    gc.collect()  # nothing half-built is left to crash the collector
    assert load(path, fields=["blob/idx"]).dtype.names == ("uid", "blob/idx")  # other columns are still readable


def test_csdat_zero_rows(tmp_path):
    path = tmp_path / "empty_stream.cs"
    csdat_dataset([]).save(path, format=CSDAT_FORMAT)
    assert read_header(path).num_rows == 0
    table = load(path)
    assert len(table) == 0
    assert table.dtype.names == ("uid", "blob/path", "blob/idx", "blob/shape", "ctf/df1_A")


# The heap is b"J1/a.mrc\0J1/bb.mrc\0J1/ccc.mrc\0" (30 bytes): cut inside a string, at a string
# boundary (21: the heap still ends with NUL), the whole heap (30) and into the column blocks.
@pytest.mark.parametrize("cut", [1, 4, 21, 29, 30, 31, 100])
def test_csdat_truncated_body_is_reported(tmp_path, cut: int):
    path = tmp_path / "stream.cs"
    csdat_dataset(["J1/a.mrc", "J1/bb.mrc", "J1/ccc.mrc"]).save(path, format=CSDAT_FORMAT)
    data = path.read_bytes()
    assert data.endswith(b"J1/a.mrc\0J1/bb.mrc\0J1/ccc.mrc\0")
    path.write_bytes(data[:-cut])
    read_header(path)  # the header itself is intact
    with pytest.raises(CsFileError, match=r"truncated: .*copy the file again"):
        load(path)


def test_csdat_truncated_header(tmp_path):
    path = tmp_path / "stream.cs"
    csdat_dataset(["J1/a.mrc"]).save(path, format=CSDAT_FORMAT)
    path.write_bytes(path.read_bytes()[:60])
    header_len = struct.unpack("<I", path.read_bytes()[6:10])[0]
    assert problem_of(path) == (
        f"truncated header: CSDAT header says {header_len} bytes but only 50 follow; copy the file again"
    )


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (b"not json", "damaged CSDAT header (not JSON"),
        (b"[1, 2]", "damaged CSDAT header (not a JSON object)"),
        (b'{"length": -1, "dtype": []}', "damaged CSDAT header (bad row count -1)"),
        (b'{"length": 1, "dtype": [["uid"]]}', "damaged CSDAT header (bad column list"),
        (b'{"length": 1, "dtype": "uid"}', "damaged CSDAT header (bad column list"),
        (b'{"length": 1, "dtype": [["uid", "<u8"]], "compression": "zstd"}', "CSDAT compression 'zstd' is not supported"),
        (b'{"length": 1, "dtype": [["blob/idx", "<u4"]]}', "has no uid column"),
    ],
)
def test_csdat_damaged_headers(tmp_path, header: bytes, expected: str):
    path = tmp_path / "bad_stream.cs"
    path.write_bytes(b"\x95CSDAT" + struct.pack("<I", len(header)) + header)
    assert problem_of(path).startswith(expected)


# ---------------------------------------------------------------------------- bad inputs


def test_missing_file(tmp_path):
    assert problem_of(tmp_path / "J9_particles.cs") == "no such file or folder; check the path"


def test_directory(tmp_path):
    folder = tmp_path / "J9"
    folder.mkdir()
    assert problem_of(folder) == "is a directory, not a .cs file; pass a .cs file inside it"


def test_empty_file(tmp_path):
    path = tmp_path / "empty.cs"
    path.write_bytes(b"")
    assert problem_of(path).startswith("empty file (0 bytes)")


@pytest.mark.parametrize("keep", [3, 6, 9, 50])
def test_truncated_numpy_header(tmp_path, keep: int):
    path = tmp_path / "cut.cs"
    full = write_npy(tmp_path / "full.cs", small_table()).read_bytes()
    path.write_bytes(full[:keep])
    problem = problem_of(path)
    assert problem.startswith("truncated header")
    assert problem.endswith("copy the file again")


def test_truncated_numpy_data(tmp_path):
    path = write_npy(tmp_path / "cut.cs", small_table())
    itemsize = small_table().dtype.itemsize
    data = path.read_bytes()
    path.write_bytes(data[:-10])
    assert problem_of(path) == (
        f"truncated: header says 3 rows ({3 * itemsize} bytes) but only {3 * itemsize - 10} bytes of data follow; "
        "the copy is incomplete, copy it again"
    )
    with pytest.raises(CsFileError, match="truncated: header says 3 rows"):
        load(path)


def test_old_csdat_magic(tmp_path):
    path = tmp_path / "old.cs"
    path.write_bytes(b"\x94CSDAT" + b"\0" * 40)
    assert problem_of(path) == (
        "old cryosparc-tools < 4.4 stream format, no longer readable; "
        "re-save it with the cryosparc-tools version that wrote it"
    )


def test_git_lfs_pointer(tmp_path):
    path = tmp_path / "J9_particles.cs"
    path.write_bytes(b"version https://git-lfs.github.com/spec/v1\noid sha256:4d7a\nsize 12345\n")
    assert problem_of(path) == "this is a Git LFS pointer, not data: run `git lfs pull`"


CSG_MESSAGE = "this looks like a .csg result-group descriptor (YAML), not a .cs dataset; pass the .cs file it names"


@pytest.mark.parametrize(
    "text",
    [
        "created: 2025-03-03 10:15:00\ngroup:\n  name: particles\n  type: particle\n"
        "results:\n  blob:\n    metafile: '>J1_particles.cs'\n",
        "{created: 2024-01-01, group: {name: particles}, results: {blob: {metafile: '>x.cs'}}, version: v4.4.1}\n",
        "results:\n  ctf: {metafile: J2/J2_passthrough_particles.cs, num_items: 5, type: particle.ctf}\n",
    ],
)
def test_csg_given_instead_of_cs(tmp_path, text: str):
    path = tmp_path / "J2_particles.csg"
    path.write_text(text)
    assert problem_of(path) == CSG_MESSAGE


def test_other_text_file(tmp_path):
    path = tmp_path / "notes.cs"
    path.write_text("hello, this is not a dataset\n")
    assert problem_of(path) == (
        "not a CryoSPARC dataset (starts with b'hello, this is n'); expected a .cs file written by CryoSPARC"
    )


def test_pickled_object_columns_are_refused(tmp_path):
    table = np.zeros(2, dtype=[("uid", "<u8"), ("blob/path", "O"), ("ctf/meta", "O")])
    table["blob/path"] = ["a", "b"]
    path = tmp_path / "pickled.cs"
    with open(path, "wb") as f:
        np.save(f, table, allow_pickle=True)
    problem = problem_of(path)
    assert problem.startswith(
        "columns blob/path, ctf/meta hold Python objects (pickled data), which CryoSPARC never writes"
    )
    assert "allow_pickle" not in problem and "This file contains" not in problem
    with pytest.raises(CsFileError, match="hold Python objects"):
        load(path)


def test_plain_array_is_refused(tmp_path):
    path = write_npy(tmp_path / "plain.cs", np.zeros((2, 3)))
    assert problem_of(path) == "holds a plain <f8 array of shape (2, 3), not a CryoSPARC table with named columns"


def test_two_dimensional_table_is_refused(tmp_path):
    path = write_npy(tmp_path / "square.cs", np.zeros((2, 2), dtype=[("uid", "<u8")]))
    assert problem_of(path) == "holds a 2-D array of shape (2, 2); a CryoSPARC dataset is 1-D"


def test_missing_uid_is_refused(tmp_path):
    path = write_npy(tmp_path / "nouid.cs", np.zeros(2, dtype=[("blob/idx", "<u4")]))
    assert problem_of(path) == "has no uid column, so it is not a CryoSPARC dataset"


def npy_with_header(path: Path, header: dict, data: bytes = b"") -> Path:
    with open(path, "wb") as f:
        npformat.write_array_header_1_0(f, header)
        f.write(data)
    return path


def test_fortran_order_is_refused(tmp_path):
    header = {"descr": [("uid", "<u8")], "fortran_order": True, "shape": (1,)}
    path = npy_with_header(tmp_path / "fortran.cs", header, b"\0" * 8)
    assert problem_of(path) == "is stored in Fortran order; CryoSPARC datasets are C order, re-save it with numpy"


def test_negative_row_count_is_refused(tmp_path):
    header = {"descr": [("uid", "<u8")], "fortran_order": False, "shape": (-3,)}
    path = npy_with_header(tmp_path / "negative.cs", header)
    assert problem_of(path).startswith("damaged NumPy header (negative row count -3)")


def test_garbled_numpy_header(tmp_path):
    body = b"{'descr': <" + b"garbage " * 40 + b">}\n"
    path = tmp_path / "garbled.cs"
    path.write_bytes(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(body)) + body)
    problem = problem_of(path)
    assert problem.startswith("damaged NumPy header (Cannot parse header: ")
    assert problem.endswith("...); copy the file again")
    assert len(problem) < 200  # numpy quotes the whole header; the message stays readable


def test_unknown_numpy_version(tmp_path):
    path = tmp_path / "v9.cs"
    path.write_bytes(b"\x93NUMPY\x09\x00" + b"\0" * 40)
    assert problem_of(path) == "unsupported NumPy file version 9.0; re-save it with numpy"


def test_numpy_header_longer_than_file(tmp_path):
    path = tmp_path / "short.cs"
    path.write_bytes(b"\x93NUMPY\x02\x00" + struct.pack("<I", 5000) + b"{" * 10)
    assert problem_of(path) == "truncated header: it needs 5012 bytes but the file has only 22; copy the file again"


def test_simulated_permission_error(tmp_path, monkeypatch):
    path = write_npy(tmp_path / "locked.cs", small_table())

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(csfile, "open", denied, raising=False)
    assert problem_of(path) == "permission denied; check the file and folder permissions"


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root ignores file permissions")
def test_real_permission_error(tmp_path):
    path = write_npy(tmp_path / "locked.cs", small_table())
    path.chmod(0)
    try:
        assert problem_of(path) == "permission denied; check the file and folder permissions"
    finally:
        path.chmod(0o644)


def test_io_error_while_reading_data(tmp_path, monkeypatch):
    path = write_npy(tmp_path / "small.cs", small_table())
    header = read_header(path)
    monkeypatch.setattr(csfile, "read_header", lambda p: header)

    def broken(*args, **kwargs):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(csfile, "open", broken, raising=False)
    with pytest.raises(CsFileError, match=r"small\.cs: Input/output error$"):
        load(path, mmap=False)


# ---------------------------------------------------------------------------- save


def test_save_round_trip_with_numpy_and_cryosparc_tools(tmp_path):
    table = small_table(4)
    path = tmp_path / "J9_rebound_particles.cs"
    save(path, table)
    assert sorted(os.listdir(tmp_path)) == ["J9_rebound_particles.cs"]  # no .npy suffix, no temp file

    again = np.load(path, allow_pickle=False)
    assert again.dtype == table.dtype
    np.testing.assert_array_equal(again, table)

    dset = Dataset.load(path)
    assert dset["uid"].tolist() == [1000, 1001, 1002, 1003]
    assert list(dset["blob/path"]) == ["J1/p0.mrc", "J1/p1.mrc", "J1/p2.mrc", "J1/p3.mrc"]
    np.testing.assert_array_equal(dset["alignments3D/pose"], table["alignments3D/pose"])


def test_save_overwrites_and_repacks_a_loaded_view(tmp_path):
    source = write_npy(tmp_path / "source.cs", small_table(5))
    view = np.load(source, mmap_mode="r")[["uid", "blob/path", "blob/shape"]]  # read-only view, padded dtype
    assert not view.flags.writeable and view.dtype.itemsize > 8 + 12 + 8
    target = tmp_path / "out.cs"
    target.write_bytes(b"old contents")
    save(target, view)
    again = np.load(target, allow_pickle=False)
    assert again.dtype.names == ("uid", "blob/path", "blob/shape")
    assert again.dtype.itemsize == 8 + 12 + 8  # unselected columns are not written
    assert again["blob/path"].tolist() == [f"J1/p{i}.mrc".encode() for i in range(5)]
    assert read_header(target).num_rows == 5


@pytest.mark.parametrize("umask", [0o022, 0o027, 0o077])
def test_save_permissions_follow_umask(tmp_path, umask: int):
    previous = os.umask(umask)
    try:
        save(tmp_path / "out.cs", small_table())
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "out.cs").stat().st_mode) == 0o666 & ~umask


@pytest.mark.parametrize("error", [OSError(28, "No space left on device"), KeyboardInterrupt()])
def test_save_failure_leaves_no_temp_file(tmp_path, monkeypatch, error: BaseException):
    target = tmp_path / "out.cs"
    target.write_bytes(b"previous")

    def half_write(f, array, allow_pickle=True):
        f.write(b"\x93NUMPY partial")
        raise error

    monkeypatch.setattr(np, "save", half_write)
    if isinstance(error, OSError):
        with pytest.raises(CsFileError, match=r"out\.cs: cannot write: No space left on device$"):
            save(target, small_table())
    else:
        with pytest.raises(KeyboardInterrupt):
            save(target, small_table())
    assert os.listdir(tmp_path) == ["out.cs"]
    assert target.read_bytes() == b"previous"


def test_save_refuses_object_columns(tmp_path):
    table = np.zeros(2, dtype=[("uid", "<u8"), ("blob/path", "O")])
    with pytest.raises(CsFileError) as info:
        save(tmp_path / "out.cs", table)
    assert info.value.problem == (
        "refusing to save: columns blob/path hold Python objects; convert strings to fixed-width bytes (|S) first"
    )
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize(
    ("array", "expected"),
    [
        (np.zeros(3), "refusing to save a 1-D <f8 array; a .cs file holds a 1-D table with named columns"),
        (
            np.zeros((2, 2), dtype=[("uid", "<u8")]),
            "refusing to save a 2-D |V8 array; a .cs file holds a 1-D table with named columns",
        ),
        (np.zeros(2, dtype=[("blob/idx", "<u4")]), "has no uid column, so it is not a CryoSPARC dataset"),
    ],
)
def test_save_refuses_non_tables(tmp_path, array: np.ndarray, expected: str):
    with pytest.raises(CsFileError) as info:
        save(tmp_path / "out.cs", array)
    assert info.value.problem == expected


def test_save_into_missing_folder_or_onto_directory(tmp_path):
    with pytest.raises(CsFileError, match=r"out.cs: cannot write: the folder does not exist$"):
        save(tmp_path / "nope" / "out.cs", small_table())
    (tmp_path / "J9").mkdir()
    with pytest.raises(CsFileError, match=r"J9: is a directory; give a file name"):
        save(tmp_path / "J9", small_table())
    assert os.listdir(tmp_path) == ["J9"]
    assert os.listdir(tmp_path / "J9") == []


# ---------------------------------------------------------------------------- robustness


FUZZ_PREFIXES = [
    b"",
    b"\x93NUMPY",
    b"\x93NUMPY\x01\x00",
    b"\x93NUMPY\x02\x00",
    b"\x95CSDAT",
    b"\x94CSDAT",
    b"version https://git-lfs",
]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(prefix=st.sampled_from(FUZZ_PREFIXES), body=st.binary(max_size=300))
def test_arbitrary_bytes_never_escape_as_other_errors(tmp_path_factory, prefix: bytes, body: bytes):
    path = tmp_path_factory.mktemp("fuzz", numbered=True) / "fuzz.cs"
    path.write_bytes(prefix + body)
    try:
        header = read_header(path)
    except CsFileError as err:
        assert str(err).startswith(f"{path}: ")
        return
    assert isinstance(header, CsHeader)
    assert header.num_rows >= 0
    for mmap in (True, False):
        try:
            assert len(load(path, mmap=mmap)) == header.num_rows
        except CsFileError:
            pass


@settings(max_examples=60, deadline=None)
@given(cut=st.integers(min_value=0, max_value=400))
def test_any_truncation_of_a_real_file_is_a_cs_file_error(tmp_path_factory, cut: int):
    path = tmp_path_factory.mktemp("cut", numbered=True) / "cut.cs"
    data = EMPIAR.read_bytes()
    path.write_bytes(data[: max(0, len(data) - 1 - cut * 4)])
    with pytest.raises(CsFileError):
        load(path)


def test_core_module_does_not_import_ui_libraries():
    code = "import sys, tui.core.csfile; print(sorted(m for m in ('textual', 'rich') if m in sys.modules))"
    repo = REPO
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=repo)
    assert result.stdout.strip() == "[]"


# ---------------------------------------------------------------------------- hostile files (issue 11 item 4)


@pytest.mark.parametrize(
    "uid, shown",
    [(("uid", "<u8", (0,)), "<u8 of shape (0,)"), (("uid", "<u8", (2,)), "<u8 of shape (2,)"),
     (("uid", "<f8"), "<f8"), (("uid", "S8"), "|S8"), (("uid", "<u4"), "<u4")],
)
def test_a_uid_column_of_the_wrong_shape_or_type_is_refused(tmp_path, uid, shown):
    path = tmp_path / "bad_uid.cs"
    write_npy(path, np.zeros(3, dtype=[uid, ("blob/idx", "<u4")]))
    problem = problem_of(path)
    assert problem.startswith(f"its uid column is {shown}, not one 64-bit integer per row")
    with pytest.raises(CsFileError, match="its uid column is"):
        load(path)


def test_a_csdat_uid_of_the_wrong_shape_is_refused(tmp_path):
    path = tmp_path / "bad_uid.cs"
    header = b'{"length": 1, "dtype": [["uid", "<u8", [0]]], "compression": "lz4"}'
    path.write_bytes(b"\x95CSDAT" + struct.pack("<I", len(header)) + header + b"\0" * 64)
    assert problem_of(path).startswith("its uid column is <u8 of shape (0,)")


def test_a_csdat_header_claiming_2_62_rows_is_refused_before_allocating(tmp_path):
    path = tmp_path / "huge.cs"
    header = b'{"length": %d, "dtype": [["uid", "<u8"], ["blob/idx", "<u4"]], "compression": "lz4"}' % 2**62
    path.write_bytes(b"\x95CSDAT" + struct.pack("<I", len(header)) + header + b"\0" * 64)
    problem = problem_of(path)
    assert problem.startswith(f"damaged CSDAT header: it claims {2**62:,} rows")
    with pytest.raises(CsFileError, match="more than a file of"):
        load(path)


def _csdat_with_rows(tmp_path: Path, claimed: int) -> Path:
    """A real three-row CSDAT file whose JSON header then claims ``claimed`` rows."""
    path = tmp_path / "lying.cs"
    csdat_dataset(["J1/a.mrc", "J1/bb.mrc", "J1/ccc.mrc"]).save(path, format=CSDAT_FORMAT)
    raw = path.read_bytes()
    (header_len,) = struct.unpack("<I", raw[6:10])
    document = json.loads(raw[10:10 + header_len])
    document["length"] = claimed
    header = json.dumps(document).encode()
    path.write_bytes(raw[:6] + struct.pack("<I", len(header)) + header + raw[10 + header_len:])
    return path


def test_a_csdat_block_too_small_for_its_rows_is_refused_before_allocating(tmp_path):
    # Plausible for the file as a whole (under 256 x its size), impossible for each block.
    path = _csdat_with_rows(tmp_path, 2_000)
    assert read_header(path).num_rows == 2_000
    with pytest.raises(CsFileError, match=r"lying\.cs: damaged: column uid (holds|decompresses)"):
        load(path)


def test_a_csdat_block_claiming_more_bytes_than_the_file_holds(tmp_path):
    path = tmp_path / "block.cs"
    header = b'{"length": 1, "dtype": [["uid", "<u8"]], "compression": "lz4", "compressed_fields": []}'
    path.write_bytes(b"\x95CSDAT" + struct.pack("<I", len(header)) + header + struct.pack("<I", 2**32 - 1) + b"\0" * 8)
    with pytest.raises(CsFileError, match=r"block\.cs: truncated: column uid claims 4,294,967,295 bytes but only 8"):
        load(path)


def test_a_numpy_header_claiming_more_rows_than_the_file_holds(tmp_path):
    from numpy.lib import format as npformat

    table = small_table(3)
    path = tmp_path / "rows.cs"
    with open(path, "wb") as f:
        npformat.write_array_header_1_0(f, {"descr": npformat.dtype_to_descr(table.dtype), "fortran_order": False,
                                            "shape": (2**62,)})
        f.write(table.tobytes())
    assert problem_of(path).startswith(f"truncated: header says {2**62} rows")
    with pytest.raises(CsFileError, match="truncated: header says"):
        load(path)


def test_object_columns_are_never_unpickled(tmp_path, monkeypatch):
    import pickle

    path = tmp_path / "objects.cs"
    table = np.zeros(2, dtype=[("uid", "<u8"), ("blob/path", "O")])
    with open(path, "wb") as f:
        np.save(f, table, allow_pickle=True)
    monkeypatch.setattr(pickle, "load", lambda *a, **k: pytest.fail("unpickled"))
    monkeypatch.setattr(pickle, "loads", lambda *a, **k: pytest.fail("unpickled"))
    with pytest.raises(CsFileError, match="hold Python objects"):
        load(path)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_a_fifo_is_refused_not_waited_on(tmp_path):
    path = tmp_path / "pipe.cs"
    os.mkfifo(path)
    assert problem_of(path).startswith("is a named pipe (FIFO), not a regular file")
    with pytest.raises(CsFileError, match="named pipe"):
        load(path)


def test_a_file_truncated_while_it_is_read_is_reported(tmp_path, monkeypatch):
    path = write_npy(tmp_path / "shrinking.cs", small_table(1000))
    monkeypatch.setattr(csfile, "READ_CHUNK_BYTES", 4096)
    header = read_header(path)
    real_read_header = csfile.read_header

    def header_then_truncate(p):
        found = real_read_header(p)
        with open(path, "r+b") as f:
            f.truncate(header.data_offset + 100 * header.dtype.itemsize)
        return found

    monkeypatch.setattr(csfile, "read_header", header_then_truncate)
    with pytest.raises(CsFileError, match=r"shrinking\.cs: changed while reading: the header says 1,000 rows but the "
                                          r"data ends in row 100"):
        load(path, fields=["ctf/df1_A"])


def test_chunked_reads_give_the_same_table(tmp_path, monkeypatch):
    source = small_table(1000)
    path = write_npy(tmp_path / "chunks.cs", source)
    monkeypatch.setattr(csfile, "READ_CHUNK_BYTES", 1000)
    np.testing.assert_array_equal(load(path), source)
    picked = load(path, prefixes=["alignments3D"])
    assert picked.dtype.names == ("uid", "alignments3D/pose")
    np.testing.assert_array_equal(picked["alignments3D/pose"], source["alignments3D/pose"])

"""The export's write in passes (issue 12 item 5): files in another row order than the output's
are read once per pass and staged in output order, the pivot file is read along with the chunks,
rows find their place by an inverse scatter, runs of consecutive rows are copied as slices.

However the work is cut (many passes, many chunks, small read blocks), the output is the same
bytes; it holds the inner join on uid in the pivot's order (checked against numpy here); uids are
sorted by the packed-key sort exactly as argsort would; a file that shrinks while the export reads
it is reported, nothing written (never a SIGBUS: files are read, never mapped).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from test_export import unchanged  # noqa: F401 (fixture)
from tui.core.errors import ExportError
from tui.core.export import MatchSpec, join as export_join, lay_out_export, prepare_export, rows as export_rows, write as export_write
from tui.core.export.join import _join_on_pivot, _lookup, _sort_order
from tui.core.project import load_project
from tui.core.session import EditSession

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: bench_export's data generator
import bench_export  # noqa: E402

ROWS = 6000  # blob and passthrough rows; the pivot (J2) holds half of them, in another order


@pytest.fixture(scope="module")
def bench_project(tmp_path_factory) -> Path:
    """The benchmark's project, small: J3's particles join J2 (pivot, ROWS/2 rows) with the blob
    and passthrough files of J1 (ROWS rows each, in two other orders)."""
    root = tmp_path_factory.mktemp("bench") / "P7"
    bench_export.write_project(root, bench_export.write_files(root, ROWS, seed=4))
    return root


def export_bytes(root: Path, out: Path, *, paths: str = "keep", match: MatchSpec | None = None,
                 job: str = "J3") -> bytes:
    project = load_project(root)
    session = EditSession(project, job)
    layout = lay_out_export(project, session.input("particles"), target=job, match=match)
    report = prepare_export(project, layout).write(out, "x", paths=paths)
    return report.cs_path.read_bytes()


def many_passes(monkeypatch, passes: int = 12) -> None:
    """Cut the write small: chunks of a few dozen rows, ~``passes`` passes, blocks of ~80 rows."""
    monkeypatch.setattr(export_rows, "CHUNK_BYTES", 20_000)
    monkeypatch.setattr(export_rows, "STAGE_BYTES", 1)
    monkeypatch.setattr(export_rows, "STAGE_SHARE", 0.0)
    monkeypatch.setattr(export_rows, "MEMORY_SHARE", 0.0)
    monkeypatch.setattr(export_rows, "MAX_PASSES", passes)
    monkeypatch.setattr(export_rows, "BLOCK_BYTES", 20_000)
    monkeypatch.setattr(export_join, "BLOCK_BYTES", 20_000)


def passes_counted(monkeypatch) -> list[tuple[int, int]]:
    """(first, last) output rows of every pass that stages the bytes of a file."""
    seen, real = [], export_rows._fill_stage

    def fill_stage(stage, src, place, first, last, *args):
        seen.append((first, last))
        return real(stage, src, place, first, last, *args)

    monkeypatch.setattr(export_rows, "_fill_stage", fill_stage)
    return seen


@pytest.mark.parametrize("paths, sorted_rows", [("keep", False), ("absolute", False), ("keep", True)])
def test_many_passes_write_the_same_bytes(bench_project, tmp_path, monkeypatch, unchanged, paths,  # noqa: F811
                                          sorted_rows):
    unchanged(bench_project)
    once = export_bytes(bench_project, tmp_path / "once", paths=paths)
    passes = passes_counted(monkeypatch)
    many_passes(monkeypatch)
    if sorted_rows:  # the rows of each pass sorted, as for a few rows of a large file
        monkeypatch.setattr(export_rows, "SPARSE", 10**9)
    again = export_bytes(bench_project, tmp_path / "many", paths=paths)
    assert len({first for first, _ in passes}) >= 8  # two staged files, each in 8 passes or more
    assert hashlib.sha256(again).hexdigest() == hashlib.sha256(once).hexdigest()


def test_output_is_the_inner_join_in_the_pivot_order(bench_project, tmp_path, monkeypatch):
    many_passes(monkeypatch)
    export_bytes(bench_project, tmp_path)
    table = np.load(tmp_path / "x.cs")
    blob, passthrough, align = (np.load(bench_project / name) for name in
                                (bench_export.BLOB_FILE, bench_export.PASS_FILE, bench_export.ALIGN_FILE))
    kept = align[np.isin(align["uid"], blob["uid"]) & np.isin(align["uid"], passthrough["uid"])]
    assert len(table) == len(kept) == ROWS // 2
    assert np.array_equal(table["uid"], kept["uid"])  # the pivot's order
    for source in (blob, passthrough, align):
        rows = np.argsort(source["uid"])[np.searchsorted(source["uid"], kept["uid"], sorter=np.argsort(source["uid"]))]
        for name in source.dtype.names:
            assert np.array_equal(table[name], source[name][rows]), name


def test_repeated_rows_of_a_matched_file_in_many_passes(tmp_path, monkeypatch, unchanged):  # noqa: F811
    """--match src_uid: a row of J1 serves both symmetry copies (rows repeated: no inverse
    scatter, the rows of each pass are sorted instead); also in many passes, the same bytes."""
    from test_match import make_project

    root = unchanged(make_project(tmp_path / "match", "v4"))

    def matched(out: Path) -> bytes:
        project = load_project(root)
        session = EditSession(project, "J10")
        session.put("particles.0.blob", "J1.particles.blob")
        layout = lay_out_export(project, session.input("particles"), target="J10", match=MatchSpec("src_uid"))
        return prepare_export(project, layout).write(out, "x").cs_path.read_bytes()

    once = matched(tmp_path / "once")
    many_passes(monkeypatch)
    monkeypatch.setattr(export_rows, "CHUNK_BYTES", 2_000)  # the test project is small: chunks of a few rows
    passes = passes_counted(monkeypatch)
    assert matched(tmp_path / "many") == once
    assert len(passes) >= 2


@pytest.mark.parametrize("metafile", [bench_export.PASS_FILE, bench_export.ALIGN_FILE])
def test_a_file_that_shrinks_while_exporting_is_reported(bench_project, tmp_path, monkeypatch, metafile):
    """Truncated between the join and the write (a staged file, or the pivot): reported as
    changed while reading, nothing written; the files are read, never mapped, so no SIGBUS."""
    work = tmp_path / "P7"
    shutil.copytree(bench_project, work)  # a copy to truncate
    many_passes(monkeypatch)
    project = load_project(work)
    layout = lay_out_export(project, EditSession(project, "J3").input("particles"), target="J3")
    prepared = prepare_export(project, layout)
    victim = work / metafile
    os.truncate(victim, victim.stat().st_size - 5000)
    out = tmp_path / "out"
    with pytest.raises(ExportError, match=rf"{metafile}: changed while reading: the header says .* rows but the "
                                          r"data ends in row [\d,]+ .*nothing was written"):
        prepared.write(out, "x")
    assert not out.exists() or os.listdir(out) == []


def test_pass_rows_are_whole_chunks_within_the_budget(monkeypatch):
    monkeypatch.setattr(export_rows, "MAX_PASSES", 8)
    assert export_rows._pass_rows(100, 1000, 10, 10**9) == 1000  # fits: one pass
    rows = export_rows._pass_rows(100, 1000, 10, 2_500)  # 10,000 bytes in 2,500-byte passes: 4 passes
    assert rows == 300 and rows % 100 == 0
    assert export_rows._pass_rows(100, 10_000, 10, 1) == 1300  # at most MAX_PASSES passes, whatever the budget


def sorted_like_argsort(values: np.ndarray) -> None:
    order, ordered = _sort_order(values)
    assert np.array_equal(np.sort(order), np.arange(len(values)))  # a permutation
    assert np.array_equal(values[order], ordered)
    assert np.array_equal(ordered, np.sort(values))
    if len(np.unique(values)) == len(values):
        assert np.array_equal(order, np.argsort(values, kind="stable"))  # unique: the one sorting permutation


def test_sort_order_is_argsort():
    rng = np.random.default_rng(7)
    n = 50_000
    random = rng.integers(0, 2**64 - 1, n, dtype=np.uint64)
    sorted_like_argsort(random)  # random 64-bit uids, as CryoSPARC makes them: the uid's high bits
    sorted_like_argsort(rng.permutation(n).astype(np.uint64) + 10**12)  # a narrow span: packed exactly
    sorted_like_argsort(np.append(rng.permutation(n).astype(np.uint64), np.uint64(2**63)))  # all share high bits
    shared = random.copy()
    shared[1::997] = shared[::997][: len(shared[1::997])] ^ np.uint64(1)  # pairs with the same high bits
    sorted_like_argsort(shared)
    sorted_like_argsort(rng.integers(0, 1000, n).astype(np.uint64))  # repeats: any order of equals
    sorted_like_argsort(rng.integers(0, 2**62, 100, dtype=np.int64))  # small, or not uint64: argsort itself


def test_lookup_in_blocks(monkeypatch):
    rng = np.random.default_rng(8)
    known = np.sort(rng.integers(0, 2**64 - 1, 20_000, dtype=np.uint64))
    queries = np.concatenate([rng.choice(known, 5_000, replace=False), rng.integers(0, 2**64 - 1, 5_000, dtype=np.uint64)])
    rng.shuffle(queries)
    whole = _lookup(known, queries)
    monkeypatch.setattr(export_join, "LOOKUP_BLOCK", 37)
    rows, positions = _lookup(known, queries)
    assert sorted(zip(rows.tolist(), positions.tolist())) == sorted(zip(whole[0].tolist(), whole[1].tolist()))
    assert np.array_equal(known[positions], queries[rows]) and len(rows) >= 5_000


def test_join_on_pivot_either_way_round():
    """Per pivot row the file's row with its uid, whichever side is searched in the other (the
    fewer uids are the queries); a repeated uid of the pivot is told by a count above the rows
    found, a repeated uid the pivot lacks is not."""
    rng = np.random.default_rng(9)
    for _ in range(2000):
        pool = rng.integers(1, 60, 100).astype(np.uint64)
        pivot = np.unique(rng.choice(pool, rng.integers(0, 40)))
        rng.shuffle(pivot)
        other = rng.choice(pool, rng.integers(0, 40)).astype(np.uint64)
        perm, pivot_sorted = _sort_order(pivot)
        index, hits = _join_on_pivot(perm, pivot_sorted, other, _sort_order(other))
        shared = np.isin(other, pivot)
        if len(np.unique(other[shared])) == np.count_nonzero(shared):  # no repeat of a pivot uid
            assert hits == np.count_nonzero(shared)
            expected = [int(np.flatnonzero(other == u)[0]) if u in other else -1 for u in pivot]
            assert index.tolist() == expected
        else:
            assert np.count_nonzero(index >= 0) < hits


def repeat_a_uid(path: Path) -> None:
    table = np.load(path)
    table["uid"][7] = table["uid"][3]
    with open(path, "wb") as f:
        np.save(f, table)


@pytest.mark.parametrize("repeated, message", [
    ((bench_export.ALIGN_FILE,), rf"{bench_export.ALIGN_FILE}: 1 uid\(s\) occur more than once"),
    ((bench_export.BLOB_FILE,), rf"{bench_export.BLOB_FILE}: some uids occur more than once"),
    ((bench_export.BLOB_FILE, bench_export.ALIGN_FILE), rf"{bench_export.ALIGN_FILE}: 1 uid\(s\) occur"),  # pivot first
])
def test_repeated_uids_are_refused(bench_project, tmp_path, repeated, message):
    """The join is on uid: a uid twice in the pivot or in a file joined to it is refused (the
    pivot named first when both repeat one), nothing written."""
    work = tmp_path / "P7"
    shutil.copytree(bench_project, work)
    for metafile in repeated:
        repeat_a_uid(work / metafile)
    project = load_project(work)
    layout = lay_out_export(project, EditSession(project, "J3").input("particles"), target="J3")
    with pytest.raises(ExportError, match=f"{message}.*rows cannot be joined on uid"):
        prepare_export(project, layout)

"""Export of one input as NAME.cs + NAME.csg (tui.core.export).

Every export here also checks that the project directory is byte-for-byte unchanged.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import threading
import warnings
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import orjson
import pytest
import yaml
from cryosparc.dataset import Dataset

from conftest import REALDATA, REPO
from tui.core.export import write as export_write
from tui.core.export import rows as export_rows
from tui.demo.project import BOX_FULL, PSIZE_CROP, PSIZE_FULL
from tui.demo.docgen import (
    CRYOSPARC_VERSION, DocConnection, DocConnResult, DocInput, DocJob, DocOutput, DocProject, DocResult,
    connect_output, doc_slots, job_document, project_document, with_children,
)
from tui.core.errors import ExportError
from tui.core.export import lay_out_export, run_export
from tui.core.project import load_project
from tui.core.session import EditSession

REAL_EXPORTED = REALDATA / "ml-struct-bio__cryodrgn" / "tests" / "data" / "cryosparc_J2_particles_exported.cs"
NAME = "J12_particles_rebound"


# --- helpers -------------------------------------------------------------------------------------


def tree_digest(root: Path) -> dict[str, str]:
    """Every file and folder under ``root`` with a hash of its bytes (folders: "dir")."""
    digest = {}
    for path in sorted(root.rglob("*")):
        key = str(path.relative_to(root))
        digest[key] = "dir" if path.is_dir() else hashlib.sha256(path.read_bytes()).hexdigest()
    return digest


@pytest.fixture
def unchanged():
    """Call with a project folder before exporting; the check runs at teardown."""
    watched: list[tuple[Path, dict[str, str]]] = []

    def watch(root: Path) -> Path:
        watched.append((root, tree_digest(root)))
        return root

    yield watch
    for root, before in watched:
        assert tree_digest(root) == before, f"{root} changed"


def by_uid(table: np.ndarray) -> dict[int, int]:
    return {int(u): i for i, u in enumerate(table["uid"])}


def rows_of(table: np.ndarray, uids: np.ndarray) -> np.ndarray:
    index = by_uid(table)
    return table[[index[int(u)] for u in uids]]


def assert_columns_equal(out: np.ndarray, source: np.ndarray, out_prefix: str, source_prefix: str | None = None):
    """Every ``source_prefix/…`` column of ``source`` equals ``out_prefix/…`` of ``out``, row by uid."""
    source_prefix = source_prefix or out_prefix
    names = [n for n in source.dtype.names if n.startswith(source_prefix + "/")]
    assert names, f"no {source_prefix} columns in the source"
    matched = rows_of(source, out["uid"])
    for name in names:
        out_name = out_prefix + name[len(source_prefix):]
        np.testing.assert_array_equal(out[out_name], matched[name], err_msg=out_name)
    out_names = sorted(n for n in out.dtype.names if n.startswith(out_prefix + "/"))
    assert out_names == sorted(out_prefix + n[len(source_prefix):] for n in names)


def write_cs(path: Path, uids: np.ndarray, columns: dict[str, np.ndarray]) -> np.ndarray:
    table = np.zeros(len(uids), dtype=[("uid", "<u8")] + [(k, v.dtype, v.shape[1:]) for k, v in columns.items()])
    table["uid"] = uids
    for name, values in columns.items():
        table[name] = values
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f, warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # wide files: "Stored array in format 2.0"
        np.save(f, table)
    return table


def write_project(root: Path, jobs: list[DocJob], schema: str = "v4") -> Path:
    created = datetime(2025, 1, 2, 3, 4, tzinfo=timezone.utc)
    for job in with_children(jobs):
        path = root / job.uid / "job.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(orjson.dumps(job_document(job, "P5", schema)))
    (root / "project.json").write_bytes(orjson.dumps(project_document(DocProject("P5", "test", str(root), created), schema)))
    return root


def result(name: str, metafile: str, rows: int, dtype: str | None = None, passthrough=False, version=0) -> DocResult:
    return DocResult(name, dtype or name, (version,), (metafile,), (rows,), passthrough)


def job(uid: str, status="completed", inputs=(), outputs=(), parents=()) -> DocJob:
    return DocJob(uid, "test_job", f"test {uid}", status, datetime(2025, 1, 2, tzinfo=timezone.utc), parents=parents,
                  inputs=inputs, outputs=outputs)


def uids(rng: np.random.Generator, n: int) -> np.ndarray:
    values = np.unique(rng.integers(1, 2**63, n + 10, dtype=np.uint64))
    rng.shuffle(values)
    return values[:n]


def particle_blob(rng, n, path="J1/extract/mic_particles.mrc", psize=1.0, box=256):
    return {"blob/path": np.array([path.encode()] * n), "blob/idx": np.arange(n, dtype="u4"),
            "blob/shape": np.full((n, 2), box, "u4"), "blob/psize_A": np.full(n, psize, "f4")}


def alignments(prefix, rng, n, psize=1.0):
    return {f"{prefix}/pose": rng.normal(size=(n, 3)).astype("f4"), f"{prefix}/shift": rng.normal(size=(n, 2)).astype("f4"),
            f"{prefix}/psize_A": np.full(n, psize, "f4"), f"{prefix}/class": rng.integers(0, 3, n).astype("u4")}


def location(rng, n, path="J0/motioncorrected/mic.mrc"):
    return {"location/micrograph_path": np.array([path.encode()] * n),
            "location/center_x_frac": rng.uniform(size=n).astype("f4")}


def pick_stats(rng, n):
    return {"pick_stats/ncc_score": rng.uniform(size=n).astype("f4")}


# --- the design-brief rebinding on the demo project ----------------------------------------------


@pytest.fixture
def demo(demo_project, unchanged):
    root = unchanged(demo_project)
    return load_project(root)


def full_size_session(project) -> EditSession:
    session = EditSession(project, "J12")
    session.put("particles.0.blob", "J5.particles.blob.F")
    return session


def test_design_brief_rebinding(demo, tmp_path, schema):
    session = full_size_session(demo)
    report = run_export(demo, session.input("particles"), tmp_path / "out", NAME, target="J12")
    root = demo.path
    out = np.load(tmp_path / "out" / f"{NAME}.cs")
    extracted = np.load(root / "J5/extracted_particles.cs")
    final = np.load(root / "J9/J9_007_particles.cs")
    passthrough = np.load(root / "J9/J9_passthrough_particles.cs")
    curated = np.load(root / "J7/particles_selected.cs")

    # exactly the curated particles, in the order of J9's particles output
    assert len(out) == len(curated) == 1000
    assert report.rows == 1000
    assert sorted(out["uid"].tolist()) == sorted(curated["uid"].tolist())
    assert out["uid"].tolist() == final["uid"].tolist()
    # the full-size blob from J5, unchanged
    assert (out["blob/shape"] == [BOX_FULL, BOX_FULL]).all()
    np.testing.assert_array_equal(out["blob/psize_A"], np.float32(PSIZE_FULL))
    assert_columns_equal(out, extracted, "blob")
    assert not any(b"fcrop" in p for p in out["blob/path"])
    # J9's final poses and CTF, and the passthroughs of J9's particles
    assert_columns_equal(out, final, "alignments3D")
    assert_columns_equal(out, final, "ctf")
    for prefix in ("location", "pick_stats", "alignments2D"):
        assert_columns_equal(out, passthrough, prefix)
    prefixes = {n.split("/")[0] for n in out.dtype.names if n != "uid"}
    assert prefixes == {"blob", "ctf", "alignments3D", "alignments2D", "location", "pick_stats"}

    # cryosparc-tools reads it, with the same values
    dataset = Dataset.load(str(tmp_path / "out" / f"{NAME}.cs"))
    assert len(dataset) == 1000
    assert set(dataset.fields()) == set(out.dtype.names)
    np.testing.assert_array_equal(dataset["uid"], out["uid"])
    np.testing.assert_array_equal(dataset["alignments3D/pose"], out["alignments3D/pose"])
    assert list(dataset["blob/path"]) == [p.decode() for p in out["blob/path"]]

    # the .csg
    csg = yaml.safe_load((tmp_path / "out" / f"{NAME}.csg").read_text())
    assert set(csg) == {"created", "group", "results", "version"}
    assert csg["group"]["name"] == "particles" and csg["group"]["type"] == "particle"
    assert "J5.particles.blob.F" in csg["group"]["description"]
    assert "J12 particles" in csg["group"]["description"]
    assert csg["version"] == CRYOSPARC_VERSION[schema]
    assert csg["results"] == {
        prefix: {"metafile": f">{NAME}.cs", "num_items": 1000, "type": f"particle.{prefix}"}
        for prefix in ("blob", "ctf", "alignments3D", "alignments2D", "location", "pick_stats")
    }

    # the report: rows per file, kept and dropped, and the pixel-size advice
    files = {s.metafile: (s.rows, s.kept, s.dropped) for s in report.sources}
    assert files == {
        "J5/extracted_particles.cs": (1500, 1000, 500),
        "J9/J9_007_particles.cs": (1000, 1000, 0),
        "J9/J9_passthrough_particles.cs": (1000, 1000, 0),
    }
    ratio = f"{PSIZE_CROP:.4f}/{PSIZE_FULL:.4f} = {PSIZE_CROP / PSIZE_FULL:.4f}"
    [warning3d] = [w for w in report.warnings if "alignments3D/psize_A" in w]
    assert ratio in warning3d and "multiply alignments3D/shift" in warning3d and "unchanged" in warning3d
    assert any("alignments2D/psize_A" in w for w in report.warnings)
    assert report.cs_path == tmp_path / "out" / f"{NAME}.cs"
    assert report.bytes_written == report.cs_path.stat().st_size
    assert any("500 dropped" in line for line in report.lines())


def test_layout_reads_headers_only(demo, tmp_path):
    session = full_size_session(demo)
    layout = lay_out_export(demo, session.input("particles"), target="J12")
    [conn] = layout.connections
    files = {s.metafile: s for s in conn.sources}
    assert set(files) == {"J5/extracted_particles.cs", "J9/J9_007_particles.cs", "J9/J9_passthrough_particles.cs"}
    assert files["J5/extracted_particles.cs"].rows == 1500
    assert {c.output.split("/")[0] for c in files["J5/extracted_particles.cs"].columns} == {"blob"}
    assert conn.sources[conn.primary].metafile == "J9/J9_007_particles.cs"  # the order file is the join pivot
    assert conn.sources[conn.order].metafile == "J9/J9_007_particles.cs"
    assert layout.types == {p: f"particle.{p}" for p in ("blob", "ctf", "alignments3D", "alignments2D", "location", "pick_stats")}
    assert not (tmp_path / "out").exists()


def test_export_uses_cached_uid_columns_but_adds_none(demo, tmp_path):
    """A one-shot export keeps no uid column for later (memory its write stages rows in); the
    preview's join caches them, and an export after it gives the same bytes."""
    from tui.core import uids
    from tui.core.export import join_connection

    session = full_size_session(demo)
    uids._cache.clear()
    run_export(demo, session.input("particles"), tmp_path / "a", NAME)
    layout = lay_out_export(demo, session.input("particles"), target="J12")
    paths = [s.header.path for s in layout.connections[0].sources]
    assert all(uids.peek(path) is None for path in paths)
    join_connection(layout.connections[0], layout)  # as the preview joins
    assert all(uids.peek(path) is not None for path in paths)
    run_export(demo, session.input("particles"), tmp_path / "b", NAME)
    assert (tmp_path / "a" / f"{NAME}.cs").read_bytes() == (tmp_path / "b" / f"{NAME}.cs").read_bytes()
    column = uids.peek(paths[0])
    assert column.sorted.tolist() == sorted(column.uids.tolist())  # sorted when first asked for


def test_version_other_than_final(demo, tmp_path):
    session = full_size_session(demo)
    session.put("particles.0.alignments3D", "J9.particles.alignments3D.3")
    report = run_export(demo, session.input("particles"), tmp_path, NAME)
    out = np.load(tmp_path / f"{NAME}.cs")
    v3 = np.load(demo.path / "J9/J9_003_particles.cs")
    v7 = np.load(demo.path / "J9/J9_007_particles.cs")
    assert_columns_equal(out, v3, "alignments3D")
    assert not np.array_equal(out["alignments3D/pose"], rows_of(v7, out["uid"])["alignments3D/pose"])
    assert_columns_equal(out, v7, "ctf")  # ctf stays at F
    assert "J9/J9_003_particles.cs" in {s.metafile for s in report.sources}
    assert "J9.particles.alignments3D.3" in yaml.safe_load((tmp_path / f"{NAME}.csg").read_text())["group"]["description"]


def test_row_order_follows_the_source_output_even_when_it_is_read_only_for_order(demo, tmp_path):
    """blob and ctf from J5, poses from J9 iteration 3: J9's final file contributes no column
    but still sets the order (every file of the demo has its own row order)."""
    session = full_size_session(demo)
    session.put("particles.0.ctf", "J5.particles.ctf.F")
    session.put("particles.0.alignments3D", "J9.particles.alignments3D.3")
    report = run_export(demo, session.input("particles"), tmp_path, NAME)
    out = np.load(tmp_path / f"{NAME}.cs")
    order = np.load(demo.path / "J9/J9_007_particles.cs")["uid"]
    assert out["uid"].tolist() == order.tolist()
    for other in ("J5/extracted_particles.cs", "J9/J9_003_particles.cs", "J9/J9_passthrough_particles.cs"):
        assert out["uid"].tolist() != np.load(demo.path / other)["uid"][: len(out)].tolist()
    [order_only] = [s for s in report.sources if s.order_only]
    assert order_only.metafile == "J9/J9_007_particles.cs" and order_only.dropped == 0
    assert_columns_equal(out, np.load(demo.path / "J5/extracted_particles.cs"), "ctf")


def test_export_of_the_job_as_loaded_and_of_one_connection(demo, tmp_path):
    session = EditSession(demo, "J12")
    report = run_export(demo, session.input("particles"), tmp_path, "asis", connection=0)
    out = np.load(tmp_path / "asis.cs")
    assert len(out) == 1000 and (out["blob/shape"] == 96).all()
    assert_columns_equal(out, np.load(demo.path / "J9/J9_007_particles.cs"), "blob")
    assert not [w for w in report.warnings if "pixel sizes" in w]
    with pytest.raises(ExportError, match="no connection 1"):
        run_export(demo, session.input("particles"), tmp_path, "other", connection=1)


# --- errors ------------------------------------------------------------------------------------


def test_required_slot_empty(demo, tmp_path):
    session = full_size_session(demo)
    session.clear("particles.0.alignments3D")
    with pytest.raises(ExportError, match=r"particles\.0: required slot alignments3D is empty"):
        run_export(demo, session.input("particles"), tmp_path / "out", NAME)
    assert not (tmp_path / "out").exists()


def test_missing_metafile(demo_project, tmp_path, unchanged):
    (demo_project / "J5" / "extracted_particles.cs").unlink()
    project = load_project(unchanged(demo_project))
    session = full_size_session(project)
    with pytest.raises(ExportError, match=r"J5/extracted_particles\.cs of J5\.particles\.blob\.F cannot be read \(missing"):
        run_export(project, session.input("particles"), tmp_path / "out", NAME)
    assert not (tmp_path / "out").exists()


def test_existing_output_needs_force(demo, tmp_path):
    out = tmp_path / "out"
    session = full_size_session(demo)
    run_export(demo, session.input("particles"), out, NAME)
    before = tree_digest(out)
    with pytest.raises(ExportError, match="already exist"):
        run_export(demo, session.input("particles"), out, NAME)
    assert tree_digest(out) == before
    (out / f"{NAME}.cs").unlink()  # only the .csg left: still refused
    with pytest.raises(ExportError, match=rf"{NAME}\.csg already exists"):
        run_export(demo, session.input("particles"), out, NAME)
    run_export(demo, session.input("particles"), out, NAME, force=True)
    assert len(np.load(out / f"{NAME}.cs")) == 1000
    assert sorted(os.listdir(out)) == [f"{NAME}.cs", f"{NAME}.csg"]


@pytest.mark.parametrize("inside", [".", "J12", "J5/extract", "exports", "exports/groups/mine", "new_folder"])
def test_writing_inside_the_project_is_refused(demo, tmp_path, inside):
    session = full_size_session(demo)
    with pytest.raises(ExportError, match="csrebind never writes inside CryoSPARC's own files") as info:
        run_export(demo, session.input("particles"), demo.path / inside, NAME)
    assert "outside the project" in str(info.value)
    link = tmp_path / "link"  # a symlink that leads into the project is refused too
    link.symlink_to(demo.path / "J12")
    with pytest.raises(ExportError, match="inside the CryoSPARC project directory"):
        run_export(demo, session.input("particles"), link, NAME)


def test_bad_names_and_modes(demo, tmp_path):
    session = full_size_session(demo)
    for name in ("", "a/b", ".hidden", ".."):
        with pytest.raises(ExportError, match="not a usable export name"):
            run_export(demo, session.input("particles"), tmp_path, name)
    with pytest.raises(ExportError, match="paths must be one of keep, absolute"):
        run_export(demo, session.input("particles"), tmp_path, NAME, paths="relative")
    report = run_export(demo, session.input("particles"), tmp_path, f"{NAME}.cs")  # the suffix is dropped
    assert report.cs_path.name == f"{NAME}.cs" and report.csg_path.name == f"{NAME}.csg"


@pytest.mark.parametrize("out_exists", [True, False])
def test_interrupted_write_leaves_nothing(demo, tmp_path, monkeypatch, out_exists):
    out = tmp_path / "out" / "deeper"
    if out_exists:
        out.mkdir(parents=True)
    monkeypatch.setattr(export_rows, "CHUNK_BYTES", 20_000)  # ~35 rows a chunk: many chunks
    monkeypatch.setattr(export_rows, "MAX_PASSES", 10**6)
    real_write = export_rows._write_chunk
    calls = []

    def interrupted(handle, chunk):
        calls.append(len(chunk))
        if len(calls) == 3:
            raise KeyboardInterrupt
        real_write(handle, chunk)

    monkeypatch.setattr(export_rows, "_write_chunk", interrupted)
    session = full_size_session(demo)
    with pytest.raises(KeyboardInterrupt):
        run_export(demo, session.input("particles"), out, NAME)
    assert len(calls) == 3 and calls[0] < 1000
    if out_exists:
        assert os.listdir(out) == []  # neither the files nor a temporary file
    else:
        assert not (tmp_path / "out").exists()  # folders it made are removed again


def test_ctrl_c_in_the_main_thread_stops_the_writer(demo, tmp_path, monkeypatch):
    """Ctrl-C arrives in the main thread while the writer thread may be writing: the writer is
    stopped before the temporary file is removed, and no thread is left behind."""
    monkeypatch.setattr(export_rows, "CHUNK_BYTES", 20_000)
    monkeypatch.setattr(export_rows, "MAX_PASSES", 10**6)

    def progress(done, total):
        if done > 100:
            raise KeyboardInterrupt

    session = full_size_session(demo)
    with pytest.raises(KeyboardInterrupt):
        run_export(demo, session.input("particles"), tmp_path / "out", NAME, progress=progress)
    assert not (tmp_path / "out").exists()
    assert not [t for t in threading.enumerate() if t.name == "csrebind-export-writer"]


def test_failed_csg_removes_the_new_cs(demo, tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(export_write.yaml, "safe_dump", broken)
    session = full_size_session(demo)
    with pytest.raises(RuntimeError, match="disk full"):
        run_export(demo, session.input("particles"), tmp_path / "out", NAME)
    assert not (tmp_path / "out").exists()


def test_output_permissions_follow_the_umask(demo, tmp_path):
    session = full_size_session(demo)
    old = os.umask(0o027)
    try:
        report = run_export(demo, session.input("particles"), tmp_path, NAME)
    finally:
        os.umask(old)
    for path in (report.cs_path, report.csg_path):
        assert path.stat().st_mode & 0o777 == 0o666 & ~0o027


def test_progress_reports_every_row(demo, tmp_path, monkeypatch):
    monkeypatch.setattr(export_rows, "CHUNK_BYTES", 100_000)
    monkeypatch.setattr(export_rows, "MAX_PASSES", 10**6)
    seen = []
    session = full_size_session(demo)
    run_export(demo, session.input("particles"), tmp_path, NAME, progress=lambda done, total: seen.append((done, total)))
    assert len(seen) > 2 and seen[-1] == (1000, 1000)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


# --- small projects: renamed results, stacking, uid lineages -------------------------------------


@pytest.fixture
def classes_project(tmp_path, schema, unchanged):
    """J1 extraction (200 particles); J2 3D classification of 150 of them with results
    alignments_class_0/1 and a stale inherited alignments3D passthrough; J3 building, its slot
    alignments3D bound to alignments_class_1 while the stale alignments3D also passes through."""
    rng = np.random.default_rng(5)
    root = tmp_path / f"classes-{schema}"
    particles = uids(rng, 200)
    subset = particles[rng.permutation(200)[:150]]
    write_cs(root / "J1/extracted.cs", particles, {**particle_blob(rng, 200), **location(rng, 200)})
    write_cs(root / "J1/J1_passthrough_particles.cs", particles[::-1], pick_stats(rng, 200))
    write_cs(root / "J2/J2_particles_all_classes.cs", subset,
             {**alignments("alignments_class_0", rng, 150), **alignments("alignments_class_1", rng, 150)})
    write_cs(root / "J2/J2_passthrough_particles_all_classes.cs", subset[::-1],
             {**particle_blob(rng, 150), **location(rng, 150), **pick_stats(rng, 150), **alignments("alignments3D", rng, 150)})
    extract = DocOutput("particles", "particle", "Particles", (
        result("blob", "J1/extracted.cs", 200), result("location", "J1/extracted.cs", 200),
        result("pick_stats", "J1/J1_passthrough_particles.cs", 200, passthrough=True)))
    passthrough = "J2/J2_passthrough_particles_all_classes.cs"
    classes = DocOutput("particles_all_classes", "particle", "All classes", (
        result("alignments_class_0", "J2/J2_particles_all_classes.cs", 150, "alignments3D"),
        result("alignments_class_1", "J2/J2_particles_all_classes.cs", 150, "alignments3D"),
        result("blob", passthrough, 150, passthrough=True), result("location", passthrough, 150, passthrough=True),
        result("pick_stats", passthrough, 150, passthrough=True),
        result("alignments3D", passthrough, 150, passthrough=True)), "particles")
    source = ("J2", "particles_all_classes")
    entries = (
        DocConnResult("blob", *source, "blob", "blob"),
        DocConnResult("alignments3D", *source, "alignments_class_1", "alignments3D"),
        DocConnResult(None, *source, "alignments_class_0", "alignments3D"),
        DocConnResult(None, *source, "alignments3D", "alignments3D"),
        DocConnResult(None, *source, "location", "location"),
        DocConnResult(None, *source, "pick_stats", "pick_stats"),
    )
    particles_in = DocInput("particles", "particle", "Particles", doc_slots("blob", "?alignments3D"),
                            (DocConnection(*source, entries),))
    write_project(root, [job("J1", outputs=(extract,)), job("J2", outputs=(classes,), parents=("J1",)),
                         job("J3", "building", inputs=(particles_in,), parents=("J2",))], schema)
    return load_project(unchanged(root))


def test_renamed_result_and_slot_beats_passthrough(classes_project, tmp_path):
    project = classes_project
    session = EditSession(project, "J3")
    report = run_export(project, session.input("particles"), tmp_path, "classes", target="J3")
    out = np.load(tmp_path / "classes.cs")
    classes = np.load(project.path / "J2/J2_particles_all_classes.cs")
    passthrough = np.load(project.path / "J2/J2_passthrough_particles_all_classes.cs")
    assert len(out) == 150
    assert out["uid"].tolist() == classes["uid"].tolist()  # order of J2's own file
    assert_columns_equal(out, classes, "alignments3D", "alignments_class_1")  # renamed to the slot
    assert_columns_equal(out, classes, "alignments_class_0")  # a passthrough keeps its name
    assert not [n for n in out.dtype.names if n.startswith("alignments_class_1/")]
    # the stale inherited alignments3D lost to the explicit slot
    assert not np.array_equal(out["alignments3D/pose"], rows_of(passthrough, out["uid"])["alignments3D/pose"])
    assert any("passthrough J2.particles_all_classes.alignments3D.F not used" in n for n in report.notes)
    assert any("renamed from alignments_class_1" in p for s in report.sources for p in s.provides)
    csg = yaml.safe_load((tmp_path / "classes.csg").read_text())
    assert csg["results"]["alignments3D"]["type"] == "particle.alignments3D"
    assert csg["results"]["alignments_class_0"]["type"] == "particle.alignments3D"
    assert "alignments_class_1" not in csg["results"]
    assert set(csg["results"]) == {"blob", "alignments3D", "alignments_class_0", "location", "pick_stats"}
    # one file serves two results: it is read once and listed once
    assert [s.metafile for s in report.sources].count("J2/J2_particles_all_classes.cs") == 1

    session.put("particles.0.alignments3D", "J2.particles_all_classes.alignments_class_0")
    run_export(project, session.input("particles"), tmp_path, "class0")
    assert_columns_equal(np.load(tmp_path / "class0.cs"), classes, "alignments3D", "alignments_class_0")


@pytest.fixture
def stacked_project(tmp_path, schema, unchanged):
    """J1 (120 particles) and J2 (80 other particles) extractions; J4 (60 more) has no location;
    J3 building with both J1 and J2 connected to its particles input."""
    rng = np.random.default_rng(9)
    root = tmp_path / f"stacked-{schema}"
    outputs = {}
    for uid, n, with_location in (("J1", 120, True), ("J2", 80, True), ("J4", 60, False)):
        particles = uids(rng, n)
        main = {**particle_blob(rng, n, f"{uid}/extract/mic_{uid}_particles.mrc")}
        if with_location:
            main |= location(rng, n)
        write_cs(root / f"{uid}/extracted.cs", particles, main)
        write_cs(root / f"{uid}/{uid}_passthrough_particles.cs", particles[rng.permutation(n)], pick_stats(rng, n))
        results = [result("blob", f"{uid}/extracted.cs", n)]
        if with_location:
            results.append(result("location", f"{uid}/extracted.cs", n))
        results.append(result("pick_stats", f"{uid}/{uid}_passthrough_particles.cs", n, passthrough=True))
        outputs[uid] = DocOutput("particles", "particle", "Particles", tuple(results))
    slots = doc_slots("blob")
    particles_in = DocInput("particles", "particle", "Particles", slots,
                            (connect_output("J1", outputs["J1"], slots), connect_output("J2", outputs["J2"], slots)))
    write_project(root, [job("J1", outputs=(outputs["J1"],)), job("J2", outputs=(outputs["J2"],)),
                         job("J4", outputs=(outputs["J4"],)),
                         job("J3", "building", inputs=(particles_in,), parents=("J1", "J2"))], schema)
    return load_project(unchanged(root))


def test_stacked_connections(stacked_project, tmp_path):
    project = stacked_project
    session = EditSession(project, "J3")
    report = run_export(project, session.input("particles"), tmp_path, "both")
    out = np.load(tmp_path / "both.cs")
    first = np.load(project.path / "J1/extracted.cs")
    second = np.load(project.path / "J2/extracted.cs")
    assert len(out) == 120 + 80 == report.rows
    assert report.rows_per_connection == [120, 80]
    assert out["uid"].tolist() == first["uid"].tolist() + second["uid"].tolist()
    assert_columns_equal(out[:120], first, "blob")
    assert_columns_equal(out[120:], second, "blob")
    assert_columns_equal(out[120:], np.load(project.path / "J2/J2_passthrough_particles.cs"), "pick_stats")
    assert yaml.safe_load((tmp_path / "both.csg").read_text())["results"]["blob"]["num_items"] == 200
    assert "connection 1 (J2.particles)" in report.description
    assert len(Dataset.load(str(tmp_path / "both.cs"))) == 200

    only = run_export(project, session.input("particles"), tmp_path, "second", connection=1)
    assert np.load(tmp_path / "second.cs")["uid"].tolist() == second["uid"].tolist() and only.rows == 80
    # fields that differ and repeated uids: tests/core/test_stacking.py


def test_disjoint_uids_are_reported_as_another_lineage(stacked_project, tmp_path):
    session = EditSession(stacked_project, "J3")
    session.remove_connection("particles", 1)
    session.put("particles.0.blob", "J2.particles.blob")  # J2's particles are not J1's
    with pytest.raises(ExportError) as info:
        run_export(stacked_project, session.input("particles"), tmp_path / "out", "none")
    message = str(info.value)
    assert "no rows left after joining on uid" in message and "different uid lineages" in message
    assert "share 0 uid(s)" in message and "sym_expand/src_uid" in message
    assert not (tmp_path / "out").exists()


def test_symmetry_expanded_source_is_flagged(tmp_path, unchanged):
    """A symmetry-expanded blob whose src_uid points at the refinement's particles."""
    rng = np.random.default_rng(3)
    root = tmp_path / "symexp"
    particles = uids(rng, 50)
    expanded = uids(rng, 100)
    write_cs(root / "J1/J1_particles.cs", particles, {**particle_blob(rng, 50), **alignments("alignments3D", rng, 50)})
    write_cs(root / "J2/J2_particles_expanded.cs", expanded, {
        **particle_blob(rng, 100, "J2/x.mrc"), "sym_expand/src_uid": np.repeat(particles, 2),
        "sym_expand/idx": np.tile(np.arange(2, dtype="u4"), 50)})
    refined = DocOutput("particles", "particle", "Particles", (
        result("blob", "J1/J1_particles.cs", 50), result("alignments3D", "J1/J1_particles.cs", 50)))
    expansion = DocOutput("particles", "particle", "Expanded", (
        result("blob", "J2/J2_particles_expanded.cs", 100), result("sym_expand", "J2/J2_particles_expanded.cs", 100)))
    slots = doc_slots("blob", "alignments3D")
    target = DocInput("particles", "particle", "Particles", slots, (connect_output("J1", refined, slots),))
    write_project(root, [job("J1", outputs=(refined,)), job("J2", outputs=(expansion,)),
                         job("J3", "building", inputs=(target,))])
    project = load_project(unchanged(root))
    session = EditSession(project, "J3")
    session.put("particles.0.blob", "J2.particles.blob")
    with pytest.raises(ExportError, match="different uid lineages"):
        run_export(project, session.input("particles"), tmp_path / "out", "x")


def _one_job_project(root: Path, main: dict, passthrough_file: str, passthrough: np.ndarray | None = None,
                     passthrough_prefixes: tuple[str, ...] = ()) -> Path:
    """J1 with particles blob (+ passthrough results from ``passthrough_file``); J2 building."""
    rng = np.random.default_rng(11)
    n = len(main["uid"])
    write_cs(root / "J1/J1_particles.cs", main["uid"], {**particle_blob(rng, n)})
    results = [result("blob", "J1/J1_particles.cs", n)]
    results += [result(p, passthrough_file, n, passthrough=True) for p in passthrough_prefixes]
    output = DocOutput("particles", "particle", "Particles", tuple(results))
    slots = doc_slots("blob")
    target = DocInput("particles", "particle", "Particles", slots, (connect_output("J1", output, slots),))
    return write_project(root, [job("J1", outputs=(output,)), job("J2", "building", inputs=(target,), parents=("J1",))])


def test_wide_files_get_a_version_2_header(tmp_path, unchanged):
    """100 stale alignments_class3D_k prefixes (cryoDRGN #418): the header passes 64 KiB."""
    rng = np.random.default_rng(2)
    n = 20
    particles = uids(rng, n)
    prefixes = tuple(f"alignments_class3D_{k}" for k in range(100))
    wide = {}
    for prefix in prefixes:
        wide |= {f"{prefix}/{field}": rng.normal(size=n).astype("f4") for field in
                 ("shift_x", "shift_y", "pose_a", "pose_b", "pose_c", "psize_A", "error", "error_min", "resid_pow",
                  "slice_pow", "image_pow", "cross_cor", "alpha", "alpha_min", "weight", "pose_ess", "shift_ess",
                  "class_posterior", "class_ess", "split")}
    wide_table = write_cs(tmp_path / "wide/J1/J1_passthrough_particles.cs", particles[::-1], wide)
    root = _one_job_project(tmp_path / "wide", {"uid": particles}, "J1/J1_passthrough_particles.cs",
                            passthrough_prefixes=prefixes)
    project = load_project(unchanged(root))
    report = run_export(project, EditSession(project, "J2").input("particles"), tmp_path / "out", "wide")
    with open(report.cs_path, "rb") as f:
        assert f.read(8) == b"\x93NUMPY\x02\x00"
    out = np.load(report.cs_path, max_header_size=2**30)
    assert len(out.dtype.names) == 1 + 4 + 2000
    assert_columns_equal(out, wide_table, "alignments_class3D_57")
    assert len(Dataset.load(str(report.cs_path), prefixes=["alignments_class3D_99"])) == n


def test_csdat_sources_are_read(tmp_path, unchanged):
    """A passthrough saved in the cryosparc-tools stream format (CSDAT) joins like an NPY file."""
    from cryosparc.dataset import CSDAT_FORMAT

    rng = np.random.default_rng(4)
    particles = uids(rng, 30)
    order = rng.permutation(30)
    stream = Dataset({"uid": particles[order], "location/micrograph_path": [f"J0/m{i}.mrc" for i in order],
                      "location/center_x_frac": rng.uniform(size=30).astype("f4")})
    (tmp_path / "csdat/J1").mkdir(parents=True)
    stream.save(str(tmp_path / "csdat/J1/J1_passthrough_particles.cs"), format=CSDAT_FORMAT)
    root = _one_job_project(tmp_path / "csdat", {"uid": particles}, "J1/J1_passthrough_particles.cs",
                            passthrough_prefixes=("location",))
    project = load_project(unchanged(root))
    report = run_export(project, EditSession(project, "J2").input("particles"), tmp_path / "out", "mixed")
    out = np.load(report.cs_path)
    assert out["uid"].tolist() == particles.tolist()
    expected = {int(u): p for u, p in zip(stream["uid"], stream["location/micrograph_path"])}
    assert [p.decode() for p in out["location/micrograph_path"]] == [expected[int(u)] for u in out["uid"]]


# --- incomplete passthroughs ----------------------------------------------------------------------


@pytest.fixture
def incomplete_project(tmp_path, schema, unchanged):
    """J1's particles: blob, a passthrough location and a passthrough pick_stats with no stored
    files (``versions: []``, ``metafiles: []``: the "partially incomplete job" of cryosparc-tools'
    own tests/conftest.py). J2 (building, slot blob) gets pick_stats as a passthrough; J3 (building,
    slots blob and ?pick_stats) binds its pick_stats slot to it explicitly."""
    rng = np.random.default_rng(13)
    root = tmp_path / f"incomplete-{schema}"
    particles = uids(rng, 120)
    write_cs(root / "J1/J1_particles.cs", particles, particle_blob(rng, 120))
    write_cs(root / "J1/J1_passthrough_particles.cs", particles[::-1], location(rng, 120))
    output = DocOutput("particles", "particle", "Particles", (
        result("blob", "J1/J1_particles.cs", 120),
        result("location", "J1/J1_passthrough_particles.cs", 120, passthrough=True),
        DocResult("pick_stats", "pick_stats", passthrough=True),  # no versions, metafiles, num_items
    ))
    inputs = {}
    for uid, slots in (("J2", doc_slots("blob")), ("J3", doc_slots("blob", "?pick_stats"))):
        inputs[uid] = DocInput("particles", "particle", "Particles", slots, (connect_output("J1", output, slots),))
    write_project(root, [job("J1", outputs=(output,)),
                         job("J2", "building", inputs=(inputs["J2"],), parents=("J1",)),
                         job("J3", "building", inputs=(inputs["J3"],), parents=("J1",))], schema)
    return load_project(unchanged(root))


SKIPPED = ("particles.0 passthrough J1.particles.pick_stats.F: the result has no stored files "
           "(job incomplete, failed or cleared); cryosparc-tools' load_output leaves such results out too")


def test_passthrough_without_files_is_skipped_and_reported(incomplete_project, tmp_path):
    """cryosparc-tools 4.x Job.load_output, all slots: results without metafiles are left out."""
    from tui.core.preview import preview_connection

    group = incomplete_project.job("J2").input("particles")
    assert [b.ref.result for b in group.connections[0].passthrough] == ["location", "pick_stats"]
    layout = lay_out_export(incomplete_project, group, target="J2")
    assert layout.skipped == (SKIPPED,)
    assert layout.connections[0].skipped == ("J1.particles.pick_stats.F",)
    assert preview_connection(incomplete_project, group, 0, "J2").kept == 120  # the preview skips it too
    report = run_export(incomplete_project, group, tmp_path / "out", "x", target="J2")
    assert report.rows == 120 and report.skipped == [SKIPPED]
    assert f"  skipped: {SKIPPED}" in report.lines()
    out = np.load(tmp_path / "out" / "x.cs")
    assert {n.split("/")[0] for n in out.dtype.names if n != "uid"} == {"blob", "location"}
    csg = yaml.safe_load((tmp_path / "out" / "x.csg").read_text())
    assert set(csg["results"]) == {"blob", "location"}
    assert csg["group"]["description"] == (
        "J2 particles: blob from J1.particles.blob.F; passthrough location from J1.particles (exported by csrebind)"
    )


def test_slot_bound_to_a_result_without_files_is_refused(incomplete_project, tmp_path):
    """Asked for by name, cryosparc-tools refuses such a result too (ValueError: "Cannot load
    output … slot pick_stats because output does not have an associated dataset file")."""
    group = incomplete_project.job("J3").input("particles")
    assert group.connections[0].binding("pick_stats") is not None
    with pytest.raises(ExportError, match=r"particles\.0\.pick_stats: J1\.particles\.pick_stats\.F: the result has no stored files"):
        run_export(incomplete_project, group, tmp_path / "out", "x", target="J3")
    assert not (tmp_path / "out").exists()


# --- real data: --paths absolute -----------------------------------------------------------------


@pytest.fixture
def real_project(tmp_path, unchanged):
    """J1 holds the real cryoDRGN test export (blob paths ``>J1/imported/…``) as its particles;
    a passthrough file adds location paths relative to the project; J2 is building."""
    root = tmp_path / "real"
    (root / "J1").mkdir(parents=True)
    shutil.copyfile(REAL_EXPORTED, root / "J1" / "J1_particles_exported.cs")
    real = np.load(REAL_EXPORTED)
    n = len(real)
    rng = np.random.default_rng(1)
    paths = [f"J0/motioncorrected/mic_{i % 3}_doseweighted.mrc".encode() for i in range(n)]
    paths[1], paths[2] = b"/data/raw/absolute_mic.mrc", b""
    write_cs(root / "J1/J1_passthrough_particles.cs", real["uid"][::-1],
             {"location/micrograph_path": np.array(paths[::-1]), "location/center_x_frac": rng.uniform(size=n).astype("f4")})
    exported = "J1/J1_particles_exported.cs"
    output = DocOutput("particles", "particle", "Imported", (
        result("blob", exported, n), result("ctf", exported, n), result("alignments2D", exported, n),
        result("location", "J1/J1_passthrough_particles.cs", n, passthrough=True)))
    slots = doc_slots("blob", "ctf")
    target = DocInput("particles", "particle", "Particles", slots, (connect_output("J1", output, slots),))
    write_project(root, [job("J1", outputs=(output,)), job("J2", "building", inputs=(target,), parents=("J1",))])
    return load_project(unchanged(root))


def test_real_data_passes_through_unchanged(real_project, tmp_path):
    session = EditSession(real_project, "J2")
    report = run_export(real_project, session.input("particles"), tmp_path, "kept")
    out = np.load(tmp_path / "kept.cs")
    real = np.load(REAL_EXPORTED)
    assert len(out) == len(real) == 22
    assert out["uid"].tolist() == real["uid"].tolist()
    for prefix in ("blob", "ctf", "alignments2D"):
        assert_columns_equal(out, real, prefix)
    assert out["blob/path"][0].startswith(b">J1/imported/")  # keep: bytes untouched
    assert out.dtype["blob/path"] == real.dtype["blob/path"]
    assert report.sources[0].rows == 22 and not report.warnings


def test_paths_absolute(real_project, tmp_path):
    session = EditSession(real_project, "J2")
    run_export(real_project, session.input("particles"), tmp_path, "abs", paths="absolute")
    out = np.load(tmp_path / "abs.cs")
    real = rows_of(np.load(REAL_EXPORTED), out["uid"])
    root = str(real_project.path).encode()
    expected_blob = [root + b"/J1/" + p[1:] for p in real["blob/path"]]  # ">…": the source file's folder
    assert out["blob/path"].tolist() == expected_blob
    assert all(os.path.isabs(p.decode()) and b">" not in p for p in out["blob/path"])
    location = rows_of(np.load(real_project.path / "J1/J1_passthrough_particles.cs"), out["uid"])
    expected = []
    for p in location["location/micrograph_path"]:
        expected.append(p if p.startswith(b"/") or not p else root + b"/" + p)  # relative: the project folder
    assert out["location/micrograph_path"].tolist() == expected
    assert b"/data/raw/absolute_mic.mrc" in expected and b"" in expected
    for name in ("blob/path", "location/micrograph_path"):
        assert out.dtype[name].itemsize >= max(len(p) for p in out[name])
    np.testing.assert_array_equal(out["ctf/type"], real["ctf/type"])  # not a path
    np.testing.assert_array_equal(out["blob/idx"], real["blob/idx"])
    dataset = Dataset.load(str(tmp_path / "abs.cs"))
    assert dataset["blob/path"][0] == expected_blob[0].decode()


# --- hygiene -----------------------------------------------------------------------------------


def test_export_imports_neither_textual_nor_rich():
    code = (
        "import sys, tui.core.export\n"
        "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich'))))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""

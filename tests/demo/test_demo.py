"""The demo project (tui.demo.project), the document generator (tui.demo.docgen) and the synthetic
benchmark projects (tests/projectgen.py) against cryosparc-data.md §2–§7."""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest
import yaml

from tui.demo import project as demo_module
from tui.demo.project import EXTRACT_UID, LOCAL_REFINE_UID, REFINE_UID, write_demo
from tui.core.errors import ProjectError

V4_TOP_KEYS = {
    "_id", "uid", "uid_num", "project_uid", "project_uid_num", "type", "job_type", "title", "description", "status",
    "created_at", "created_by_user_id", "deleted", "parents", "children", "workspace_uids", "params_base",
    "params_spec", "params_secs", "input_slot_groups", "output_result_groups", "output_results",
}


# --- schema-neutral views of a job.json, written independently of docgen ---------------------


def load_jobs(project: Path) -> dict[str, dict]:
    return {p.parent.name: json.loads(p.read_text()) for p in sorted(project.glob("J*/job.json"))}


def results_of(doc: dict) -> dict[tuple[str, str], dict]:
    """(output, result) → {dtype, versions, metafiles, num_items, passthrough}."""
    if "spec" in doc:
        return {
            (out_name, r["name"]): {k: r[k] for k in ("dtype", "versions", "metafiles", "num_items", "passthrough")}
            for out_name, out in doc["spec"]["outputs"].items() for r in out["results"]
        }
    return {
        (r["group_name"], r["name"]): {"dtype": r["type"].split(".", 1)[1], "versions": r["versions"],
                                       "metafiles": r["metafiles"], "num_items": r["num_items"],
                                       "passthrough": r["passthrough"]}
        for r in doc["output_results"]
    }


def input_of(doc: dict, name: str) -> dict:
    """{type, slots: {name: (dtype, required)}, connections: [[(slot, job, output, result, dtype, version)]]}."""
    if "spec" in doc:
        spec = doc["spec"]["inputs"][name]
        return {
            "type": spec["type"], "count_min": spec["count_min"],
            "slots": {s["name"]: (s["dtype"], s["required"]) for s in spec["slots"]},
            "connections": [[(e["name"], e["job_uid"], e["output"], e["result"], e["dtype"], e["version"])
                             for e in c["results"]] for c in spec["connections"]],
        }
    group = next(g for g in doc["input_slot_groups"] if g["name"] == name)
    return {
        "type": group["type"], "count_min": group["count_min"],
        "slots": {s["name"]: (s["type"].split(".", 1)[1], not s["optional"]) for s in group["slots"]},
        "connections": [[(e["slot_name"], e["job_uid"], e["group_name"], e["result_name"],
                          e["result_type"].split(".", 1)[1], e["version"]) for e in c["slots"]]
                        for c in group["connections"]],
    }


def job_type(doc: dict) -> str:
    return doc["spec"]["type"] if "spec" in doc else doc["job_type"]


def load_cs(project: Path, metafile: str) -> np.ndarray:
    return np.load(project / metafile, mmap_mode="r", max_header_size=2**30)


def final_file(project: Path, doc: dict, output: str, result: str) -> np.ndarray:
    return load_cs(project, results_of(doc)[(output, result)]["metafiles"][-1])


def to_datetimes(value):
    """MongoDB extended JSON → Python: ``{"$date": ms | ISO}`` becomes a datetime (test-side only)."""
    if isinstance(value, dict):
        if set(value) == {"$date"}:
            raw = value["$date"]
            if isinstance(raw, (int, float)):
                return datetime.fromtimestamp(raw / 1000, tz=timezone.utc)
            return datetime.fromisoformat(raw.replace("Z", "+00:00"))
        return {k: to_datetimes(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_datetimes(v) for v in value]
    return value


# --- writing ---------------------------------------------------------------------------------


def test_demo_writes_both_schemas_in_under_two_seconds(tmp_path, schema):
    started = time.perf_counter()
    project = write_demo(tmp_path / "demo", schema=schema)
    assert time.perf_counter() - started < 2.0
    assert (project / "project.json").is_file() and (project / "workspaces.json").is_file()
    assert sorted(load_jobs(project), key=lambda uid: int(uid[1:])) == [f"J{n}" for n in range(1, 13)]


def test_refuses_a_non_empty_directory_that_is_no_demo(tmp_path):
    target = tmp_path / "mine"
    target.mkdir()
    (target / "thesis.tex").write_text("precious")
    with pytest.raises(ProjectError, match="not empty"):
        write_demo(target)
    assert [p.name for p in target.iterdir()] == ["thesis.tex"]


def test_refuses_a_file_as_the_directory(tmp_path):
    target = tmp_path / "file"
    target.write_text("x")
    with pytest.raises(ProjectError):
        write_demo(target)


def test_rewrites_an_earlier_demo_in_the_other_schema(tmp_path):
    target = write_demo(tmp_path / "demo", schema="v4")
    write_demo(target, schema="v5")
    assert all("spec" in doc for doc in load_jobs(target).values())


def test_is_deterministic_for_a_seed(tmp_path):
    first, second = write_demo(tmp_path / "a", seed=3), write_demo(tmp_path / "b", seed=3)
    other = write_demo(tmp_path / "c", seed=4)
    metafile = "J9/J9_007_particles.cs"
    assert (first / metafile).read_bytes() == (second / metafile).read_bytes() != (other / metafile).read_bytes()
    assert load_jobs(first)["J9"]["output_results"] == load_jobs(second)["J9"]["output_results"]


# --- metafiles -------------------------------------------------------------------------------


def test_every_metafile_exists_and_has_num_items_rows(demo_project):
    checked = 0
    for uid, doc in load_jobs(demo_project).items():
        for (output, result), r in results_of(doc).items():
            assert len(r["versions"]) == len(r["metafiles"]) == len(r["num_items"]), (uid, output, result)
            for metafile, count in zip(r["metafiles"], r["num_items"]):
                assert not Path(metafile).is_absolute() and metafile.startswith(f"{uid}/")
                data = load_cs(demo_project, metafile)
                assert len(data) == count, (uid, output, result, metafile)
                assert any(name.startswith(f"{result}/") for name in data.dtype.names), (metafile, result)
                checked += 1
    assert checked > 100


def test_cs_files_are_plain_npy_with_fixed_width_strings(demo_project):
    files = list(demo_project.rglob("*.cs"))
    assert files and not list(demo_project.rglob("*.npy"))
    for path in files:
        assert path.read_bytes()[:6] == b"\x93NUMPY"
        data = np.load(path, allow_pickle=False)  # no object columns
        assert data.dtype["uid"] == np.dtype("<u8")
        assert all(data.dtype[name].kind != "O" for name in data.dtype.names)
    blob = np.load(demo_project / "J5" / "extracted_particles.cs")
    assert blob.dtype["blob/path"].kind == "S" and blob.dtype["blob/shape"].shape == (2,)
    assert blob.dtype["blob/idx"] == np.dtype("<u4") and blob.dtype["blob/import_sig"] == np.dtype("<u8")


def test_v4_min_fields_name_real_columns(tmp_path):
    project = write_demo(tmp_path / "demo", schema="v4")
    for doc in load_jobs(project).values():
        for r in doc["output_results"]:
            if not r["metafiles"]:
                continue
            names = load_cs(project, r["metafiles"][-1]).dtype.names
            missing = [f for f, _ in r["min_fields"] if f"{r['name']}/{f}" not in names]
            assert not missing, (r["metafiles"][-1], r["name"], missing)


def test_csg_descriptors_point_at_final_versions(demo_project):
    jobs = load_jobs(demo_project)
    csg = yaml.safe_load((demo_project / "J9" / "J9_particles.csg").read_text())
    assert csg["group"] == {"description": "", "name": "particles", "title": "All particles", "type": "particle"}
    assert csg["results"]["alignments3D"]["metafile"] == ">J9_007_particles.cs"
    assert csg["results"]["location"]["metafile"] == ">J9_passthrough_particles.cs"
    assert csg["results"]["blob"]["type"] == "particle.blob"
    for path in demo_project.glob("J*/*.csg"):
        group = yaml.safe_load(path.read_text())
        results = results_of(jobs[path.parent.name])
        for name, entry in group["results"].items():
            r = results[(group["group"]["name"], name)]
            assert entry["metafile"] == ">" + Path(r["metafiles"][-1]).name
            assert entry["num_items"] == r["num_items"][-1]
            assert (path.parent / entry["metafile"][1:]).is_file()


# --- the design-brief workflow ---------------------------------------------------------------


def test_workflow_jobs_types_and_statuses(demo_project):
    jobs = load_jobs(demo_project)
    assert {uid: job_type(doc) for uid, doc in jobs.items()} == {
        "J1": "import_movies", "J2": "patch_motion_correction_multi", "J3": "patch_ctf_estimation_multi",
        "J4": "blob_picker_gpu", "J5": "extract_micrographs_multi", "J6": "class_2D_new", "J7": "select_2D",
        "J8": "homo_abinit", "J9": "homo_refine_new", "J10": "class_2D_new", "J11": "nonuniform_refine_new",
        "J12": "new_local_refine",
    }
    statuses = {uid: doc["status"] for uid, doc in jobs.items()}
    assert statuses.pop("J10") == "killed" and statuses.pop("J11") == "failed"
    assert statuses.pop(LOCAL_REFINE_UID) == "building"
    assert set(statuses.values()) == {"completed"}
    assert "W2" in jobs["J10"]["workspace_uids"] and "W1" not in jobs["J10"]["workspace_uids"]
    assert {len(doc["parents"]) for doc in jobs.values()} >= {0, 1, 2}
    workspaces = json.loads((demo_project / "workspaces.json").read_text())
    assert [w["uid"] for w in workspaces] == ["W1", "W2"] and all(w["title"] for w in workspaces)


def test_children_mirror_parents_and_times_increase(demo_project):
    jobs = load_jobs(demo_project)
    for uid, doc in jobs.items():
        for parent in doc["parents"]:
            assert uid in jobs[parent]["children"]
            assert int(parent[1:]) < int(uid[1:])
    created = [to_datetimes(jobs[f"J{n}"]["created_at"]) for n in range(1, 13)]
    assert created == sorted(created) and len(set(created)) == 12
    for doc in jobs.values():
        stamps = to_datetimes({k: v for k, v in doc.items() if k.endswith("_at") and k not in ("dumped_at",)
                               and k != "job_dir_size_last_updated"})
        assert all(stamp >= stamps["created_at"] for stamp in stamps.values())


def test_some_results_are_empty_but_listed(demo_project):
    jobs = load_jobs(demo_project)
    killed = results_of(jobs["J10"])
    assert killed and all(r["versions"] == r["metafiles"] == r["num_items"] == [] for r in killed.values())
    failed = results_of(jobs["J11"])
    assert failed[("volume", "mask_fsc")]["metafiles"] == [] and failed[("particles", "blob")]["versions"] == [0]


def test_extraction_writes_full_size_and_fcrop_particles(demo_project):
    extract = load_jobs(demo_project)[EXTRACT_UID]
    results = results_of(extract)
    full, crop = (final_file(demo_project, extract, out, "blob") for out in ("particles", "particles_fcrop"))
    assert results[("particles", "blob")]["metafiles"] != results[("particles_fcrop", "blob")]["metafiles"]
    assert set(full["uid"]) == set(crop["uid"]) and len(full) == 1500
    assert not np.array_equal(full["uid"], crop["uid"])  # same particles, another row order
    assert np.all(full["blob/shape"] == 452) and np.all(crop["blob/shape"] == 96)
    assert np.allclose(full["blob/psize_A"], 5.25 * 96 / 452) and np.allclose(crop["blob/psize_A"], 5.25)
    assert crop["blob/path"][0].decode().startswith("J5/extract/") and b"_fcrop.mrc" in crop["blob/path"][0]
    assert not set(full["blob/path"]) & set(crop["blob/path"])
    for output in ("particles", "particles_fcrop"):
        assert {"ctf", "location", "pick_stats"} <= {r for o, r in results if o == output}
        assert results[(output, "pick_stats")]["passthrough"] is True
        assert results[(output, "blob")]["passthrough"] is False
    # the passthrough file is a separate file with its own order
    passthrough = final_file(demo_project, extract, "particles", "pick_stats")
    assert set(passthrough["uid"]) == set(full["uid"]) and not np.array_equal(passthrough["uid"], full["uid"])


def test_class2d_keeps_only_the_final_version(demo_project):
    class2d = results_of(load_jobs(demo_project)["J6"])
    assert class2d[("particles", "alignments2D")]["versions"] == [20]
    assert class2d[("particles", "blob")]["passthrough"] is True
    assert class2d[("class_averages", "blob")]["num_items"] == [50]


def test_selected_particles_are_a_strict_subset_of_the_extracted(demo_project):
    jobs = load_jobs(demo_project)
    extracted = set(final_file(demo_project, jobs[EXTRACT_UID], "particles", "blob")["uid"])
    selected = set(final_file(demo_project, jobs["J7"], "particles_selected", "alignments2D")["uid"])
    excluded = set(final_file(demo_project, jobs["J7"], "particles_excluded", "alignments2D")["uid"])
    assert selected < extracted and not selected & excluded and selected | excluded == extracted
    assert 900 <= len(selected) <= 1100
    refined = set(final_file(demo_project, jobs[REFINE_UID], "particles", "alignments3D")["uid"])
    assert refined == selected


def test_abinit_volume_and_particles_end_on_different_versions(demo_project):
    abinit = results_of(load_jobs(demo_project)["J8"])
    particles, volume = abinit[("particles_class_0", "alignments3D")], abinit[("volume_class_0", "map")]
    assert particles["versions"][-1] == 863 and volume["versions"][-1] == 862
    assert particles["metafiles"][-1].endswith("_final_particles.cs")
    assert len(set(particles["num_items"])) > 1  # row counts vary by version


def test_refinement_versions_are_sparse_with_distinct_metafiles(demo_project):
    refine = load_jobs(demo_project)[REFINE_UID]
    results = results_of(refine)
    for name in ("blob", "ctf", "alignments3D"):
        r = results[("particles", name)]
        assert r["versions"] == [0, 1, 2, 3, 5, 7] and r["passthrough"] is False
        assert r["metafiles"] == [f"J9/J9_{v:03d}_particles.cs" for v in r["versions"]]
    for name in ("location", "pick_stats"):
        r = results[("particles", name)]
        assert r["versions"] == [0] and r["metafiles"] == ["J9/J9_passthrough_particles.cs"] and r["passthrough"]
    first, last = (load_cs(demo_project, f"J9/J9_00{v}_particles.cs") for v in (0, 7))
    order = np.argsort(first["uid"]), np.argsort(last["uid"])
    assert not np.array_equal(first["uid"], last["uid"])
    assert not np.allclose(first["alignments3D/pose"][order[0]], last["alignments3D/pose"][order[1]])
    assert np.all(last["alignments3D/psize_A"] == 5.25) and last["alignments3D/pose"].shape[1:] == (3,)
    assert np.all(np.abs(last["alignments3D/pose"]) < 4) and np.all(np.abs(last["alignments3D/shift"]) < 20)
    volume = {r: v for (o, r), v in results.items() if o == "volume"}
    assert {"map", "map_half_A", "map_half_B", "mask_refine"} <= set(volume)
    assert volume["map"]["dtype"] == "blob" and volume["mask_refine"]["dtype"] == "mask"
    group_type = refine["spec"]["outputs"]["volume"]["type"] if "spec" in refine else next(
        g["type"] for g in refine["output_result_groups"] if g["name"] == "volume")
    assert group_type == "volume"


def test_local_refinement_is_building_and_connected_to_the_refinement(demo_project):
    local = load_jobs(demo_project)[LOCAL_REFINE_UID]
    assert local["status"] == "building" and local["parents"] == [REFINE_UID]
    particles = input_of(local, "particles")
    assert {name: required for name, (_, required) in particles["slots"].items() if required} == {
        "blob": True, "ctf": True, "alignments3D": True}
    assert any(not required for _, required in particles["slots"].values())
    [connection] = particles["connections"]
    by_slot = {slot: entry for slot, *entry in connection if slot}
    assert by_slot["blob"] == [REFINE_UID, "particles", "blob", "blob", "F"]
    assert set(by_slot) == {"blob", "ctf", "alignments3D"}
    passthrough = {entry[3] for entry in connection if entry[0] is None}
    assert {"location", "pick_stats"} <= passthrough
    volume = input_of(local, "volume")
    assert volume["connections"][0][0][:4] == ("map", REFINE_UID, "volume", "map")
    mask = input_of(local, "mask")
    assert mask["connections"] == [] and mask["count_min"] == 0
    # the rebinding target exists: a full-size blob from the extraction job
    assert ("particles", "blob") in results_of(load_jobs(demo_project)[EXTRACT_UID])


# --- the two schemas -------------------------------------------------------------------------


def test_v4_documents_follow_the_reference_shape(tmp_path):
    project = write_demo(tmp_path / "demo", schema="v4")
    for uid, doc in load_jobs(project).items():
        assert V4_TOP_KEYS <= set(doc), V4_TOP_KEYS - set(doc)
        assert doc["type"] == doc["job_type"] and "spec" not in doc
        assert isinstance(doc["created_at"]["$date"], str)
        for group in doc["output_result_groups"]:
            assert group["uid"].startswith(f"{uid}-G")
            assert all(c["uid"].startswith(f"{uid}-R") for c in group["contains"])
            assert group["passthrough"] is False or isinstance(group["passthrough"], str)
        for r in doc["output_results"]:
            assert r["type"].count(".") == 1 and isinstance(r["num_items"], list) and r["min_fields"]
        for group in doc["input_slot_groups"]:
            assert all(s["type"].startswith(group["type"] + ".") and "optional" in s for s in group["slots"])
            for connection in group["connections"]:
                for entry in connection["slots"]:
                    assert set(entry) == {"slot_name", "job_uid", "group_name", "result_name", "result_type", "version"}
                    assert "." in entry["result_type"]
    refine = load_jobs(project)[REFINE_UID]
    assert isinstance(refine["completed_at"]["$date"], int)
    assert next(g for g in refine["output_result_groups"] if g["name"] == "particles")["passthrough"] == "particles"
    assert [i["count_max"] for i in refine["input_slot_groups"]] == [None, 1]


def test_v5_documents_validate_against_cryosparc_tools_models(tmp_path):
    from cryosparc.models.job import Job
    from cryosparc.models.project import Project
    from cryosparc.models.workspace import Workspace

    project = write_demo(tmp_path / "demo", schema="v5")
    jobs = load_jobs(project)
    for uid, doc in jobs.items():
        assert "input_slot_groups" not in doc and "output_results" not in doc
        model = Job.model_validate(to_datetimes(doc))
        assert model.uid == uid and model.spec.type == job_type(doc)
    refine = Job.model_validate(to_datetimes(jobs[REFINE_UID]))
    result = next(r for r in refine.spec.outputs.root["particles"].results if r.name == "alignments3D")
    assert result.versions == [0, 1, 2, 3, 5, 7] and result.num_items == [1000] * 6
    local = Job.model_validate(to_datetimes(jobs[LOCAL_REFINE_UID]))
    assert local.spec.inputs.root["particles"].count_max == "inf"
    assert local.spec.inputs.root["particles"].connections[0].results[0].name == "blob"
    Project.model_validate(to_datetimes(json.loads((project / "project.json").read_text())))
    for workspace in json.loads((project / "workspaces.json").read_text()):
        Workspace.model_validate(to_datetimes(workspace))


# --- the benchmark generator -----------------------------------------------------------------


def test_projectgen_writes_n_job_directories_quickly(tmp_path, schema):
    from projectgen import generate_project

    started = time.perf_counter()
    project = generate_project(tmp_path / "big", num_jobs=50, schema=schema, seed=1)
    assert time.perf_counter() - started < 2.0
    jobs = load_jobs(project)
    assert len(jobs) == 50 and (project / "project.json").is_file() and (project / "S1" / "exposures.bson").is_file()
    sizes = [(project / uid / "job.json").stat().st_size for uid in jobs]
    assert min(sizes) > 3_000 and max(sizes) < 60_000
    assert any(len(doc["parents"]) > 1 for doc in jobs.values())
    for uid, doc in jobs.items():
        assert doc["uid"] == uid and all(uid in jobs[p]["children"] for p in doc["parents"])
    if schema == "v5":
        from cryosparc.models.job import Job

        for doc in jobs.values():
            Job.model_validate(to_datetimes(doc))


def test_demo_module_names_the_key_jobs():
    assert (demo_module.EXTRACT_UID, demo_module.REFINE_UID, demo_module.LOCAL_REFINE_UID) == ("J5", "J9", "J12")

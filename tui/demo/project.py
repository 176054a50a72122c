"""Write a small, realistic CryoSPARC project to try csrebind on (``csrebind --demo``, tests).

The project follows the design brief's workflow, J1–J12 in two workspaces::

    J1 import_movies → J2 patch motion → J3 patch CTF → J4 blob picker
    J5 extract (box 452 ``particles`` + F-cropped box 96 ``particles_fcrop``; parents J3, J4)
    J6 2D classification of the 96-px particles → J7 Select 2D → J8 ab-initio
    J9 homogeneous refinement (sparse versions 0,1,2,3,5,7; parents J7, J8)
    J10 2D of the full-size particles, killed (workspace W2; every result empty)
    J11 non-uniform refinement, failed after iteration 0 (some results empty)
    J12 local refinement, *building*, connected to J9's particles and volume

J12 is where the product's canonical rebinding happens: point ``particles.0.blob`` at J5's
full-size ``particles.blob``. Every ``.cs`` is a real NPY file; particle uids are shared by all
jobs, and every file has its own row order, so readers must join on ``uid``. The job documents
are described from the files actually written, so ``num_items`` always matches the rows.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import orjson

from .docgen import (
    CRYOSPARC_VERSION, DocInput, DocJob, DocOutput, DocProject, DocResult, DocSlot, DocWorkspace, Schema,
    connect_output, doc_slots, job_document, parents_of, project_document, with_children, workspaces_document,
)
from ..core.errors import ProjectError
from ..core.export.write import csg_text
from .columns import (  # the ground truth and the columns cut from it
    ABINIT_COUNTS, ABINIT_PARTICLE_VERSIONS, ABINIT_VOLUME_VERSIONS, BOX_CROP, BOX_FULL, CLASS2D_FINAL,
    Columns, EXPOSURE_RESULTS, IMPORT_RESULTS, MOTION_RESULTS, N_CLASSES, N_GOOD_CLASSES, N_MICS, N_PICKED,
    PSIZE_CROP, PSIZE_FULL, RAW_DATA, REFINE_VERSIONS, RESULT_DTYPES, START, _Metafile, _Truth, _alignments2D,
    _alignments3D, _location, _particle_blob, _particle_ctf, _pick_stats, _take, _template_blob, _unique_uids,
    _volume_blob,
)

PROJECT_UID = "P3"
MARKER = ".csrebind-demo"  # marks a directory this module may overwrite
EXTRACT_UID, REFINE_UID, LOCAL_REFINE_UID = "J5", "J9", "J12"



def write_demo(directory: str | Path, schema: Schema = "v4", seed: int = 0) -> Path:
    """Write the demo project into ``directory`` (created if needed) and return its path.

    Refuses a non-empty directory unless an earlier demo wrote it, which is then replaced."""
    root = Path(directory)
    _prepare_directory(root)
    demo = _Demo(root, np.random.default_rng(seed), _Truth.make(np.random.default_rng([seed, 1])))
    jobs = with_children(demo.build_jobs())
    for job in jobs:
        _write_json(root / job.uid / "job.json", job_document(job, PROJECT_UID, schema))
        for output in job.outputs:
            _write_csg(root, job, output, schema)
    _write_json(root / "project.json", project_document(_project(root), schema, updated_at=jobs[-1].created_at))
    _write_json(root / "workspaces.json", workspaces_document(PROJECT_UID, WORKSPACES, schema))
    (root / MARKER).write_text(f"csrebind demo project, schema {schema}, seed {seed}\n")
    return root


# --- the directory -----------------------------------------------------------------------------


def _prepare_directory(root: Path) -> None:
    if root.exists() and not root.is_dir():
        raise ProjectError(f"{root}: exists and is not a directory; choose a new or empty directory for the demo")
    root.mkdir(parents=True, exist_ok=True)
    entries = list(root.iterdir())
    if not entries:
        return
    if not (root / MARKER).is_file():
        raise ProjectError(
            f"{root}: directory is not empty and holds no earlier demo; choose a new or empty directory "
            "(the demo never writes over other files)"
        )
    for entry in entries:  # only what an earlier demo wrote; anything else stays
        if entry.is_dir() and re.fullmatch(r"J\d+", entry.name):
            shutil.rmtree(entry)
        elif entry.name in ("project.json", "workspaces.json", MARKER):
            entry.unlink()


def _write_json(path: Path, document: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2))


def _project(root: Path) -> DocProject:
    return DocProject(PROJECT_UID, "Demo: LR-complex 2024-03", str(root.resolve()), START - timedelta(minutes=5),
                      description="csrebind demo project: downsampled refinement ready for a full-size blob")


WORKSPACES = (
    DocWorkspace("W1", "Main processing", START - timedelta(minutes=5)),
    DocWorkspace("W2", "Full-size tests", START + timedelta(hours=3, minutes=8)),
)


def _write_csg(root: Path, job: DocJob, output: DocOutput, schema: Schema) -> None:
    """``<J>_<output>.csg``: the final version of every result, paths relative to the job directory (§9)."""
    results = {
        r.name: {"metafile": ">" + Path(r.metafiles[-1]).name, "num_items": r.num_items[-1],
                 "type": f"{output.type}.{r.dtype}"}
        for r in output.results if r.metafiles
    }
    if not results:
        return
    document = {
        # a datetime, written unquoted as CryoSPARC writes it (2021-01-21 02:43:57.516360): the
        # job's last event in UTC, without a zone like the real files
        "created": max([job.created_at, *job.events.values()]).replace(tzinfo=None),
        "group": {"description": output.description, "name": output.name, "title": output.title, "type": output.type},
        "results": results,
        "version": CRYOSPARC_VERSION[schema],
    }
    (root / job.uid / f"{job.uid}_{output.name}.csg").write_text(csg_text(document))




@dataclass
class _Demo:
    root: Path
    rng: np.random.Generator
    t: _Truth
    jobs: dict[str, DocJob] = field(default_factory=dict)
    exposures: dict[str, Columns] = field(init=False)  # every exposure result, all micrographs
    alignments2D: Columns = field(init=False)  # 2D alignments of all picks (passthroughs copy them)
    class_uids: np.ndarray = field(init=False)  # uid of 2D class k

    def __post_init__(self) -> None:
        # Computed once and sliced, so that a passthrough file is an exact copy of its source.
        mics = np.arange(N_MICS)
        self.exposures = {name: build(self.t, mics, self.rng) for name, build in EXPOSURE_RESULTS.items()}
        self.alignments2D = _alignments2D(self.t, np.arange(N_PICKED), self.rng)
        self.class_uids = _unique_uids(self.rng, N_CLASSES)

    # - writing -

    def write_cs(self, metafile: _Metafile) -> int:
        """Write a shuffled NPY structured array (row order differs from every other file)."""
        order = self.rng.permutation(len(metafile.uids))
        dtype = [("uid", "<u8")] + [
            (f"{prefix}/{name}", column.dtype, column.shape[1:])
            for prefix, columns in metafile.results.items() for name, column in columns.items()
        ]
        array = np.zeros(len(order), dtype=dtype)
        array["uid"] = metafile.uids[order]
        for prefix, columns in metafile.results.items():
            for name, column in columns.items():
                array[f"{prefix}/{name}"] = column[order]
        path = self.root / metafile.path
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as handle:  # a handle, so numpy appends no .npy suffix
            np.save(handle, array)
        return len(order)

    def output(self, name: str, type: str, title: str, metafiles: list[_Metafile], passthrough_input: str | None = None,
               empty: tuple[str, ...] = (), description: str = "") -> DocOutput:
        """Write ``metafiles`` and describe the output from them; ``empty`` results have no file yet."""
        written = [(m, self.write_cs(m)) for m in metafiles]
        names = list(dict.fromkeys(prefix for m in metafiles for prefix in m.results)) + list(empty)
        results = []
        for result in names:
            files = [(m, count) for m, count in written if result in m.results]
            results.append(DocResult(
                result, RESULT_DTYPES.get(result, result),
                versions=tuple(m.version for m, _ in files), metafiles=tuple(m.path for m, _ in files),
                num_items=tuple(count for _, count in files), passthrough=any(m.passthrough for m, _ in files),
            ))
        return DocOutput(name, type, title, tuple(results), passthrough_input, description=description)

    def out(self, uid: str, name: str) -> DocOutput:
        return next(o for o in self.jobs[uid].outputs if o.name == name)

    def connected(self, name: str, type: str, title: str, slots: tuple[DocSlot, ...], *sources: tuple[str, str],
                  count_max: int | None = None, count_min: int = 1) -> DocInput:
        connections = tuple(connect_output(uid, self.out(uid, output), slots) for uid, output in sources)
        return DocInput(name, type, title, slots, connections, count_min=count_min, count_max=count_max)

    # - exposure columns for a set of results -

    def exposure_columns(self, names, mics: np.ndarray | None = None) -> dict[str, Columns]:
        rows = np.arange(N_MICS) if mics is None else mics
        return {name: _take(self.exposures[name], rows) for name in names}

    def exposures_except(self, *names: str, mics: np.ndarray | None = None) -> dict[str, Columns]:
        return self.exposure_columns([n for n in EXPOSURE_RESULTS if n not in names], mics)

    # - the jobs -

    def build_jobs(self) -> list[DocJob]:
        for build in (self.import_movies, self.motion, self.ctf, self.blob_picker, self.extract, self.class2d,
                      self.select2d, self.abinit, self.refine, self.class2d_full_size, self.nu_refine_failed,
                      self.local_refine):
            job = build()
            self.jobs[job.uid] = job
        return list(self.jobs.values())

    def import_movies(self) -> DocJob:
        movies = self.output("imported_movies", "exposure", "Imported movies", [
            _Metafile("J1/imported_movies.cs", self.t.mic_uid, self.exposure_columns(IMPORT_RESULTS))])
        return _job("J1", "import_movies", "Import Movies", 0, 4, outputs=(movies,), params={
            "blob_paths": f"{RAW_DATA}/*.tiff", "gainref_path": f"{RAW_DATA}/gain_ref_K3.mrc",
            "psize_A": round(PSIZE_FULL, 4), "accel_kv": 300, "cs_mm": 2.7, "total_dose_e_per_A2": 50})

    def motion(self) -> DocJob:
        slots = doc_slots("movie_blob", "mscope_params", "?gain_ref_blob")
        movies = self.connected("movies", "exposure", "Movies", slots, ("J1", "imported_movies"))
        micrographs = self.output("micrographs", "exposure", "Motion-corrected micrographs", [
            _Metafile("J2/J2_micrographs.cs", self.t.mic_uid, self.exposure_columns(MOTION_RESULTS)),
            _Metafile("J2/J2_passthrough_micrographs.cs", self.t.mic_uid, self.exposure_columns(IMPORT_RESULTS),
                      passthrough=True)], "movies")
        incomplete = self.output("micrographs_incomplete", "exposure", "Incomplete micrographs", [], "movies",
                                 empty=(*MOTION_RESULTS, *IMPORT_RESULTS))  # nothing failed: no file written
        return _job("J2", "patch_motion_correction_multi", "Patch Motion Correction", 10, 35, inputs=(movies,),
                    outputs=(micrographs, incomplete), params={"compute_num_gpus": 2})

    def ctf(self) -> DocJob:
        slots = doc_slots("micrograph_blob", "mscope_params")
        exposures = self.connected("exposures", "exposure", "Micrographs", slots, ("J2", "micrographs"))
        out = self.output("exposures", "exposure", "Micrographs with CTF", [
            _Metafile("J3/exposures_ctf_estimated.cs", self.t.mic_uid, self.exposure_columns(("ctf", "ctf_stats"))),
            _Metafile("J3/J3_passthrough_exposures.cs", self.t.mic_uid, self.exposures_except("ctf", "ctf_stats"),
                      passthrough=True)], "exposures")
        return _job("J3", "patch_ctf_estimation_multi", "Patch CTF Estimation", 50, 12, inputs=(exposures,),
                    outputs=(out,), params={"res_max_align": 4, "df_search_min": 3000})

    def blob_picker(self) -> DocJob:
        mics_in = self.connected("micrographs", "exposure", "Micrographs", doc_slots("micrograph_blob", "?ctf"),
                                 ("J3", "exposures"))
        picks = np.arange(N_PICKED)
        particles = self.output("particles", "particle", "Picked particles", [
            _Metafile("J4/picked_particles.cs", self.t.pick_uid,
                      {"location": _location(self.t, picks), "pick_stats": _pick_stats(self.t, picks)})])
        return _job("J4", "blob_picker_gpu", "Blob Picker", 65, 8, inputs=(mics_in,),
                    outputs=(self.micrographs_out("J4"), particles), params={"diameter": 380, "diameter_max": 460})

    def micrographs_out(self, uid: str) -> DocOutput:
        """A picker's or extractor's micrographs: micrograph_blob rewritten, the rest passed through."""
        return self.output("micrographs", "exposure", "Micrographs", [
            _Metafile(f"{uid}/picked_micrographs.cs", self.t.mic_uid, self.exposure_columns(("micrograph_blob",))),
            _Metafile(f"{uid}/{uid}_passthrough_micrographs.cs", self.t.mic_uid,
                      self.exposures_except("micrograph_blob"), passthrough=True)], "micrographs")

    def extract(self) -> DocJob:
        mics_in = self.connected("micrographs", "exposure", "Micrographs", doc_slots("micrograph_blob", "?ctf"),
                                 ("J3", "exposures"))
        parts_in = self.connected("particles", "particle", "Particles", doc_slots("location"), ("J4", "particles"))
        outputs = (
            self.micrographs_out(EXTRACT_UID),
            self.extract_incomplete(),
            self.extracted("particles", "Extracted particles", BOX_FULL, PSIZE_FULL, ""),
            self.extracted("particles_fcrop", "Extracted particles (Fourier-cropped)", BOX_CROP, PSIZE_CROP, "_fcrop"),
        )
        return _job(EXTRACT_UID, "extract_micrographs_multi", "Extract From Micrographs", 80, 10,
                    workspaces=("W1", "W2"), inputs=(mics_in, parts_in), outputs=outputs,
                    params={"box_size_pix": BOX_FULL, "bin_size_pix": BOX_CROP, "output_f16": False})

    def extract_incomplete(self) -> DocOutput:
        """Micrographs extraction gave up on: none here, but the (empty) files are still written."""
        none = np.zeros(0, dtype=np.int64)
        return self.output("micrographs_incomplete", "exposure", "Incomplete micrographs", [
            _Metafile("J5/incomplete_micrographs.cs", self.t.mic_uid[none],
                      self.exposure_columns(("micrograph_blob",), none)),
            _Metafile("J5/J5_passthrough_micrographs_incomplete.cs", self.t.mic_uid[none],
                      self.exposures_except("micrograph_blob", mics=none), passthrough=True)], "micrographs")

    def extracted(self, name: str, title: str, box: int, psize: float, suffix: str) -> DocOutput:
        """One extraction output: the same particles and uids at a given box, each file in its own order."""
        picks = self.t.extracted
        uids = self.t.pick_uid[picks]
        return self.output(name, "particle", title, [
            _Metafile(f"J5/extracted_{name}.cs", uids, {
                "blob": _particle_blob(self.t, picks, box, psize, suffix), "ctf": _particle_ctf(self.t, picks),
                "location": _location(self.t, picks)}),
            _Metafile(f"J5/J5_passthrough_{name}.cs", uids, {"pick_stats": _pick_stats(self.t, picks)},
                      passthrough=True)], "particles", description=f"box {box} px at {psize:.4f} Å/px")

    def particles_passthrough(self, path: str, picks: np.ndarray, *names: str) -> _Metafile:
        """A passthrough file: copies of the 96-px particles' inherited results."""
        builders = {
            "blob": lambda: _particle_blob(self.t, picks, BOX_CROP, PSIZE_CROP, "_fcrop"),
            "ctf": lambda: _particle_ctf(self.t, picks), "location": lambda: _location(self.t, picks),
            "pick_stats": lambda: _pick_stats(self.t, picks),
            "alignments2D": lambda: _take(self.alignments2D, picks),
        }
        return _Metafile(path, self.t.pick_uid[picks], {n: builders[n]() for n in names}, passthrough=True)

    def class2d(self) -> DocJob:
        picks = self.t.extracted
        parts_in = self.connected("particles", "particle", "Particle stacks", SLOTS_2D,
                                  (EXTRACT_UID, "particles_fcrop"))
        final = f"J6/J6_{CLASS2D_FINAL:03d}"
        particles = self.output("particles", "particle", "Particles with 2D alignments", [
            _Metafile(f"{final}_particles.cs", self.t.pick_uid[picks],
                      {"alignments2D": _take(self.alignments2D, picks)}, version=CLASS2D_FINAL),
            self.particles_passthrough("J6/J6_passthrough_particles.cs", picks, *INHERITED_2D),
        ], "particles")
        classes = self.output("class_averages", "template", "2D class averages", [
            _Metafile(f"{final}_class_averages.cs", self.class_uids,
                      {"blob": _template_blob(N_CLASSES, f"{final}_class_averages.mrc")}, version=CLASS2D_FINAL)])
        return _job("J6", "class_2D_new", "2D Classification (96 px)", 95, 25, inputs=(parts_in,),
                    outputs=(particles, classes), params={"class2D_K": N_CLASSES})

    def select2d(self) -> DocJob:
        parts_in = self.connected("particles", "particle", "Particles", doc_slots("alignments2D"), ("J6", "particles"))
        templates_in = self.connected("templates", "template", "Templates", doc_slots("blob"),
                                      ("J6", "class_averages"), count_max=1)
        averages = _template_blob(N_CLASSES, f"J6/J6_{CLASS2D_FINAL:03d}_class_averages.mrc")
        outputs = []
        for kind, picks, classes in (("selected", self.t.good, np.arange(N_GOOD_CLASSES)),
                                     ("excluded", self.t.junk, np.arange(N_GOOD_CLASSES, N_CLASSES))):
            outputs.append(self.selection(f"particles_{kind}", picks))
            outputs.append(self.output(f"templates_{kind}", "template", f"Templates {kind}", [
                _Metafile(f"J7/templates_{kind}.cs", self.class_uids[classes], {"blob": _take(averages, classes)})]))
        return _job("J7", "select_2D", "Select 2D Classes", 125, 6, inputs=(parts_in, templates_in),
                    outputs=tuple(outputs), interactive=True)

    def selection(self, name: str, picks: np.ndarray) -> DocOutput:
        return self.output(name, "particle", name.replace("_", " ").capitalize(), [
            _Metafile(f"J7/{name}.cs", self.t.pick_uid[picks], {"alignments2D": _take(self.alignments2D, picks)}),
            self.particles_passthrough(f"J7/J7_passthrough_{name}.cs", picks, *INHERITED_2D),
        ], "particles")

    def abinit(self) -> DocJob:
        parts_in = self.connected("particles", "particle", "Particle stacks", doc_slots("blob", "?ctf"),
                                  ("J7", "particles_selected"))
        good = self.t.good
        seen = np.random.default_rng(11).permutation(len(good))  # the minibatches a version has used
        particle_files = []
        for i, (version, count) in enumerate(zip(ABINIT_PARTICLE_VERSIONS, ABINIT_COUNTS)):
            picks = np.sort(good[seen[:count]])
            label = _abinit_label(version, ABINIT_PARTICLE_VERSIONS)
            particle_files.append(_Metafile(
                f"J8/J8_class_00_{label}_particles.cs", self.t.pick_uid[picks],
                {"alignments3D": _alignments3D(self.t, picks, self.rng, 0.5 * (i + 1) / len(ABINIT_COUNTS))}, version))
        particle_files.append(
            self.particles_passthrough("J8/J8_passthrough_particles_class_0.cs", good, *INHERITED_3D))
        volume_uid = _unique_uids(self.rng, 1)
        volume_files = [
            _Metafile(f"J8/J8_class_00_{_abinit_label(v, ABINIT_VOLUME_VERSIONS)}_volume.cs", volume_uid,
                      {"map": _volume_blob(f"J8/J8_class_00_{v:05d}_volume.mrc")}, v)
            for v in ABINIT_VOLUME_VERSIONS
        ]
        outputs = (self.output("particles_class_0", "particle", "Particles class 0", particle_files, "particles"),
                   self.output("volume_class_0", "volume", "Volume class 0", volume_files))
        return _job("J8", "homo_abinit", "Ab-Initio Reconstruction", 135, 40, inputs=(parts_in,), outputs=outputs,
                    params={"abinit_K": 1})

    def refine_outputs(self, uid: str, versions: tuple[int, ...], empty_volume: tuple[str, ...] = ()) -> tuple:
        """A refinement's ``particles`` (new blob/ctf/alignments3D per version + one passthrough file) and
        ``volume`` (maps and masks per version; sharpened map and FSC masks only at the end)."""
        t, picks = self.t, self.t.good
        particle_files = [
            _Metafile(f"{uid}/{uid}_{v:03d}_particles.cs", t.pick_uid[picks], {
                "blob": _particle_blob(t, picks, BOX_CROP, PSIZE_CROP, "_fcrop"), "ctf": _particle_ctf(t, picks),
                "alignments3D": _alignments3D(t, picks, self.rng, 0.5 + 0.5 * (i + 1) / len(versions))}, v)
            for i, v in enumerate(versions)
        ]
        particle_files.append(self.particles_passthrough(f"{uid}/{uid}_passthrough_particles.cs", picks, *INHERITED_3D))
        volume_uid = _unique_uids(self.rng, 1)
        volume_files = []
        for v in versions:
            names = ["map", "map_half_A", "map_half_B", "mask_refine"]
            if v == versions[-1]:
                names += [n for n in ("map_sharp", "mask_fsc", "mask_fsc_auto") if n not in empty_volume]
            maps = {name: _volume_blob(f"{uid}/{uid}_{v:03d}_volume_{name}.mrc") for name in names}
            volume_files.append(_Metafile(f"{uid}/{uid}_{v:03d}_volume.cs", volume_uid, maps, v))
        return (self.output("particles", "particle", "All particles", particle_files, "particles"),
                self.output("volume", "volume", "Refined volume", volume_files, empty=empty_volume))

    def refine_inputs(self) -> tuple[DocInput, DocInput]:
        """Curated 96-px particles from Select 2D, initial volume from ab-initio."""
        return (self.connected("particles", "particle", "Particle stacks", SLOTS_REFINE, ("J7", "particles_selected")),
                self.connected("volume", "volume", "Initial volume", MAP_SLOT, ("J8", "volume_class_0"), count_max=1))

    def refine(self) -> DocJob:
        return _job(REFINE_UID, "homo_refine_new", "Homogeneous Refinement (96 px)", 180, 50,
                    inputs=self.refine_inputs(), outputs=self.refine_outputs(REFINE_UID, REFINE_VERSIONS),
                    params={"refine_symmetry": "C1", "refine_num_final_iterations": 1})

    def class2d_full_size(self) -> DocJob:
        parts_in = self.connected("particles", "particle", "Particle stacks", SLOTS_2D, (EXTRACT_UID, "particles"))
        particles = self.output("particles", "particle", "Particles with 2D alignments", [], "particles",
                                empty=("alignments2D", "blob", "ctf", "location", "pick_stats"))
        classes = self.output("class_averages", "template", "2D class averages", [], empty=("blob",))
        return _job("J10", "class_2D_new", "2D Classification (452 px, too slow)", 190, 15, status="killed",
                    workspaces=("W2",), inputs=(parts_in,), outputs=(particles, classes),
                    params={"class2D_K": N_CLASSES})

    def nu_refine_failed(self) -> DocJob:
        outputs = self.refine_outputs("J11", (0,), empty_volume=("map_sharp", "mask_fsc", "mask_fsc_auto"))
        return _job("J11", "nonuniform_refine_new", "Non-uniform Refinement", 240, 7, status="failed",
                    inputs=self.refine_inputs(), outputs=outputs, params={"refine_symmetry": "C1"},
                    errors=("CUDA_ERROR_OUT_OF_MEMORY: out of memory (iteration 1, engine 0)",))

    def local_refine(self) -> DocJob:
        particles = self.connected("particles", "particle", "Particle stacks",
                                   doc_slots("blob", "ctf", "alignments3D", "?sym_expand"), (REFINE_UID, "particles"))
        volume = self.connected("volume", "volume", "Initial volume", MAP_SLOT, (REFINE_UID, "volume"), count_max=1)
        # a mask group carries its map as blob (mask.blob, §6.2); optional and left empty
        mask = DocInput("mask", "mask", "Static mask", doc_slots("?mask", dtypes={"mask": "blob"}),
                        count_min=0, count_max=1)
        return _job(LOCAL_REFINE_UID, "new_local_refine", "Local Refinement (for full-size blob)", 270, None,
                    status="building", inputs=(particles, volume, mask),
                    params={"use_pose_prior": True, "fulcrum_mode": "mask_center"})


SLOTS_2D = doc_slots("blob", "ctf", "?alignments2D")
SLOTS_REFINE = doc_slots("blob", "ctf", "?alignments3D")
MAP_SLOT = doc_slots("map", dtypes={"map": "blob"})
INHERITED_2D = ("blob", "ctf", "location", "pick_stats")  # what 2D classification and Select 2D pass through
INHERITED_3D = ("alignments2D", "location", "pick_stats")  # what 3D jobs pass through from curated particles


def _abinit_label(version: int, versions: tuple[int, ...]) -> str:
    """Ab-initio names its last file ``final`` although its version is the iteration number (§4)."""
    return "final" if version == versions[-1] else f"{version:05d}"


def _job(uid: str, type: str, title: str, start_min: int, run_min: int | None, status: str = "completed",
         inputs: tuple[DocInput, ...] = (), **fields) -> DocJob:
    """A job created ``start_min`` minutes into the session that ran for ``run_min`` minutes; its
    parents are the jobs its inputs connect to."""
    created = START + timedelta(minutes=start_min)
    return DocJob(uid, type, title, status, created, parents=parents_of(inputs), inputs=inputs,
                  events=_events(created, status, run_min), **fields)


def _events(created: datetime, status: str, run_min: int | None) -> dict[str, datetime]:
    if status == "building" or run_min is None:
        return {}
    queued = created + timedelta(minutes=2)
    events = {"queued_at": queued, "launched_at": queued + timedelta(seconds=20),
              "started_at": queued + timedelta(seconds=25), "running_at": queued + timedelta(seconds=40)}
    end = {"completed": "completed_at", "killed": "killed_at", "failed": "failed_at"}[status]
    return events | {end: queued + timedelta(minutes=run_min)}

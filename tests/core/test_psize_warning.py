"""The pixel-size warning of an export (issue 10 item 9): given only when the blob and an
alignment come from different outputs (a swap), in words a user acts on — CryoSPARC needs
nothing, a STAR/cryoDRGN conversion multiplies the shift by alignments psize / blob psize."""

from __future__ import annotations

import numpy as np
import pytest

from test_export import alignments, job, particle_blob, result, uids, unchanged, write_cs, write_project  # noqa: F401 (fixture)
from tui.core.export import lay_out_export, prepare_export
from tui.core.export.notices import psize_factor
from tui.core.project import load_project
from tui.core.session import EditSession
from tui.demo.docgen import DocInput, DocOutput, connect_output, doc_slots

N = 40
FULL, SMALL, HETERO = 1.0, 2.5, 3.2


@pytest.fixture
def project(tmp_path, schema, unchanged):
    """J1: full-size extraction (blob 1.0 Å/px). J2: a downsample of it (blob 2.5 Å/px) refined there
    (alignments3D 2.5 Å/px). J4: heterogeneous refinement of J1's particles: blob passed through at
    1.0 Å/px, alignments3D at its own 3.2 Å/px. J3 (building) takes J4's particles, as CryoSPARC
    connected them; J5 (building) takes J2's. J6: another downsample of J1 at 2.5 Å/px."""
    rng = np.random.default_rng(5)
    root = tmp_path / f"psize-{schema}"
    particles = uids(rng, N)
    write_cs(root / "J1/extracted.cs", particles, particle_blob(rng, N, "J1/extract/full.mrc", FULL, 400))
    write_cs(root / "J2/J2_particles.cs", particles[::-1].copy(),
             {**particle_blob(rng, N, "J2/downsampled.mrc", SMALL, 160), **alignments("alignments3D", rng, N, SMALL)})
    write_cs(root / "J4/J4_particles_class_0.cs", particles, alignments("alignments3D", rng, N, HETERO))
    write_cs(root / "J4/J4_passthrough_particles_class_0.cs", particles, particle_blob(rng, N, "J1/extract/full.mrc", FULL, 400))
    write_cs(root / "J6/downsampled.cs", particles, particle_blob(rng, N, "J6/downsampled.mrc", SMALL, 160))
    extracted = DocOutput("particles", "particle", "Particles", (result("blob", "J1/extracted.cs", N),))
    again = DocOutput("particles", "particle", "Particles", (result("blob", "J6/downsampled.cs", N),))
    small = DocOutput("particles", "particle", "Particles", (
        result("blob", "J2/J2_particles.cs", N), result("alignments3D", "J2/J2_particles.cs", N)))
    hetero = DocOutput("particles_class_0", "particle", "Class 0", (
        result("alignments3D", "J4/J4_particles_class_0.cs", N),
        result("blob", "J4/J4_passthrough_particles_class_0.cs", N, passthrough=True)))
    slots = doc_slots("blob", "alignments3D")
    on_hetero = DocInput("particles", "particle", "Particles", slots, (connect_output("J4", hetero, slots),))
    on_small = DocInput("particles", "particle", "Particles", slots, (connect_output("J2", small, slots),))
    write_project(root, [
        job("J1", outputs=(extracted,)), job("J2", outputs=(small,), parents=("J1",)),
        job("J4", outputs=(hetero,), parents=("J1",)), job("J6", outputs=(again,), parents=("J1",)),
        job("J3", "building", inputs=(on_hetero,), parents=("J4",)),
        job("J5", "building", inputs=(on_small,), parents=("J2",)),
    ], schema)
    return load_project(unchanged(root))


def psize_warnings(project, session: EditSession) -> list[str]:
    layout = lay_out_export(project, session.input("particles"), target=session.target.uid)
    return [w for w in prepare_export(project, layout).report.warnings if "pixel sizes differ" in w]


def test_factor_direction():
    """2.5 Å/px poses onto 1.0 Å/px images: a 4 px shift is 10 Å, which is 10 px of the new images."""
    shift_px, factor = 4.0, psize_factor(FULL, SMALL)
    assert factor == pytest.approx(2.5)
    assert shift_px * SMALL == pytest.approx(shift_px * factor * FULL)  # the same shift in Å


def test_heterogeneous_refinement_as_connected_is_not_warned(project):
    """blob 1.0 Å/px, alignments3D 3.2 Å/px, both from J4.particles_class_0: nothing was rebound."""
    assert psize_warnings(project, EditSession(project, "J3")) == []


def test_rebinding_another_slot_does_not_warn(project):
    session = EditSession(project, "J3")
    session.put("particles.0.alignments3D", "J4.particles_class_0.alignments3D.0")  # same output, a version
    assert psize_warnings(project, session) == []


def test_blob_swap_is_warned_with_the_factor(project):
    """The downsampled refinement J2 gets J1's full-size blob: poses at 2.5 Å/px, images at 1.0 Å/px."""
    session = EditSession(project, "J5")
    session.put("particles.0.blob", "J1.particles.blob")
    [warning] = psize_warnings(project, session)
    assert "connection 0 (J2.particles)" in warning
    assert "blob/psize_A 1.0000 Å (blob from J1.particles)" in warning
    assert "alignments3D/psize_A 2.5000 Å (alignments3D from J2.particles)" in warning
    assert "values exported unchanged" in warning
    assert "CryoSPARC needs nothing" in warning and "which is kept" in warning
    assert "multiply alignments3D/shift by alignments3D/psize_A / blob/psize_A = 2.5000/1.0000 = 2.5000" in warning


def test_alignments_swap_is_warned_too(project):
    """The heterogeneous refinement's poses onto the downsampled blob: 3.2 / 2.5 = 1.28."""
    session = EditSession(project, "J5")
    session.put("particles.0.alignments3D", "J4.particles_class_0.alignments3D")
    [warning] = psize_warnings(project, session)
    assert "= 3.2000/2.5000 = 1.2800" in warning
    assert "alignments3D from J4.particles_class_0" in warning


def test_swap_with_equal_pixel_sizes_is_not_warned(project):
    session = EditSession(project, "J5")
    session.put("particles.0.blob", "J6.particles.blob")  # other images, the same 2.5 Å/px as J2's poses
    assert psize_warnings(project, session) == []


def test_blob_and_alignments_from_one_other_output_are_not_a_swap(project):
    """Both slots of J3 rebound to J2.particles: its own blob and poses belong together."""
    session = EditSession(project, "J3")
    session.put("particles.0.blob", "J2.particles.blob")
    session.put("particles.0.alignments3D", "J2.particles.alignments3D")
    assert psize_warnings(project, session) == []


def test_blob_swap_on_a_heterogeneous_refinement_gives_its_factor(project):
    """J1's blob bound explicitly on J3: the factor a .star conversion needs is J4's 3.2 / 1.0."""
    session = EditSession(project, "J3")
    session.put("particles.0.blob", "J1.particles.blob")
    [warning] = psize_warnings(project, session)
    assert "= 3.2000/1.0000 = 3.2000" in warning


def test_pixel_sizes_that_vary_are_rescaled_row_by_row(tmp_path, unchanged):
    rng = np.random.default_rng(8)
    root = tmp_path / "varying"
    particles = uids(rng, N)
    blob = particle_blob(rng, N, "J1/a.mrc", FULL)
    blob["blob/psize_A"] = np.where(np.arange(N) % 2, 1.0, 1.1).astype("f4")
    write_cs(root / "J1/extracted.cs", particles, blob)
    write_cs(root / "J2/J2_particles.cs", particles, {**particle_blob(rng, N, "J2/b.mrc", SMALL),
                                                      **alignments("alignments3D", rng, N, SMALL)})
    extracted = DocOutput("particles", "particle", "Particles", (result("blob", "J1/extracted.cs", N),))
    refined = DocOutput("particles", "particle", "Particles", (
        result("blob", "J2/J2_particles.cs", N), result("alignments3D", "J2/J2_particles.cs", N)))
    slots = doc_slots("blob", "alignments3D")
    target = DocInput("particles", "particle", "Particles", slots, (connect_output("J2", refined, slots),))
    write_project(root, [job("J1", outputs=(extracted,)), job("J2", outputs=(refined,)),
                         job("J3", "building", inputs=(target,), parents=("J2",))])
    project = load_project(unchanged(root))
    session = EditSession(project, "J3")
    session.put("particles.0.blob", "J1.particles.blob")
    [warning] = psize_warnings(project, session)
    assert "blob/psize_A 1.0000–1.1000 Å" in warning and "row by row" in warning

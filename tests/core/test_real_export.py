"""Export on the real J744 refinement (CryoSPARC v2.15 files, ../shared/realdata): pinning the
poses to iteration 0, which holds 2,270 of the 5,908 particles, exports exactly those particles
with iteration 0's poses, in the refinement's own row order (issue 10's test list)."""

from __future__ import annotations

import numpy as np
import pytest

from digest import tree_digest
from realproject import PASSTHROUGH_FILE, VERSION_FILES, j744_project
from tui.core import routes
from tui.core.csfile import load
from tui.core.project import load_project
from tui.core.session import EditSession


@pytest.fixture
def j744(tmp_path, schema):
    return j744_project(tmp_path / f"P2_{schema}", schema)


def table(path) -> np.ndarray:
    return np.array(load(path))


def test_poses_pinned_to_iteration_0_export_its_2270_particles_in_the_refinement_order(j744, tmp_path):
    before = tree_digest(j744)
    session = EditSession(load_project(j744), "J745")
    session.put("particles.0.alignments3D", "J744.particles.alignments3D.0")
    pending = routes.prepare_export(session, "particles", tmp_path / "out")
    report = pending.write()
    exported = table(report.cs_path)

    final = table(j744 / "J744" / VERSION_FILES[-1])  # blob, ctf: the refinement's last iteration
    first = table(j744 / "J744" / VERSION_FILES[0])  # alignments3D: iteration 0
    passthrough = table(j744 / "J744" / PASSTHROUGH_FILE)
    assert (len(final), len(first)) == (5908, 2270)

    kept = final["uid"][np.isin(final["uid"], first["uid"]) & np.isin(final["uid"], passthrough["uid"])]
    assert report.rows == len(exported) == len(kept) == 2270
    assert np.array_equal(exported["uid"], kept)  # the refinement's row order, not iteration 0's

    at_first = first[np.argsort(first["uid"])]
    rows = np.searchsorted(at_first["uid"], exported["uid"])
    assert np.array_equal(exported["alignments3D/pose"], at_first["alignments3D/pose"][rows])
    assert np.array_equal(exported["alignments3D/shift"], at_first["alignments3D/shift"][rows])
    assert not np.array_equal(exported["alignments3D/pose"],
                              final[np.isin(final["uid"], kept)]["alignments3D/pose"])  # not the final poses

    in_final = np.searchsorted(final["uid"], exported["uid"], sorter=np.argsort(final["uid"]))
    order = np.argsort(final["uid"])[in_final]
    assert np.array_equal(exported["blob/idx"], final["blob/idx"][order])
    assert np.array_equal(exported["ctf/df1_A"], final["ctf/df1_A"][order])
    assert tree_digest(j744) == before  # nothing written inside the project

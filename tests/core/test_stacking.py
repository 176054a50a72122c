"""Stacked connections as cryosparc-tools stacks them (issue 10 item 5).

cryosparc-tools 5.0.3 ``cryosparc/dataset/__init__.py``: ``Dataset.append_many`` (l. 263-307)
refuses repeated uids unless ``repeat_allowed`` (l. 290-292) and keeps ``common_fields`` (l. 298),
the (name, type, shape) every dataset has, in the first one's order (l. 523-545). Each export here
is compared with ``Dataset.append_many`` run on the connections exported one at a time.
"""

from __future__ import annotations

import numpy as np
import pytest
import yaml
from cryosparc.dataset import Dataset

from test_export import (  # noqa: F401 (unchanged is a fixture)
    job, location, particle_blob, pick_stats, result, uids, unchanged, write_cs, write_project,
)
from tui.core.errors import ExportError
from tui.core.export import lay_out_export, prepare_export, run_export
from tui.core.project import load_project
from tui.core.session import EditSession
from tui.demo.docgen import DocInput, DocOutput, connect_output, doc_slots

SIZES = {"J1": 120, "J2": 80, "J4": 60, "J5": 50, "J6": 30}


def make_project(root, schema, *, repeat_allowed=False):
    """J1, J2: blob + location + pick_stats (passthrough). J4: no location. J5: blob/psize_A as f8
    and longer paths. J6: only location (no blob, no pick_stats). J3 (building) takes J1 and J2."""
    rng = np.random.default_rng(21)
    outputs = {}
    for uid, n in SIZES.items():
        particles = uids(rng, n)
        path = f"{uid}/extract/{'a_much_longer_stack_name_' if uid == 'J5' else ''}mic_particles.mrc"
        main = particle_blob(rng, n, path) if uid != "J6" else {}
        if uid == "J5":
            main["blob/psize_A"] = main["blob/psize_A"].astype("f8")
        if uid != "J4":
            main |= location(rng, n)
        write_cs(root / f"{uid}/extracted.cs", particles, main)
        results = [] if uid == "J6" else [result("blob", f"{uid}/extracted.cs", n)]
        if uid != "J4":
            results.append(result("location", f"{uid}/extracted.cs", n))
        if uid != "J6":
            write_cs(root / f"{uid}/{uid}_passthrough_particles.cs", particles[rng.permutation(n)], pick_stats(rng, n))
            results.append(result("pick_stats", f"{uid}/{uid}_passthrough_particles.cs", n, passthrough=True))
        outputs[uid] = DocOutput("particles", "particle", "Particles", tuple(results))
    slots = doc_slots("?blob")
    particles_in = DocInput("particles", "particle", "Particles", slots,
                            (connect_output("J1", outputs["J1"], slots), connect_output("J2", outputs["J2"], slots)),
                            repeat_allowed=repeat_allowed)
    jobs = [job(uid, outputs=(outputs[uid],)) for uid in SIZES]
    write_project(root, jobs + [job("J3", "building", inputs=(particles_in,), parents=("J1", "J2"))], schema)
    return root


@pytest.fixture
def project(tmp_path, schema, unchanged):
    return load_project(unchanged(make_project(tmp_path / f"stack-{schema}", schema)))


def as_cryosparc_tools(project, session, out, *, repeat_allowed=False) -> Dataset:
    """Each connection exported alone, then stacked by cryosparc-tools itself."""
    group = session.input("particles")
    parts = []
    for index in range(len(group.connections)):
        run_export(project, group, out, f"alone{index}", connection=index)
        parts.append(Dataset.load(str(out / f"alone{index}.cs")))
    return Dataset.append_many(*parts, repeat_allowed=repeat_allowed)


def assert_same(table: np.ndarray, expected: Dataset):
    assert list(table.dtype.names) == expected.fields()
    for name in expected.fields():
        values = table[name]
        if values.dtype.kind == "S":
            values = values.astype(object).astype(str)
        np.testing.assert_array_equal(values, np.asarray(expected[name]), err_msg=name)


def test_fields_one_connection_lacks_are_dropped_and_listed(project, tmp_path):
    session = EditSession(project, "J3")
    session.put_group("particles", "J4", "particles")
    report = run_export(project, session.input("particles"), tmp_path / "out", "three")
    table = np.load(tmp_path / "out" / "three.cs")
    assert len(table) == report.rows == 120 + 80 + 60
    assert not [n for n in table.dtype.names if n.startswith("location/")]
    assert report.dropped == [
        "location/micrograph_path, location/center_x_frac: not in connection 2 (J4.particles)"
    ]
    lines = report.lines()
    assert "  dropped: location/micrograph_path, location/center_x_frac: not in connection 2 (J4.particles)" in lines
    assert any("Dataset.append_many" in line and line.startswith("  note:") for line in lines)
    assert any("location ← J1.particles.location" in line and "(dropped: not stacked" in line for line in lines)
    csg = yaml.safe_load((tmp_path / "out" / "three.csg").read_text())
    assert set(csg["results"]) == {"blob", "pick_stats"}  # location left the .csg with its columns
    assert_same(table, as_cryosparc_tools(project, session, tmp_path / "alone"))


def test_fields_of_another_type_are_dropped_strings_of_another_width_are_not(project, tmp_path):
    """J5 stores blob/psize_A as f8 (cryosparc-tools compares name, type and shape) and longer
    paths (strings are Python objects in cryosparc-tools: width is no difference)."""
    session = EditSession(project, "J3")
    session.put_group("particles", "J5", "particles")
    report = run_export(project, session.input("particles"), tmp_path / "out", "five")
    table = np.load(tmp_path / "out" / "five.cs")
    assert report.dropped == [
        "blob/psize_A: types differ (<f4 in connection 0 (J1.particles), <f4 in connection 1 (J2.particles), "
        "<f8 in connection 2 (J5.particles))"
    ]
    assert "blob/psize_A" not in table.dtype.names
    assert table.dtype["blob/path"].itemsize == len(b"J5/extract/a_much_longer_stack_name_mic_particles.mrc")
    assert table["blob/path"][-1] == b"J5/extract/a_much_longer_stack_name_mic_particles.mrc"
    assert_same(table, as_cryosparc_tools(project, session, tmp_path / "alone"))


def test_connections_sharing_only_uid_are_refused(project, tmp_path):
    session = EditSession(project, "J3")
    session.remove_connection("particles", 1)
    session.put_group("particles", "J6", "particles")  # location only
    session.put_group("particles", "J4", "particles")  # blob + pick_stats: no field all three share but uid
    with pytest.raises(ExportError, match="share no field but uid"):
        lay_out_export(project, session.input("particles"))


def test_same_fields_drop_nothing(project, tmp_path):
    report = run_export(project, EditSession(project, "J3").input("particles"), tmp_path / "out", "two")
    assert report.dropped == [] and not any("dropped:" in line for line in report.lines())


def test_repeated_uids_are_refused_unless_the_input_allows_repeats(project, tmp_path):
    session = EditSession(project, "J3")
    session.put_group("particles", "J1", "particles")  # J1 twice
    with pytest.raises(ExportError) as info:
        run_export(project, session.input("particles"), tmp_path / "out", "twice")
    message = str(info.value)
    assert "120 uid(s) appear in more than one connection" in message and "repeat_allowed is false" in message
    assert "nothing written" in message
    assert not (tmp_path / "out").exists()
    with pytest.raises(AssertionError, match="same UIDs"):  # what cryosparc-tools does with them
        as_cryosparc_tools(project, session, tmp_path / "alone")


def test_repeated_uids_are_kept_when_the_input_allows_repeats(tmp_path, schema, unchanged):
    project = load_project(unchanged(make_project(tmp_path / "repeats", schema, repeat_allowed=True)))
    session = EditSession(project, "J3")
    session.put_group("particles", "J1", "particles")
    layout = lay_out_export(project, session.input("particles"))
    assert layout.repeat_allowed
    report = prepare_export(project, layout).write(tmp_path / "out", "twice")
    assert report.rows == 120 + 80 + 120
    assert any("120 uid(s) appear in more than one connection; kept" in w for w in report.warnings)
    table = np.load(tmp_path / "out" / "twice.cs")
    assert_same(table, as_cryosparc_tools(project, session, tmp_path / "alone", repeat_allowed=True))

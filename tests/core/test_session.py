"""The edit session: puts, group connects, clears, undo/redo, changes, validation and plans."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from tui.core.errors import EditError, PlanError, RefError
from tui.core.live import planned_operations
from tui.core.project import load_project
from tui.core.refs import ResultRef
from tui.core.session import EditSession, incompatibility, match_results


@pytest.fixture
def project(demo_project):
    return load_project(demo_project)


def bound(session, address):
    binding = session.binding(address)
    return str(binding.ref) if binding else None


def test_put_rebinds_one_slot_and_records_the_change(project):
    session = EditSession(project, "J12")
    change = session.put("particles.0.blob", "J5.particles.blob.F")
    assert str(change) == "particles.0.blob: J9.particles.blob.F → J5.particles.blob.F"
    assert bound(session, "particles.0.blob") == "J5.particles.blob.F"
    assert bound(session, "J12.particles.0.ctf") == "J9.particles.ctf.F"  # untouched
    assert [str(c) for c in session.changes()] == [str(change)]
    assert session.dirty and session.appliable


def test_put_a_version_by_value(project):
    session = EditSession(project, "J12")
    session.put("particles.0.alignments3D", ResultRef("J9", "particles", "alignments3D", 3))
    assert bound(session, "particles.0.alignments3D") == "J9.particles.alignments3D.3"
    with pytest.raises(RefError, match=r"version 4 is not stored; stored versions: 0, 1, 2, 3, 5, 7"):
        session.put("particles.0.alignments3D", "J9.particles.alignments3D.4")
    assert len(session.changes()) == 1


def test_incompatible_put_is_refused_and_changes_nothing(project):
    session = EditSession(project, "J12")
    before = session.inputs
    with pytest.raises(EditError) as info:
        session.put("particles.0.alignments3D", "J9.volume.map.F")
    assert str(info.value) == "slot alignments3D takes particle alignments3D, not volume blob"
    with pytest.raises(EditError, match="slot blob takes particle blob, not particle ctf"):
        session.put("particles.0.blob", "J9.particles.ctf")
    assert session.inputs is before and not session.can_undo


def test_names_may_differ_when_dtypes_match(project):
    """alignments_class_N-style results fill an alignments3D slot: only dtype and group type count."""
    group = project.job("J12").input("particles")
    slot = group.slot("alignments3D")
    abinit = project.result(ResultRef("J8", "particles_class_0", "alignments3D"))
    renamed = type(abinit)(**{**{f: getattr(abinit, f) for f in abinit.__slots__}, "name": "alignments_class_2"})
    assert incompatibility(group, slot, renamed) is None


@pytest.mark.parametrize(
    "address, ref, message",
    [
        ("particles.3.blob", "J5.particles.blob", "input particles has no connection 3; it has connections 0–0"),
        ("mask.0.mask", "J9.volume.mask_refine", "input mask has no connection 0; connect an output group first (P)"),
        ("particles.0.nope", "J5.particles.blob", "input particles has no slot 'nope'"),
        ("ghosts.0.blob", "J5.particles.blob", "J12 has no input 'ghosts'; its inputs: particles, volume, mask"),
        ("J9.particles.0.blob", "J5.particles.blob", "J9.particles.0.blob is a slot of J9, but the target is J12"),
        ("particles.0.blob", "J99.particles.blob", "job J99 is not in project"),
    ],
)
def test_bad_addresses_and_refs_are_named(project, address, ref, message):
    session = EditSession(project, "J12")
    with pytest.raises((RefError, EditError)) as info:
        session.put(address, ref)
    assert message in str(info.value)
    assert not session.dirty


def test_clear_and_validation_of_required_slots(project):
    session = EditSession(project, "J12")
    session.clear("particles.0.ctf")
    assert bound(session, "particles.0.ctf") is None
    with pytest.raises(EditError, match="already empty"):
        session.clear("particles.0.ctf")
    assert "error: particles.0.ctf: required slot is empty" in [str(i) for i in session.validate()]


def test_group_connect_new_and_over_existing(project):
    session = EditSession(project, "J12")
    change = session.put_group("particles", "J5", "particles")
    assert str(change) == "particles.1: (empty) → J5.particles"
    new = session.input("particles").connections[1]
    assert {b.slot: str(b.ref) for b in new.slot_bindings} == {
        "blob": "J5.particles.blob.F", "ctf": "J5.particles.ctf.F"}
    assert [str(b.ref) for b in new.passthrough] == ["J5.particles.location.F", "J5.particles.pick_stats.F"]
    messages = [str(i) for i in session.validate()]
    assert "error: particles.1.alignments3D: required slot is empty" in messages
    change = session.put_group("volume", "J8", "volume_class_0", 0)
    assert str(change) == "volume.0: J9.volume → J8.volume_class_0"
    assert bound(session, "volume.0.map") == "J8.volume_class_0.map.F"
    session.put_group("volume", "J9", "volume")
    assert "error: input volume takes at most 1 connection(s); it has 2" in [str(i) for i in session.validate()]
    with pytest.raises(EditError, match="input volume takes volume outputs, not particle"):
        session.put_group("volume", "J5", "particles")


def test_match_results_prefers_name_then_dtype(project):
    from dataclasses import replace

    volume = project.job("J12").input("volume")
    source = project.output("J9", "volume")
    by_name = match_results(volume.slots, source)
    assert [(b.slot, b.ref.result) for b in by_name if b.slot] == [("map", "map")]
    assert len([b for b in by_name if b.slot is None]) == len(source.results) - 1
    without_map = replace(source, results=tuple(r for r in source.results if r.name != "map"))
    by_dtype = match_results(volume.slots, without_map)
    assert [(b.slot, b.ref.result) for b in by_dtype if b.slot] == [("map", "map_half_A")]


def test_repeat_not_allowed_and_count_min(project):
    session = EditSession(project, "J12")
    session.put_group("particles", "J9", "particles")
    assert any("connects the same output twice" in i.message for i in session.validate())
    session.remove_connection("particles", 0)
    session.remove_connection("particles", 0)
    assert any("needs at least 1 connection" in i.message for i in session.validate())


def test_not_building_is_a_draft(project):
    session = EditSession(project, "J9")
    assert not session.appliable
    (issue, *_) = session.validate()
    assert issue.severity == "warning" and "J9 is completed: edits are a draft" in issue.message


def test_compatible_slots(project):
    session = EditSession(project, "J12")
    slots = {str(a) for a in session.compatible_slots(ResultRef("J5", "particles_fcrop", "blob"))}
    assert slots == {"particles.0.blob"}
    assert {str(a) for a in session.compatible_slots(ResultRef("J9", "volume", "map"))} == {"volume.0.map"}
    assert session.compatible_inputs("J7", "particles_selected") == ["particles"]


def _edits(project):
    """A pool of edits (some refused) to drive random sequences."""
    return [
        lambda s: s.put("particles.0.blob", "J5.particles.blob"),
        lambda s: s.put("particles.0.blob", "J5.particles_fcrop.blob"),
        lambda s: s.put("particles.0.alignments3D", "J9.particles.alignments3D.3"),
        lambda s: s.put("particles.0.alignments3D", "J8.particles_class_0.alignments3D.100"),
        lambda s: s.put("particles.0.ctf", "J9.volume.map"),  # refused
        lambda s: s.clear("particles.0.ctf"),
        lambda s: s.put_group("particles", "J7", "particles_selected"),
        lambda s: s.put_group("volume", "J8", "volume_class_0", 0),
        lambda s: s.remove_connection("particles", 0),
    ]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.integers(min_value=0, max_value=8), max_size=12), st.data())
def test_undo_returns_to_the_loaded_state(project, picks, data):
    session = EditSession(project, "J12")
    edits = _edits(project)
    applied = 0
    states = [session.inputs]
    for pick in picks:
        try:
            edits[pick](session)
        except (EditError, RefError):
            assert session.inputs == states[-1]  # a refused edit changes nothing
            continue
        applied += 1
        states.append(session.inputs)
    undos = data.draw(st.integers(min_value=0, max_value=applied))
    for _ in range(undos):
        assert session.undo()
    assert session.inputs == states[applied - undos]
    for _ in range(undos):
        assert session.redo()
    assert session.inputs == states[-1]
    for _ in range(applied):
        session.undo()
    assert session.inputs == session.loaded and not session.dirty and session.changes() == []
    assert not session.undo()


def test_new_edit_clears_redo(project):
    session = EditSession(project, "J12")
    session.put("particles.0.blob", "J5.particles.blob")
    session.undo()
    session.put("particles.0.ctf", "J5.particles.ctf")
    assert not session.redo()


def test_plan_round_trip(project, tmp_path):
    session = EditSession(project, "J12")
    session.put("particles.0.blob", "J5.particles.blob")
    session.put("particles.0.alignments3D", "J9.particles.alignments3D.3")
    session.put_group("volume", "J8", "volume_class_0", 0)
    plan = json.loads(json.dumps(session.to_plan()))
    assert plan["format"] == "csrebind-plan" and plan["format_version"] == 1 and plan["target"] == "J12"
    restored = EditSession.from_plan(load_project(project.path), plan)
    assert restored.inputs == session.inputs
    assert [str(c) for c in restored.changes()] == [str(c) for c in session.changes()]
    assert restored.undo() and restored.inputs == restored.loaded
    assert planned_operations(restored.loaded, plan_inputs(restored)) == planned_operations(session.loaded, session.inputs)


def plan_inputs(session):
    session.redo()
    return session.inputs


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda p: p.update(format="something"), "not a csrebind plan"),
        (lambda p: p.update(format_version=99), "plan format version 99 is not supported"),
        (lambda p: p["project"].update(uid="P77"), "plan is for project P77"),
        (lambda p: p.update(target="J404"), "plan target: job J404 is not in project"),
        (lambda p: p["inputs"][0].update(name="nope"), "plan names input 'nope'"),
        (lambda p: p["inputs"][0]["connections"][0]["bindings"][0].update(ref="J5..blob"), "plan input particles"),
        (lambda p: p["inputs"][0]["connections"][0].pop("job"), "malformed connection"),
    ],
)
def test_bad_plans_are_refused(project, mutate, message):
    session = EditSession(project, "J12")
    session.put("particles.0.blob", "J5.particles.blob")
    plan = json.loads(json.dumps(session.to_plan()))
    mutate(plan)
    with pytest.raises(PlanError) as info:
        EditSession.from_plan(project, plan)
    assert message in str(info.value)


def test_operations_for_the_design_brief(project):
    session = EditSession(project, "J12")
    session.put("particles.0.blob", "J5.particles.blob")
    session.put("particles.0.alignments3D", "J9.particles.alignments3D.3")
    assert [op.describe() for op in planned_operations(session.loaded, session.inputs)] == [
        "connect J5.particles.blob.F to particles.0.blob",
        "connect J9.particles.alignments3D.3 to particles.0.alignments3D",
    ]


def test_putting_the_same_result_again_is_not_an_edit(project):
    session = EditSession(project, "J12")
    with pytest.raises(EditError, match="particles.0.blob is already J9.particles.blob.F"):
        session.put("particles.0.blob", "J9.particles.blob")
    assert not session.can_undo


def test_step_version_is_clamped_and_ends_at_final(project):
    result = project.result(ResultRef("J9", "particles", "alignments3D"))
    assert result.step_version("F", -1) == 5
    assert result.step_version(5, -3) == 1
    assert result.step_version(0, -1) == 0
    assert result.step_version(5, 1) == "F" and result.step_version("F", 4) == "F"

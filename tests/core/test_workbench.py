"""The workbench without a terminal: targets, the register, picks, edits, written state, journal."""

from __future__ import annotations

import threading

import pytest

from tui.core.errors import CsRebindError, RefError
from tui.core.journal import JournalWriter, load_journal
from tui.core.project import load_project
from tui.core.refs import OutputRef, ResultRef, SlotAddress
from tui.core.workbench import Workbench, pick_key


@pytest.fixture
def bench(demo_project) -> Workbench:
    return Workbench(load_project(demo_project))


def result(bench: Workbench, job: str, output: str, name: str):
    return bench.project.job(job).output(output).result(name)


def test_no_target_refuses_edits(bench):
    assert bench.session is None
    with pytest.raises(CsRebindError, match="no target job: highlight a job and press t"):
        bench.undo()
    with pytest.raises(CsRebindError, match="no target job"):
        bench.put(SlotAddress.parse("particles.0.blob"))


def test_target_messages_say_draft_or_label(bench):
    assert bench.set_target("J12") == "target J12 Local Refinement (for full-size blob)"
    assert bench.session.target.uid == "J12"
    assert bench.set_target("J11") == "target J11 is failed: a draft (export works; not appliable live)"
    assert set(bench.sessions) == {"J11", "J12"}  # each target keeps its own session
    with pytest.raises(RefError):
        bench.choose_target("K3")


def test_yank_uses_the_picked_version_and_put_binds_it(bench):
    bench.set_target("J12")
    align = result(bench, "J9", "particles", "alignments3D")
    assert bench.pick(align) == "F"
    assert bench.set_pick(align, 3) == "picked J9.particles.alignments3D.3"
    assert bench.picks[pick_key(align)] == 3
    bench.yank(align)
    assert bench.register == ResultRef("J9", "particles", "alignments3D", 3)
    assert bench.register_text() == "yanked J9.particles.alignments3D.3"
    slots, inputs = bench.compatible()
    assert "particles.0.alignments3D" in slots and inputs == set()
    message = bench.put(SlotAddress.parse("particles.0.alignments3D"))
    assert "J9.particles.alignments3D.3" in message
    assert str(bench.session.binding("particles.0.alignments3D").ref) == "J9.particles.alignments3D.3"


def test_set_pick_refuses_a_version_that_is_not_stored(bench):
    align = result(bench, "J9", "particles", "alignments3D")
    with pytest.raises(CsRebindError):
        bench.set_pick(align, 999)
    assert bench.pick(align) == "F"  # unchanged


def test_step_pick_walks_the_versions(bench):
    align = result(bench, "J9", "particles", "alignments3D")
    bench.step_pick(align, -1)
    before_final = bench.pick(align)
    assert isinstance(before_final, int) and before_final == align.versions[-2]
    bench.step_pick(align, 1)
    assert bench.pick(align) == "F"


def test_yank_text_result_or_group(bench):
    bench.set_target("J12")
    bench.yank_text("J7.particles_selected")
    assert bench.register == OutputRef("J7", "particles_selected")
    assert bench.register_text() == "yanked group J7.particles_selected"
    assert bench.compatible() == (set(), {"particles"})
    with pytest.raises(CsRebindError, match="the register holds a group \\(use P\\); yank a result with y first"):
        bench.put(SlotAddress.parse("particles.0.blob"))
    bench.yank_text("J5.particles.blob")
    assert bench.register == ResultRef("J5", "particles", "blob", "F")
    with pytest.raises(CsRebindError):
        bench.yank_text("J5.particles.nope")
    assert bench.register == ResultRef("J5", "particles", "blob", "F")  # a refused yank keeps the register
    bench.clear_register()
    assert bench.register is None and bench.register_text() == ""


def test_connect_takes_the_group_of_a_yanked_result(bench):
    bench.set_target("J12")
    with pytest.raises(CsRebindError, match="the register is empty; yank an output group with Y first"):
        bench.connect("particles", None)
    bench.yank_text("J7.particles_selected.blob")
    bench.connect("particles", None)
    connections = bench.session.input("particles").connections
    assert [(c.job, c.output) for c in connections] == [("J9", "particles"), ("J7", "particles_selected")]


def test_undo_redo_messages(bench):
    bench.set_target("J12")
    with pytest.raises(CsRebindError, match="nothing to undo: this is the job as loaded"):
        bench.undo()
    bench.clear(SlotAddress.parse("particles.0.ctf"))
    assert bench.undo() == "undone · 0 pending edit(s)"
    assert bench.redo() == "redone · 1 pending edit(s)"
    with pytest.raises(CsRebindError, match="nothing to redo"):
        bench.redo()


def test_written_state_is_per_target_and_per_exported_input(bench):
    bench.set_target("J12")
    bench.yank_text("J5.particles.blob")
    bench.put(SlotAddress.parse("particles.0.blob"))
    bench.clear(SlotAddress.parse("volume.0.map"))
    assert bench.unsaved_targets() == ["J12"] and bench.unsaved_edits() == 2
    bench.mark_written("J12", "export", "particles")  # an export writes one input
    assert bench.unsaved_targets() == ["J12"]  # the volume edit is not written anywhere
    assert [(uid, c.address) for uid, c in bench.unwritten_edits()] == [("J12", "volume.0.map")]
    bench.mark_written("J12", "plan")  # a plan writes everything
    assert bench.unsaved_targets() == [] and bench.unsaved_edits() == 0
    bench.undo()
    assert bench.unsaved_targets() == []  # the blob edit alone is what the export wrote
    bench.undo()
    bench.clear(SlotAddress.parse("particles.0.ctf"))
    assert bench.unsaved_targets() == ["J12"]  # a state no route wrote


def test_written_state_is_per_route(bench):
    """Issue 9 bug 9: each route keeps what it wrote; a later plan does not undo an export's record."""
    bench.set_target("J12")
    bench.yank_text("J5.particles.blob")
    bench.put(SlotAddress.parse("particles.0.blob"))
    bench.mark_written("J12", "export", "particles")
    bench.clear(SlotAddress.parse("particles.0.ctf"))
    bench.mark_written("J12", "script")  # a script records the whole session, as a plan does
    bench.undo()  # back to the exported state: the export wrote it
    assert bench.unsaved_targets() == []
    bench.clear(SlotAddress.parse("volume.0.map"))
    assert [c.address for _, c in bench.unwritten_edits()] == ["volume.0.map"]
    with pytest.raises(ValueError, match="unknown route"):
        bench.mark_written("J12", "email")


def test_a_plan_file_opened_and_left_unchanged_is_written(bench):
    """Issue 9 bug 9: --plan FILE with no further change is not 'not written'."""
    bench.set_target("J12")
    bench.yank_text("J5.particles.blob")
    bench.put(SlotAddress.parse("particles.0.blob"))
    bench.clear(SlotAddress.parse("volume.0.map"))
    plan = bench.session.to_plan()
    reopened = Workbench(load_project(bench.project.path))
    session = reopened.open_plan(plan)
    assert len(session.changes()) == 2
    assert reopened.unsaved_targets() == [] and reopened.unwritten_edits() == []
    reopened.clear(SlotAddress.parse("particles.0.ctf"))
    assert [c.address for _, c in reopened.unwritten_edits()] == ["particles.0.ctf"]


def test_an_export_keeps_the_session_in_the_journal(bench):
    """Issue 9 bug 9: the journal holds every session with edits, written out or not, and what
    each route wrote, so a restored session knows what is already written."""
    bench.set_target("J12")
    bench.yank_text("J5.particles.blob")
    bench.put(SlotAddress.parse("particles.0.blob"))
    bench.mark_written("J12", "export", "particles")
    assert bench.unsaved_targets() == []
    snapshot = bench.journal_snapshot()
    assert [plan["target"] for plan in snapshot.plans] == ["J12"]
    assert list(snapshot.plans[0]["written"]) == ["export"]
    restored = Workbench(load_project(bench.project.path))
    session = restored.restore(snapshot.plans[0])
    assert [str(c) for c in session.changes()] == ["particles.0.blob: J9.particles.blob.F → J5.particles.blob.F"]
    assert restored.unsaved_targets() == []  # the export is remembered
    restored.clear(SlotAddress.parse("volume.0.map"))
    assert restored.unsaved_targets() == ["J12"]


def test_restore_refuses_a_malformed_session_in_words(bench):
    bench.set_target("J12")
    bench.clear(SlotAddress.parse("particles.0.ctf"))
    entry = bench.journal_snapshot().plans[0]
    restored = Workbench(load_project(bench.project.path))
    with pytest.raises(CsRebindError):
        restored.restore({**entry, "inputs": 5})
    damaged_record = {**entry, "written": {"plan": [{"name": "nope"}], "export": "x"}}
    restored.restore(damaged_record)  # a damaged record of what was written only counts as unwritten
    assert restored.unsaved_targets() == ["J12"]


def test_export_input_is_the_cursor_then_the_first_edited_then_the_first(bench):
    bench.set_target("J12")
    assert bench.export_input_name("volume") == "volume"
    assert bench.export_input_name(None) == "particles"
    bench.clear(SlotAddress.parse("volume.0.map"))
    assert bench.export_input_name(None) == "volume"


def test_journal_snapshot_holds_every_session_with_edits(bench):
    bench.set_target("J12")
    bench.clear(SlotAddress.parse("particles.0.ctf"))
    bench.set_target("J11")
    snapshot = bench.journal_snapshot()
    assert [plan["target"] for plan in snapshot.plans] == ["J12"]
    assert bench.journal.write(snapshot)
    assert [plan["target"] for plan in load_journal(bench.project.path)] == ["J12"]
    restored = Workbench(load_project(bench.project.path))
    session = restored.restore(load_journal(bench.project.path)[0])
    assert restored.target == "J12" and [str(c) for c in session.changes()] == [str(c) for c in bench.session_for("J12").changes()]
    assert restored.unsaved_targets() == ["J12"]


def test_journal_writer_never_lets_an_older_snapshot_win(tmp_path):
    writer = JournalWriter(tmp_path)
    older = writer.snapshot([{"target": "J1"}])
    newer = writer.snapshot([{"target": "J2"}])
    assert writer.write(newer)
    assert not writer.write(older)
    assert [p["target"] for p in load_journal(tmp_path)] == ["J2"]
    assert writer.write(writer.snapshot([]))  # nothing left to journal: the file goes
    assert not writer.path.exists()
    assert writer.write(writer.snapshot([{"target": "J4"}]))
    assert [p["target"] for p in load_journal(tmp_path)] == ["J4"]
    writer.discard()
    assert not writer.path.exists() and not writer.path.with_suffix(".lock").exists()
    assert not writer.write(writer.snapshot([{"target": "J3"}]))  # nothing brings it back after a quit
    assert load_journal(tmp_path) == []


def test_journal_writes_from_threads_end_with_the_newest(tmp_path):
    writer = JournalWriter(tmp_path)
    snapshots = [writer.snapshot([{"target": f"J{i}"}]) for i in range(1, 41)]
    threads = [threading.Thread(target=writer.write, args=(s,)) for s in reversed(snapshots)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [p["target"] for p in load_journal(tmp_path)] == ["J40"]


def test_slot_versions_step_and_set_as_edits(bench):
    bench.set_target("J12")
    poses = SlotAddress.parse("particles.0.alignments3D")
    assert bench.step_slot_version(poses, -1) == (
        "particles.0.alignments3D: J9.particles.alignments3D.F → J9.particles.alignments3D.5"
    )
    assert bench.step_slot_version(poses, -10).endswith("→ J9.particles.alignments3D.0")
    with pytest.raises(CsRebindError, match="already at the oldest version of J9.particles.alignments3D"):
        bench.step_slot_version(poses, -1)
    assert bench.set_slot_version(poses, 3).endswith("→ J9.particles.alignments3D.3")
    with pytest.raises(RefError, match="version 4 is not stored"):
        bench.set_slot_version(poses, 4)
    with pytest.raises(CsRebindError, match="particles.0.sym_expand is empty"):
        bench.step_slot_version(SlotAddress.parse("particles.0.sym_expand"), 1)
    assert bench.undo() and str(bench.session.binding(poses).ref) == "J9.particles.alignments3D.0"
    assert bench.picks == {}  # the outputs pane's picks are not touched

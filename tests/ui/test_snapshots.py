"""A few SVG snapshots of what users see (behaviour is checked in test_ui.py).

Update after a deliberate change with `python -m pytest tests/ui/test_snapshots.py --snapshot-update`
and look at the SVGs before committing them.
"""

from __future__ import annotations

import pytest

from tui.demo import write_demo
from tui.ui.app import make_app

import pilot as scenario

SIZE = (120, 34)


@pytest.fixture
def snapshot_demo(tmp_path, monkeypatch):
    # Fixed paths: the help screen shows the config file's location.
    monkeypatch.setenv("XDG_CONFIG_HOME", "/nonexistent/config")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    return write_demo(tmp_path / "CS-demo", schema="v4")


def test_main_screen(snap_compare, snapshot_demo):
    assert snap_compare(make_app(snapshot_demo), terminal_size=SIZE, run_before=scenario.ready)


def test_compatible_slots_highlighted(snap_compare, snapshot_demo):
    assert snap_compare(make_app(snapshot_demo), terminal_size=SIZE, run_before=scenario.full_size_blob_yanked)


def test_after_put(snap_compare, snapshot_demo):
    assert snap_compare(make_app(snapshot_demo), terminal_size=SIZE, run_before=scenario.full_size_blob_put)


def test_incompatible_put_message(snap_compare, snapshot_demo):
    assert snap_compare(make_app(snapshot_demo), terminal_size=SIZE, run_before=scenario.incompatible_put)


def test_version_picker(snap_compare, snapshot_demo):
    assert snap_compare(make_app(snapshot_demo), terminal_size=SIZE, run_before=scenario.version_picker)


def test_help_screen(snap_compare, snapshot_demo):
    assert snap_compare(make_app(snapshot_demo), terminal_size=SIZE, run_before=scenario.help_screen)


def test_small_terminal(snap_compare, snapshot_demo):
    assert snap_compare(make_app(snapshot_demo), terminal_size=(80, 24), run_before=scenario.full_size_blob_yanked)

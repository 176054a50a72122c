"""Shared fixtures: environment isolation, the real-data folder, reference and demo projects."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hypothesis import settings

# Hypothesis profiles: "ci" (the default) is reproducible, and test_fuzz.py keeps it small;
# `python -m pytest tests/core/test_fuzz.py --hypothesis-profile=long` runs a long, randomized
# fuzzing campaign (the plugin loads the named profile after this module registers it).
settings.register_profile("ci", deadline=None, derandomize=True)
settings.register_profile("long", deadline=None, max_examples=5000)
settings.load_profile("ci")

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data"
REALDATA = REPO.parent / "shared" / "realdata"


@pytest.fixture(autouse=True)
def isolated_environment(tmp_path_factory, monkeypatch):
    """No user config, state, cache or colour setting may leak into a test."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / "state"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / "cache"))
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("TEXTUAL_THEME", raising=False)
    monkeypatch.delenv("TEXTUAL_ANIMATIONS", raising=False)
    for name in list(__import__("os").environ):
        if name.startswith("CSREBIND_"):
            monkeypatch.delenv(name, raising=False)


@pytest.fixture(params=["v4", "v5"])
def schema(request) -> str:
    return request.param


@pytest.fixture
def reference_project(tmp_path, schema) -> Path:
    """The worked examples of cryosparc-data.md §3.6–3.8 (J688 producer, J690 consumer)."""
    target = tmp_path / f"P12_{schema}"
    shutil.copytree(DATA / f"reference_{schema}", target)
    return target


@pytest.fixture
def demo_project(tmp_path, schema) -> Path:
    from tui.demo import write_demo

    return write_demo(tmp_path / f"CS-demo-{schema}", schema=schema)

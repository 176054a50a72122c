"""The core's import rules.

1. The core never pulls in the UI toolkit: checked in a fresh interpreter, because once any test
   has imported textual an in-process check would prove nothing.
2. The core is layered: a module imports only modules of its own layer or lower ones, never the
   UI, the CLI or the demo generator. Checked on the source (every import, also inside functions),
   so a lazy import cannot hide a dependency the wrong way.
"""

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO

# Lowest first. A module may import its own layer and those before it. A subpackage (export,
# live) counts as one module; a name absent on disk is simply not checked.
CORE_LAYERS: tuple[tuple[str, ...], ...] = (
    ("errors", "atomic", "config", "destination", "filecache", "untrusted", "gcpause"),
    ("refs",),
    ("model",),
    ("fastdoc",),
    ("jobdoc", "csfile", "facts", "uids"),
    ("jobread",),
    ("summarycache",),
    ("project",),
    ("session", "planfile", "views", "commands", "journal", "diff", "completion", "history", "joblist"),
    ("export", "live"),
    ("preview", "candidates"),
    ("workbench", "routes"),
)
LAYER = {name: rank for rank, names in enumerate(CORE_LAYERS) for name in names}


def probed_modules() -> list[str]:
    """Every module under tui.core (subpackages too) and tui.demo, so a new one is checked without
    editing this test."""
    import tui.core
    import tui.demo

    found = {"tui.core", "tui.demo"}
    for package in (tui.core, tui.demo):
        found.update(m.name for m in pkgutil.walk_packages(package.__path__, package.__name__ + "."))
    return sorted(found)


PROBED_MODULES = probed_modules()


def test_every_core_module_is_listed():
    expected = {
        "tui.core.session", "tui.core.planfile", "tui.core.destination", "tui.core.csfile",
        "tui.core.export", "tui.core.export.layout", "tui.core.export.join", "tui.core.export.write",
        "tui.core.live", "tui.core.live.apply", "tui.core.live.settings", "tui.core.live.adapter",
        "tui.core.live.script", "tui.core.live.operations", "tui.demo", "tui.demo.project", "tui.demo.docgen",
    }
    assert expected <= set(PROBED_MODULES)


def test_core_imports_neither_textual_nor_rich():
    code = (
        "import importlib, sys\n"
        f"for name in {PROBED_MODULES!r}:\n"
        "    importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich'))\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""


@pytest.mark.parametrize("entry", ["tui.ui.app", "tui.cli"])
def test_start_up_imports_only_what_the_first_screen_needs(entry):
    """numpy, PyYAML and cryosparc-tools cost start-up time the job list does not need: they are
    imported when a .cs file is read, a config file exists, or a plan is applied."""
    code = (
        f"import sys, {entry}\n"
        "print(','.join(sorted({m.split('.')[0] for m in sys.modules} & {'numpy', 'yaml', 'cryosparc'})))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""


def test_hygiene_check_can_fail():
    """The same probe reports textual when something does import it."""
    code = "import sys, textual.app; print(','.join(sorted(m for m in sys.modules if m == 'textual')))"
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "textual"


# --- layers ---------------------------------------------------------------------------------------


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def source_modules(package_dir: Path) -> dict[str, str]:
    """Module name → source, for every .py file under ``package_dir``."""
    return {module_name(f): f.read_text(encoding="utf-8") for f in sorted(package_dir.rglob("*.py"))}


def imported_modules(name: str, source: str, is_package: bool, known: set[str]) -> set[str]:
    """Every module ``name`` imports anywhere in its source, relative imports resolved."""
    package = name if is_package else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1])
                stem = f"{base}.{node.module}" if node.module else base
            else:
                stem = node.module or ""
            for alias in node.names:  # "from . import export" imports the module tui.core.export
                full = f"{stem}.{alias.name}"
                found.add(full if full in known else stem)
    return found


def layer_of(module: str) -> str | None:
    """The layer name of a core module: its first component under tui.core."""
    return module.split(".")[2] if module.startswith("tui.core.") else None


def layer_violations(modules: dict[str, str], packages: set[str] = frozenset()) -> list[str]:
    """What breaks the layer rules in ``modules`` (name → source of tui.core modules)."""
    known = set(modules) | packages
    problems: list[str] = []
    for name, source in sorted(modules.items()):
        if name == "tui.core":
            continue
        own = layer_of(name)
        if own not in LAYER:
            problems.append(f"{name} is in no layer; add {own!r} to CORE_LAYERS")
            continue
        for target in sorted(imported_modules(name, source, name in packages, known)):
            if target == "tui" or target == "tui.core" or layer_of(target) == own:
                continue  # the version string; the package docstring; its own layer's package
            if target.startswith("tui.core."):
                theirs = layer_of(target)
                if theirs not in LAYER:
                    problems.append(f"{name} imports {target}, which is in no layer")
                elif LAYER[theirs] > LAYER[own]:
                    problems.append(f"{name} (layer {own}) imports {target} (higher layer {theirs})")
            elif target.split(".")[0] == "tui":
                problems.append(f"{name} imports {target}, outside the core")
    return problems


def core_sources() -> tuple[dict[str, str], set[str]]:
    core = REPO / "tui" / "core"
    packages = {module_name(f) for f in core.rglob("__init__.py")}
    return source_modules(core), packages


def test_core_respects_its_layers():
    modules, packages = core_sources()
    assert len(modules) > 20 and "tui.core.export.write" in modules
    assert layer_violations(modules, packages) == []


@pytest.mark.parametrize("name, source, problem", [
    ("tui.core.model", "from .session import EditSession", "tui.core.model (layer model) imports tui.core.session"),
    ("tui.core.refs", "def f():\n    from .export import layout\n", "imports tui.core.export.layout (higher layer export)"),
    ("tui.core.export.write", "from ..routes import write_plan", "imports tui.core.routes (higher layer routes)"),
    ("tui.core.session", "import tui.ui.app", "imports tui.ui.app, outside the core"),
    ("tui.core.project", "from ..demo import write_demo", "imports tui.demo, outside the core"),
    ("tui.core.gadgets", "from .errors import CsRebindError", "tui.core.gadgets is in no layer"),
])
def test_layer_check_can_fail(name, source, problem):
    modules, packages = core_sources()
    modules[name] = source
    assert any(problem in p for p in layer_violations(modules, packages))


def test_every_package_is_shipped():
    """pyproject.toml lists the packages explicitly: a new subpackage missing there would be left out
    of a regular (non-editable) install."""
    import re

    text = (REPO / "pyproject.toml").read_text()
    (listed,) = re.findall(r"^packages = \[(.*)\]$", text, flags=re.M)
    shipped = set(re.findall(r'"([\w.]+)"', listed))
    on_disk = {".".join(f.parent.relative_to(REPO).parts) for f in (REPO / "tui").rglob("__init__.py")}
    assert on_disk <= shipped

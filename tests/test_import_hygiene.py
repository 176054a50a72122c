"""The core must never pull in the UI toolkit: checked in a fresh interpreter, because once any
test has imported textual an in-process check would prove nothing."""

import subprocess
import sys

from conftest import REPO

def core_modules() -> list[str]:
    """Every module under tui.core, so a new one is checked without editing this test."""
    import pkgutil

    import tui.core

    return sorted(f"tui.core.{m.name}" for m in pkgutil.iter_modules(tui.core.__path__))


CORE_MODULES = core_modules()


def test_every_core_module_is_listed():
    assert {"tui.core.session", "tui.core.export", "tui.core.csfile", "tui.core.live", "tui.core.planfile"} <= set(CORE_MODULES)


def test_core_imports_neither_textual_nor_rich():
    code = (
        "import importlib, sys\n"
        f"for name in {CORE_MODULES!r}:\n"
        "    importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich'))\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""


def test_hygiene_check_can_fail():
    """The same probe reports textual when something does import it."""
    code = "import sys, textual.app; print(','.join(sorted(m for m in sys.modules if m == 'textual')))"
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "textual"

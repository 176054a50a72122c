"""The core must never pull in the UI toolkit: checked in a fresh interpreter, because once any
test has imported textual an in-process check would prove nothing."""

import subprocess
import sys

from conftest import REPO

CORE_MODULES = [
    "tui.core.errors", "tui.core.refs", "tui.core.model", "tui.core.jobdoc", "tui.core.project",
    "tui.core.session", "tui.core.views", "tui.core.csfile", "tui.core.docgen", "tui.core.demo",
    "tui.core.atomic", "tui.core.config", "tui.core.journal", "tui.core.commands", "tui.core.plans",
    "tui.core.operations", "tui.core.apply", "tui.core.script", "tui.core.export",
]


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

"""The Textual application: stylesheet, keymap, palette, and the factory used by the CLI,
the tests and the screenshot script. Behaviour lives in the screens and widgets."""

from __future__ import annotations

from pathlib import Path

from textual import events
from textual.app import App

from ..core.config import Settings, load_settings
from .commands import CsRebindCommands
from .failures import failure_text, log_failure
from .marks import use_monochrome
from .screens.dialogs import Message
from .screens.main import MainScreen


def styles_dir() -> Path:
    """tui/styles in an installed package; the top-level styles/ folder in a source checkout."""
    here = Path(__file__).resolve().parent.parent
    packaged = here / "styles"
    return packaged if packaged.is_dir() else here.parent / "styles"


class CsRebindApp(App):
    TITLE = "csrebind"
    CSS_PATH = [styles_dir() / "app.tcss", styles_dir() / "candidates.tcss", styles_dir() / "restore.tcss"]
    COMMANDS = App.COMMANDS | {CsRebindCommands}
    ENABLE_COMMAND_PALETTE = True

    def __init__(self, project_path: Path, plan: dict | None = None, settings: Settings | None = None) -> None:
        super().__init__()
        use_monochrome(self.no_color)  # Textual has read (and removed) NO_COLOR by now
        self.project_path = project_path
        self.settings = settings or load_settings()
        self.main_screen = MainScreen(project_path, plan)
        self.key_presses = 0  # a status message stays until the next key press

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key):
            self.key_presses += 1
        await super().on_event(event)

    def on_mount(self) -> None:
        if self.settings.keymap:
            self.set_keymap(self.settings.keymap)
        if self.settings.theme and self.settings.theme in self.available_themes:
            self.theme = self.settings.theme
        self.push_screen(self.main_screen)
        for warning in self.settings.warnings:
            self.notify(warning, severity="warning", timeout=10)

    def show_failure(self, error: BaseException) -> None:
        """An error nobody expected, in a worker: logged and shown; the app goes on."""
        self.push_screen(Message("Something went wrong", failure_text(error, log_failure(error))))


def make_app(project_path: str | Path, plan: dict | None = None, settings: Settings | None = None) -> CsRebindApp:
    return CsRebindApp(Path(project_path), plan=plan, settings=settings)


def run_app(project_path: Path, plan: str | None = None, use_cache: bool = True) -> int:
    """Open the UI; the project is read in a worker, so a bad path is reported after start-up
    as a one-line message and exit status 1."""
    from ..core.planfile import read_plan
    from ..core.project import is_project_dir

    if not project_path.is_dir() or not is_project_dir(project_path):
        from ..core.project import load_project

        load_project(project_path)  # raises the specific ProjectError
    plan_document = read_plan(Path(plan)) if plan is not None else None
    settings = load_settings()
    settings.summary_cache = settings.summary_cache and use_cache
    app = make_app(project_path, plan=plan_document, settings=settings)
    app.run()
    return app.return_code or 0

"""Writing the rebinding out from the UI (``w`` and ``:write``): plan, script, export, apply.
The work itself is the core's; this mixin asks, runs it in a worker and reports."""

from __future__ import annotations

from pathlib import Path

from textual import work

from ..core.errors import CsRebindError


class WriteOut:
    def write(self, screen, args: tuple[str, ...]) -> None:
        kind = args[0]
        session = screen._require_session()
        if kind == "plan":
            self.write_plan(screen, session, Path(args[1]).expanduser())
        else:
            raise CsRebindError(f"write {kind}: not available in this build yet; use 'write plan FILE'")

    def open_write_dialog(self, screen) -> None:
        target = screen.target or "J?"
        screen.action_command_line(f"write plan {target}_plan.json")

    @work(thread=True, exclusive=True, group="write")
    def write_plan(self, screen, session, path: Path) -> None:
        from ..core.plans import write_plan

        try:
            written = write_plan(session, path, overwrite=False)
        except CsRebindError as exc:
            self.call_from_thread(screen.say, str(exc), True)
            return
        self.call_from_thread(screen.mark_written, session.target.uid)
        self.call_from_thread(screen.say, f"plan written to {written}")

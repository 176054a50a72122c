"""Writing the rebinding out from the UI (``w`` and ``:write``): the screen's controller over
the routes of tui.core.routes. It asks, runs each route in a worker, and reports back to the
screen with messages (WriteOutcome, ConfirmWrite); the checks and refusals are the core's."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Callable

from ..core import routes
from ..core.commands import split_write
from ..core.errors import CsRebindError
from ..core.session import EditSession
from .messages import ConfirmWrite, WriteOutcome
from .screens.dialogs import WriteMenu


class WriteOut:
    def __init__(self, screen) -> None:
        self.screen = screen  # the MainScreen: runs the workers and receives the messages

    def _in_worker(self, job: Callable[[], None]) -> None:
        self.screen.run_worker(job, thread=True, exclusive=True, group="write", exit_on_error=False)

    def _post(self, message) -> None:
        self.screen.post_message(message)

    def _mark(self, session: EditSession, route: str, input_name: str | None = None) -> None:
        """From a route's worker, once it has written: the screen records what (and journals it)."""
        self.screen.app.call_from_thread(self.screen.mark_written, session.target.uid, route, input_name)

    def open_menu(self, session: EditSession, export_input: Callable[[], str]) -> None:
        """The route menu; the chosen route opens the : line, filled in with a destination."""

        def chosen(route: str | None) -> None:
            if route:
                self.screen.guarded(lambda: self._prefill(session, route, export_input))

        def heading() -> None:  # the join of every edited input is read for it
            text = routes.write_heading(session)
            self.screen.app.call_from_thread(self.screen.app.push_screen, WriteMenu(text), chosen)

        self._in_worker(heading)

    def _prefill(self, session: EditSession, route: str, export_input: Callable[[], str]) -> None:
        input_name = export_input() if route in ("export", "imports") else ""
        words = routes.default_destination(session, route, input_name, self.screen.bench.write_folder)
        self.screen.command_command_line(" ".join(["write", *map(shlex.quote, words)]))

    def start(self, session: EditSession, args: tuple[str, ...], export_input: Callable[[], str]) -> None:
        """``:write ROUTE …`` (the parser has checked the arguments)."""
        parsed = split_write(args)
        route, rest, force = parsed.route, parsed.words, parsed.force
        match = None
        if parsed.match or parsed.tolerance is not None:
            from ..core.export import MatchSpec

            match = MatchSpec.parse(parsed.match, parsed.tolerance)
        if route == "export" and parsed.into_imports:  # write export --into-imports [NAME]
            self._export(session, export_input(), None, rest[0] if rest else None, force, into_imports=True,
                         match=match)
        elif route == "export":
            self._export(session, export_input(), Path(rest[0]).expanduser(), rest[1] if len(rest) > 1 else None,
                         force, match=match)
        elif route in ("plan", "script"):
            self._file(session, route, Path(rest[0]).expanduser(), force)
        elif route == "apply":
            self._confirm_apply(session)
        else:
            raise CsRebindError(f"write {route}: unknown route")

    # --- plan and script -----------------------------------------------------------------

    def _file(self, session: EditSession, route: str, path: Path, force: bool) -> None:
        def job() -> None:
            try:
                if route == "plan":
                    (written,) = routes.write_plan(session, path, force=force)
                else:
                    written = routes.write_script(session, path, force=force)
            except (CsRebindError, OSError) as exc:
                return self._post(WriteOutcome(str(exc), error=True))
            self._mark(session, route)
            self.screen.bench.write_folder = Path(written).parent
            self._post(WriteOutcome(f"{route} written to {written}"))

        self._in_worker(job)

    # --- export: report first, write after a yes ---------------------------------------------

    def _export(self, session: EditSession, input_name: str, out_dir: Path | None, name: str | None, force: bool,
                into_imports: bool = False, match=None) -> None:
        def prepare() -> None:
            try:
                pending = routes.prepare_export(session, input_name, out_dir, name, force=force,
                                                into_imports=into_imports, match=match)
            except (CsRebindError, OSError) as exc:
                return self._post(WriteOutcome(str(exc), error=True))
            # the rows kept and dropped, then how the files get to Import Result Group
            details = "\n".join([*pending.report_lines, "", *pending.import_lines()])
            self._post(ConfirmWrite(pending.question, details, lambda: self._in_worker(lambda: write(pending))))

        def write(pending: routes.PendingExport) -> None:
            try:
                report = pending.write()
            except (CsRebindError, OSError) as exc:
                return self._post(WriteOutcome(str(exc), error=True))
            self._mark(session, "export", report.input)  # only this input is written out
            if not pending.into_imports:
                self.screen.bench.write_folder = Path(report.cs_path).parent
            if pending.into_imports:  # the path to give Import Result Group, in full, in a dialog
                text = "\n".join([f"{report.rows:,} rows written to {report.cs_path} and {report.csg_path.name}.",
                                  *pending.import_lines()])
                return self._post(WriteOutcome(text, title="Exported into the project's imports/"))
            text = f"exported {report.rows:,} rows to {report.cs_path} and {report.csg_path.name}"
            self._post(WriteOutcome(text))

        self._in_worker(prepare)

    # --- apply -------------------------------------------------------------------------------

    def _confirm_apply(self, session: EditSession) -> None:
        def prepare() -> None:  # validation reads the join of every edited input
            try:
                pending = routes.prepare_apply(session, self.screen.app.settings.cryosparc)
            except CsRebindError as exc:
                return self._post(WriteOutcome(str(exc), error=True))
            self._post(ConfirmWrite(pending.question, pending.details,
                                    lambda: self._in_worker(lambda: self._apply(pending))))

        self._in_worker(prepare)

    def _apply(self, pending: routes.PendingApply) -> None:
        from ..core.errors import ApplyError

        try:
            report = pending.run()
        except ApplyError as exc:
            text = exc.report.summary() if exc.report is not None else str(exc)
            return self._post(WriteOutcome(text, error=True, title="Nothing was applied"))
        title = "Applied" if report.ok else "Applied only in part"
        if report.ok:
            self._mark(pending.session, "apply")
        self._post(WriteOutcome(report.summary(), title=title))

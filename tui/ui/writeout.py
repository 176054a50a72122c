"""Writing the rebinding out from the UI (``w`` and ``:write``): export, plan, script, apply.
The work is the core's; this mixin asks, runs it in a worker and reports."""

from __future__ import annotations

import shlex
from pathlib import Path

from textual import work

from ..core.errors import CsRebindError
from ..core.project import default_output_dir
from .screens.dialogs import Confirm, Message, WriteMenu


class WriteOut:
    """Mixed into the App; ``screen`` is the MainScreen that owns the sessions."""

    def open_write_dialog(self, screen) -> None:
        session = screen._require_session()
        edits = len(session.changes())
        heading = f"Write {session.target.uid} ({edits} edit{'s' if edits != 1 else ''}) as…"
        issues = session.validate()
        if issues:
            heading += "\n" + "\n".join(f"  {issue}" for issue in issues)

        def chosen(route: str | None) -> None:
            if route:
                screen.action_command_line(self.default_write_command(screen, session, route))

        self.push_screen(WriteMenu(heading), chosen)

    def default_write_command(self, screen, session, route: str) -> str:
        folder = default_output_dir(session.project.path)
        uid = session.target.uid
        if route == "export":
            from ..core.export import default_name

            input_name = screen.export_input_name()
            return f"write export {shlex.quote(str(folder))} {default_name(uid, input_name)}"
        if route == "plan":
            return f"write plan {shlex.quote(str(folder / f'{uid}_plan.json'))}"
        if route == "script":
            return f"write script {shlex.quote(str(folder / f'{uid}_apply.py'))}"
        return "write apply"

    def write(self, screen, args: tuple[str, ...]) -> None:
        force = "--force" in args
        args = tuple(a for a in args if a != "--force")
        kind = args[0]
        session = screen._require_session()
        if kind in ("plan", "script"):
            self.write_file(screen, session, kind, Path(args[1]).expanduser(), force)
        elif kind == "export":
            name = args[2] if len(args) > 2 else None
            self.prepare_export(screen, session, screen.export_input_name(), Path(args[1]).expanduser(), name, force)
        elif kind == "apply":
            self.confirm_apply(screen, session)
        else:  # the parser already refuses other kinds
            raise CsRebindError(f"write {kind}: unknown route")

    # --- plan and script -------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="write")
    def write_file(self, screen, session, kind: str, path: Path, force: bool) -> None:
        from ..core.plans import write_plan, write_script

        writer = write_plan if kind == "plan" else write_script
        try:
            written = writer(session, path, overwrite=force)
        except (CsRebindError, OSError) as exc:
            self.call_from_thread(screen.say, str(exc), True)
            return
        if kind == "plan":
            self.call_from_thread(screen.mark_written, session.target.uid)
        self.call_from_thread(screen.say, f"{kind} written to {written}")

    # --- export: report first, write after a yes ------------------------------------------------

    @work(thread=True, exclusive=True, group="write")
    def prepare_export(self, screen, session, input_name: str, out_dir: Path, name: str | None, force: bool) -> None:
        from ..core.export import check_destination, default_name, plan_export, prepare_export

        try:
            stem = name or default_name(session.target.uid, input_name)
            out, stem = check_destination(session.project, out_dir, stem, force=force)
            plan = plan_export(session.project, session.input(input_name), target=session.target.uid)
            prepared = prepare_export(session.project, plan)
        except (CsRebindError, OSError) as exc:
            self.call_from_thread(screen.say, str(exc), True)
            return
        details = "\n".join(prepared.report.lines())
        question = f"Write {prepared.report.rows:,} rows to {out / stem}.cs and .csg?"

        def answered(yes: bool | None) -> None:
            if yes:
                self.write_export(screen, session, prepared, out, stem, force)

        self.call_from_thread(self.push_screen, Confirm(question, details), answered)

    @work(thread=True, exclusive=True, group="write")
    def write_export(self, screen, session, prepared, out: Path, stem: str, force: bool) -> None:
        try:
            report = prepared.write(out, stem, force=force)
        except (CsRebindError, OSError) as exc:
            self.call_from_thread(screen.say, str(exc), True)
            return
        self.call_from_thread(screen.mark_written, session.target.uid, report.input)  # only this input
        self.call_from_thread(screen.say, f"exported {report.rows:,} rows to {report.cs_path} and {report.csg_path.name}")

    # --- apply -----------------------------------------------------------------------------------

    def confirm_apply(self, screen, session) -> None:
        from ..core.apply import ConnectionSettings
        from ..core.operations import operations

        if not session.appliable:
            raise CsRebindError(
                f"{session.target.uid} is {session.target.status}: only a job in building status can be changed "
                "in a live CryoSPARC; write export or plan instead"
            )
        errors = [issue for issue in session.validate() if issue.severity == "error"]
        if errors:
            raise CsRebindError(f"not applied: {errors[0].message}" + (f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""))
        ops = operations(session.loaded, session.inputs)
        if not ops:
            raise CsRebindError("nothing to apply: no edits against the job as loaded")
        settings = ConnectionSettings.from_sources(self.settings.cryosparc)
        details = "\n".join(op.describe() for op in ops)
        question = f"Apply {len(ops)} change(s) to {session.target.uid} at {settings.target}?"

        def answered(yes: bool | None) -> None:
            if yes:
                self.run_apply(screen, session, ops, settings)

        self.push_screen(Confirm(question, details), answered)

    @work(thread=True, exclusive=True, group="write")
    def run_apply(self, screen, session, ops, settings) -> None:
        from ..core.apply import ApplyError, apply_plan

        try:
            report = apply_plan(session.to_plan(), ops, settings=settings, loaded=session.loaded)
        except ApplyError as exc:
            text = exc.report.summary() if exc.report is not None else str(exc)
            self.call_from_thread(self.push_screen, Message("Nothing was applied", text))
            return
        if report.ok:
            self.call_from_thread(screen.mark_written, session.target.uid)
        title = "Applied" if report.ok else "Applied only in part"
        self.call_from_thread(self.push_screen, Message(title, report.summary()))

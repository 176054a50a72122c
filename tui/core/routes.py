"""The four ways a rebinding leaves csrebind, each with its checks and refusals in one place, so
the CLI and the UI refuse the same things in the same words:

``export``  one input as CryoSPARC would load it: ``NAME.cs`` + ``NAME.csg`` (rows reported first)
``plan``    the edits as versioned JSON (reopen with ``--plan``, or ``csrebind apply``)
``script``  a commented cryosparc-tools script that applies the edits
``apply``   the edits sent to a running CryoSPARC now (the target must be building)

Export and apply have two steps: ``prepare_*`` checks, reads and describes (nothing written,
nothing sent); the returned object's ``write`` / ``run`` does it after the user said yes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from .destination import default_output_dir
from .errors import CsRebindError
from .session import EditSession, Issue

ROUTES = ("export", "plan", "script", "apply")


def validate(session: EditSession) -> list[Issue]:
    """Every problem of the session as it would be written: its bindings, then the join on uid of
    every edited input (reads the uid columns: call it in a worker)."""
    from .preview import join_issues

    return [*session.validate(), *join_issues(session)]


def check_join(session: EditSession, route: str) -> None:
    """Refuse to write ``route`` while an edited input's join keeps no row."""
    from .preview import join_issues

    issues = join_issues(session)
    errors = [issue for issue in issues if issue.severity == "error"]
    if errors:
        raise CsRebindError(_refusal(f"{route} not written", errors, "nothing was written" + _match_tail(issues)))


def _refusal(head: str, errors: list[Issue], tail: str) -> str:
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{head}: {errors[0].message}{more}; {tail}"


def _match_tail(issues: list[Issue]) -> str:
    """When an export with --match would keep the rows the join on uid cannot: CryoSPARC joins
    on uid, so the binding cannot go live; say so and point to the export."""
    from .preview import LIVE_REFUSAL, match_hints

    hints = match_hints(issues)
    return f". {hints[0].message}; {LIVE_REFUSAL}" if hints else ""


def write_heading(session: EditSession) -> str:
    """What the write menu says first: the target, its edits and its validation problems
    (the join included: call it in a worker)."""
    edits = len(session.changes())
    heading = f"Write {session.target.uid} ({edits} edit{'s' if edits != 1 else ''}) as…"
    issues = validate(session)
    if issues:
        heading += "\n" + "\n".join(f"  {issue}" for issue in issues)
    return heading


def default_destination(session: EditSession, route: str, input_name: str,
                        folder: Path | None = None) -> list[str]:
    """The words the UI proposes after ``:write``: in ``folder`` (the last one written to), else a
    folder beside the project; the menu's ``imports`` is an export into the project's imports/."""
    from .commands import INTO_IMPORTS
    from .export import default_name

    folder = folder or default_output_dir(session.project.path)
    uid = session.target.uid
    if route == "imports":  # only a name to give: the folder is PROJECT/imports/NAME
        return ["export", INTO_IMPORTS, default_name(uid, input_name)]
    if route == "export":
        return [route, str(folder), default_name(uid, input_name)]
    if route == "plan":
        return [route, str(folder / f"{uid}_plan.json")]
    if route == "script":
        return [route, str(folder / f"{uid}_apply.py")]
    return [route]


# --- export ------------------------------------------------------------------------------------


@dataclass
class PendingExport:
    """An export joined and reported on, not yet written: into ``out`` (outside the project), or
    with ``into_imports`` into the new folder ``out`` = ``<project>/imports/NAME``."""

    prepared: Any  # export.PreparedExport
    out: Path
    stem: str
    paths: str
    force: bool
    into_imports: bool = False

    @property
    def report_lines(self) -> list[str]:
        return self.prepared.report.lines()

    @property
    def question(self) -> str:
        rows = self.prepared.report.rows
        if self.into_imports:
            return (f"Write {rows:,} rows into a new folder {self.out}/ ({self.stem}.cs and .csg) "
                    "for Import Result Group?")
        return f"Write {rows:,} rows to {self.out / self.stem}.cs and .csg?"

    def import_lines(self) -> list[str]:
        """How the export gets into the project with Import Result Group (which takes a path inside
        it): for an export written elsewhere, first the command that copies it into
        ``<project>/imports/NAME/``; then the path to give Import Result Group."""
        from .destination import copy_into_imports_command, import_result_group_path

        project_dir = self.prepared.project.path
        path = f"Import Result Group path: {import_result_group_path(project_dir, self.stem)}"
        if self.into_imports:
            return [path]
        out = Path(os.path.abspath(self.out))
        command = copy_into_imports_command(project_dir, out / f"{self.stem}.cs", out / f"{self.stem}.csg", self.stem)
        return [f"to import it, copy it into the project first (or export with --into-imports): {command}", path]

    def write(self, progress: Callable[[int, int], None] | None = None):
        if self.into_imports:
            return self.prepared.write_into_imports(self.stem, paths=self.paths, progress=progress)
        return self.prepared.write(self.out, self.stem, paths=self.paths, force=self.force, progress=progress)


def prepare_export(
    session: EditSession, input_name: str, out_dir: str | os.PathLike | None = None, name: str | None = None, *,
    connection: int | None = None, paths: str = "keep", force: bool = False, into_imports: bool = False,
    match: Any = None,
) -> PendingExport:
    """Check the destination, lay out and join the export; nothing is written. With
    ``into_imports`` (and no ``out_dir``) it goes into a new folder ``<project>/imports/NAME/``."""
    from . import export
    from .destination import check_export_destination, check_imports_destination
    from .errors import ExportError

    group = session.input(input_name)
    stem = name or export.default_name(session.target.uid, group.name)
    if into_imports:
        if out_dir is not None:
            raise ExportError("give either an output folder or --into-imports, not both")
        out, stem = check_imports_destination(session.project.path, stem)
    elif out_dir is None:
        raise ExportError("give an output folder outside the project, or --into-imports")
    else:
        out, stem = check_export_destination(session.project.path, Path(out_dir).expanduser(), stem, force=force)
    layout = export.lay_out_export(session.project, group, connection=connection, target=session.target.uid,
                                   match=match)
    return PendingExport(export.prepare_export(session.project, layout), out, stem, paths, force, into_imports)


# --- plan and script ----------------------------------------------------------------------------


def write_plan(session: EditSession, path: str | os.PathLike, *, force: bool = False,
               script: str | os.PathLike | None = None) -> list[Path]:
    """The plan (and, when asked, the script beside it), all or nothing: both destinations are
    checked (outside the project, not existing unless ``force``, a folder that can be written)
    before anything is written, and when the script still fails the plan is taken back (a plan it
    replaced is put back as it was)."""
    from .atomic import write_bytes_atomic
    from .destination import check_file_destination
    from .errors import PlanError
    from .live import write_script as write_script_file
    from .planfile import write_plan as write_plan_file

    plan_path = check_file_destination(session.project.path, Path(path), force=force)
    _check_writable(plan_path)
    if script is not None:
        script_path = check_file_destination(session.project.path, Path(script), force=force)
        _check_writable(script_path)
    check_join(session, "plan")
    old_plan = plan_path.read_bytes() if script is not None and plan_path.is_file() else None
    written = [write_plan_file(session.to_plan(), plan_path, project_dir=session.project.path, force=force)]
    if script is not None:
        try:
            written.append(write_script_file(session, script_path, force=force))
        except BaseException as exc:
            if old_plan is None:
                plan_path.unlink(missing_ok=True)
                taken_back = "the plan was not written either"
            else:
                write_bytes_atomic(plan_path, old_plan, overwrite=True)
                taken_back = f"{plan_path} is as it was"
            if isinstance(exc, CsRebindError):
                raise PlanError(f"{exc}; {taken_back}") from None
            raise
    return written


def _check_writable(target: Path) -> None:
    """The folder ``target`` goes into (or its nearest existing ancestor, where it will be made)
    can be written, so a read-only destination is refused before anything is written."""
    from .errors import PlanError

    folder = Path(os.path.abspath(target)).parent
    while not folder.exists() and folder.parent != folder:
        folder = folder.parent
    if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
        raise PlanError(f"{target}: cannot write into {folder} (read-only or not a folder); nothing was written")


def write_script(session: EditSession, path: str | os.PathLike, *, force: bool = False) -> Path:
    from .live import write_script as write_script_file

    check_join(session, "script")
    return write_script_file(session, Path(path).expanduser(), force=force)


# --- apply ----------------------------------------------------------------------------------------


@dataclass
class PendingApply:
    """Operations checked against the session, ready to send to ``settings.target``."""

    session: EditSession
    ops: Sequence[Any]  # operations.Operation
    settings: Any  # apply.ConnectionSettings

    @property
    def question(self) -> str:
        return f"Apply {len(self.ops)} change(s) to {self.session.target.uid} at {self.settings.target}?"

    @property
    def details(self) -> str:
        """Every call that ``run`` will make, in order, with its arguments (under the change it makes)."""
        from .live import describe_plan_calls

        return describe_plan_calls(self.session.to_plan(), self.ops)

    def run(self, *, check_server_state: bool = True):
        """Send the operations; raises ApplyError when nothing was applied."""
        from .live import apply_plan

        loaded = self.session.loaded if check_server_state else None
        return apply_plan(self.session.to_plan(), self.ops, settings=self.settings, loaded=loaded)


def prepare_apply(session: EditSession, cryosparc: dict | None = None, *,
                  prompt: Callable[[str], str] | None = None) -> PendingApply:
    """Refused, before anything is sent, when the target is not building, when validation finds
    an error, or when there is nothing to apply."""
    from .live import ConnectionSettings, planned_operations

    if not session.appliable:
        raise CsRebindError(
            f"{session.target.uid} is {session.target.status}: only a job in building status can be changed "
            "in a live CryoSPARC; write export or plan instead"
        )
    issues = validate(session)
    errors = [issue for issue in issues if issue.severity == "error"]
    if errors:
        raise CsRebindError(_refusal("not applied", errors, "nothing was sent" + _match_tail(issues)))
    ops = planned_operations(session.loaded, session.inputs)
    if not ops:
        raise CsRebindError("nothing to apply: no edits against the job as loaded")
    return PendingApply(session, ops, ConnectionSettings.from_sources(cryosparc, prompt=prompt))

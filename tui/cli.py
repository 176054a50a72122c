"""The ``csrebind`` command: the terminal UI, plus scripting commands on the same core.

Exit status: 0 success, 1 data error (message on stderr), 2 usage error.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any, Callable, NoReturn, Sequence

from .core.errors import CsRebindError, RefError
from .texttable import cell, column_table, table

EXIT_OK, EXIT_DATA, EXIT_USAGE = 0, 1, 2


class UsageError(CsRebindError):
    """An argument value that cannot be what its place asks for (a job uid, a reference, SLOT=REF):
    a usage error, exit 2, like argparse's own; checked before the project is read."""


def _usage(what: str, parse: Callable[[str], Any], text: str) -> Any:
    """``parse(text)``, a malformed value becoming a UsageError that names the argument."""
    try:
        return parse(text)
    except RefError as exc:
        raise UsageError(f"{what}: {exc}") from None


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        if args and args[0] in COMMANDS:
            return _run_command(args)
        return _open_ui(args)
    except UsageError as exc:
        print(f"csrebind: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except CsRebindError as exc:
        print(f"csrebind: {exc}", file=sys.stderr)
        return EXIT_DATA
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM/SIGHUP while writing (atomic.Terminated)
        print(f"csrebind: interrupted{f' by {exc}' if getattr(exc, 'exit_code', None) else ''}", file=sys.stderr)
        return getattr(exc, "exit_code", 130)
    except BrokenPipeError:  # `csrebind jobs P | head`
        return EXIT_OK


def _run_command(args: list[str]) -> int:
    parser = build_parser()
    try:
        options = parser.parse_args(args)
    except SystemExit as exc:  # argparse exits 2 on usage errors and 0 on --help
        return int(exc.code or 0)
    global _use_cache
    if options.no_cache:
        _use_cache = False
    else:
        from .core.config import load_settings

        _use_cache = load_settings().summary_cache
    return options.handler(options)


# --- printing ------------------------------------------------------------------------------


def emit_json(data: Any) -> None:
    import orjson

    sys.stdout.buffer.write(orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE))
    sys.stdout.flush()
    _kept.append(data)


# --- commands ------------------------------------------------------------------------------


# Off with --no-cache (every command has it): job summaries are then read from every job.json.
_use_cache = True


def _load(path: str):
    import gc

    from .core.project import load_project

    project = load_project(path, cache=_use_cache)
    gc.freeze()  # the project lives as long as the command: later collections need not walk it
    _kept[:] = [project]
    return project


# What the last command read and printed, kept until the process ends: ``run`` then ends it
# without freeing them object by object (50,000 jobs and their listing: about 40 ms).
_kept: list[Any] = []


def cmd_jobs(options: argparse.Namespace) -> int:
    from .core.views import jobs_view

    project = _load(options.project)
    view = jobs_view(project)
    if options.json:
        emit_json(view)
        return EXIT_OK
    print(f"project {project.uid}  {project.title}  ({project.path})")
    rows = [
        [j["uid"], j["type"], j["status"] or ("BROKEN" if j["error"] else ""), j["title"],
         ",".join(j["parents"]), ",".join(j["workspaces"]), j["error"] or ""]
        for j in view["jobs"]
    ]
    print(table(rows, ["UID", "TYPE", "STATUS", "TITLE", "PARENTS", "WORKSPACES", "PROBLEM"]))
    for warning in project.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return EXIT_OK


def cmd_outputs(options: argparse.Namespace) -> int:
    from .core.refs import check_job_uid
    from .core.views import outputs_view

    uid = _usage("JOB", check_job_uid, options.job)
    project = _load(options.project)
    job = project.usable_job(uid)
    if options.json:
        emit_json(outputs_view(job))
        return EXIT_OK
    print(f"{job.uid} {job.label} [{job.status}]")
    print(column_table(_outputs_columns(job.outputs), ["OUTPUT / RESULT", "DTYPE", "", "VERSIONS", "ROWS", "FINAL METAFILE"]))
    return EXIT_OK


def _outputs_columns(outputs) -> list[list[str]]:
    """The outputs table as columns: a line per group, then one per result with its F reference,
    versions, and rows and metafile at F (an incomplete result says so). Made a column at a time
    from the model itself, not the view: a job can have 120,000 results."""
    columns: list[list[str]] = [[] for _ in range(6)]
    versions_text: dict[tuple[int, ...], str] = {}  # a job's results mostly share one list of versions
    for group in outputs:
        results = group.results
        group_line = (f"{group.name} ({group.type})", "", "", "", cell(group.num_items), "")
        result_lines = (
            [f"  {r.job}.{r.output}.{r.name}.F" for r in results],
            [r.dtype for r in results],
            ["passthrough" if r.passthrough else "" for r in results],
            [versions_text.get(r.versions) or versions_text.setdefault(
                r.versions, ",".join(map(str, r.versions)) or "none (incomplete)") for r in results],
            [cell(r.final_rows) for r in results],
            [r.metafiles[r.final_index] if r.complete else "" for r in results],
        )
        for column, head, cells in zip(columns, group_line, result_lines):
            column.append(head)
            column.extend(cells)
    return columns


def cmd_inputs(options: argparse.Namespace) -> int:
    from .core.refs import check_job_uid
    from .core.views import inputs_view

    uid = _usage("JOB", check_job_uid, options.job)
    project = _load(options.project)
    job = project.usable_job(uid)
    view = inputs_view(job)
    if options.json:
        emit_json(view)
        return EXIT_OK
    print(f"{job.uid} {job.label} [{job.status}]")
    rows = []
    for group, model in zip(view["inputs"], job.inputs):
        rows.append([f"{group['name']} ({group['type']}, {model.limits})", "", ""])
        if not group["connections"]:
            rows.append(["  (no connection)", "", ""])
        for conn in group["connections"]:
            rows.append([f"  {group['name']}.{conn['index']} ← {conn['job']}.{conn['output']}", "", ""])
            required = {s["name"]: s["required"] for s in group["slots"]}
            for slot, ref in conn["slots"].items():
                mark = "required" if required.get(slot) else ""
                rows.append([f"    {group['name']}.{conn['index']}.{slot}", ref or "(empty)", mark])
            for ref in conn["passthrough"]:
                rows.append(["    passthrough", ref, ""])
    print(table(rows, ["INPUT / SLOT", "BOUND TO", ""]))
    return EXIT_OK


def cmd_resolve(options: argparse.Namespace) -> int:
    from .core.csfile import read_header
    from .core.facts import result_facts
    from .core.refs import ResultRef

    ref = _usage("REF", ResultRef.parse, options.ref)
    project = _load(options.project)
    resolved = project.resolve(ref)
    header = read_header(project.absolute(resolved.metafile))
    fields = list(header.fields_of(ref.result))
    facts = result_facts(project.absolute(resolved.metafile), ref.result)
    view = {
        "ref": str(ref),
        "metafile": resolved.metafile,
        "path": str(project.absolute(resolved.metafile)),
        "version": resolved.version,
        "num_items": resolved.num_items,
        "file_rows": header.num_rows,
        "passthrough": resolved.passthrough,
        "dtype": resolved.dtype,
        "group_type": resolved.group_type,
        "format": header.format,
        "fields": fields,
        "field_types": {f: header.describe_field(f) for f in fields},
        "facts": facts.to_json(),
    }
    if options.json:
        emit_json(view)
        return EXIT_OK
    print(f"{view['ref']}  →  {view['metafile']}  (version {view['version']}, {view['file_rows']} rows"
          f"{', passthrough' if view['passthrough'] else ''})")
    for line in facts.lines():
        print(f"  {line}")
    print(table([[f, view["field_types"][f]] for f in fields], ["FIELD", "TYPE"]))
    return EXIT_OK


def cmd_demo(options: argparse.Namespace) -> int:
    from .demo import write_demo

    if options.directory is None:
        import tempfile

        directory = Path(tempfile.mkdtemp(prefix="csrebind-demo-")) / "CS-demo"
    else:
        directory = Path(options.directory)
    path = write_demo(directory, schema=options.schema)
    if options.directory is not None:
        print(f"demo project ({options.schema}) written to {path}")
        return EXIT_OK
    code = _open_ui([str(path)])
    print(f"the demo project is in {path} (csrebind {path} opens it again)", file=sys.stderr)
    return code


def _session(project_dir: str, job: str, sets: list[str], plan_file: str | None, connection: str | None = None):
    """An edit session on JOB: from a saved plan if given, then each --set SLOT=REF on top.
    ``connection`` (``particles.0``, from export's INPUT and --connection) lets a --set name the
    bare slot: ``--set blob=REF``."""
    from .core.planfile import read_plan
    from .core.refs import check_job_uid
    from .core.session import EditSession

    uid = _usage("JOB", check_job_uid, job)
    assignments = [_set_argument(assignment, connection) for assignment in sets]  # all checked before anything is read
    project = _load(project_dir)
    session = EditSession(project, uid)
    if plan_file:
        session.load_plan(read_plan(Path(plan_file)))
    for slot, ref in assignments:
        session.put(slot, ref)
    return session


def _set_argument(assignment: str, connection: str | None = None) -> tuple[str, str]:
    """``--set SLOT=REF`` split and checked for form (a usage error otherwise); what it names is
    checked against the project later. A bare slot name is one of ``connection``'s, when given."""
    from .core.refs import ResultRef, SlotAddress

    slot, sep, ref = assignment.partition("=")
    if not sep or not slot.strip() or not ref.strip():
        raise UsageError(f"--set {assignment!r}: expected SLOT=REF, e.g. particles.0.blob=J5.particles.blob.F")
    if connection is not None and "." not in slot.strip():
        slot = f"{connection}.{slot.strip()}"
    _usage(f"--set {assignment!r}", SlotAddress.parse, slot)
    _usage(f"--set {assignment!r}", ResultRef.parse, ref)
    return slot.strip(), ref.strip()


def _match_spec(options: argparse.Namespace):
    """--match / --tolerance as an export MatchSpec (None: the join on uid alone)."""
    if not options.match and options.tolerance is None:
        return None
    from .core.export import MatchSpec

    return MatchSpec.parse(options.match, options.tolerance)


def _report_changes(session) -> None:
    changes = session.changes()
    print(f"{session.target.uid}: {len(changes)} change(s)", file=sys.stderr)
    for change in changes:
        print(f"  {change}", file=sys.stderr)
    from .core.routes import validate

    for issue in validate(session):
        print(f"  {issue}", file=sys.stderr)


def cmd_plan(options: argparse.Namespace) -> int:
    from .core import routes

    session = _session(options.project, options.job, options.set, options.plan)
    _report_changes(session)
    written = routes.write_plan(session, Path(options.out), force=options.force, script=options.script)
    for kind, path in zip(("plan", "script"), written):
        print(f"{kind} written to {path}")
    return EXIT_OK


def cmd_apply(options: argparse.Namespace) -> int:
    import getpass

    from .core import routes
    from .core.config import load_settings
    from .core.errors import ApplyError
    from .core.planfile import read_plan
    from .core.session import EditSession

    plan = read_plan(Path(options.plan))
    project_dir = options.project or (plan.get("project") or {}).get("path")
    if not project_dir:
        raise CsRebindError(f"{options.plan}: the plan names no project directory; pass --project DIR")
    session = EditSession.from_plan(_load(project_dir), plan)
    _report_changes(session)
    prompt = getpass.getpass if sys.stdin.isatty() else None
    pending = routes.prepare_apply(session, load_settings().cryosparc, prompt=prompt)
    try:
        report = pending.run(check_server_state=not options.ignore_server_state)
    except ApplyError as exc:
        if exc.report is None:
            raise
        print(f"csrebind: {exc.report.summary()}", file=sys.stderr)  # says why, and that nothing changed
        return EXIT_DATA
    print(report.summary())
    return EXIT_OK if report.ok else EXIT_DATA


def cmd_export(options: argparse.Namespace) -> int:
    from .core import routes

    connection = f"{options.input}.{options.connection or 0}"  # --set blob=REF means this connection's blob
    session = _session(options.project, options.job, options.set, options.plan, connection)
    pending = routes.prepare_export(session, options.input, options.out, options.name, match=_match_spec(options),
                                    connection=options.connection,
                                    paths=options.paths, force=options.force, into_imports=options.into_imports)
    for line in pending.report_lines:  # rows kept and dropped, before writing
        print(line, file=sys.stderr)
    report = pending.write()
    print(f"wrote {report.cs_path} and {report.csg_path} ({report.rows} rows)")
    for line in pending.import_lines():  # the path for Import Result Group (and the copy command first)
        print(line)
    return EXIT_OK


def cmd_diff(options: argparse.Namespace) -> int:
    """How REF_B differs from REF_A on the uids both hold (exit 1 when they share none); nothing is written."""
    from .core.diff import diff_results
    from .core.refs import ResultRef

    for ref in (options.ref_a, options.ref_b):
        _usage("REF", ResultRef.parse, ref)
    found = diff_results(_load(options.project), options.ref_a, options.ref_b)
    if options.json:
        emit_json(found.to_json())
    else:
        print("\n".join(found.lines()))
    if found.shared == 0:
        print(f"csrebind: {found.ref_a} and {found.ref_b} have no uid in common: nothing could be compared",
              file=sys.stderr)
        return EXIT_DATA
    return EXIT_OK


def cmd_preview(options: argparse.Namespace) -> int:
    """The join report of every input, as an export would read it; nothing is written."""
    from .core.preview import preview_session

    session = _session(options.project, options.job, options.set, options.plan)
    previews = preview_session(session, match=_match_spec(options))
    if options.json:
        emit_json({"job": session.target.uid, "connections": [p.to_json() for p in previews]})
    else:
        print(f"{session.target.uid} {session.target.label}: {len(session.changes())} change(s)")
        for preview in previews:
            print("\n".join(preview.lines()))
    empty = [p for p in previews if p.empty]
    for preview in empty:
        print(f"csrebind: {preview.label}: the join on uid keeps 0 rows: {preview.empty}", file=sys.stderr)
    return EXIT_DATA if empty else EXIT_OK


def cmd_candidates(options: argparse.Namespace) -> int:
    """Every result in the project that fits SLOT, ranked by the rows a put would keep."""
    from .core.candidates import check_slot, find_candidates
    from .core.refs import SlotAddress

    address = _usage("SLOT", SlotAddress.parse, options.slot)
    session = _session(options.project, options.job, options.set, options.plan)
    check_slot(session, address)
    found = find_candidates(session, address)
    if options.json:
        emit_json({"job": session.target.uid, "slot": address.local, "candidates": [c.to_json() for c in found]})
        return EXIT_OK
    if not found:
        print(f"{session.target.uid}.{address.local}: no result in the project fits this slot", file=sys.stderr)
        return EXIT_OK
    rows = [[str(c.ref) + (" (current)" if c.current else ""), c.title, c.status,
             "?" if c.rows is None else f"{c.rows:,}", c.keeps_text, c.fact or ""] for c in found]
    print(table(rows, ["candidate", "job title", "status", "rows", "join on uid", "fact"]))
    return EXIT_OK


def _open_ui(args: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="csrebind",
        description="Browse a CryoSPARC project and rebind job results from the keyboard.",
        epilog="commands: " + ", ".join(COMMANDS) + " (csrebind COMMAND --help)",
    )
    parser.add_argument("project", nargs="?", help="CryoSPARC project directory (default: the current directory)")
    parser.add_argument("--plan", help="reopen a saved plan (csrebind plan / :write plan)")
    parser.add_argument("--no-cache", action="store_true", help=NO_CACHE_HELP)
    try:
        options = parser.parse_args(args)
    except SystemExit as exc:
        return int(exc.code or 0)
    from .core.project import is_project_dir

    project = Path(options.project or ".")
    if options.project is None and not is_project_dir(project):
        print(
            "csrebind: the current directory is not a CryoSPARC project (no project.json).\n"
            "  csrebind PROJECT_DIR   open a project\n"
            "  csrebind demo          open a demo project\n"
            "  csrebind --help        everything else",
            file=sys.stderr,
        )
        return EXIT_DATA
    from .ui.app import run_app

    global _ran_ui
    _ran_ui = True
    return run_app(project, plan=options.plan, use_cache=not options.no_cache)


_ran_ui = False  # the terminal UI ran in this process (csrebind PROJECT, csrebind demo): it ends as usual


# --- parser --------------------------------------------------------------------------------


def add_match_arguments(p: argparse.ArgumentParser) -> None:
    """export's and preview's --match and --tolerance."""
    p.add_argument("--match", action="append", default=[], metavar="MODE|SLOT=MODE",
                   help="join rebound slots on another key than uid (repeatable; SLOT=MODE for one slot): src_uid "
                        "(symmetry-expanded particles: sym_expand/src_uid -> uid, many to one), location (particles "
                        "extracted twice: same micrograph, pick within --tolerance px), path (blob/path + blob/idx); "
                        "ambiguous rows are refused, never guessed; the connection keeps its uids and order")
    p.add_argument("--tolerance", type=float, metavar="PX",
                   help="--match location: largest distance between two picks of one particle, in micrograph "
                        "pixels (default 3)")


def add_edit_arguments(p: argparse.ArgumentParser, example: str = "particles.0.blob=J5.particles.blob.F") -> None:
    """--set and --plan: the edits a command starts from."""
    p.add_argument("--set", action="append", default=[], metavar="SLOT=REF",
                   help=f"bind a slot first, e.g. {example} (repeatable)")
    p.add_argument("--plan", help="start from a saved plan")


NO_CACHE_HELP = ("read every job.json, neither using nor writing the job-summary cache "
                 "($XDG_CACHE_HOME/csrebind/summaries)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="csrebind", description="Rebind CryoSPARC job results.")
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name: str, handler: Callable[[argparse.Namespace], int], help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(handler=handler)
        p.add_argument("--no-cache", action="store_true", help=NO_CACHE_HELP)
        return p

    p = command("jobs", cmd_jobs, "list the project's jobs")
    p.add_argument("project", help="CryoSPARC project directory")
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = command("outputs", cmd_outputs, "list a job's output groups and results with their versions")
    p.add_argument("project", help="CryoSPARC project directory")
    p.add_argument("job", help="job uid, e.g. J688")
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = command("inputs", cmd_inputs, "list a job's inputs, slots and bindings")
    p.add_argument("project", help="CryoSPARC project directory")
    p.add_argument("job", help="job uid, e.g. J12 (j12 and 12 work too)")
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = command("resolve", cmd_resolve, "resolve a result reference (J688.particles.blob.F) to its file")
    p.add_argument("project", help="CryoSPARC project directory")
    p.add_argument("ref", help="JOB.OUTPUT.RESULT[.VERSION], e.g. J688.particles.alignments3D.3")
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = command("diff", cmd_diff, "compare two results of one type (two versions of a result, or the results of two jobs) "
                "on the uids they share: pose, shift and class changes of alignments, defocus of ctf, "
                "differing fields otherwise; writes nothing")
    p.add_argument("project", help="CryoSPARC project directory")
    p.add_argument("ref_a", help="JOB.OUTPUT.RESULT[.VERSION], e.g. J744.particles.alignments3D.0")
    p.add_argument("ref_b", help="the result to compare it with, e.g. J744.particles.alignments3D.F")
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = command("demo", cmd_demo, "write the demo project (and open it when no DIR is given)")
    p.add_argument("directory", nargs="?", help="where to write it (default: a new temporary directory, then open it)")
    p.add_argument("--schema", choices=["v4", "v5"], default="v4", help="job.json schema to write (default v4)")

    p = command("plan", cmd_plan, "save a rebinding of JOB as a plan (and a cryosparc-tools script)")
    p.add_argument("project", help="CryoSPARC project directory")
    p.add_argument("job", help="the target job, e.g. J12")
    add_edit_arguments(p)
    p.add_argument("--out", required=True, help="plan file to write (JSON)")
    p.add_argument("--script", help="also write a Python script that applies it with cryosparc-tools")
    p.add_argument("--force", action="store_true", help="replace existing files")

    p = command("export", cmd_export, "write one input of JOB, as CryoSPARC would load it, as NAME.cs + NAME.csg")
    p.add_argument("project", help="CryoSPARC project directory")
    p.add_argument("job", help="the target job, e.g. J12")
    p.add_argument("input", help="the input to export, e.g. particles")
    p.add_argument("--connection", type=int, help="export only connection N (default: all, stacked)")
    add_edit_arguments(p, "particles.0.blob=J5.particles.blob.F, or blob=… for a slot of INPUT's connection "
                          "(--connection, default 0)")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--out", help="output folder (outside the project directory)")
    where.add_argument("--into-imports", action="store_true",
                       help="write into a new folder PROJECT/imports/NAME/, the one place inside the project csrebind "
                            "writes (never an existing folder), and print the path to give Import Result Group")
    p.add_argument("--name", help="file name stem (default: JOB_INPUT_rebound)")
    add_match_arguments(p)
    p.add_argument("--paths", choices=["keep", "absolute"], default="keep",
                   help="absolute: rewrite blob/path, location/micrograph_path... to absolute paths")
    p.add_argument("--force", action="store_true",
                   help="replace an existing NAME.cs / NAME.csg (not with --into-imports: its folder must be new)")

    p = command("preview", cmd_preview, "show what CryoSPARC would load for each input of JOB: rows per file, "
                "rows kept by the join on uid (exit 1 when a connection keeps none); writes nothing")
    p.add_argument("project", help="CryoSPARC project directory")
    p.add_argument("job", help="the target job, e.g. J12")
    add_match_arguments(p)
    add_edit_arguments(p)
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = command("candidates", cmd_candidates, "list every result in the project that fits one slot of JOB, "
                "with its rows, the rows the join on uid would keep and its box/pixel size; writes nothing")
    p.add_argument("project", help="CryoSPARC project directory")
    p.add_argument("job", help="the target job, e.g. J12")
    p.add_argument("slot", help="the slot, INPUT.N.SLOT, e.g. particles.0.blob")
    add_edit_arguments(p, "particles.0.alignments3D=J9.particles.alignments3D.3")
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = command("apply", cmd_apply, "apply a saved plan to a running CryoSPARC through cryosparc-tools")
    p.add_argument("plan", help="plan file (csrebind plan / :write plan)")
    p.add_argument("--project", help="project directory (default: the one recorded in the plan)")
    p.add_argument("--ignore-server-state", action="store_true",
                   help="apply even when the server's connections differ from job.json")

    return parser


COMMANDS = ("jobs", "outputs", "inputs", "resolve", "demo", "plan", "apply", "export", "preview", "diff", "candidates")


def run() -> NoReturn:
    """The ``csrebind`` command: ``main``; after a scripting command the process ends without
    freeing what it read, object by object (50,000 jobs: tens of milliseconds before the prompt
    comes back). Every file it wrote is complete and closed by then; only the standard streams
    are flushed here."""
    code = main(sys.argv[1:])
    if _ran_ui:
        sys.exit(code)
    try:
        sys.stdout.flush()
    except BrokenPipeError:  # `csrebind jobs P | head`: what was not read is not wanted
        pass
    except OSError as exc:
        print(f"csrebind: cannot write the output: {exc.strerror or exc}", file=sys.stderr)
        code = code or EXIT_DATA
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":  # pragma: no cover
    run()

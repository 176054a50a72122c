"""Where csrebind may write, decided in one place: never inside a CryoSPARC project directory (job
folders, exports/, the project root), and never over an existing file unless the user forces it.

Two kinds of destination share the rule: an export (a folder and a NAME, for ``NAME.cs`` +
``NAME.csg``, refused with ExportError) and a single file (a plan or a script, refused with
PlanError). Both are checked before anything is written; the atomic writer (:mod:`tui.core.atomic`, which
also words the refusal) repeats the existing-file check when it renames, in case a file appeared
meanwhile.

The one exception is asked for by name (``--into-imports``): Import Result Group takes a path inside
the project, and cryosparc-tools' own instructions copy an export, symlinks resolved, into a folder
of ``<project>/imports/`` (``mkdir -p …/imports/ && cp -rL …/exports/S1 …/imports/``, in
``export_session`` of cryosparc/api.pyi). An export may then create ``<project>/imports/NAME/``, a
new folder only (created exclusively; never an existing one, not even with --force), and
``imports/`` itself when the project has none; nothing else in the project is ever written.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import Sequence

from .atomic import already_exists, lone_first_file_is_ours, write_bytes_atomic
from .errors import ExportError, PlanError, ProjectError


def real_path(path: str | os.PathLike) -> Path:
    """Symlinks resolved, also for a path that does not exist yet (via its nearest existing ancestor)."""
    path = Path(os.path.abspath(Path(path).expanduser()))
    tail: list[str] = []
    while not path.exists() and path.parent != path:
        tail.append(path.name)
        path = path.parent
    real = Path(os.path.realpath(path))
    for part in reversed(tail):
        real = real / part
    return real


def check_outside_project(project_dir: Path, path: str | os.PathLike, error: type[Exception] = ProjectError) -> Path:
    """csrebind never writes inside a CryoSPARC project directory (job folders, exports/, the root):
    return ``path`` resolved, or raise ``error`` suggesting a folder beside the project."""
    resolved, root = real_path(path), real_path(project_dir)
    if resolved == root or root in resolved.parents:
        suggestion = root.parent / f"{root.name}-csrebind"
        raise error(
            f"{path}: inside the CryoSPARC project directory {root}; csrebind never writes inside "
            f"CryoSPARC's own files (job folders, exports/ or the project root). Choose a folder outside the "
            f"project, e.g. {suggestion}"
        )
    return resolved


def default_output_dir(project_dir: Path) -> Path:
    """Where the UI proposes to write: a folder beside the project, never inside it."""
    root = real_path(project_dir)
    return root.parent / f"{root.name}-csrebind"


def _refuse_existing(paths: Sequence[Path], force: bool, error: type[Exception], replace: str) -> None:
    existing = [] if force else [p for p in paths if p.exists()]
    if existing:
        raise error(already_exists(existing, replace))


def check_file_destination(project_dir: Path, path: str | os.PathLike, *, force: bool = False) -> Path:
    """Where a plan or a script may go (PlanError otherwise): outside the project, and not over an
    existing file unless ``force``."""
    target = Path(path).expanduser()
    check_outside_project(project_dir, target, PlanError)
    _refuse_existing([target], force, PlanError, "replace it")
    return target


def write_file_outside_project(project_dir: Path, path: str | os.PathLike, data: bytes, *, force: bool = False
                               ) -> Path:
    """Check ``path`` (:func:`check_file_destination`), create its folder and write ``data`` atomically."""
    target = check_file_destination(project_dir, path, force=force)
    target.parent.mkdir(parents=True, exist_ok=True)
    return write_bytes_atomic(target, data, overwrite=force)


def check_export_destination(project_dir: Path, out_dir: str | os.PathLike, name: str, *, force: bool = False
                             ) -> tuple[Path, str]:
    """The output folder and file stem of an export, or an ExportError: never inside the project
    directory, a plain file name, and no existing NAME.cs / NAME.csg unless ``force``."""
    stem = export_stem(name)
    out = Path(out_dir).expanduser()
    check_outside_project(project_dir, out, ExportError)
    if out.exists() and not out.is_dir():
        raise ExportError(f"{out}: exists and is not a folder; give a folder for the export")
    cs_path, csg_path = out / f"{stem}.cs", out / f"{stem}.csg"
    if not force and lone_first_file_is_ours(cs_path, csg_path):
        return out, stem  # an export interrupted between its two renames: incomplete, replaced by this one
    if not force and cs_path.exists() and not os.path.lexists(csg_path):
        raise ExportError(
            f"{cs_path} already exists, without {csg_path.name} (an incomplete export?); choose another name or "
            "pass --force to replace it"
        )
    _refuse_existing([cs_path, csg_path], force, ExportError, "replace")
    return out, stem


def export_stem(name: str) -> str:
    """``NAME`` of ``NAME.cs``: a plain file name (a trailing .cs or .csg is dropped)."""
    stem = str(name).strip()
    for suffix in (".csg", ".cs"):
        if stem.endswith(suffix):
            stem = stem[: -len(suffix)]
            break
    if not stem or stem in (".", "..") or "/" in stem or os.sep in stem or "\0" in stem or stem.startswith("."):
        raise ExportError(f"{name!r} is not a usable export name; give a plain file name such as J12_particles_rebound")
    return stem


# --- <project>/imports/NAME/ (for Import Result Group) ---------------------------------------------

IMPORTS = "imports"  # the project folder cryosparc-tools copies exports into before Import Result Group


def imports_folder(project_dir: Path, stem: str) -> Path:
    """``<project>/imports/NAME``: where the export NAME goes for Import Result Group."""
    return real_path(project_dir) / IMPORTS / stem


def check_imports_destination(project_dir: Path, name: str) -> tuple[Path, str]:
    """The new folder ``<project>/imports/NAME`` and the file stem, or an ExportError: NAME a plain
    file name, ``imports`` (when present) a real folder of the project and not a symbolic link, and
    ``imports/NAME`` not there yet (force does not apply: it is never replaced or written into)."""
    stem = export_stem(name)
    root = real_path(project_dir)
    imports = root / IMPORTS
    if imports.is_symlink():
        leads_to = real_path(imports)
        where = "inside the project" if leads_to == root or root in leads_to.parents else "outside the project"
        raise ExportError(
            f"{imports}: a symbolic link to {leads_to} ({where}); csrebind writes into imports/ only when it is a "
            "real folder of the project, so that nothing else is ever written. Export to a folder outside the "
            "project and copy it in yourself"
        )
    if imports.exists() and not imports.is_dir():
        raise ExportError(f"{imports}: exists and is not a folder; nothing was written")
    folder = imports / stem
    if os.path.lexists(folder):
        raise ExportError(
            f"{folder} already exists; --into-imports only creates a new folder and never writes into or "
            "replaces one (not even with --force): choose another name"
        )
    return folder, stem


def create_imports_folder(project_dir: Path, name: str) -> tuple[Path, str, list[Path]]:
    """Check again (:func:`check_imports_destination`) and create ``<project>/imports/NAME``
    exclusively, and ``imports/`` when the project has none. Returns the folder, the stem and the
    folders created (deepest first, to remove on failure)."""
    folder, stem = check_imports_destination(project_dir, name)
    imports, created = folder.parent, []
    try:
        os.mkdir(imports)
        created.append(imports)
    except FileExistsError:
        pass
    except OSError as exc:
        raise ExportError(f"{imports}: cannot create the folder ({exc.strerror or exc}); nothing was written") from None
    try:
        os.mkdir(folder)
    except FileExistsError:
        _remove_folders(created)
        raise ExportError(f"{folder} appeared meanwhile; --into-imports only creates a new folder: choose another name"
                          ) from None
    except OSError as exc:
        _remove_folders(created)
        raise ExportError(f"{folder}: cannot create the folder ({exc.strerror or exc}); nothing was written") from None
    created.insert(0, folder)
    if Path(os.path.realpath(folder)) != folder:  # imports/ was replaced by a link between the check and mkdir
        _remove_folders(created)
        raise ExportError(f"{folder.parent} changed while the folder was made (a symbolic link?); nothing was written")
    return folder, stem, created


def _remove_folders(created: list[Path]) -> None:
    for path in created:
        try:
            path.rmdir()
        except OSError:
            pass


def import_result_group_path(project_dir: Path, stem: str) -> Path:
    """The absolute path of ``NAME.csg`` in ``<project>/imports/NAME/``, to give Import Result Group."""
    return imports_folder(project_dir, stem) / f"{stem}.csg"


def copy_into_imports_command(project_dir: Path, cs_path: Path, csg_path: Path, stem: str) -> str:
    """The shell command that copies an export written elsewhere into ``<project>/imports/NAME/``."""
    folder = shlex.quote(str(imports_folder(project_dir, stem)))
    return f"mkdir -p {folder} && cp {shlex.quote(str(cs_path))} {shlex.quote(str(csg_path))} {folder}/"

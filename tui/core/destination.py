"""Where csrebind may write, decided in one place: never inside a CryoSPARC project directory (job
folders, exports/, the project root), and never over an existing file unless the user forces it.

Two kinds of destination share the rule: an export (a folder and a NAME, for ``NAME.cs`` +
``NAME.csg``, refused with ExportError) and a single file (a plan or a script, refused with
PlanError). Both are checked before anything is written; the atomic writer (:mod:`tui.core.atomic`, which
also words the refusal) repeats the existing-file check when it renames, in case a file appeared
meanwhile.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

from .atomic import already_exists, write_bytes_atomic
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
    _refuse_existing([out / f"{stem}.cs", out / f"{stem}.csg"], force, ExportError, "replace")
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

"""Writing an export: the rows produced in chunks (the pivot file read along with them, the files
in another order read in passes and staged in output order; only the needed bytes copied, as
byte runs, runs of consecutive rows as slices), a writer thread appending each chunk to the
temporary output while the next is filled, path columns rewritten when asked, and the ``.csg``
document. Both files appear complete under their final names, or not at all.
"""

from __future__ import annotations

import os
import sys
import warnings
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Callable

import numpy as np
import yaml
from numpy.lib import format as npformat

from ..atomic import commit_pair, lone_first_file_is_ours, pending_output, remove_stale_parts
from ..destination import check_export_destination, check_imports_destination, create_imports_folder
from ..errors import CsRebindError, ExportError
from ..model import InputGroup
from ..project import Project
from .join import ExportReport, JoinedConnection, join_export
from .layout import ExportLayout, lay_out_export
from .rows import PATH_MODES, ChunkWriter, PathMode, dir_bytes, output_dtype, path_widths, source_copies, write_connection

Progress = Callable[[int, int], None]  # (rows written, rows in total)



@dataclass
class PreparedExport:
    """A joined export, ready to write; ``report`` lists rows kept and dropped per file."""

    project: Project
    layout: ExportLayout
    report: ExportReport
    joined: list[JoinedConnection]

    def write(
        self, out_dir: str | os.PathLike, name: str, *, paths: PathMode = "keep", force: bool = False,
        progress: Progress | None = None,
    ) -> ExportReport:
        return _write(self, out_dir, name, paths=paths, force=force, progress=progress)

    def write_into_imports(self, name: str, *, paths: PathMode = "keep", progress: Progress | None = None
                           ) -> ExportReport:
        """Write ``NAME.cs`` + ``NAME.csg`` into a new folder ``<project>/imports/NAME/`` (for Import
        Result Group), made exclusively: an existing folder is refused, and a failure leaves no folder."""
        return _write(self, None, name, paths=paths, force=False, progress=progress)


def prepare_export(project: Project, layout: ExportLayout) -> PreparedExport:
    """Join ``layout`` (see :func:`join_export`) and hold it ready to write; nothing is written yet."""
    report, joined = join_export(layout)
    return PreparedExport(project, layout, report, joined)


def run_export(
    project: Project, group: InputGroup, out_dir: str | os.PathLike, name: str, *,
    connection: int | None = None, target: str | None = None, paths: PathMode = "keep", force: bool = False,
    progress: Progress | None = None,
) -> ExportReport:
    """Lay out, join and write ``out_dir/NAME.cs`` + ``NAME.csg`` in one go; returns the report."""
    out, stem = check_export_destination(project.path, out_dir, name, force=force)
    layout = lay_out_export(project, group, connection=connection, target=target)
    prepared = prepare_export(project, layout)
    return prepared.write(out, stem, paths=paths, force=force, progress=progress)


def default_name(target: str | None, input_name: str) -> str:
    return f"{target}_{input_name}_rebound" if target else f"{input_name}_rebound"


def _write(prepared: PreparedExport, out_dir: str | os.PathLike | None, name: str, *, paths: PathMode, force: bool,
           progress: Progress | None) -> ExportReport:
    """Into ``out_dir`` (outside the project), or with ``out_dir`` None into a new ``<project>/imports/NAME/``."""
    if paths not in PATH_MODES:
        raise ExportError(f"paths must be one of {', '.join(PATH_MODES)}, not {paths!r}")
    layout = prepared.layout
    into_imports = out_dir is None
    if into_imports:
        out, stem = check_imports_destination(prepared.project.path, name)
        force = False  # files in a folder made just now: nothing to replace
    else:
        out, stem = check_export_destination(prepared.project.path, out_dir, name, force=force)
    cs_path, csg_path = out / f"{stem}.cs", out / f"{stem}.csg"
    dtype = output_dtype(layout.dtype, path_widths(prepared.joined, layout, paths))
    project_dir = dir_bytes(layout.project_path)
    total = sum(j.count for j in prepared.joined)
    created = create_imports_folder(prepared.project.path, stem)[2] if into_imports else _make_dirs(out)
    incomplete = [cs_path] if not into_imports and lone_first_file_is_ours(cs_path, csg_path) else []
    # .part files of .cs/.csg exports whose writer died (killed): nobody holds their lock any more
    removed = [] if into_imports else remove_stale_parts(out, suffixes=(".cs", ".csg"))
    try:
        # Both files are written under temporary names, then renamed .cs first and .csg last (an
        # existing .csg is moved away first): NAME.csg exists only beside its complete NAME.cs.
        with pending_output(cs_path, overwrite=force or bool(incomplete)) as cs_file, \
                pending_output(csg_path, overwrite=force, binary=False) as csg_file:
            handle = cs_file.stream
            _write_header(handle, dtype, total)
            _release_free_memory()
            writer = ChunkWriter(handle, dtype, total)
            try:
                done = 0
                for join in prepared.joined:
                    copies = source_copies(join.layout, dtype, paths)
                    for count in write_connection(writer, join, copies, project_dir):
                        done += count
                        if progress is not None:
                            progress(done, total)
            except BaseException:
                writer.abort()  # the thread must be done with the file before it is removed
                raise
            writer.close()
            try:
                csg_file.stream.write(csg_text(_csg_document(layout, stem, total)))
                csg_file.finish()
            except OSError as exc:
                raise ExportError(f"{csg_path}: cannot write ({exc.strerror or exc}); nothing was written"
                                  + _unchanged(cs_path, csg_path, force)) from None
            commit_pair(cs_file, csg_file, overwrite=force, incomplete=incomplete)
    except CsRebindError as exc:
        _remove_dirs(created)
        if isinstance(exc, ExportError):
            raise
        raise ExportError(str(exc)) from None
    except OSError as exc:
        _remove_dirs(created)
        raise ExportError(f"{out}: cannot write the export ({exc.strerror or exc}); nothing was written"
                          + _unchanged(cs_path, csg_path, force)) from None
    except BaseException:
        _remove_dirs(created)
        raise
    report = prepared.report
    if removed:
        report.notes.append(f"removed {len(removed)} temporary file(s) left in {out} by an interrupted export: "
                            + ", ".join(p.name for p in removed))
    if incomplete:
        report.notes.append(f"replaced {cs_path.name}, left without {csg_path.name} by an interrupted export")
    report.cs_path, report.csg_path = cs_path, csg_path
    report.bytes_written = cs_path.stat().st_size
    report.columns = tuple(dtype.names or ())
    return report


def _release_free_memory() -> None:
    """Give the memory the join freed back to the system before the write takes its own: glibc
    keeps freed blocks of a few MiB (the join's index arrays, up to its 32 MiB mmap threshold) in
    its heaps, so without this they add to the peak memory of the write. Elsewhere a no-op."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None)
        trim = getattr(libc, "malloc_trim", None)  # glibc only (not musl)
        if trim is not None:
            trim(0)
    except (OSError, AttributeError):
        pass


def _unchanged(cs_path: Path, csg_path: Path, force: bool) -> str:
    """What a failed write left of an export it was to replace: exactly what was there."""
    if force and (cs_path.exists() or csg_path.exists()):
        return f"; the existing {cs_path.name} and {csg_path.name} are unchanged"
    return ""


def _make_dirs(out: Path) -> list[Path]:
    """Create the missing folders of ``out``; returns them (deepest first) to remove on failure."""
    missing: list[Path] = []
    path = out
    while not path.exists() and path.parent != path:
        missing.append(path)
        path = path.parent
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExportError(f"{out}: cannot create the folder ({exc.strerror or exc})") from None
    return missing


def _remove_dirs(created: list[Path]) -> None:
    for path in created:
        with suppress(OSError):
            path.rmdir()


def _write_header(handle: BinaryIO, dtype: np.dtype, rows: int) -> None:
    header = {"descr": npformat.dtype_to_descr(dtype), "fortran_order": False, "shape": (rows,)}
    try:
        npformat.write_array_header_1_0(handle, header)
    except ValueError:  # more than 64 KiB of header (hundreds of columns): format 2.0
        with warnings.catch_warnings():  # numpy notes that readers need numpy >= 1.9
            warnings.simplefilter("ignore", UserWarning)
            npformat.write_array_header_2_0(handle, header)


def _csg_document(layout: ExportLayout, stem: str, rows: int) -> dict:
    """The result group as CryoSPARC writes it beside a job's files (kttn8769/cryopicls
    ``P2_J744_particles.csg``, ``P2_J809_particles.csg``): ``created`` a timestamp,
    ``group: {description, name, title, type}``, ``results: {NAME: {metafile: '>FILE.cs',
    num_items, type: GROUPTYPE.DTYPE}}``, ``version: vX.Y.Z``."""
    return {
        # a datetime, so that YAML writes an unquoted timestamp (2021-01-21 02:43:57.516360), as
        # CryoSPARC does; local time without a zone, like the real files (whose zone is unknown)
        "created": datetime.now(),
        "group": {
            "description": layout.description, "name": layout.input, "title": layout.title, "type": layout.group_type,
        },
        "results": {
            prefix: {"metafile": f">{stem}.cs", "num_items": int(rows), "type": kind}
            for prefix, kind in layout.types.items()
        },
        # CryoSPARC's own version goes here; see layout._cryosparc_version for what csrebind writes and why.
        "version": layout.version,
    }


def csg_text(document: dict) -> str:
    """Block-style YAML with every mapping's keys in alphabetical order and one line per value
    (no folding of long descriptions), as in the .csg files CryoSPARC writes. PyYAML quotes what
    needs quoting (``'true'``, ``'- x'``); ASCII only: anything else is escaped in a double-quoted
    scalar (``"\\U0001F600"``, ``"\\e[31m"``), because with ``allow_unicode`` PyYAML writes some
    characters (NEL) raw that it then reads back differently."""
    return yaml.safe_dump(document, sort_keys=True, default_flow_style=False, allow_unicode=False, width=2**30)

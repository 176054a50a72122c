"""``--into-imports``: an export written into a new folder ``<project>/imports/NAME/`` for Import
Result Group (the one place inside a project csrebind writes), and the way there from an export
written elsewhere (tui.core.destination, tui.core.export.write, tui.core.routes).

Every test proves the rest of the project is byte for byte unchanged: the digest of the project
before equals the digest after the new folder (and ``imports/`` when it was made) is taken away.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import yaml

from digest import tree_digest
from tui.core import routes
from tui.core.destination import (
    check_imports_destination, copy_into_imports_command, create_imports_folder, import_result_group_path,
)
from tui.core.errors import ExportError
from tui.core.export import write as export_write
from tui.core.export import rows as export_rows
from tui.core.project import load_project
from tui.core.session import EditSession

NAME = "J12_into_imports"


def full_size_session(project_dir: Path) -> EditSession:
    session = EditSession(load_project(project_dir), "J12")
    session.put("particles.0.blob", "J5.particles.blob.F")
    return session


def without_new_folder(project_dir: Path, name: str, imports_was_there: bool) -> str:
    """The project's digest once ``imports/NAME`` (and ``imports/`` when csrebind made it) is removed."""
    shutil.rmtree(project_dir / "imports" / name)
    if not imports_was_there:
        (project_dir / "imports").rmdir()  # fails if anything else was put there
    return tree_digest(project_dir)


@pytest.mark.parametrize("imports_was_there", [False, True])
def test_into_imports_writes_only_the_new_folder(demo_project, tmp_path, imports_was_there):
    if imports_was_there:  # an earlier import, which must stay as it is
        (demo_project / "imports" / "J3_earlier").mkdir(parents=True)
        (demo_project / "imports" / "J3_earlier" / "J3_earlier.csg").write_text("earlier\n")
    before = tree_digest(demo_project)
    pending = routes.prepare_export(full_size_session(demo_project), "particles", name=NAME, into_imports=True)
    folder = demo_project.resolve() / "imports" / NAME
    assert pending.out == folder and pending.stem == NAME
    assert not folder.exists() and (demo_project / "imports").exists() == imports_was_there  # nothing yet
    report = pending.write()

    assert report.cs_path == folder / f"{NAME}.cs" and report.csg_path == folder / f"{NAME}.csg"
    assert sorted(os.listdir(folder)) == [f"{NAME}.cs", f"{NAME}.csg"]  # no temporary file left
    data = np.load(report.cs_path)
    assert len(data) == 1000 and (data["blob/shape"] == 452).all()
    csg = yaml.safe_load(report.csg_path.read_text())
    assert csg["results"]["blob"] == {"metafile": f">{NAME}.cs", "num_items": 1000, "type": "particle.blob"}
    # the same bytes as an export written elsewhere
    elsewhere = routes.prepare_export(full_size_session(demo_project), "particles", tmp_path / "out", NAME).write()
    assert elsewhere.cs_path.read_bytes() == report.cs_path.read_bytes()
    assert pending.import_lines() == [f"Import Result Group path: {folder / f'{NAME}.csg'}"]
    assert without_new_folder(demo_project, NAME, imports_was_there) == before


def test_an_existing_folder_is_refused_even_with_force(demo_project):
    folder = demo_project / "imports" / NAME
    folder.mkdir(parents=True)
    (folder / "mine.txt").write_text("mine\n")
    before = tree_digest(demo_project)
    session = full_size_session(demo_project)
    for force in (False, True):
        with pytest.raises(ExportError, match=rf"{NAME} already exists; --into-imports only creates a new folder "
                                              r"and never writes into or replaces one \(not even with --force\)"):
            routes.prepare_export(session, "particles", name=NAME, into_imports=True, force=force)
    (folder / "mine.txt").unlink()
    folder.rmdir()
    (folder.parent / NAME).symlink_to(demo_project / "J12")  # a link in its place, even a dangling one, is refused
    with pytest.raises(ExportError, match="already exists"):
        check_imports_destination(demo_project, NAME)
    (folder.parent / NAME).unlink()
    (folder.parent / NAME).symlink_to(demo_project / "nowhere")
    with pytest.raises(ExportError, match="already exists"):
        check_imports_destination(demo_project, NAME)
    (folder.parent / NAME).unlink()
    folder.mkdir()
    (folder / "mine.txt").write_text("mine\n")
    assert tree_digest(demo_project) == before


def test_a_folder_made_after_the_check_is_not_written_into(demo_project, monkeypatch):
    """The check is repeated when writing and the folder is made exclusively."""
    pending = routes.prepare_export(full_size_session(demo_project), "particles", name=NAME, into_imports=True)
    folder = demo_project / "imports" / NAME
    folder.mkdir(parents=True)  # appears between the confirmation and the write
    before = tree_digest(demo_project)
    with pytest.raises(ExportError, match="already exists"):
        pending.write()
    assert tree_digest(demo_project) == before and os.listdir(folder) == []
    folder.rmdir()
    real_mkdir = os.mkdir

    def racing_mkdir(path, *args, **kwargs):  # someone else makes it between the check and our mkdir
        if Path(path).name == NAME:
            real_mkdir(path, *args, **kwargs)
        return real_mkdir(path, *args, **kwargs)

    monkeypatch.setattr(os, "mkdir", racing_mkdir)
    with pytest.raises(ExportError, match="appeared meanwhile"):
        create_imports_folder(demo_project, NAME)
    monkeypatch.undo()
    assert os.listdir(folder) == []  # theirs, left alone


@pytest.mark.parametrize("name", ["a/b", "..", ".", ".hidden", "../J5", "J5/../../x", "imports/x", ".cs", "a\0b"])
def test_bad_names_are_refused_before_anything_is_made(demo_project, name):
    before = tree_digest(demo_project)
    session = full_size_session(demo_project)
    with pytest.raises(ExportError, match="not a usable export name"):
        routes.prepare_export(session, "particles", name=name, into_imports=True)
    for unusable in (name, ""):  # an empty NAME given to the route means the default name
        with pytest.raises(ExportError, match="not a usable export name"):
            create_imports_folder(demo_project, unusable)
    assert tree_digest(demo_project) == before and not (demo_project / "imports").exists()


def test_an_imports_symlink_or_file_is_refused(demo_project, tmp_path):
    session = full_size_session(demo_project)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    imports = demo_project / "imports"
    imports.symlink_to(outside)
    before = tree_digest(demo_project)
    with pytest.raises(ExportError, match=rf"imports: a symbolic link to {outside} \(outside the project\)"):
        routes.prepare_export(session, "particles", name=NAME, into_imports=True)
    with pytest.raises(ExportError, match="outside the project"):
        create_imports_folder(demo_project, NAME)
    assert os.listdir(outside) == [] and tree_digest(demo_project) == before
    imports.unlink()
    imports.symlink_to(demo_project.resolve() / "J12")  # into a job folder: elsewhere in the project
    before = tree_digest(demo_project)
    with pytest.raises(ExportError, match=r"\(inside the project\); csrebind writes into imports/ only when it is a "
                                          "real folder of the project"):
        routes.prepare_export(session, "particles", name=NAME, into_imports=True)
    assert tree_digest(demo_project) == before and not (demo_project / "J12" / NAME).exists()
    imports.unlink()
    imports.write_text("not a folder\n")
    before = tree_digest(demo_project)
    with pytest.raises(ExportError, match="imports: exists and is not a folder"):
        routes.prepare_export(session, "particles", name=NAME, into_imports=True)
    assert tree_digest(demo_project) == before


@pytest.mark.parametrize("imports_was_there", [False, True])
@pytest.mark.parametrize("failure", ["interrupted", "csg"])
def test_a_failed_write_leaves_no_folder(demo_project, monkeypatch, imports_was_there, failure):
    if imports_was_there:
        (demo_project / "imports").mkdir()
    before = tree_digest(demo_project)
    pending = routes.prepare_export(full_size_session(demo_project), "particles", name=NAME, into_imports=True)
    if failure == "interrupted":
        monkeypatch.setattr(export_rows, "CHUNK_BYTES", 20_000)  # many chunks; Ctrl-C at the third
        monkeypatch.setattr(export_rows, "MAX_PASSES", 10**6)
        calls, real_write = [], export_rows._write_chunk

        def broken(handle, chunk):
            calls.append(len(chunk))
            if len(calls) == 3:
                raise KeyboardInterrupt
            real_write(handle, chunk)

        monkeypatch.setattr(export_rows, "_write_chunk", broken)
        expected = KeyboardInterrupt
    else:  # the .cs is complete, the .csg fails

        def broken(*args, **kwargs):
            raise RuntimeError("disk full")

        monkeypatch.setattr(export_write.yaml, "safe_dump", broken)
        expected = RuntimeError
    with pytest.raises(expected):
        pending.write()
    assert (demo_project / "imports").exists() == imports_was_there
    assert tree_digest(demo_project) == before


def test_routes_need_one_destination(demo_project, tmp_path):
    session = full_size_session(demo_project)
    with pytest.raises(ExportError, match="give either an output folder or --into-imports, not both"):
        routes.prepare_export(session, "particles", tmp_path / "out", into_imports=True)
    with pytest.raises(ExportError, match="give an output folder outside the project, or --into-imports"):
        routes.prepare_export(session, "particles")
    pending = routes.prepare_export(session, "particles", into_imports=True)  # the default name
    assert pending.stem == "J12_particles_rebound"
    assert pending.question == (f"Write 1,000 rows into a new folder {demo_project.resolve()}/imports/"
                                "J12_particles_rebound/ (J12_particles_rebound.cs and .csg) for Import Result Group?")


def test_the_copy_command_puts_an_export_where_into_imports_would(tmp_path):
    """Written elsewhere (paths with a space and a quote), the printed command, run by a shell,
    gives the same two files in <project>/imports/NAME/ as --into-imports."""
    from tui.demo import write_demo

    project = write_demo(tmp_path / "CS my 'project'")
    name = "it's rebound"
    pending = routes.prepare_export(full_size_session(project), "particles", tmp_path / "out dir", name)
    report = pending.write()
    copy, path = pending.import_lines()
    root = project.resolve()
    command = copy_into_imports_command(root, (tmp_path / "out dir" / f"{name}.cs"),
                                        (tmp_path / "out dir" / f"{name}.csg"), name)
    assert copy == f"to import it, copy it into the project first (or export with --into-imports): {command}"
    folder = shlex.quote(f"{root}/imports/{name}")
    assert command == (f"mkdir -p {folder} && cp {shlex.quote(str(report.cs_path))} "
                       f"{shlex.quote(str(report.csg_path))} {folder}/")
    assert "'\"'\"'s rebound" in folder  # the quote in NAME survives the shell
    assert path == f"Import Result Group path: {root}/imports/{name}/{name}.csg"
    assert import_result_group_path(project, name) == root / "imports" / name / f"{name}.csg"
    subprocess.run(["bash", "-c", command], check=True, cwd=tmp_path.parent)
    copied = root / "imports" / name
    assert sorted(os.listdir(copied)) == [f"{name}.cs", f"{name}.csg"]
    assert (copied / f"{name}.cs").read_bytes() == report.cs_path.read_bytes()
    assert (copied / f"{name}.csg").read_bytes() == report.csg_path.read_bytes()

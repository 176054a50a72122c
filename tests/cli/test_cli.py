"""The scripting CLI: the four read commands in both schemas, exit codes and messages."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from digest import tree_digest
from tui.cli import main


def run(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys, *args):
    code, out, err = run(capsys, *args, "--json")
    assert code == 0, err
    return json.loads(out)


def test_jobs_json(demo_project, capsys):
    view = run_json(capsys, "jobs", str(demo_project))
    assert view["project"]["uid"] == "P3"
    jobs = {j["uid"]: j for j in view["jobs"]}
    assert list(jobs) == [f"J{n}" for n in range(1, 13)]
    assert set(jobs["J5"]) >= {"uid", "type", "title", "status", "parents", "children", "workspaces", "error"}
    assert jobs["J5"]["type"] == "extract_micrographs_multi" and jobs["J5"]["parents"] == ["J3", "J4"]
    assert jobs["J5"]["workspaces"] == ["W1", "W2"] and "J6" in jobs["J5"]["children"]
    assert jobs["J12"]["status"] == "building" and jobs["J12"]["error"] is None


def test_jobs_table_shows_broken_jobs(demo_project, capsys):
    (demo_project / "J13").mkdir()
    code, out, _ = run(capsys, "jobs", str(demo_project))
    assert code == 0
    line = next(l for l in out.splitlines() if l.startswith("J13"))
    assert "BROKEN" in line and "job.json is missing" in line


def test_outputs_json(demo_project, capsys):
    view = run_json(capsys, "outputs", str(demo_project), "J9")
    assert view["job"] == "J9"
    particles = next(o for o in view["outputs"] if o["name"] == "particles")
    assert particles["type"] == "particle" and particles["num_items"] == 1000
    results = {r["name"]: r for r in particles["results"]}
    assert results["blob"]["ref"] == "J9.particles.blob.F" and results["blob"]["dtype"] == "blob"
    assert results["alignments3D"]["versions"] == [0, 1, 2, 3, 5, 7]
    assert results["alignments3D"]["metafiles"][3] == "J9/J9_003_particles.cs"
    assert results["location"]["passthrough"] is True and results["location"]["versions"] == [0]
    assert results["location"]["num_items"] == 1000


def test_inputs_json(demo_project, capsys):
    view = run_json(capsys, "inputs", str(demo_project), "J12")
    assert view["job"] == "J12" and view["status"] == "building"
    particles = view["inputs"][0]
    assert particles["name"] == "particles" and particles["type"] == "particle"
    assert {"name": "blob", "dtype": "blob", "required": True} in particles["slots"]
    (conn,) = particles["connections"]
    assert (conn["index"], conn["job"], conn["output"]) == (0, "J9", "particles")
    assert conn["slots"]["blob"] == "J9.particles.blob.F"
    assert conn["slots"]["alignments3D"] == "J9.particles.alignments3D.F"
    assert conn["slots"]["sym_expand"] is None
    assert {"J9.particles.location.F", "J9.particles.pick_stats.F"} <= set(conn["passthrough"])
    mask = view["inputs"][2]
    assert mask["connections"] == [] and mask["count_min"] == 0


def test_resolve_json_reads_fields_from_the_header(demo_project, capsys):
    view = run_json(capsys, "resolve", str(demo_project), "J9.particles.alignments3D.3")
    assert view["ref"] == "J9.particles.alignments3D.3"
    assert (view["metafile"], view["version"], view["num_items"]) == ("J9/J9_003_particles.cs", 3, 1000)
    assert view["passthrough"] is False and view["file_rows"] == 1000
    assert {"alignments3D/pose", "alignments3D/shift", "alignments3D/psize_A"} <= set(view["fields"])
    assert all(f.startswith("alignments3D/") for f in view["fields"])
    final = run_json(capsys, "resolve", str(demo_project), "J9.particles.alignments3D")
    assert final["version"] == 7 and final["metafile"] == "J9/J9_007_particles.cs"
    passthrough = run_json(capsys, "resolve", str(demo_project), "J9.particles.location.F")
    assert passthrough["passthrough"] is True and passthrough["version"] == 0


def test_resolve_reports_facts_of_the_result(demo_project, capsys):
    import numpy as np

    blob = run_json(capsys, "resolve", str(demo_project), "J5.particles.blob")
    table = np.load(demo_project / blob["metafile"])
    assert blob["facts"]["box"] == [int(n) for n in table["blob/shape"][0]]
    assert blob["facts"]["psize_A"]["min"] == pytest.approx(float(table["blob/psize_A"].min()))
    assert blob["facts"]["stacks"] == len(np.unique(table["blob/path"]))
    align = run_json(capsys, "resolve", str(demo_project), "J9.particles.alignments3D.3")
    classes = np.bincount(np.load(demo_project / align["metafile"])["alignments3D/class"])
    assert align["facts"]["classes"] == {str(k): int(n) for k, n in enumerate(classes) if n}
    code, out, _ = run(capsys, "resolve", str(demo_project), "J5.particles.blob")
    assert code == 0 and f"box {blob['facts']['box'][0]} px" in out.splitlines()[1]


def test_human_tables(demo_project, capsys):
    code, out, _ = run(capsys, "inputs", str(demo_project), "J12")
    assert code == 0 and "particles.0.blob" in out and "J9.particles.blob.F" in out and "required" in out
    code, out, _ = run(capsys, "outputs", str(demo_project), "J9")
    assert code == 0 and "J9.particles.alignments3D.F" in out and "0,1,2,3,5,7" in out
    code, out, _ = run(capsys, "resolve", str(demo_project), "J5.particles.blob")
    assert code == 0 and "blob/shape" in out


@pytest.mark.parametrize(
    "args, message",
    [
        (["resolve", "{p}", "J9.particles.alignments3D.4"], "version 4 is not stored; stored versions: 0, 1, 2, 3, 5, 7"),
        (["resolve", "{p}", "J10.particles.alignments2D"], "the result has no stored files"),
        (["outputs", "{p}", "J77"], "job J77 is not in project"),
        (["jobs", "{p}/J1"], "not a CryoSPARC project directory"),
    ],
)
def test_data_errors_exit_1_with_a_message(demo_project, capsys, args, message):
    code, out, err = run(capsys, *[a.format(p=demo_project) for a in args])
    assert code == 1 and out == ""
    assert err.startswith("csrebind: ") and message in err and "Traceback" not in err


def test_missing_metafile_is_a_data_error(demo_project, capsys):
    (demo_project / "J9" / "J9_003_particles.cs").unlink()
    code, _, err = run(capsys, "resolve", str(demo_project), "J9.particles.alignments3D.3")
    assert code == 1 and "J9_003_particles.cs" in err


def test_usage_errors_exit_2(capsys):
    assert run(capsys, "jobs")[0] == 2
    assert run(capsys, "resolve", ".", "J1.a.b", "--bogus")[0] == 2


def test_no_project_here(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys)
    assert code == 1 and "not a CryoSPARC project" in err and "csrebind demo" in err
    code, _, err = run(capsys, str(tmp_path / "nowhere"))
    assert code == 1 and err.strip() == f"csrebind: {tmp_path / 'nowhere'}: no such directory"


def test_demo_command_writes_both_schemas(tmp_path, capsys):
    for schema in ("v4", "v5"):
        code, out, _ = run(capsys, "demo", str(tmp_path / schema), "--schema", schema)
        assert code == 0 and "written to" in out
        view = run_json(capsys, "jobs", str(tmp_path / schema))
        assert {j["schema"] for j in view["jobs"]} == {schema}


def test_entry_point_runs_as_a_program(demo_project):
    result = subprocess.run(
        [sys.executable, "-m", "tui.cli", "resolve", str(demo_project), "J5.particles.blob", "--json"],
        capture_output=True, text=True,
    )
    assert result.returncode == 0 and json.loads(result.stdout)["metafile"].startswith("J5/")


def program(*args: str, **options) -> subprocess.CompletedProcess:
    """``csrebind ARGS`` as a user runs it (the entry point ``run``, which ends the process
    without freeing what the command read). Standard output buffered, as in a user's shell."""
    return subprocess.run([sys.executable, "-m", "tui.cli", *args], capture_output=True, env=BUFFERED, **options)


BUFFERED = {name: value for name, value in os.environ.items() if name != "PYTHONUNBUFFERED"}


def test_the_program_prints_everything_before_it_ends(demo_project, capsys):
    done = program("jobs", str(demo_project), "--json")
    assert done.returncode == 0 and done.stderr == b""
    assert json.loads(done.stdout) == run_json(capsys, "jobs", str(demo_project))
    table = program("jobs", str(demo_project))
    assert table.returncode == 0 and table.stdout.decode().count("\n") == len(json.loads(done.stdout)["jobs"]) + 2


def test_the_program_keeps_its_exit_status(demo_project, tmp_path):
    missing = program("jobs", str(tmp_path / "nowhere"))
    assert missing.returncode == 1 and missing.stderr.decode().startswith("csrebind: ") and missing.stdout == b""
    usage = program("resolve", str(demo_project), "not a reference")
    assert usage.returncode == 2 and b"Traceback" not in usage.stderr


def test_the_program_leaves_a_complete_export(demo_project, tmp_path):
    import numpy as np

    done = program("export", str(demo_project), "J12", "particles", "--set", "particles.0.blob=J5.particles.blob.F",
                   "--out", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["J12_particles_rebound.cs", "J12_particles_rebound.csg"]
    assert len(np.load(tmp_path / "out" / "J12_particles_rebound.cs")) == 1000
    assert "num_items: 1000" in (tmp_path / "out" / "J12_particles_rebound.csg").read_text()


def test_a_reader_that_stops_early_ends_the_program_quietly(demo_project):
    with subprocess.Popen([sys.executable, "-m", "tui.cli", "jobs", str(demo_project), "--json"],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=BUFFERED) as child:
        assert child.stdout.read(1) == b"{"
        child.stdout.close()  # like `| head -c 1`
        assert child.wait(timeout=60) == 0 and b"Traceback" not in child.stderr.read()


def test_plan_command_writes_plan_and_script(demo_project, tmp_path, capsys):
    plan_path, script_path = tmp_path / "plan.json", tmp_path / "apply.py"
    code, out, err = run(
        capsys, "plan", str(demo_project), "J12", "--set", "particles.0.blob=J5.particles.blob.F",
        "--set", "particles.0.alignments3D=J9.particles.alignments3D.3", "--out", str(plan_path),
        "--script", str(script_path),
    )
    assert code == 0, err
    plan = json.loads(plan_path.read_text())
    assert plan["target"] == "J12" and plan["changes"] == [
        "particles.0.blob: J9.particles.blob.F → J5.particles.blob.F",
        "particles.0.alignments3D: J9.particles.alignments3D.F → J9.particles.alignments3D.3",
    ]
    script = script_path.read_text()
    compile(script, str(script_path), "exec")
    assert 'source_version=3' in script and "J5" in script
    # An existing file is not replaced without --force; a plan can be extended.
    code, _, err = run(capsys, "plan", str(demo_project), "J12", "--out", str(plan_path))
    assert code == 1 and "already exists" in err
    code, _, err = run(capsys, "plan", str(demo_project), "J12", "--plan", str(plan_path),
                       "--set", "particles.0.ctf=J5.particles.ctf", "--out", str(tmp_path / "more.json"))
    assert code == 0 and len(json.loads((tmp_path / "more.json").read_text())["changes"]) == 3


def test_plan_command_refuses_bad_sets(demo_project, tmp_path, capsys):
    code, _, err = run(capsys, "plan", str(demo_project), "J12", "--set", "particles.0.blob", "--out", str(tmp_path / "p.json"))
    assert code == 2 and "expected SLOT=REF" in err  # a usage error (tests/cli/test_usage_errors.py)
    code, _, err = run(capsys, "plan", str(demo_project), "J12", "--set", "particles.0.blob=J9.volume.map",
                       "--out", str(tmp_path / "p.json"))
    assert code == 1 and "slot blob takes particle blob, not volume blob" in err
    assert not (tmp_path / "p.json").exists()


def test_apply_without_a_server_changes_nothing_and_hides_the_password(demo_project, tmp_path, capsys, monkeypatch):
    plan_path = tmp_path / "plan.json"
    run(capsys, "plan", str(demo_project), "J12", "--set", "particles.0.blob=J5.particles.blob", "--out", str(plan_path))
    monkeypatch.setenv("CRYOSPARC_BASE_URL", "http://127.0.0.1:9")  # nothing listens on the discard port
    monkeypatch.setenv("CRYOSPARC_EMAIL", "me@example.org")
    monkeypatch.setenv("CRYOSPARC_PASSWORD", "s3cret-Passw0rd")
    code, out, err = run(capsys, "apply", str(plan_path))
    assert code == 1
    assert "Nothing was changed on J12" in err and "not attempted" in err
    assert "s3cret-Passw0rd" not in out + err


def test_export_command_design_brief(demo_project, tmp_path, capsys):
    import numpy as np
    import yaml

    before = tree_digest(demo_project)
    code, out, err = run(
        capsys, "export", str(demo_project), "J12", "particles", "--set", "particles.0.blob=J5.particles.blob.F",
        "--out", str(tmp_path / "out"),
    )
    assert code == 0, err
    assert "J5/extracted_particles.cs: 1500 rows, 1000 kept, 500 dropped" in err
    assert "pixel sizes differ" in err
    data = np.load(tmp_path / "out" / "J12_particles_rebound.cs")
    assert len(data) == 1000 and (data["blob/shape"] == 452).all()
    csg = yaml.safe_load((tmp_path / "out" / "J12_particles_rebound.csg").read_text())
    assert csg["results"]["blob"] == {"metafile": ">J12_particles_rebound.cs", "num_items": 1000, "type": "particle.blob"}
    assert "wrote" in out and "(1000 rows)" in out
    assert tree_digest(demo_project) == before  # nothing written inside the project


def test_export_command_errors(demo_project, tmp_path, capsys):
    code, _, err = run(capsys, "export", str(demo_project), "J12", "particles", "--out", str(demo_project / "exports"))
    assert code == 1 and "inside the CryoSPARC project directory" in err
    code, _, err = run(capsys, "export", str(demo_project), "J12", "mask", "--out", str(tmp_path / "o"))
    assert code == 1 and "input mask has no connection; connect an output group to it first" in err
    run(capsys, "export", str(demo_project), "J12", "particles", "--out", str(tmp_path / "o"))
    code, _, err = run(capsys, "export", str(demo_project), "J12", "particles", "--out", str(tmp_path / "o"))
    assert code == 1 and "already exist; choose another name or pass --force" in err
    code, _, err = run(capsys, "export", str(demo_project), "J12", "particles", "--out", str(tmp_path / "o"), "--force")
    assert code == 0


def test_export_into_imports_prints_the_path_for_import_result_group(demo_project, tmp_path, capsys):
    import shutil

    root = demo_project.resolve()
    folder = root / "imports" / "mine"
    before = tree_digest(demo_project)
    args = ("export", str(demo_project), "J12", "particles", "--set", "particles.0.blob=J5.particles.blob.F")
    code, out, err = run(capsys, *args, "--into-imports", "--name", "mine")
    assert code == 0, err
    assert out.splitlines() == [
        f"wrote {folder / 'mine.cs'} and {folder / 'mine.csg'} (1000 rows)",
        f"Import Result Group path: {folder / 'mine.csg'}",
    ]
    assert "1000 kept, 500 dropped" in err
    written = tree_digest(demo_project)
    code, out, err = run(capsys, *args, "--into-imports", "--name", "mine", "--force")  # never over a folder
    assert code == 1 and out == ""
    assert err == (f"csrebind: {folder} already exists; --into-imports only creates a new folder and never writes "
                   "into or replaces one (not even with --force): choose another name\n")
    assert tree_digest(demo_project) == written
    code, _, err = run(capsys, *args, "--into-imports", "--name", "../J12/mine")
    assert code == 1 and "'../J12/mine' is not a usable export name" in err
    shutil.rmtree(root / "imports")  # the only thing written: the rest is as it was
    assert tree_digest(demo_project) == before


def test_export_elsewhere_prints_the_copy_command(demo_project, tmp_path, capsys):
    root = demo_project.resolve()
    out_dir = tmp_path / "out"
    code, out, err = run(capsys, "export", str(demo_project), "J12", "particles", "--out", str(out_dir), "--name", "mine")
    assert code == 0, err
    assert out.splitlines() == [
        f"wrote {out_dir / 'mine.cs'} and {out_dir / 'mine.csg'} (1000 rows)",
        "to import it, copy it into the project first (or export with --into-imports): "
        f"mkdir -p {root}/imports/mine && cp {out_dir}/mine.cs {out_dir}/mine.csg {root}/imports/mine/",
        f"Import Result Group path: {root}/imports/mine/mine.csg",
    ]
    assert not (demo_project / "imports").exists()


def test_export_needs_out_or_into_imports(demo_project, tmp_path, capsys):
    args = ("export", str(demo_project), "J12", "particles")
    code, _, err = run(capsys, *args)
    assert code == 2 and "one of the arguments --out --into-imports is required" in err
    code, _, err = run(capsys, *args, "--out", str(tmp_path / "o"), "--into-imports")
    assert code == 2 and "argument --into-imports: not allowed with argument --out" in err
    assert not (tmp_path / "o").exists() and not (demo_project / "imports").exists()


def test_no_command_writes_inside_the_project(demo_project, tmp_path, capsys, monkeypatch):
    """Every command leaves CryoSPARC's files byte for byte as they were."""
    before = tree_digest(demo_project)
    p = str(demo_project)
    plan = str(tmp_path / "plan.json")
    commands = [
        ["jobs", p, "--json"], ["outputs", p, "J9", "--json"], ["inputs", p, "J12", "--json"],
        ["resolve", p, "J9.particles.alignments3D.3", "--json"],
        ["plan", p, "J12", "--set", "particles.0.blob=J5.particles.blob", "--out", plan, "--script", str(tmp_path / "a.py")],
        ["export", p, "J12", "particles", "--plan", plan, "--out", str(tmp_path / "out"), "--paths", "absolute"],
        ["plan", p, "J12", "--out", str(demo_project / "plan.json")],  # refused: inside the project
        ["export", p, "J12", "particles", "--out", p],  # refused
    ]
    monkeypatch.setenv("CRYOSPARC_BASE_URL", "http://127.0.0.1:9")
    commands.append(["apply", plan])  # fails: nothing listens there
    codes = [run(capsys, *c)[0] for c in commands]
    assert codes == [0, 0, 0, 0, 0, 0, 1, 1, 1]
    assert tree_digest(demo_project) == before


def test_plan_writes_all_or_nothing(demo_project, tmp_path, capsys):
    (tmp_path / "apply.py").write_text("# mine")
    code, _, err = run(capsys, "plan", str(demo_project), "J12", "--out", str(tmp_path / "plan.json"),
                       "--script", str(tmp_path / "apply.py"))
    assert code == 1 and "apply.py already exists" in err
    assert not (tmp_path / "plan.json").exists() and (tmp_path / "apply.py").read_text() == "# mine"


def test_not_a_plan_is_refused_before_anything_starts(demo_project, tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    code, _, err = run(capsys, str(demo_project), "--plan", str(bad))
    assert code == 1 and "bad.json: not a csrebind plan" in err
    code, _, err = run(capsys, "apply", str(bad))
    assert code == 1 and "bad.json: not a csrebind plan" in err


def test_apply_refuses_a_plan_with_problems(demo_project, tmp_path, capsys):
    from tui.core.planfile import write_plan
    from tui.core.project import load_project
    from tui.core.session import EditSession

    session = EditSession(load_project(demo_project), "J12")
    session.clear("particles.0.ctf")
    write_plan(session.to_plan(), tmp_path / "plan.json", project_dir=session.project.path)
    code, _, err = run(capsys, "apply", str(tmp_path / "plan.json"))
    assert code == 1 and "particles.0.ctf: required slot is empty" in err and "nothing was sent" in err


def test_export_set_takes_the_bare_slot_of_the_exported_connection(demo_project, tmp_path, capsys):
    """``export … particles --set blob=REF`` binds particles.0.blob (issue 9 friction: CLI)."""
    import numpy as np

    short = run(capsys, "export", str(demo_project), "J12", "particles", "--set", "blob=J5.particles.blob.F",
                "--out", str(tmp_path / "a"))
    full = run(capsys, "export", str(demo_project), "J12", "particles", "--set", "particles.0.blob=J5.particles.blob.F",
               "--out", str(tmp_path / "b"))
    assert short[0] == full[0] == 0
    a = np.load(tmp_path / "a" / "J12_particles_rebound.cs")
    b = np.load(tmp_path / "b" / "J12_particles_rebound.cs")
    assert np.array_equal(a, b) and a["blob/shape"][0][0] != 96  # J5's full-size blob, not J9's
    code, _, err = run(capsys, "export", str(demo_project), "J12", "particles", "--connection", "3",
                       "--set", "blob=J5.particles.blob.F", "--out", str(tmp_path / "c"))
    assert code == 1 and "no connection 3" in err


@pytest.mark.parametrize("schema", ["v4", "v5"])
def test_outputs_table_cells(demo_project, capsys, schema):
    """Each result's line: versions, rows and metafile at F; an incomplete result says so."""
    path = demo_project / "J9" / "job.json"
    document = json.loads(path.read_text())
    results = (document["output_results"] if schema == "v4"
               else [r for out in document["spec"]["outputs"].values() for r in out["results"]])
    cleared = next(r for r in results if r["name"] == "ctf")
    cleared["versions"], cleared["metafiles"] = [], []
    path.write_text(json.dumps(document))
    code, out, err = run(capsys, "outputs", str(demo_project), "J9")
    assert code == 0, err
    lines = {line.split()[0]: line.split() for line in out.splitlines()[2:] if line.startswith("  J9.")}
    assert lines["J9.particles.ctf.F"][1:] == ["ctf", "none", "(incomplete)"]
    poses = lines["J9.particles.alignments3D.F"]
    assert poses[1:3] == ["alignments3D", "0,1,2,3,5,7"] and poses[-1] == "J9/J9_007_particles.cs"
    assert poses[3].isdigit()  # the rows at F


@pytest.mark.parametrize("ui", [True, False])
def test_the_program_ends_at_once_only_after_a_scripting_command(monkeypatch, ui):
    """After the terminal UI (csrebind PROJECT, csrebind demo) the process ends as usual: its
    threads and clean-ups finish; after a scripting command it ends without freeing objects."""
    import tui.cli as cli

    def command(args):
        cli._ran_ui = ui
        return 3

    ended: list[int] = []
    monkeypatch.setattr(cli, "main", command)
    monkeypatch.setattr(cli, "_ran_ui", False)
    monkeypatch.setattr(cli.os, "_exit", ended.append)
    if ui:
        with pytest.raises(SystemExit) as exited:
            cli.run()
        assert exited.value.code == 3 and ended == []
    else:
        cli.run()
        assert ended == [3]

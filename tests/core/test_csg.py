"""The .csg an export writes, against the ones CryoSPARC wrote (kttn8769/cryopicls, v2.15.0):
``P2_J744_particles.csg`` (a refinement's particles: the same six results a J744 export holds)
and ``P2_J809_particles.csg`` (3D Variability: components_mode_0..9, sym_expand).

The export runs on a project built around the real J744 files (tests/realproject.py).
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import orjson
import pytest
import yaml

from conftest import REALDATA
from digest import tree_digest
from realproject import J744_DIR, j744_project
from tui import __version__
from tui.core.csfile import read_header
from tui.core.export import lay_out_export, run_export
from tui.core.export.write import csg_text
from tui.core.project import load_project

J744_CSG = J744_DIR / "P2_J744_particles.csg"
J809_CSG = REALDATA / "kttn8769__cryopicls" / "tests" / "cryosparc_threedvar" / "P2_J809_particles.csg"
NAME = "J745_particles_rebound"

# The forms of the values in CryoSPARC's files (both real ones match them; checked below).
CREATED_LINE = re.compile(r"created: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{6})?")  # unquoted timestamp
METAFILE_LINE = re.compile(r"    metafile: '>[^'/]+\.cs'")  # quoted: '>' starts a folded scalar in YAML
VERSION_LINE = re.compile(r"version: v\d+\.\d+\.\d+")


def export_j745(tmp_path: Path, schema: str) -> Path:
    """Export J745's particles (J744's six results, 5,908 rows) beside the project; the .csg path."""
    root = j744_project(tmp_path / f"P2-{schema}", schema)
    before = tree_digest(root)
    project = load_project(root)
    report = run_export(project, project.job("J745").input("particles"), tmp_path / "out", NAME, target="J745")
    assert tree_digest(root) == before
    return report.csg_path


def shape(value: object) -> object:
    """Keys (in document order) and value types, all the way down."""
    if isinstance(value, dict):
        return [(key, shape(item)) for key, item in value.items()]
    return type(value).__name__


def skeleton(text: str) -> list[str]:
    """Each line with its value cut off: indentation and key only."""
    return [re.sub(r":( .*)?$", ":", line) for line in text.splitlines()]


def test_real_csg_files_have_the_forms_checked_here():
    for path in (J744_CSG, J809_CSG):
        text = path.read_text()
        lines = text.splitlines()
        assert CREATED_LINE.fullmatch(lines[0]) and VERSION_LINE.fullmatch(lines[-1])
        metafiles = [line for line in lines if line.strip().startswith("metafile:")]
        assert metafiles and all(METAFILE_LINE.fullmatch(line) for line in metafiles)
        assert isinstance(yaml.safe_load(text)["created"], datetime)


def test_exported_csg_matches_cryosparcs_key_by_key_and_type_by_type(tmp_path, schema):
    csg_path = export_j745(tmp_path, schema)
    ours_text, real_text = csg_path.read_text(), J744_CSG.read_text()
    ours, real = yaml.safe_load(ours_text), yaml.safe_load(real_text)

    # the same keys, in the same order, with values of the same types, at every level
    assert shape(ours) == shape(real)
    assert [key for key, _ in shape(real)] == ["created", "group", "results", "version"]
    assert list(real["group"]) == ["description", "name", "title", "type"]
    assert list(real["results"]) == sorted(real["results"])
    assert all(list(entry) == ["metafile", "num_items", "type"] for entry in real["results"].values())
    assert isinstance(ours["created"], datetime) and isinstance(ours["results"]["blob"]["num_items"], int)

    # the same text layout: block style, one line per key, the same indentation
    assert skeleton(ours_text) == skeleton(real_text)
    assert "{" not in ours_text and "[" not in ours_text
    lines = ours_text.splitlines()
    assert CREATED_LINE.fullmatch(lines[0]), lines[0]
    assert VERSION_LINE.fullmatch(lines[-1]), lines[-1]
    assert [line for line in lines if "metafile:" in line] == [f"    metafile: '>{NAME}.cs'"] * 6

    # the same values where an export must agree with CryoSPARC: group name and type, row
    # counts and result types; metafiles name the .cs beside the .csg, which holds those rows
    assert (ours["group"]["name"], ours["group"]["type"]) == (real["group"]["name"], real["group"]["type"])
    assert ({name: {**entry, "metafile": None} for name, entry in ours["results"].items()}
            == {name: {**entry, "metafile": None} for name, entry in real["results"].items()})
    for entry in ours["results"].values():
        assert read_header(csg_path.parent / entry["metafile"][1:]).num_rows == entry["num_items"] == 5908
    assert ours["version"] == {"v4": "v4.7.1", "v5": "v5.0.0"}[schema]  # the job documents' version
    assert ours["group"]["title"] == "J745 particles (rebound)"


@pytest.mark.parametrize("real", [J744_CSG, J809_CSG], ids=["J744", "J809"])
def test_csg_writer_gives_cryosparcs_files_back_byte_for_byte(real):
    """Block style, alphabetical keys, the timestamp, the quoting: the writer an export uses turns
    the documents CryoSPARC wrote back into exactly their bytes."""
    text = real.read_text()
    assert csg_text(yaml.safe_load(text)) == text


def test_long_descriptions_stay_on_one_line():
    document = {"group": {"description": "x " * 200 + "end"}}
    assert csg_text(document).splitlines()[1] == "  description: " + "x " * 200 + "end"


# --- version --------------------------------------------------------------------------------------


def _edit_json(path: Path, edit) -> None:
    document = orjson.loads(path.read_bytes())
    edit(document)
    path.write_bytes(orjson.dumps(document))


def _version(root: Path) -> str:
    project = load_project(root)
    return lay_out_export(project, project.job("J745").input("particles"), target="J745").version


def test_version_from_project_json_when_no_job_document_records_one(tmp_path):
    root = j744_project(tmp_path / "P2", "v5")
    assert _version(root) == "v5.0.0"  # the job documents' own
    for uid in ("J744", "J745"):
        _edit_json(root / uid / "job.json", lambda doc: doc.pop("version"))
    _edit_json(root / "project.json", lambda doc: doc.update(last_dumped_version="v5.0.3"))
    assert _version(root) == "v5.0.3"  # project.json's last_dumped_version
    _edit_json(root / "project.json", lambda doc: doc.pop("last_dumped_version"))
    assert _version(root) == f"csrebind-{__version__}"  # nothing recorded: our own, last


def test_version_written_without_its_v_gets_one(tmp_path):
    root = j744_project(tmp_path / "P2", "v4")
    _edit_json(root / "J745" / "job.json", lambda doc: doc.update(version="4.6.2"))
    assert _version(root) == "v4.6.2"
    _edit_json(root / "J745" / "job.json", lambda doc: doc.update(version="develop"))
    assert _version(root) == "develop"  # not a version number: left as written

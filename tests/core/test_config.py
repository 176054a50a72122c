"""User settings: keymap, theme and CryoSPARC connection from the XDG config file."""

import os

from tui.core.config import config_path, load_settings, state_dir
from tui.core.journal import clear_journal, journal_path, load_journal, save_journal


def test_paths_follow_xdg(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "c"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "s"))
    assert config_path() == tmp_path / "c" / "csrebind" / "config.yaml"
    assert state_dir() == tmp_path / "s" / "csrebind"
    monkeypatch.setenv("CSREBIND_CONFIG", str(tmp_path / "other.yaml"))
    assert config_path() == tmp_path / "other.yaml"


def test_keymap_theme_and_cryosparc_sections(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    (tmp_path / "csrebind").mkdir()
    (tmp_path / "csrebind" / "config.yaml").write_text(
        "keymap:\n  yank: c\n  put: 'ctrl+v, p'\n  bad: 3\ntheme: nord\n"
        "cryosparc:\n  url: http://cs.example.org:39000\n  email: me@example.org\n"
    )
    settings = load_settings()
    assert settings.keymap == {"yank": "c", "put": "ctrl+v, p"}
    assert settings.theme == "nord"
    assert settings.cryosparc == {"url": "http://cs.example.org:39000", "email": "me@example.org"}
    assert len(settings.warnings) == 1 and "keymap entry 'bad'" in settings.warnings[0]


def test_bad_config_files_fall_back_to_defaults(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("keymap: [unclosed")
    settings = load_settings(broken)
    assert settings.keymap == {} and "cannot be read" in settings.warnings[0] and str(broken) in settings.warnings[0]
    listing = tmp_path / "list.yaml"
    listing.write_text("- a\n- b\n")
    assert "expected a mapping" in load_settings(listing).warnings[0]
    assert load_settings(tmp_path / "missing.yaml").warnings == []


def test_journal_round_trip_and_clear(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    project = tmp_path / "CS-x"
    project.mkdir()
    assert load_journal(project) == []
    path = save_journal(project, [{"target": "J12", "format": "csrebind-plan"}])
    assert path == journal_path(project) and path.is_file()
    assert oct(os.stat(path).st_mode & 0o777) == oct(0o666 & ~_umask())
    assert load_journal(project) == [{"target": "J12", "format": "csrebind-plan"}]
    path.write_text("{broken")
    assert load_journal(project) == []
    save_journal(project, [])
    assert not path.exists()
    clear_journal(project)  # nothing there: no error


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask

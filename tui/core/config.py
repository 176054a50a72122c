"""User settings and where csrebind keeps its own files (XDG directories).

``$XDG_CONFIG_HOME/csrebind/config.yaml`` (or ``$CSREBIND_CONFIG``) holds, for example::

    keymap:            # binding id: keys (replaces the default keys; see `?` in the app)
      yank: c
      put: ctrl+v
    theme: textual-dark
    summary_cache: false   # do not keep job summaries in $XDG_CACHE_HOME/csrebind (as --no-cache)
    cryosparc:         # for live apply; the password only ever comes from CRYOSPARC_PASSWORD or a prompt
      url: http://cryosparc.example.org:39000
      email: me@example.org

The edit journal lives in ``$XDG_STATE_HOME/csrebind/``, the job-summary cache in
``$XDG_CACHE_HOME/csrebind/`` (``--no-cache`` bypasses it).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

CONFIG_ENV = "CSREBIND_CONFIG"


def _xdg(variable: str, fallback: str) -> Path:
    value = os.environ.get(variable)
    base = Path(value) if value and Path(value).is_absolute() else Path.home() / fallback
    return base / "csrebind"


def config_dir() -> Path:
    return _xdg("XDG_CONFIG_HOME", ".config")


def state_dir() -> Path:
    return _xdg("XDG_STATE_HOME", ".local/state")


def config_path() -> Path:
    override = os.environ.get(CONFIG_ENV)
    return Path(override) if override else config_dir() / "config.yaml"


@dataclass
class Settings:
    keymap: dict[str, str] = field(default_factory=dict)
    theme: str | None = None
    cryosparc: dict = field(default_factory=dict)  # url/host/base_port/email/license for live apply
    summary_cache: bool = True  # keep job summaries in $XDG_CACHE_HOME/csrebind (off: --no-cache)
    warnings: list[str] = field(default_factory=list)


def load_settings(path: Path | None = None) -> Settings:
    """Read the config file; a bad file or entry is reported in ``warnings`` and skipped."""
    path = path or config_path()
    settings = Settings()
    if not path.exists():
        return settings
    import yaml  # only when there is a file: it costs start-up time

    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        settings.warnings.append(f"{path}: cannot be read ({str(exc).splitlines()[0]}); using defaults")
        return settings
    if not isinstance(document, dict):
        settings.warnings.append(f"{path}: expected a mapping such as 'keymap: {{yank: c}}'; using defaults")
        return settings
    keymap = document.get("keymap") or {}
    if isinstance(keymap, dict):
        for binding_id, keys in keymap.items():
            if isinstance(binding_id, str) and isinstance(keys, str) and keys.strip():
                settings.keymap[binding_id] = keys.strip()
            else:
                settings.warnings.append(f"{path}: keymap entry {binding_id!r}: {keys!r} is not 'id: keys'; skipped")
    else:
        settings.warnings.append(f"{path}: 'keymap' must be a mapping of binding id to keys; skipped")
    theme = document.get("theme")
    settings.theme = theme if isinstance(theme, str) else None
    summary_cache = document.get("summary_cache", True)
    if isinstance(summary_cache, bool):
        settings.summary_cache = summary_cache
    else:
        settings.warnings.append(f"{path}: 'summary_cache' must be true or false; using true")
    cryosparc = document.get("cryosparc")
    if isinstance(cryosparc, dict):
        settings.cryosparc = cryosparc
    elif cryosparc is not None:
        settings.warnings.append(f"{path}: 'cryosparc' must be a mapping (url, email, ...); skipped")
    return settings

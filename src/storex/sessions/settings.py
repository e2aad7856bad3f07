"""Tuned settings of session models per data set, from ``configs/sessions.yaml``.

The file holds a ``default`` entry and one per data set; a data set's entry is merged over
the default one section by section (``data``, ``models``, ``baselines``), so a data set
names only what differs. Unknown data sets (a new file) get the default entry.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from storex.errors import ConfigError

CONFIG_FILE = Path(__file__).resolve().parents[3] / "configs" / "sessions.yaml"
SECTIONS = ("data", "models", "baselines")


def session_settings(dataset: str, path: str | Path | None = None) -> dict[str, Any]:
    """``{"data": {...}, "models": {name: {...}}, "baselines": {name: {...}}}`` of ``dataset``."""
    path = Path(path) if path is not None else CONFIG_FILE
    if not path.is_file():
        raise ConfigError(f"{path}: session settings file not found")
    try:
        content = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    entries = content.get("datasets") if isinstance(content, dict) else None
    if not isinstance(entries, dict) or "default" not in entries:
        raise ConfigError(f"{path}: expected a 'datasets' mapping with a 'default' entry")
    merged = _entry(entries, "default", path)
    if dataset in entries and dataset != "default":
        own = _entry(entries, dataset, path)
        for section in SECTIONS:
            if section == "data":
                merged[section] = {**merged[section], **own[section]}
            else:
                names = [*merged[section], *(n for n in own[section] if n not in merged[section])]
                merged[section] = {
                    name: {**merged[section].get(name, {}), **own[section].get(name, {})}
                    for name in names
                }
    return merged


def _entry(entries: dict[str, Any], name: str, path: Path) -> dict[str, Any]:
    entry = entries[name] or {}
    if not isinstance(entry, dict):
        raise ConfigError(f"{path}: datasets.{name} must be a mapping")
    unknown = sorted(set(entry) - set(SECTIONS))
    if unknown:
        raise ConfigError(f"{path}: datasets.{name} has unknown section(s) {unknown}")
    out: dict[str, Any] = {}
    for section in SECTIONS:
        value = entry.get(section) or {}
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: datasets.{name}.{section} must be a mapping")
        out[section] = (
            {k: dict(v or {}) for k, v in value.items()} if section != "data" else dict(value)
        )
    return out

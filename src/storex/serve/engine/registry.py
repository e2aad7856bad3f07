"""Model versions on disk: ``<root>/<name>/<version>/`` bundle folders and a pointer.

Versions sort by folder name (a UTC timestamp, see :func:`storex.bundle.new_version`). The
version in service is named by ``<root>/<name>/current.json``, written atomically, so a
reader sees the old pointer or the new one, never half of one. Publishing keeps the newest
``keep`` versions (default 3) and never deletes the current one.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

from storex.bundle import BUNDLE_FILE, ModelBundle, new_version
from storex.errors import ConfigError, MissingDataError, ModelError
from storex.io import atomic_dir, read_json, write_json

POINTER_FILE = "current.json"
log = logging.getLogger(__name__)


class ModelRegistry:
    """Published bundles of one or more model names under ``root``.

    Parameters
    ----------
    root
        The registry folder.
    name
        Default model name for every method; when None and ``root`` holds a single name,
        that one is used.
    keep
        Versions kept per name by :meth:`publish`.
    """

    def __init__(self, root: str | Path, name: str | None = None, *, keep: int = 3) -> None:
        if keep < 1:
            raise ConfigError(f"registry keep must be >= 1, got {keep}")
        self.root = Path(root)
        self.name = name
        self.keep = keep

    def names(self) -> list[str]:
        """Model names with at least one published version."""
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and self._versions(p))

    def versions(self, name: str | None = None) -> list[str]:
        """Published versions of ``name``, oldest first."""
        return self._versions(self.root / self._name(name))

    def current(self, name: str | None = None) -> str | None:
        """The version in service, or None before the first publish."""
        pointer = self.root / self._name(name) / POINTER_FILE
        if not pointer.is_file():
            return None
        try:
            return str(read_json(pointer)["version"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ModelError(f"{pointer}: not a version pointer ({exc!r})") from exc

    def path(self, version: str | None = None, name: str | None = None) -> Path:
        """Folder of ``version`` (default: the current one)."""
        name = self._name(name)
        version = version or self.current(name)
        if version is None:
            raise MissingDataError("no version published yet", path=self.root / name)
        folder = self.root / name / version
        if not (folder / BUNDLE_FILE).is_file():
            raise MissingDataError(f"version {version!r} is not published", path=folder)
        return folder

    def publish(self, bundle_dir: str | Path, *, name: str | None = None) -> str:
        """Copy a bundle folder in (unless it already is one), make it current, prune.

        The name and version come from its ``bundle.json`` (a version is made when it has
        none). The bundle is loaded once first, so a damaged one is never made current.
        """
        source = Path(bundle_dir)
        if not (source / BUNDLE_FILE).is_file():
            raise MissingDataError(f"no model bundle here (missing {BUNDLE_FILE})", path=source)
        info = json.loads((source / BUNDLE_FILE).read_text())
        name = name or self.name or str(info.get("name") or "")
        version = str(info.get("version") or new_version())
        for label, value in (("name", name), ("version", version)):
            if not value or value.startswith(".") or "/" in value or "\\" in value:
                raise ConfigError(f"bundle {label} {value!r} cannot name a registry folder")
        target = self.root / name / version
        if source.resolve() != target.resolve():
            if target.exists():
                raise ConfigError(f"version {version!r} of {name!r} is already published")
            with atomic_dir(target) as staging:
                shutil.copytree(source, staging, dirs_exist_ok=True)
        ModelBundle.load(target)
        self.set_current(version, name)
        self._prune(name)
        log.info("published %s version %s", name, version)
        return version

    def set_current(self, version: str, name: str | None = None) -> None:
        """Point ``name`` at a published ``version``."""
        name = self._name(name)
        self.path(version, name)
        write_json(self.root / name / POINTER_FILE, {"name": name, "version": version})

    def rollback(self, name: str | None = None) -> str:
        """Make the version before the current one current again; returns it."""
        name = self._name(name)
        versions, current = self.versions(name), self.current(name)
        if current not in versions or versions.index(current) == 0:
            raise ConfigError(f"{name}: no version before {current!r} to roll back to")
        previous = versions[versions.index(current) - 1]
        self.set_current(previous, name)
        log.info("rolled %s back from %s to %s", name, current, previous)
        return previous

    def load_current(self, name: str | None = None) -> ModelBundle:
        """The current version's bundle."""
        return ModelBundle.load(self.path(None, name))

    def _prune(self, name: str) -> None:
        versions, current = self.versions(name), self.current(name)
        for version in versions[: -self.keep]:
            if version != current:
                shutil.rmtree(self.root / name / version)
                log.info("pruned %s version %s", name, version)

    def _name(self, name: str | None) -> str:
        chosen = name or self.name
        if chosen:
            return chosen
        names = self.names()
        if len(names) != 1:
            raise ConfigError(f"{self.root}: name the model, the registry holds {names or 'none'}")
        return names[0]

    @staticmethod
    def _versions(folder: Path) -> list[str]:
        if not folder.is_dir():
            return []
        return sorted(
            p.name
            for p in folder.iterdir()
            if p.is_dir() and not p.name.startswith(".") and (p / BUNDLE_FILE).is_file()
        )

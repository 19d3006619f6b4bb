"""Layering: defaults < profile < file < WEBMCP_* env < CLI flags.

Defaults live in the Spec factories (each documented beside its key in the schemas). A profile is a
partial config file. Env and flag overrides arrive from the CLI as (key path, value, label) triples;
click reads WEBMCP_* variables, and the label says which source won ("--port" or "env WEBMCP_PORT").
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path as FsPath
from typing import Any

from webmcp.config.marked_yaml import Locations, Path
from webmcp.config.package_data import package_folder


@dataclass(frozen=True, slots=True)
class Override:
    path: tuple[str, ...]
    value: Any
    label: str  # "--port", "env WEBMCP_PORT"


def merge(base: Any, top: Any) -> Any:
    """Deep-merge mappings; anything else in `top` replaces what is in `base`."""
    if isinstance(base, dict) and isinstance(top, dict):
        out = dict(base)
        for key, value in top.items():
            out[key] = merge(base.get(key), value) if key in base else copy.deepcopy(value)
        return out
    return copy.deepcopy(top)


def apply(doc: dict[str, Any], overrides: list[Override]) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    for ov in overrides:
        node = out
        for key in ov.path[:-1]:
            child = node.get(key)
            if not isinstance(child, dict):
                child = node[key] = {}
            node = child
        node[ov.path[-1]] = ov.value
    return out


def profile_source(name: str, base_dir: FsPath) -> tuple[str, str] | None:
    """(label, YAML text) of a profile by name or path; None for `none`. Raises FileNotFoundError."""
    if name == "none":
        return None
    if name.endswith((".yaml", ".yml")) or "/" in name:
        path = (base_dir / name).resolve()
        return str(path), path.read_text()
    entry = _profiles() / f"{name}.yaml"
    if not entry.is_file():
        raise FileNotFoundError(name)
    return f"profile {name}", entry.read_text()


def builtin_profiles() -> list[str]:
    return sorted(e.name.removesuffix(".yaml") for e in _profiles().iterdir() if e.name.endswith(".yaml"))


def _profiles() -> FsPath:
    return package_folder("webmcp.profiles")


@dataclass(slots=True)
class Origins:
    """Answers 'where was the value at this path written?' across all layers."""

    file: Locations
    profile: Locations | None
    overrides: list[Override]

    def text(self, path: Path) -> str | None:
        """The source text of an unquoted scalar, when the value at `path` came from a file."""
        if any(path[: len(ov.path)] == ov.path for ov in self.overrides):
            return None
        if self.file.has(path):
            return self.file.texts.get(path)
        return self.profile.texts.get(path) if self.profile is not None else None

    def layer(self, path: Path) -> tuple[str, str]:
        """(layer, label) of the value at `path`: ("flag", "--port"), ("environment", "env WEBMCP_PORT"),
        ("file", "webmcp.yaml:12"), ("profile", "profile linux-cpu:7") or ("default", "default")."""
        label, line, _ = self.locate(path)
        for ov in reversed(self.overrides):
            if path[: len(ov.path)] == ov.path:
                return ("environment" if ov.label.startswith("env ") else "flag"), ov.label
        where = f"{label}:{line}" if line is not None else label
        if self.file.has(path):
            return "file", where
        if self.profile is not None and self.profile.has(path):
            return "profile", where
        return "default", "default"

    def locate(self, path: Path) -> tuple[str, int | None, int | None]:
        for ov in reversed(self.overrides):
            if path[: len(ov.path)] == ov.path:
                return ov.label, None, None
        if self.profile is not None and not self.file.has(path) and self.profile.has(path):
            mark = self.profile.find(path)
            return self.profile.source, mark[0] if mark else None, mark[1] if mark else None
        mark = self.file.find(path)
        return self.file.source, (mark[0] if mark else None), (mark[1] if mark else None)

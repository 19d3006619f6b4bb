"""The registry of kinds: (section, kind name) -> how to read its Spec and build its runtime object.

Filled by explicit imports in `webmcp/kinds/imports.py` (so PyInstaller sees every kind); a duplicate
kind name fails at import time. tests/kinds/test_registry.py checks that the registry and schemas/
agree both ways.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

_KINDS: dict[tuple[str, str], Kind] = {}


@dataclass(frozen=True, slots=True)
class Kind:
    section: str  # "tools"
    name: str  # "python"
    spec_type: Any  # has from_config(name, node, path, ctx) -> Spec
    build: Callable[[Any, Any], Awaitable[Any]]  # (spec, BuildContext) -> runtime object


def register(entry: Kind) -> Kind:
    key = (entry.section, entry.name)
    if key in _KINDS:
        raise RuntimeError(f"duplicate kind {entry.section}/{entry.name}")
    _KINDS[key] = entry
    return entry


def _ensure_loaded() -> None:
    import webmcp.kinds.imports  # noqa: F401  (fills _KINDS)


def kind(section: str, name: str) -> Kind:
    _ensure_loaded()
    return _KINDS[(section, name)]


def kinds_of(section: str) -> list[str]:
    _ensure_loaded()
    return sorted(name for (sec, name) in _KINDS if sec == section)

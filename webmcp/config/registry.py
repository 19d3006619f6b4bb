"""The registry of kinds: (section, kind name) -> how to read its Spec and build its runtime object.

Declared here, below the kinds, so that the config layer can read each kind's Spec; filled by the
explicit imports in `webmcp/kinds/imports.py` (which the graph builder imports, and bundlers see); a
duplicate kind name fails at import time. tests/kinds/test_registry.py checks that the registry and schemas/
agree both ways.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

_KINDS: dict[tuple[str, str], Kind] = {}


@dataclass(frozen=True, slots=True)
class Kind:
    section: str  # "tools"
    name: str  # "python"
    spec_type: Any  # has from_config(name, node, path, ctx) -> Spec
    build: Callable[..., Any]  # (spec, BuildContext) -> awaitable runtime object; balancers: (endpoints, hash_on)


def register(entry: Kind) -> Kind:
    key = (entry.section, entry.name)
    if key in _KINDS:
        raise RuntimeError(f"duplicate kind {entry.section}/{entry.name}")
    _KINDS[key] = entry
    return entry


def _ensure_loaded() -> None:
    if not _KINDS:
        raise RuntimeError("no kinds are registered: import webmcp.kinds.imports (webmcp.graph.build does) first")


def kind(section: str, name: str) -> Kind:
    _ensure_loaded()
    return _KINDS[(section, name)]


def kinds_of(section: str) -> list[str]:
    _ensure_loaded()
    return sorted(name for (sec, name) in _KINDS if sec == section)


def registered() -> list[tuple[str, str]]:
    """Every (section, kind) registered so far."""
    return sorted(_KINDS)

"""The registry of kinds: (section, kind name) -> how to read its Spec and build its runtime object.

Declared here, below the kinds, so that the config layer can read each kind's Spec. The table of
every kind and the module that implements it is written out in one file, `webmcp/kinds/imports.py`
(which the graph builder imports); a kind's module is imported when a config first names the kind,
and registers it then, so a start pays only for the kinds its config uses. A kind declared or
registered twice fails at once. tests/kinds/test_registry.py imports every kind and checks that the
registry, schemas/ and the docs agree both ways.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from webmcp.errors import WebmcpError


class KindUnavailable(WebmcpError):
    """A declared kind whose module does not import here (a missing dependency, a broken install)."""


_DECLARED: dict[tuple[str, str], str] = {}  # (section, kind) -> the module that registers it
_KINDS: dict[tuple[str, str], Kind] = {}


@dataclass(frozen=True, slots=True)
class Kind:
    section: str  # "tools"
    name: str  # "python"
    spec_type: Any  # has from_config(name, node, path, ctx) -> Spec
    build: Callable[..., Any]  # (spec, BuildContext) -> awaitable runtime object; balancers: (endpoints, hash_on)


def declare(section: str, name: str, module: str) -> None:
    """Kind `name` of `section` is implemented (and registered) by `module`."""
    if _DECLARED.get((section, name), module) != module:
        raise RuntimeError(f"duplicate kind {section}/{name}: {_DECLARED[(section, name)]} and {module}")
    _DECLARED[(section, name)] = module


def register(entry: Kind) -> Kind:
    """Called by a kind's module as it is imported."""
    key = (entry.section, entry.name)
    if key in _KINDS:
        raise RuntimeError(f"duplicate kind {entry.section}/{entry.name}")
    _KINDS[key] = entry
    return entry


def kind(section: str, name: str) -> Kind:
    """The kind, its module imported on first use. KeyError for a kind nobody declared."""
    found = _KINDS.get((section, name))
    if found is None:
        module = _DECLARED.get((section, name))
        if module is None:
            _ensure_declared(section)
            raise KeyError(f"no {section} kind {name!r}")
        try:
            importlib.import_module(module)
        except ImportError as exc:  # a dependency of the kind is missing from this installation
            raise KindUnavailable(f"the {section} kind {name!r} cannot be loaded: {module}: {exc}") from exc
        found = _KINDS.get((section, name))
        if found is None:
            raise RuntimeError(f"{module} does not register the {section} kind {name!r}")
    return found


def is_registered(section: str, name: str) -> bool:
    return (section, name) in _KINDS


def kinds_of(section: str) -> list[str]:
    """The names of the kinds of `section` (no kind module is imported)."""
    _ensure_declared(section)
    return sorted({name for (sec, name) in (*_DECLARED, *_KINDS) if sec == section})


def registered() -> list[tuple[str, str, str]]:
    """Every declared kind: (section, name, module)."""
    return sorted((section, name, module) for (section, name), module in _DECLARED.items())


def load_all() -> None:
    """Import every declared kind's module (tests, and tools that list every kind)."""
    for section, name, _ in registered():
        kind(section, name)


def _ensure_declared(section: str) -> None:
    if not any(sec == section for sec, _ in _DECLARED):
        raise RuntimeError("no kinds are declared: import webmcp.kinds.imports (webmcp.graph.build does) first")

"""Plugin kinds: third-party tool, pool and upstream kinds from installed packages.

A plugin package declares entry points in the group `webmcp.kinds`, each named `<section>.<kind>`
(`tools.greeting`) with the module that implements the kind as its value. Imported, that module registers
its Kind (`config.registry.register(Kind(section, name, Spec, build))`, as built-in kinds do) and holds
`SCHEMA`, the JSON Schema of its entries (`$id` `urn:webmcp:kinds/<section>/<kind>`).

- Discovery reads the installed packages' metadata and imports nothing; it runs only when a config names a
  kind that is not built in (`webmcp validate` lists what it finds). A plugin's module is imported when a
  config first names its kind, and is then declared to the registry like a built-in kind.
- `plugins: [NAME, NAME==VERSION, ...]` in the file allows only those packages (at that version).
- A plugin kind whose name is a built-in kind's, or that two packages provide, is refused.
- A plugin that does not import, does not register its kind, or brings a schema that is not a valid JSON
  Schema is a located problem at the `kind:` that names it; the process goes on.
- The one-file binary sees only the package metadata bundled into it (build/webmcp.spec,
  WEBMCP_BUILD_PLUGINS), so it loads no plugin it was not built with.
"""

from __future__ import annotations

import functools
import importlib
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from webmcp.config.marked_yaml import Path, dotted
from webmcp.errors import Problem

if TYPE_CHECKING:
    from importlib import metadata

GROUP = "webmcp.kinds"
SECTIONS = ("tools", "pools", "upstreams")
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:==(\S+))?$")


@dataclass(frozen=True, slots=True)
class PluginKind:
    section: str
    name: str
    module: str
    dist: str  # the package that brings it, as its metadata spells it
    version: str
    refused: str | None = None  # why it may not be used (a name that collides), else None

    @property
    def label(self) -> str:
        return f"{self.section}/{self.name} ({self.dist} {self.version})"


@dataclass(frozen=True, slots=True)
class PluginPin:
    """One entry of `plugins:`: a package allowed to bring kinds, at any version or at `version`."""

    dist: str  # normalized (PEP 503)
    version: str | None
    text: str

    def allows(self, kind: PluginKind) -> bool:
        return normalize(kind.dist) == self.dist and self.version in (None, kind.version)


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _builtin(section: str) -> set[str]:
    from webmcp.config.registry import registered

    return {name for sec, name, module in registered() if sec == section and module.startswith("webmcp.kinds.")}


def _entry_points() -> Iterable[tuple[metadata.EntryPoint, str, str]]:
    """(entry point, package, version) of every `webmcp.kinds` entry point installed; in the frozen binary,
    only the packages bundled into it."""
    from importlib import metadata  # about 10 ms: only configs naming a kind that is not built in pay it

    if getattr(sys, "frozen", False):
        seen = set()
        for dist in metadata.distributions(path=[getattr(sys, "_MEIPASS", "")]):
            name = dist.metadata["Name"] or "?"
            if normalize(name) not in seen:
                seen.add(normalize(name))
                yield from ((ep, name, dist.version) for ep in dist.entry_points if ep.group == GROUP)
        return
    # entry_points() reads each package's entry_points.txt only (and a package found twice on sys.path once, the
    # first, as imports do); the metadata of the few packages that have ours is read after.
    for ep in metadata.entry_points(group=GROUP):
        owner = ep.dist
        yield ep, (owner.metadata["Name"] if owner is not None else None) or "?", owner.version if owner else "?"


@functools.cache
def available() -> tuple[PluginKind, ...]:
    """Every plugin kind installed, refused ones with the reason; nothing is imported."""
    found: list[PluginKind] = []
    for ep, dist, version in _entry_points():
        section, _, name = ep.name.partition(".")
        found.append(PluginKind(section, name, ep.value.partition(":")[0], dist, version))
    out = []
    for pk in found:
        twins = [other.dist for other in found if (other.section, other.name) == (pk.section, pk.name)]
        if pk.section not in SECTIONS or not pk.name:
            why = (f"its entry point name {pk.section}.{pk.name} is not <section>.<kind> "
                   f"(sections: {', '.join(SECTIONS)})")
        elif pk.name in _builtin(pk.section):
            why = f"{pk.section} kind {pk.name!r} is built into webmcp"
        elif len(twins) > 1:
            why = f"{pk.section} kind {pk.name!r} is provided by several packages: {', '.join(sorted(twins))}"
        else:
            why = None
        out.append(PluginKind(pk.section, pk.name, pk.module, pk.dist, pk.version, why))
    return tuple(sorted(out, key=lambda p: (p.section, p.name, p.dist)))


_DISCOVERED: list[bool] = []  # set once available() ran for a config: the envelope accepts plugin kind names


def usable_names(section: str) -> list[str]:
    """Plugin kind names of `section` a config may write (once a config needed discovery), for the envelope."""
    if not _DISCOVERED:
        return []
    return sorted({pk.name for pk in available() if pk.section == section and pk.refused is None})


def _wanted(merged: Mapping[str, Any]) -> list[tuple[str, str, Path]]:
    """(section, kind, entry path) of every entry whose kind is not built in."""
    out: list[tuple[str, str, Path]] = []

    def visit(section: str, entries: Any, path: Path) -> None:
        if not isinstance(entries, dict):
            return
        builtin = _builtin(section)
        for name, entry in entries.items():
            if isinstance(entry, dict) and isinstance(entry.get("kind"), str) and entry["kind"] not in builtin:
                out.append((section, entry["kind"], (*path, name)))

    for section in SECTIONS:
        visit(section, merged.get(section), (section,))
    for name, master in (merged.get("master_tools") or {}).items() if isinstance(merged.get("master_tools"), dict) \
            else ():
        if isinstance(master, dict):
            visit("tools", master.get("operations"), ("master_tools", name, "operations"))
    return out


def _pins(node: Any) -> tuple[PluginPin, ...] | None:
    if not isinstance(node, list):
        return None
    pins = []
    for text in node:
        found = _PIN.match(text) if isinstance(text, str) else None
        if found:  # others are the schema check's to report
            pins.append(PluginPin(normalize(found[1]), found[2], text))
    return tuple(pins)


def pins_of(merged: Mapping[str, Any]) -> tuple[PluginPin, ...] | None:
    """The `plugins:` allow-list of the file; None when it has none (every installed plugin may be used)."""
    return _pins(merged.get("plugins"))


def admit(merged: Mapping[str, Any], locate: Any) -> tuple[list[Problem], bool]:
    """Load the plugin kinds the document names, as `plugins:` allows: (problems, whether it uses any)."""
    wanted = _wanted(merged)
    if not wanted:
        return [], False
    _DISCOVERED.append(True)
    found = {(pk.section, pk.name): pk for pk in available()}
    pins = pins_of(merged)
    problems: list[Problem] = []
    uses = False
    for section, name, path in wanted:
        pk = found.get((section, name))
        if pk is None:
            continue  # an unknown kind: the envelope check reports it, with the kinds there are
        uses = True
        at: Path = (*path, "kind")
        src, line, col = locate(at)
        if pk.refused is not None:
            problems.append(Problem(src, line, col, dotted(at), f"plugin kind refused: {pk.refused}",
                                    f'"{name}"', "uninstall one of the packages, or use another kind"))
        elif pins is not None and not any(pin.allows(pk) for pin in pins):
            allowed = ", ".join(p.text for p in pins) or "none"
            problems.append(Problem(src, line, col, dotted(at), f"{pk.section} kind {name!r} comes from plugin "
                                    f"{pk.dist} {pk.version}, which plugins: does not allow", f'"{name}"',
                                    f"add {normalize(pk.dist)} to plugins: (allowed now: {allowed})"))
        else:
            error = load_kind(pk)
            if error is not None:
                problems.append(Problem(src, line, col, dotted(at), error, f'"{name}"',
                                        f"fix or reinstall {pk.dist}, or remove it from the environment"))
    return problems, uses


_LOADED: dict[tuple[str, str], str | None] = {}  # (section, kind) -> the error of loading it, or None


def load_kind(pk: PluginKind) -> str | None:
    """Import a plugin kind's module, check what it brings and declare it; the error as a sentence, or None."""
    key = (pk.section, pk.name)
    if key not in _LOADED:
        _LOADED[key] = _load(pk)
    return _LOADED[key]


def _load(pk: PluginKind) -> str | None:
    from webmcp.config.registry import declare, is_registered
    from webmcp.config.schemas import add_schema, kind_schema_id

    where = f"plugin {pk.dist} {pk.version}"
    try:
        module = importlib.import_module(pk.module)
    except (Exception, SystemExit) as exc:  # the plugin's code, whatever it raises, must not stop webmcp
        return f"{where}: importing {pk.module} failed: {type(exc).__name__}: {exc}"
    if not is_registered(pk.section, pk.name):
        return f"{where}: {pk.module} does not register the {pk.section} kind {pk.name!r} (register(Kind(...)))"
    schema = getattr(module, "SCHEMA", None)
    sid = kind_schema_id(pk.section, pk.name)
    if not isinstance(schema, dict) or schema.get("$id") != sid:
        return f"{where}: {pk.module}.SCHEMA must be the kind's JSON Schema, a dict with $id {sid!r}"
    from jsonschema import Draft202012Validator, SchemaError

    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        return f"{where}: {pk.module}.SCHEMA is not a valid JSON Schema: {exc.message}"
    add_schema(schema)
    declare(pk.section, pk.name, pk.module)
    return None

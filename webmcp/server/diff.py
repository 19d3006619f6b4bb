"""What changes between two configurations, as a client and an operator would see it.

A Graph's summary holds a digest of each tool, prompt and resource definition, a digest of the Specs
each tool was built from (a tool whose backend changed is changed too, though clients see the same
definition), plus the settings a running transport reads only at start. Reload compares summaries to
report and announce what changed; `webmcp validate --diff` compares a file with a running server's
summary (from its run file) or with a second file, before anything is reloaded.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from webmcp.graph.graph import Graph

SECTIONS = ("tools", "prompts", "resources", "toolsets")
# Server settings the running transport read at start: a reload reports them, never applies them.
RESTART_ONLY = ("transport", "http", "max_message_size", "pid_file", "event_loop", "request_state", "watch")


def _digest(value: Any) -> str:
    return hashlib.sha256(orjson.dumps(value, option=orjson.OPT_SORT_KEYS, default=str)).hexdigest()[:16]


def _comparable(value: Any) -> Any:
    """JSON-able data holding what Spec equality compares: every field of a dataclass except those it leaves
    out of equality (`where` an entry was written, so an entry that only moved is unchanged)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _comparable(getattr(value, f.name)) for f in dataclasses.fields(value) if f.compare}
    if isinstance(value, Mapping):
        return {str(k): _comparable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_comparable(v) for v in value]
    return value


def _built_from(tool: Any) -> list[Any]:
    """The Specs of a listed tool: its own and, for a master tool, each operation's."""
    return [tool.spec, *(op.spec for op in getattr(tool, "operations", {}).values())]


def summarize(graph: Graph) -> dict[str, Any]:
    """JSON-able: {section: {name: digest}, "tool_specs": {name: digest}, "restart_only": {setting: digest}}."""
    server = graph.spec.server
    resources = (*graph.resources.fixed, *graph.resources.templates)
    return {
        "tools": {d["name"]: _digest(d) for d in graph.catalog},
        "tool_specs": {name: _digest(_comparable(_built_from(tool))) for name, tool in graph.tools.items()},
        "prompts": {name: _digest(p.entry) for name, p in graph.prompts.by_name.items()},
        "resources": {r.spec.name: _digest(r.entry) for r in resources},
        "toolsets": {name: _digest(view.catalog) for name, view in graph.views.items()},
        "restart_only": {**{name: _digest(getattr(server, name)) for name in RESTART_ONLY},
                         "telemetry.listen": _digest(graph.spec.telemetry.listen)},
    }


@dataclass(slots=True)
class Changes:
    added: dict[str, list[str]] = field(default_factory=dict)
    removed: dict[str, list[str]] = field(default_factory=dict)
    changed: dict[str, list[str]] = field(default_factory=dict)
    restart_only: list[str] = field(default_factory=list)
    relisted: list[str] = field(default_factory=list)  # sections whose list, as a client sees it, changed

    def lists_changed(self) -> list[str]:
        """Sections whose list a client should fetch again (a tool whose backend alone changed lists the same; a
        changed toolset is a changed tools list for its sessions)."""
        return [s for s in self.relisted if s != "toolsets"]

    def lines(self) -> list[str]:
        out = []
        for section in SECTIONS:
            parts = [f"{label} {', '.join(names)}" for label, names in (
                ("added", self.added.get(section)), ("removed", self.removed.get(section)),
                ("changed", self.changed.get(section))) if names]
            if parts:
                out.append(f"{section}: {'; '.join(parts)}")
        if self.restart_only:
            out.append(f"ignored until restart: {', '.join(self.restart_only)}")
        return out or ["no changes"]

    def as_dict(self) -> dict[str, Any]:
        return {"added": self.added, "removed": self.removed, "changed": self.changed,
                "restart_only": self.restart_only}


def compare(before: dict[str, Any], after: dict[str, Any]) -> Changes:
    changes = Changes()
    for section in SECTIONS:
        old, new = before.get(section, {}), after.get(section, {})
        changes.added[section] = sorted(new.keys() - old.keys())
        changes.removed[section] = sorted(old.keys() - new.keys())
        changes.changed[section] = sorted(n for n in old.keys() & new.keys() if old[n] != new[n])
        if changes.added[section] or changes.removed[section] or changes.changed[section]:
            changes.relisted.append(section)
    if "toolsets" in changes.relisted and "tools" not in changes.relisted:
        changes.relisted.append("tools")  # a toolset's list changed: its sessions fetch it again
    old_specs, new_specs = before.get("tool_specs", {}), after.get("tool_specs", {})
    backend_only = {n for n in old_specs.keys() & new_specs.keys() if old_specs[n] != new_specs[n]}
    changes.changed["tools"] = sorted({*changes.changed["tools"], *backend_only})
    old_settings, new_settings = before.get("restart_only", {}), after.get("restart_only", {})
    changes.restart_only = [f"server.{n}" for n in RESTART_ONLY if old_settings.get(n) != new_settings.get(n)]
    if old_settings.get("telemetry.listen") != new_settings.get("telemetry.listen"):
        changes.restart_only.append("telemetry.listen")
    return changes

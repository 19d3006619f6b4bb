"""Specs of master tools: operations resolved to tool names (inline operations become tools)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from webmcp.config.spec import MasterToolSpec, SpecContext
from webmcp.config.tools import ToolSpec
from webmcp.config.validate import show


def master_specs(
    nodes: Mapping[str, Any], tools: dict[str, ToolSpec], ctx: SpecContext
) -> dict[str, MasterToolSpec]:
    """Build every master tool's Spec. Inline operation tools are added to `tools` as `master.op`."""
    from webmcp.config.registry import kind

    used: set[str] = set()
    out: dict[str, MasterToolSpec] = {}
    for name, node in nodes.items():
        path = ("master_tools", name)
        operations: dict[str, str] = {}
        for op, target in node["operations"].items():
            op_path = (*path, "operations", op)
            if isinstance(target, str):
                operations[op] = target  # a name from tools: (config/references.py checks it)
            else:
                generated = f"{name}.{op}"
                if generated in tools:
                    ctx.problem(op_path, f"inline operation would be named {generated!r}, which tools: already has")
                    continue
                tools[generated] = kind("tools", target["kind"]).spec_type.from_config(generated, target, op_path, ctx)
                operations[op] = generated
            used.add(operations[op])
        out[name] = MasterToolSpec(
            name=name,
            description=node.get("description", ""),
            title=node.get("title"),
            annotations=node.get("annotations"),
            schema_style=node.get("schema_style", "flat"),
            operations=operations,
            where=ctx.where(path),
            tags=tuple(node.get("tags", ())),
            scopes=tuple(node.get("scopes", ())),
        )
    for name in out:
        if name in tools and (name not in used or tools[name].expose):
            ctx.problem(("master_tools", name), "a tool with this name is listed already", show(name),
                        "rename the master tool or the tool")
    return out


def is_listed(tool: ToolSpec, masters: Mapping[str, MasterToolSpec]) -> bool:
    """Tools used by a master tool are listed on their own only with `expose: true`."""
    if tool.expose:
        return True
    return not any(tool.name in m.operations.values() for m in masters.values())

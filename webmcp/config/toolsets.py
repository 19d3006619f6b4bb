"""`toolsets:`: named views of the catalog (include / tags / exclude, a `max_tools` budget, a mode).

Which tools a view holds, and whether it meets its budget, is decided when the graph is built
(graph/toolsets.py): an `mcp` tool with `import:` brings names only its upstream knows."""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from webmcp.config.spec import SpecContext, Where

Mode = Literal["list", "fold", "search"]


@dataclass(frozen=True, slots=True)
class ToolsetSpec:
    name: str
    include: tuple[str, ...]  # names or shell-style patterns; empty: every listed tool (unless tags)
    tags: tuple[str, ...]
    exclude: tuple[str, ...]
    max_tools: int | None
    mode: Mode
    where: Where = field(compare=False)
    model: str | None = None  # a models: entry ranking find_tools (mode: search)
    include_where: tuple[Where, ...] = field(default=(), compare=False)  # one per include entry
    exclude_where: tuple[Where, ...] = field(default=(), compare=False)
    budget_where: Where | None = field(default=None, compare=False)  # max_tools (else the entry)

    @classmethod
    def from_config(cls, name: str, node: Mapping[str, Any], ctx: SpecContext) -> ToolsetSpec:
        path = ("toolsets", name)
        include = tuple(node.get("include", ()))
        exclude = tuple(node.get("exclude", ()))
        return cls(
            name=name,
            include=include,
            tags=tuple(node.get("tags", ())),
            exclude=exclude,
            max_tools=node.get("max_tools"),
            mode=node.get("mode", "list"),
            model=node.get("model"),
            where=ctx.where(path),
            include_where=tuple(ctx.where((*path, "include", i)) for i in range(len(include))),
            exclude_where=tuple(ctx.where((*path, "exclude", i)) for i in range(len(exclude))),
            budget_where=ctx.where((*path, "max_tools")) if "max_tools" in node else None,
        )

    @property
    def selects(self) -> bool:
        """Does the view pick its tools (include or tags), rather than start from every listed tool?"""
        return bool(self.include or self.tags)


def matches(pattern: str, name: str) -> bool:
    """A name, or a shell-style pattern (`gh_*`)."""
    return pattern == name or (is_pattern(pattern) and fnmatch.fnmatchcase(name, pattern))


def is_pattern(text: str) -> bool:
    return any(c in text for c in "*?[")


def toolset_specs(nodes: Mapping[str, Any], models: Mapping[str, Any], ctx: SpecContext) -> dict[str, ToolsetSpec]:
    from webmcp.config.validate import suggest

    out = {}
    for name, node in nodes.items():
        spec = ToolsetSpec.from_config(name, node, ctx)
        if spec.model is not None and spec.mode != "search":
            ctx.problem(("toolsets", name, "model"), "a model ranks find_tools, which only mode: search lists",
                        f'"{spec.model}"', "set mode: search, or remove model")
        elif spec.model is not None and spec.model not in models:
            ctx.problem(("toolsets", name, "model"), "no such entry in models:", f'"{spec.model}"',
                        suggest(spec.model, models) or f"models: has {', '.join(sorted(models)) or 'nothing'}")
        if spec.mode == "search" and spec.max_tools is not None and spec.max_tools < 2:
            ctx.problem(("toolsets", name, "max_tools"), "mode: search lists two tools (find_tools and call_tool)",
                        str(spec.max_tools), "set max_tools to 2 or more")
        out[name] = spec
    return out

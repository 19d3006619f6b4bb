"""mcp tool: one tool of an upstream MCP server (`tool: NAME`), or all of them (`import:`), called
through the upstream (balancing, breakers, retries, reconnection)."""

from __future__ import annotations

import dataclasses
import fnmatch
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from webmcp.callpath.tool import Tool
from webmcp.config.marked_yaml import Path
from webmcp.config.registry import Kind, register
from webmcp.config.spec import SpecContext
from webmcp.config.tools import ToolSpec
from webmcp.errors import ToolError

if TYPE_CHECKING:
    from webmcp.call.context import Context
    from webmcp.kinds.contract import BuildContext
    from webmcp.kinds.upstreams.mcp import McpUpstream


@dataclass(frozen=True, slots=True)
class ImportSpec:
    prefix: str
    allow: tuple[str, ...]  # name patterns (fnmatch); empty: all
    deny: tuple[str, ...]

    def admits(self, name: str) -> bool:
        if self.allow and not any(fnmatch.fnmatchcase(name, p) for p in self.allow):
            return False
        return not any(fnmatch.fnmatchcase(name, p) for p in self.deny)


@dataclass(frozen=True, slots=True)
class McpToolSpec(ToolSpec):
    upstream: str
    tool: str | None
    imports: ImportSpec | None
    idempotent: bool

    @classmethod
    def from_config(cls, name: str, node: Mapping[str, Any], path: Path, ctx: SpecContext) -> McpToolSpec:
        common = ToolSpec.common(name, node, path, ctx)
        imports = None
        if "import" in node:
            node_import = node["import"] or {}
            imports = ImportSpec(node_import.get("prefix", ""), tuple(node_import.get("allow", ())),
                                 tuple(node_import.get("deny", ())))
            for key in ("input", "output", "description", "title"):
                if key in node:
                    ctx.problem((*path, key), "an import takes each tool's own; set it on a single-tool entry",
                                hint="use tool: NAME for a tool whose definition you want to change")
        return cls(**common, upstream=node["upstream"], tool=node.get("tool"), imports=imports,
                   idempotent=node.get("idempotent", False))


class McpBackend:
    __slots__ = ("_idempotent", "_timeout", "_tool", "_upstream")

    def __init__(self, upstream: McpUpstream, tool: str, idempotent: bool, timeout: float) -> None:
        self._upstream = upstream
        self._tool = tool
        self._idempotent = idempotent
        self._timeout = timeout

    async def invoke(self, arguments: dict[str, Any], ctx: Context) -> dict[str, Any]:
        return await self._upstream.invoke(self._tool, arguments, self._idempotent,
                                           time.monotonic() + self._timeout)


class NotConnected:
    """The backend of a tool built without connecting (a static check, whose graph is never served)."""

    __slots__ = ("_upstream",)

    def __init__(self, upstream: str) -> None:
        self._upstream = upstream

    async def invoke(self, arguments: dict[str, Any], ctx: Context) -> dict[str, Any]:
        raise ToolError(f"upstream {self._upstream!r} is not connected: this tool was built by a static check")


def _definition(upstream_tool: Any) -> dict[str, Any]:
    dumped: dict[str, Any] = upstream_tool.model_dump(by_alias=True, exclude_none=True, mode="json")
    return dumped


def _make(spec: McpToolSpec, name: str, remote: dict[str, Any], upstream: McpUpstream, ctx: BuildContext) -> Tool:
    spec = dataclasses.replace(
        spec, name=name,
        title=spec.title or remote.get("title"),
        description=spec.description or remote.get("description"),
        output_schema=spec.output_schema or remote.get("outputSchema"),
        annotations=spec.annotations or remote.get("annotations"),
    )
    schema = spec.input_schema or remote.get("inputSchema") or {"type": "object"}
    backend = McpBackend(upstream, remote["name"], spec.idempotent, spec.timeout)
    return Tool(spec, backend, schema, None, ctx.error_details)


def _unconnected(spec: McpToolSpec, ctx: BuildContext) -> Tool | dict[str, Tool]:
    """What a build that does not connect can check: the entry's own input schema, when it has one (its
    arguments are then known without the upstream); whether the upstream has the tool is left unchecked."""
    if spec.imports is not None:
        ctx.unchecked(spec.where, f"not checked against upstream {spec.upstream!r} (not started): the tools it "
                      "imports")
        return {}
    ctx.unchecked(spec.where, f"not checked against upstream {spec.upstream!r} (not started): that it has the "
                  f"tool {spec.tool or spec.name!r}")
    if spec.input_schema is None:
        return {}
    return Tool(spec, NotConnected(spec.upstream), spec.input_schema, None, ctx.error_details)


async def build(spec: McpToolSpec, ctx: BuildContext) -> Tool | dict[str, Tool]:
    from webmcp.kinds.upstreams.mcp import McpUpstream

    if not ctx.connects:
        return _unconnected(spec, ctx)
    upstream = await ctx.upstream(spec.upstream, McpUpstream)
    remote = {t["name"]: t for t in map(_definition, upstream.tools())}
    if spec.imports is None:
        wanted = spec.tool or spec.name
        if wanted not in remote:
            raise ctx.fail(spec.where, f"upstream {spec.upstream!r} has no tool {wanted!r}",
                           hint=f"it has: {', '.join(sorted(remote)) or 'no tools'}")
        return _make(spec, spec.name, remote[wanted], upstream, ctx)
    imports = spec.imports
    return {imports.prefix + n: _make(spec, imports.prefix + n, t, upstream, ctx)
            for n, t in remote.items() if imports.admits(n)}


KIND = register(Kind("tools", "mcp", McpToolSpec, build))

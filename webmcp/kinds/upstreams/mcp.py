"""mcp upstream: an upstream MCP server (or several replicas of one), over stdio (`command:`) or
Streamable HTTP (`url:`), through the official `mcp` client. `kind: mcp` tools expose its tools.

The `mcp` package is imported only when a config has mcp upstreams.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from webmcp.config.marked_yaml import Path
from webmcp.config.registry import Kind, register
from webmcp.config.spec import SpecContext, Where
from webmcp.config.units import parse_duration
from webmcp.config.upstreams import Balancing, EndpointSpec
from webmcp.config.validate import show
from webmcp.config.value_templates import string_map
from webmcp.kinds.upstreams import balancer_of
from webmcp.kinds.upstreams.http import check_endpoints
from webmcp.upstreams.endpoint import command_name, url_name, url_problem
from webmcp.upstreams.mcp_connection import McpConnection
from webmcp.upstreams.upstream import Upstream

if TYPE_CHECKING:
    from webmcp.kinds.contract import BuildContext


@dataclass(frozen=True, slots=True)
class McpEndpointSpec:
    name: str
    kind: str  # "command" | "url"
    argv: tuple[str, ...]  # the command line, or (url,)
    weight: int = 1


@dataclass(frozen=True, slots=True)
class McpUpstreamSpec:
    name: str
    kind: str
    endpoints: tuple[McpEndpointSpec, ...]
    balancing: Balancing
    env: tuple[tuple[str, str], ...]
    cwd: str
    connect_timeout: float
    ping_interval: float
    max_backoff: float
    where: Where | None = field(default=None, compare=False)

    @classmethod
    def from_config(cls, name: str, node: Mapping[str, Any], path: Path, ctx: SpecContext) -> McpUpstreamSpec:
        entries = list(node.get("endpoints") or [])
        given = [k for k in ("command", "url", "endpoints") if k in node]
        if len(given) != 1:
            ctx.problem(path, "an mcp upstream needs exactly one of command, url, endpoints",
                        f"{', '.join(given) or 'none'}" if given else None)
        if "command" in node:
            entries = [{"command": node["command"]}]
        elif "url" in node:
            entries = [{"url": node["url"]}]
        endpoints = []
        for i, entry in enumerate(entries):
            if "command" in entry:
                argv = tuple(str(a) for a in entry["command"])
                default = command_name(argv) if len(entries) == 1 else f"{command_name(argv)}-{i + 1}"
                endpoints.append(McpEndpointSpec(entry.get("name") or default, "command", argv,
                                                 entry.get("weight", 1)))
            else:
                problem = url_problem(entry["url"])
                if problem is not None:
                    where = (*path, "url") if "url" in node else (*path, "endpoints", i, "url")
                    ctx.problem(where, problem, show(entry["url"]))
                endpoints.append(McpEndpointSpec(entry.get("name") or url_name(entry["url"]), "url", (entry["url"],),
                                                 entry.get("weight", 1)))
        check_endpoints(tuple(EndpointSpec(e.name, e.argv[0], e.weight) for e in endpoints), path, ctx)
        cwd = ctx.base_dir / node.get("cwd", ".")
        return cls(
            name=name, kind="mcp", endpoints=tuple(endpoints), balancing=Balancing.from_config(node),
            env=tuple(string_map(node.get("env"), (*path, "env"), ctx).items()), cwd=str(cwd),
            connect_timeout=parse_duration(node.get("connect_timeout", "10s")),
            ping_interval=parse_duration(node.get("ping_interval", "5s")),
            max_backoff=parse_duration(node.get("max_backoff", "5s")),
            where=ctx.where(path),
        )


class McpUpstream(Upstream):
    """An Upstream whose endpoints are connections to upstream MCP servers."""

    __slots__ = ("connections", "spec")

    def __init__(self, spec: McpUpstreamSpec, ctx: BuildContext) -> None:
        super().__init__(spec.name, [EndpointSpec(e.name, e.argv[0], e.weight) for e in spec.endpoints],
                         spec.balancing, ctx.breaker_spec(spec.balancing.breaker), balancer_of(spec.balancing))
        self.spec = spec
        env = dict(spec.env) or None
        self.connections = {
            e.name: McpConnection(f"upstream {spec.name!r} endpoint {e.name!r}", e.kind, e.argv[0], e.argv[1:],
                                  env, spec.cwd, spec.ping_interval, spec.max_backoff)
            for e in spec.endpoints
        }
        for conn in self.connections.values():
            conn.start()

    async def ready(self) -> bool:
        """Wait (up to connect_timeout) until every endpoint is connected; True when at least one is."""
        done = await asyncio.gather(*(c.wait_ready(self.spec.connect_timeout) for c in self.connections.values()))
        return any(done)

    def tools(self) -> list[Any]:
        """The tools of the first connected endpoint (replicas serve the same tools)."""
        return next((c.tools for c in self.connections.values() if c.session is not None), [])

    async def invoke(self, tool: str, arguments: dict[str, Any], idempotent: bool, deadline: float) -> dict[str, Any]:
        connections = self.connections
        return await self.call(lambda ep: connections[ep.name].call(tool, arguments), arguments, idempotent, deadline)

    async def close(self) -> None:
        await asyncio.gather(*(c.close() for c in self.connections.values()))
        await super().close()


async def build(spec: McpUpstreamSpec, ctx: BuildContext) -> McpUpstream:
    key = (f"upstream {spec.name}", spec, ctx.breaker_spec(spec.balancing.breaker))
    upstream = ctx.share(key, lambda: McpUpstream(spec, ctx), lambda u: u.close())
    if not await upstream.ready():
        assert spec.where is not None
        raise ctx.fail(spec.where, f"cannot connect to the upstream MCP server within {spec.connect_timeout:g}s",
                       hint="check its command or url; the server's stderr is in this process's log")
    return upstream


KIND = register(Kind("upstreams", "mcp", McpUpstreamSpec, build))

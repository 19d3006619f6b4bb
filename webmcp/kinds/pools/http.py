"""http pool: one aiohttp connector + session, shared by every http tool and upstream that names it.

aiohttp is imported only when a config uses HTTP (it costs ~200 ms and ~20 MB at start-up).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from webmcp.config.marked_yaml import Path
from webmcp.config.registry import Kind, register
from webmcp.config.spec import SpecContext, Where
from webmcp.config.units import parse_duration

if TYPE_CHECKING:
    from webmcp.kinds.contract import BuildContext


@dataclass(frozen=True, slots=True)
class HttpPoolSpec:
    name: str
    kind: str = "http"
    max_connections: int = 100
    max_per_host: int = 20
    keepalive: float = 30.0
    connect_timeout: float | None = None
    read_timeout: float | None = None
    dns_cache: float = 10.0
    where: Where | None = field(default=None, compare=False)

    @classmethod
    def from_config(cls, name: str, node: Mapping[str, Any], path: Path, ctx: SpecContext) -> HttpPoolSpec:
        def seconds(key: str) -> float | None:
            return parse_duration(node[key]) if key in node else None

        return cls(
            name=name,
            max_connections=node.get("max_connections", 100),
            max_per_host=node.get("max_per_host", 20),
            keepalive=parse_duration(node.get("keepalive", "30s")),
            connect_timeout=seconds("connect_timeout"),
            read_timeout=seconds("read_timeout"),
            dns_cache=parse_duration(node.get("dns_cache", "10s")),
            where=ctx.where(path),
        )


DEFAULT = HttpPoolSpec(name="default")  # the pool of http tools and upstreams that name none


def make_session(spec: HttpPoolSpec, resolver: Any = None, label: str | None = None) -> Any:
    """The pool's session; with `resolver` (an aiohttp resolver: an SSRF guard's), one of its own, reported
    as `label`."""
    import aiohttp

    from webmcp.upstreams.metrics import pool_trace, watch_connector

    connector = aiohttp.TCPConnector(
        limit=spec.max_connections, limit_per_host=spec.max_per_host, keepalive_timeout=spec.keepalive,
        ttl_dns_cache=math.ceil(spec.dns_cache), use_dns_cache=spec.dns_cache > 0,  # aiohttp takes whole seconds
        resolver=resolver,
    )
    # total=None: each tool's own timeout applies; connect/read limits fail one attempt (retried when safe).
    timeout = aiohttp.ClientTimeout(total=None, connect=spec.connect_timeout, sock_read=spec.read_timeout)
    watch_connector(label or spec.name, connector)
    return aiohttp.ClientSession(connector=connector, timeout=timeout, raise_for_status=False,
                                 trace_configs=[pool_trace(label or spec.name)])


async def build(spec: HttpPoolSpec, ctx: BuildContext) -> Any:
    return ctx.share((f"pool {spec.name}", spec), lambda: make_session(spec), lambda session: session.close())


KIND = register(Kind("pools", "http", HttpPoolSpec, build))

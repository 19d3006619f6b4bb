"""http upstream: base URLs of one HTTP backend, balanced, health-checked, with breakers and retries.

Tools name it (`upstream: NAME`) and give a path template; see webmcp/kinds/tools/http.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from webmcp.config.marked_yaml import Path
from webmcp.config.registry import Kind, register
from webmcp.config.spec import SpecContext, Where
from webmcp.config.upstreams import Balancing, EndpointSpec, HealthCheckSpec
from webmcp.config.validate import show
from webmcp.kinds.upstreams import balancer_of
from webmcp.upstreams.endpoint import url_name, url_problem
from webmcp.upstreams.upstream import Upstream

if TYPE_CHECKING:
    from webmcp.kinds.contract import BuildContext
    from webmcp.upstreams.endpoint import Endpoint


def endpoint_specs(nodes: list[Any], key: str) -> tuple[EndpointSpec, ...]:
    out = []
    for node in nodes:
        entry: dict[str, Any] = {key: node} if isinstance(node, str) else node
        address = entry[key]
        name = entry.get("name") or (url_name(address) if key == "url" else address)
        out.append(EndpointSpec(name=name, address=address.rstrip("/") if key == "url" else address,
                                weight=entry.get("weight", 1)))
    return tuple(out)


def check_urls(nodes: list[Any], path: Path, ctx: SpecContext) -> None:
    """A located problem for each endpoint URL that does not parse (a bad IPv6 literal, a port out of range)."""
    for i, node in enumerate(nodes):
        url = node if isinstance(node, str) else node.get("url") if isinstance(node, dict) else None
        problem = url_problem(url) if isinstance(url, str) else None
        if problem is not None:
            where = (*path, "endpoints", i) if isinstance(node, str) else (*path, "endpoints", i, "url")
            ctx.problem(where, problem, show(url))


def check_endpoints(endpoints: tuple[EndpointSpec, ...], path: Path, ctx: SpecContext) -> None:
    names = [e.name for e in endpoints]
    for dup in sorted({n for n in names if names.count(n) > 1}):
        ctx.problem((*path, "endpoints"), "two endpoints have the same name", f'"{dup}"',
                    "give each a distinct `name:`")


@dataclass(frozen=True, slots=True)
class HttpUpstreamSpec:
    name: str
    kind: str
    endpoints: tuple[EndpointSpec, ...]
    balancing: Balancing
    health_check: HealthCheckSpec | None
    pool: str | None
    where: Where | None = field(default=None, compare=False)

    @classmethod
    def from_config(cls, name: str, node: Mapping[str, Any], path: Path, ctx: SpecContext) -> HttpUpstreamSpec:
        endpoints = endpoint_specs(node["endpoints"], "url")
        check_urls(node["endpoints"], path, ctx)
        check_endpoints(endpoints, path, ctx)
        balancing = Balancing.from_config(node)
        if balancing.balance == "consistent_hash" and not balancing.hash_on:
            ctx.problem((*path, "balance"), "consistent_hash needs the arguments to hash",
                        hint="add hash_on: [argument, ...]")
        return cls(name=name, kind="http", endpoints=endpoints, balancing=balancing,
                   health_check=HealthCheckSpec.from_config(node.get("health_check")), pool=node.get("pool"),
                   where=ctx.where(path))


class HttpUpstream(Upstream):
    """An Upstream plus the pooled session its tools send through."""

    __slots__ = ("session",)

    def __init__(self, spec: HttpUpstreamSpec, ctx: BuildContext, session: Any) -> None:
        super().__init__(spec.name, spec.endpoints, spec.balancing, ctx.breaker_spec(spec.balancing.breaker),
                         balancer_of(spec.balancing))
        self.session = session
        if spec.health_check is not None and ctx.connects:
            check = spec.health_check
            self.start_health_checks(check, lambda ep, timeout: self._probe(ep, check.path, timeout))

    async def _probe(self, ep: Endpoint, path: str, timeout: float) -> bool:
        import aiohttp

        async with self.session.get(ep.address + path, timeout=aiohttp.ClientTimeout(total=timeout)) as resp:
            await resp.read()
            return bool(resp.status < 400)


async def build(spec: HttpUpstreamSpec, ctx: BuildContext) -> HttpUpstream:
    session = await ctx.http_session(spec.pool)
    # The session is in the key: an upstream whose pool changed is rebuilt on the new pool's session.
    key = (f"upstream {spec.name}", spec, ctx.breaker_spec(spec.balancing.breaker), session)
    return ctx.share(key, lambda: HttpUpstream(spec, ctx, session), lambda u: u.close())


KIND = register(Kind("upstreams", "http", HttpUpstreamSpec, build))

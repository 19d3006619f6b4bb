"""`kind: redis` pools: one redis-py asyncio client (with its connection pool) per entry.

A pool is created through `BuildContext.share` keyed by its settings, so an unchanged pool keeps its
open connections across a hot reload, and a removed one is closed when its last Graph retires.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from webmcp.config.marked_yaml import Path
from webmcp.config.registry import Kind, register
from webmcp.config.spec import SpecContext, Where
from webmcp.config.units import parse_duration

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from webmcp.kinds.contract import BuildContext


@dataclass(frozen=True, slots=True)
class RedisPoolSpec:
    name: str
    url: str
    max_connections: int
    connect_timeout: float
    timeout: float
    required: bool
    where: Where = field(compare=False)
    kind: str = "redis"

    @classmethod
    def from_config(cls, name: str, node: Mapping[str, Any], path: Path, ctx: SpecContext) -> RedisPoolSpec:
        return cls(
            name=name,
            url=node.get("url", "redis://127.0.0.1:6379/0"),
            max_connections=node.get("max_connections", 20),
            connect_timeout=parse_duration(node.get("connect_timeout", "1s")),
            timeout=parse_duration(node.get("timeout", "250ms")),
            required=node.get("required", True),
            where=ctx.where(path),
        )

    @property
    def settings(self) -> tuple[Any, ...]:
        return (self.url, self.max_connections, self.connect_timeout, self.timeout)

    @property
    def address(self) -> str:
        """The URL without credentials, for messages."""
        scheme, _, rest = self.url.partition("://")
        return f"{scheme}://{rest.rpartition('@')[2]}"


def connect(spec: RedisPoolSpec) -> Redis:
    """A client over a blocking pool: at `max_connections`, a command waits its turn for a connection (a
    busy pool is not a failing Redis); each command is limited by `timeout`."""
    from redis.asyncio import BlockingConnectionPool, Redis
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff

    # No retries inside redis-py: a failing Redis must cost a call one `timeout` at most, then the
    # cache falls back (webmcp/cache/remote.py) and probes in the background.
    pool = BlockingConnectionPool.from_url(
        spec.url, max_connections=spec.max_connections, timeout=None,
        socket_connect_timeout=spec.connect_timeout, socket_timeout=spec.timeout, retry=Retry(NoBackoff(), 0),
    )
    return Redis.from_pool(pool)


def client(ctx: BuildContext, spec: RedisPoolSpec) -> Redis:
    """The pool's client, kept across reloads while its settings stay the same."""
    return ctx.share(("redis_pool", *spec.settings), lambda: connect(spec), lambda r: r.aclose())


def subscriber(spec: RedisPoolSpec) -> Redis:
    """A connection of its own for a pub/sub subscription: no read timeout (it waits for messages), and
    not taken from the pool, so subscriptions never starve commands."""
    from redis.asyncio import Redis
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff

    return Redis.from_url(spec.url, socket_connect_timeout=spec.connect_timeout, socket_timeout=None,
                          retry=Retry(NoBackoff(), 0), health_check_interval=5)


async def build(spec: RedisPoolSpec, ctx: BuildContext) -> Redis:
    return client(ctx, spec)


KIND = register(Kind("pools", "redis", RedisPoolSpec, build))

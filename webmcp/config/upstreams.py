"""Specs shared by upstream kinds: breaker policies, retries, health checks, outlier ejection.

Every Spec here leaves `where` out of equality, so a component keyed by its Spec survives a reload
that only moved lines around.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from webmcp.config.marked_yaml import Path
from webmcp.config.spec import SpecContext, Where
from webmcp.config.units import parse_duration

Balance = Literal["round_robin", "weighted", "least_connections", "response_time", "consistent_hash"]


@dataclass(frozen=True, slots=True)
class BreakerSpec:
    """A circuit breaker policy from `breakers:`."""

    name: str
    failure_threshold: int = 5
    error_rate: float | None = None  # a fraction; None: consecutive failures only
    window: float = 10.0
    min_calls: int = 10
    recovery_timeout: float = 30.0
    half_open_max_calls: int = 1
    where: Where | None = field(default=None, compare=False)

    @classmethod
    def from_config(cls, name: str, node: Mapping[str, Any], path: Path, ctx: SpecContext) -> BreakerSpec:
        return cls(
            name=name,
            failure_threshold=node.get("failure_threshold", 5),
            error_rate=node.get("error_rate"),
            window=parse_duration(node.get("window", "10s")),
            min_calls=node.get("min_calls", 10),
            recovery_timeout=parse_duration(node.get("recovery_timeout", "30s")),
            half_open_max_calls=node.get("half_open_max_calls", 1),
            where=ctx.where(path),
        )


@dataclass(frozen=True, slots=True)
class RetrySpec:
    attempts: int = 1  # tries in all, the first included
    backoff: float = 0.1
    max_backoff: float = 2.0

    @classmethod
    def from_config(cls, node: Mapping[str, Any] | None) -> RetrySpec:
        node = node or {}
        return cls(attempts=node.get("attempts", 1), backoff=parse_duration(node.get("backoff", "100ms")),
                   max_backoff=parse_duration(node.get("max_backoff", "2s")))


@dataclass(frozen=True, slots=True)
class HealthCheckSpec:
    path: str = "/healthz"
    interval: float = 10.0
    timeout: float = 2.0
    healthy_threshold: int = 2
    unhealthy_threshold: int = 2

    @classmethod
    def from_config(cls, node: Mapping[str, Any] | None) -> HealthCheckSpec | None:
        if node is None:
            return None
        return cls(path=node.get("path", "/healthz"), interval=parse_duration(node.get("interval", "10s")),
                   timeout=parse_duration(node.get("timeout", "2s")),
                   healthy_threshold=node.get("healthy_threshold", 2),
                   unhealthy_threshold=node.get("unhealthy_threshold", 2))


@dataclass(frozen=True, slots=True)
class OutlierSpec:
    consecutive_failures: int = 5
    ejection_time: float = 30.0
    max_ejected_percent: int = 50

    @classmethod
    def from_config(cls, node: Mapping[str, Any] | None) -> OutlierSpec | None:
        if node is None:
            return None
        return cls(consecutive_failures=node.get("consecutive_failures", 5),
                   ejection_time=parse_duration(node.get("ejection_time", "30s")),
                   max_ejected_percent=node.get("max_ejected_percent", 50))


@dataclass(frozen=True, slots=True)
class EndpointSpec:
    name: str
    address: str  # http: the base URL; mcp: the URL or the command line
    weight: int = 1


@dataclass(frozen=True, slots=True)
class Balancing:
    """What every upstream kind shares: how an endpoint is chosen and when a call is tried again."""

    balance: Balance = "round_robin"
    hash_on: tuple[str, ...] = ()
    outlier: OutlierSpec | None = None
    breaker: str | None = None  # a name from `breakers:`, applied to each endpoint
    retry: RetrySpec = RetrySpec()

    @classmethod
    def from_config(cls, node: Mapping[str, Any]) -> Balancing:
        return cls(
            balance=node.get("balance", "round_robin"),
            hash_on=tuple(node.get("hash_on", ())),
            outlier=OutlierSpec.from_config(node.get("outlier")),
            breaker=node.get("breaker"),
            retry=RetrySpec.from_config(node.get("retry")),
        )


@dataclass(frozen=True, slots=True)
class FallbackSpec:
    """A tool's `fallback:` when its backend fails: the last cached value (`cached`), and/or another tool to
    call, or a fixed message (used when there is no cached value, or alone)."""

    tool: str | None = None
    message: str | None = None
    cached: bool = False

    @classmethod
    def from_config(cls, node: Mapping[str, Any] | None) -> FallbackSpec | None:
        if node is None:
            return None
        return cls(tool=node.get("tool"), message=node.get("message"), cached=node.get("cached", False))


@dataclass(frozen=True, slots=True)
class SplitSpec:
    """A tool's `split:`: `percent` of its calls go to a variant tool or upstream (sticky by argument values)."""

    tool: str | None
    upstream: str | None
    percent: float
    sticky_on: tuple[str, ...]
    where: Where | None = field(default=None, compare=False)

    @property
    def variant(self) -> str:
        name = self.tool if self.tool is not None else self.upstream
        assert name is not None
        return name

    @classmethod
    def from_config(cls, node: Mapping[str, Any] | None, path: Path, ctx: SpecContext) -> SplitSpec | None:
        if node is None:
            return None
        return cls(tool=node.get("tool"), upstream=node.get("upstream"), percent=float(node["percent"]),
                   sticky_on=tuple(node.get("sticky_on", ())), where=ctx.where(path))

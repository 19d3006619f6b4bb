"""Frozen Specs: the validated configuration as plain records. No I/O happens here."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path as FsPath
from typing import TYPE_CHECKING, Any, Literal

from webmcp.config.marked_yaml import Path, dotted
from webmcp.config.units import parse_duration, parse_percent, parse_rate, parse_size
from webmcp.config.validate import Locate
from webmcp.errors import Problem

if TYPE_CHECKING:
    from webmcp.config.caches import CacheSpec
    from webmcp.config.layers import Origins
    from webmcp.config.machine import Machine
    from webmcp.config.models import ModelSpec
    from webmcp.config.prompts import PromptSpec
    from webmcp.config.resources import ResourceSpec
    from webmcp.config.tools import ToolSpec
    from webmcp.config.toolsets import ToolsetSpec
    from webmcp.config.upstreams import BreakerSpec

Transport = Literal["stdio", "http"]


@dataclass(frozen=True, slots=True)
class Where:
    """Where an entry was written, for errors raised after validation (build, call time)."""

    source: str
    line: int | None
    column: int | None
    path: str

    def problem(self, message: str, got: str | None = None, hint: str | None = None) -> Problem:
        return Problem(self.source, self.line, self.column, self.path, message, got, hint)


@dataclass(slots=True)
class SpecContext:
    """What spec factories need: where things were written, the config folder, a problem sink."""

    locate: Locate
    base_dir: FsPath
    source_text: Callable[[Path], str | None] = lambda path: None
    problems: list[Problem] = field(default_factory=list)

    def where(self, path: Path) -> Where:
        src, line, col = self.locate(path)
        return Where(src, line, col, dotted(path))

    def problem(self, path: Path, message: str, got: str | None = None, hint: str | None = None) -> None:
        self.problems.append(self.where(path).problem(message, got, hint))


@dataclass(frozen=True, slots=True)
class SessionsSpec:
    """server.http.sessions: where 2025 session records live, so that any worker (memory: the workers of one
    supervisor) or any instance (redis) serves any session."""

    backend: Literal["memory", "redis"] = "memory"
    pool: str | None = None

    @classmethod
    def from_config(cls, node: Mapping[str, Any]) -> SessionsSpec:
        return cls(backend=node.get("backend", "memory"), pool=node.get("pool"))


@dataclass(frozen=True, slots=True)
class AuthSpec:
    """`server.http.auth`: the MCP endpoint as an OAuth 2.1 resource server (bearer JWTs)."""

    issuer: str
    audience: str
    jwks_url: str | None = None
    jwks_file: str | None = None  # absolute (resolved against the config file's folder)
    required_scopes: tuple[str, ...] = ()

    @classmethod
    def from_config(cls, node: Mapping[str, Any], base_dir: FsPath) -> AuthSpec:
        jwks_file = node.get("jwks_file")
        return cls(issuer=node["issuer"], audience=node["audience"], jwks_url=node.get("jwks_url"),
                   jwks_file=str(base_dir / jwks_file) if jwks_file else None,
                   required_scopes=tuple(node.get("required_scopes", ())))


@dataclass(frozen=True, slots=True)
class TlsSpec:
    """`server.http.tls`: PEM files (absolute paths), loaded at start and again on SIGHUP."""

    cert: str
    key: str


@dataclass(frozen=True, slots=True)
class HttpSpec:
    host: str = "127.0.0.1"
    port: int = 8765
    path: str = "/mcp"
    stateless: bool = False
    json_response: bool = False
    allowed_hosts: tuple[str, ...] = ()
    auth_token_env: str | None = None
    admin_token_env: str | None = None
    session_idle_timeout: float = 1800.0
    max_sessions: int = 1000
    trusted_proxies: tuple[str, ...] = ()
    header_timeout: float = 10.0
    body_timeout: float = 30.0
    max_connections: int = 1000
    max_connections_per_client: int = 256
    sessions: SessionsSpec = SessionsSpec()
    auth: AuthSpec | None = None
    tls: TlsSpec | None = None

    @classmethod
    def from_config(cls, node: Mapping[str, Any], base_dir: FsPath = FsPath()) -> HttpSpec:
        auth, tls = node.get("auth"), node.get("tls")
        return cls(
            auth=AuthSpec.from_config(auth, base_dir) if auth else None,
            tls=TlsSpec(str(base_dir / tls["cert"]), str(base_dir / tls["key"])) if tls else None,
            host=node.get("host", "127.0.0.1"),
            port=node.get("port", 8765),
            path=node.get("path", "/mcp"),
            stateless=node.get("stateless", False),
            json_response=node.get("json_response", False),
            allowed_hosts=tuple(node.get("allowed_hosts", ())),
            auth_token_env=node.get("auth_token_env"),
            admin_token_env=node.get("admin_token_env"),
            session_idle_timeout=parse_duration(node.get("session_idle_timeout", "30m")),
            max_sessions=node.get("max_sessions", 1000),
            trusted_proxies=tuple(node.get("trusted_proxies", ())),
            header_timeout=parse_duration(node.get("header_timeout", "10s")),
            body_timeout=parse_duration(node.get("body_timeout", "30s")),
            max_connections=node.get("max_connections", 1000),
            max_connections_per_client=node.get("max_connections_per_client", 256),
            sessions=SessionsSpec.from_config(node.get("sessions") or {}),
        )


@dataclass(frozen=True, slots=True)
class CacheHintsSpec:
    """ttlMs / cacheScope on 2026-07-28 results (seconds here)."""

    lists: float = 60.0
    resources: float = 0.0
    scope: Literal["public", "private"] = "public"

    @classmethod
    def from_config(cls, node: Mapping[str, Any]) -> CacheHintsSpec:
        return cls(lists=parse_duration(node.get("lists", "1m")), resources=parse_duration(node.get("resources", "0s")),
                   scope=node.get("scope", "public"))


@dataclass(frozen=True, slots=True)
class RequestStateSpec:
    secret_env: str | None = None
    ttl: float = 600.0

    @classmethod
    def from_config(cls, node: Mapping[str, Any]) -> RequestStateSpec:
        return cls(secret_env=node.get("secret_env"), ttl=parse_duration(node.get("ttl", "10m")))


@dataclass(frozen=True, slots=True)
class ServerSpec:
    name: str = "webmcp"
    version: str = ""
    instructions: str | None = None
    transport: Transport = "stdio"
    http: HttpSpec = HttpSpec()
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    page_size: int = 500
    max_message_size: int = 4 * 1024 * 1024
    error_details: bool = False
    graceful_timeout: float = 30.0
    pid_file: str | None = None
    event_loop: Literal["auto", "asyncio", "uvloop"] = "auto"
    cache_hints: CacheHintsSpec = CacheHintsSpec()
    request_state: RequestStateSpec = RequestStateSpec()
    watch: bool = False

    @classmethod
    def from_config(cls, node: Mapping[str, Any], base_dir: FsPath) -> ServerSpec:
        from webmcp import __version__

        return cls(
            name=node.get("name", "webmcp"),
            version=node.get("version", __version__),
            instructions=node.get("instructions"),
            transport=node.get("transport", "stdio"),
            http=HttpSpec.from_config(node.get("http") or {}, base_dir),
            log_level=node.get("log_level", "info"),
            page_size=node.get("page_size", 500),
            max_message_size=parse_size(node.get("max_message_size", "4MiB")),
            error_details=node.get("error_details", False),
            graceful_timeout=parse_duration(node.get("graceful_timeout", "30s")),
            pid_file=str(base_dir / node["pid_file"]) if node.get("pid_file") else None,
            event_loop=node.get("event_loop", "auto"),
            cache_hints=CacheHintsSpec.from_config(node.get("cache_hints") or {}),
            request_state=RequestStateSpec.from_config(node.get("request_state") or {}),
            watch=node.get("watch", False),
        )


DEFAULT_PRIORITIES = {"critical": 8, "high": 4, "normal": 2, "low": 1}


@dataclass(frozen=True, slots=True)
class RateLimitSpec:
    """A token bucket: `burst` calls at once from a full bucket, refilled at `count` per `period` seconds."""

    text: str  # as written, for messages: "100/min"
    count: float
    period: float
    burst: int
    per: Literal["tool", "client"] = "tool"

    @classmethod
    def from_config(cls, node: Any, burst: int | None = None) -> RateLimitSpec:
        """From `100/min` or `{rate: 100/min, burst: 20, per: client}`."""
        if isinstance(node, str):
            node = {"rate": node}
        text = node["rate"].strip()
        count, period = parse_rate(text)
        burst = node.get("burst", burst)
        return cls(text, count, period, burst if burst is not None else max(1, int(count)), node.get("per", "tool"))

    @property
    def per_second(self) -> float:
        return self.count / self.period


@dataclass(frozen=True, slots=True)
class RateLimitStoreSpec:
    """`executor.rate_limits`: where the token buckets live (memory: per process; redis: one for every
    instance sharing the pool) and what a call gets while Redis fails."""

    backend: Literal["memory", "redis"] = "memory"
    pool: str | None = None
    on_error: Literal["local", "allow", "deny"] = "local"
    prefix: str = "webmcp:rl"

    @classmethod
    def from_config(cls, node: Mapping[str, Any]) -> RateLimitStoreSpec:
        return cls(backend=node.get("backend", "memory"), pool=node.get("pool"),
                   on_error=node.get("on_error", "local"), prefix=node.get("prefix", "webmcp:rl"))


@dataclass(frozen=True, slots=True)
class ExecutorSpec:
    threads: int
    max_concurrency: int = 256
    queue_limit: int = 1000
    queue_timeout: float = 30.0
    priorities: tuple[tuple[str, int], ...] = tuple(DEFAULT_PRIORITIES.items())
    client_rate_limit: RateLimitSpec | None = None
    processes: int = 1
    rate_limits: RateLimitStoreSpec = RateLimitStoreSpec()

    @classmethod
    def from_config(cls, node: Mapping[str, Any]) -> ExecutorSpec:
        threads = node.get("threads", "auto")
        if threads == "auto":
            threads = min(32, (os.cpu_count() or 1) + 4)
        client = node.get("client_rate_limit")
        processes = node.get("processes", "auto")
        if processes == "auto":
            processes = os.cpu_count() or 1
        return cls(
            processes=processes,
            client_rate_limit=RateLimitSpec.from_config(client, node.get("client_burst")) if client else None,
            threads=threads,
            max_concurrency=node.get("max_concurrency", 256),
            queue_limit=node.get("queue_limit", 1000),
            queue_timeout=parse_duration(node.get("queue_timeout", "30s")),
            priorities=tuple((node.get("priorities") or DEFAULT_PRIORITIES).items()),
            rate_limits=RateLimitStoreSpec.from_config(node.get("rate_limits") or {}),
        )


@dataclass(frozen=True, slots=True)
class WorkersSpec:
    """`scaling.workers`: worker processes under a supervisor (`N` is `{min: N, max: N}`)."""

    min: int
    max: int
    cooldown: float = 60.0  # the scale-down stabilization window (server/autoscale.py)
    in_flight: int = 32  # the calls in flight per worker the autoscaler aims at
    cpu: float = 0.8  # the share of one core per worker the autoscaler aims at

    @classmethod
    def from_config(cls, node: Any) -> WorkersSpec:
        if isinstance(node, int):
            return cls(node, node)
        return cls(node["min"], node["max"], parse_duration(node.get("cooldown", "60s")), node.get("in_flight", 32),
                   parse_percent(node.get("cpu", "80%")))

    @property
    def autoscaled(self) -> bool:
        return self.min < self.max


@dataclass(frozen=True, slots=True)
class ReplicasSpec:
    """`scaling.replicas`: pods behind a load balancer (`webmcp deploy kubernetes`: the HPA's bounds)."""

    min: int
    max: int
    cooldown: float = 300.0

    @classmethod
    def from_config(cls, node: Mapping[str, Any]) -> ReplicasSpec:
        return cls(node["min"], node["max"], parse_duration(node.get("cooldown", "5m")))


@dataclass(frozen=True, slots=True)
class ScalingSpec:
    p95_latency: float | None = None  # seconds
    error_rate: float | None = None  # a fraction: 0.001 for 0.1%
    max_memory: int | None = None  # bytes
    window: float = 60.0
    shed: tuple[str, ...] = ("low", "normal")
    workers: WorkersSpec | None = None  # None: one process, no supervisor
    replicas: ReplicasSpec | None = None  # None: one replica, no autoscaler

    @classmethod
    def from_config(cls, node: Mapping[str, Any]) -> ScalingSpec:
        targets = node.get("targets") or {}
        return cls(
            replicas=ReplicasSpec.from_config(node["replicas"]) if node.get("replicas") is not None else None,
            workers=WorkersSpec.from_config(node["workers"]) if node.get("workers") is not None else None,
            p95_latency=parse_duration(targets["p95_latency"]) if "p95_latency" in targets else None,
            error_rate=parse_percent(targets["error_rate"]) if "error_rate" in targets else None,
            max_memory=parse_size(targets["max_memory"]) if "max_memory" in targets else None,
            window=parse_duration(node.get("window", "60s")),
            shed=tuple(node.get("shed", ("low", "normal"))),
        )

    @property
    def has_call_targets(self) -> bool:
        return self.p95_latency is not None or self.error_rate is not None


@dataclass(frozen=True, slots=True)
class SpansSpec:
    path: str  # absolute
    batch_size: int = 256
    flush_interval: float = 1.0
    max_buffer: int = 10000


@dataclass(frozen=True, slots=True)
class AlertSpec:
    """One webhook of `telemetry.alerts` (telemetry/alerts.py)."""

    url: str
    timeout: float = 5.0  # per attempt
    attempts: int = 5


@dataclass(frozen=True, slots=True)
class TelemetrySpec:
    metrics: bool = False
    listen: tuple[str, int] | None = None
    spans: SpansSpec | None = None
    alerts: tuple[AlertSpec, ...] = ()

    @classmethod
    def from_config(cls, node: Mapping[str, Any], base_dir: FsPath) -> TelemetrySpec:
        listen = None
        if node.get("listen"):
            host, _, port = node["listen"].rpartition(":")
            listen = (host, int(port))
        spans = node.get("spans")
        return cls(
            metrics=node.get("metrics", False),
            listen=listen,
            spans=SpansSpec(
                path=str(base_dir / spans["path"]),
                batch_size=spans.get("batch_size", 256),
                flush_interval=parse_duration(spans.get("flush_interval", "1s")),
                max_buffer=spans.get("max_buffer", 10000),
            ) if spans else None,
            alerts=tuple(AlertSpec(a["url"], parse_duration(a.get("timeout", "5s")), a.get("attempts", 5))
                         for a in node.get("alerts") or ()),
        )


@dataclass(frozen=True, slots=True)
class MasterToolSpec:
    name: str
    description: str
    title: str | None
    annotations: Mapping[str, Any] | None
    schema_style: Literal["flat", "one_of"]
    operations: Mapping[str, str]  # operation -> tool name (inline tools get a generated name)
    where: Where = field(compare=False)
    tags: tuple[str, ...] = ()
    scopes: tuple[str, ...] = ()  # OAuth scopes a caller needs (server.http.auth)


@dataclass(frozen=True, slots=True)
class ConfigSpec:
    """The whole validated configuration."""

    source: str
    base_dir: FsPath
    profile: str
    server: ServerSpec
    executor: ExecutorSpec
    tools: Mapping[str, ToolSpec]
    master_tools: Mapping[str, MasterToolSpec]
    resources: Mapping[str, ResourceSpec]
    prompts: Mapping[str, PromptSpec]
    pools: Mapping[str, Any] = field(default_factory=dict)  # name -> a pool kind's Spec
    breakers: Mapping[str, BreakerSpec] = field(default_factory=dict)
    upstreams: Mapping[str, Any] = field(default_factory=dict)  # name -> an upstream kind's Spec
    caches: Mapping[str, CacheSpec] = field(default_factory=dict)
    models: Mapping[str, ModelSpec] = field(default_factory=dict)
    scaling: ScalingSpec = ScalingSpec()
    telemetry: TelemetrySpec = TelemetrySpec()
    toolsets: Mapping[str, ToolsetSpec] = field(default_factory=dict)
    profile_reason: str = ""
    machine: Machine | None = field(default=None, compare=False)  # as the profile and `auto` settings read it
    origins: Origins | None = field(default=None, compare=False)  # which layer wrote each value
    document: Mapping[str, Any] = field(default_factory=dict, compare=False)  # all layers merged, as validated
    # values expanded from the environment → `${NAME}`: never shown (config/interpolate.conceal)
    secrets: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)

    @property
    def observes_calls(self) -> bool:
        """Does anything watch each call (metrics, spans, latency/error targets)? If not, the call
        path skips the observation hook entirely."""
        t = self.telemetry
        return t.metrics or t.spans is not None or self.scaling.has_call_targets

"""Frozen Specs: the validated configuration as plain records. No I/O happens here."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path as FsPath
from typing import TYPE_CHECKING, Any, Literal

from webmcp.config.marked_yaml import Path, dotted
from webmcp.config.units import parse_duration, parse_size
from webmcp.config.validate import Locate
from webmcp.errors import Problem

if TYPE_CHECKING:
    from webmcp.kinds.tools.base import ToolSpec
    from webmcp.surface.prompts import PromptSpec
    from webmcp.surface.resources import ResourceSpec
    from webmcp.upstreams.spec import BreakerSpec

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

    @classmethod
    def from_config(cls, node: Mapping[str, Any]) -> HttpSpec:
        return cls(
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

    @classmethod
    def from_config(cls, node: Mapping[str, Any], base_dir: FsPath) -> ServerSpec:
        from webmcp import __version__

        return cls(
            name=node.get("name", "webmcp"),
            version=node.get("version", __version__),
            instructions=node.get("instructions"),
            transport=node.get("transport", "stdio"),
            http=HttpSpec.from_config(node.get("http") or {}),
            log_level=node.get("log_level", "info"),
            page_size=node.get("page_size", 500),
            max_message_size=parse_size(node.get("max_message_size", "4MiB")),
            error_details=node.get("error_details", False),
            graceful_timeout=parse_duration(node.get("graceful_timeout", "30s")),
            pid_file=str(base_dir / node["pid_file"]) if node.get("pid_file") else None,
            event_loop=node.get("event_loop", "auto"),
            cache_hints=CacheHintsSpec.from_config(node.get("cache_hints") or {}),
            request_state=RequestStateSpec.from_config(node.get("request_state") or {}),
        )


DEFAULT_PRIORITIES = {"critical": 8, "high": 4, "normal": 2, "low": 1}


@dataclass(frozen=True, slots=True)
class ExecutorSpec:
    threads: int
    max_concurrency: int = 256
    queue_limit: int = 1000
    queue_timeout: float = 30.0
    priorities: tuple[tuple[str, int], ...] = tuple(DEFAULT_PRIORITIES.items())

    @classmethod
    def from_config(cls, node: Mapping[str, Any]) -> ExecutorSpec:
        threads = node.get("threads", "auto")
        if threads == "auto":
            threads = min(32, (os.cpu_count() or 1) + 4)
        return cls(
            threads=threads,
            max_concurrency=node.get("max_concurrency", 256),
            queue_limit=node.get("queue_limit", 1000),
            queue_timeout=parse_duration(node.get("queue_timeout", "30s")),
            priorities=tuple((node.get("priorities") or DEFAULT_PRIORITIES).items()),
        )


@dataclass(frozen=True, slots=True)
class MasterToolSpec:
    name: str
    description: str
    title: str | None
    annotations: Mapping[str, Any] | None
    schema_style: Literal["flat", "one_of"]
    operations: Mapping[str, str]  # operation -> tool name (inline tools get a generated name)
    where: Where


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

"""`ToolSpec`: the settings every tool kind shares; each kind's Spec extends it (kinds/tools/*)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from webmcp.config.caches import CacheUseSpec
from webmcp.config.marked_yaml import Path
from webmcp.config.spec import RateLimitSpec, SpecContext, Where
from webmcp.config.units import parse_duration
from webmcp.config.upstreams import FallbackSpec, SplitSpec

DEFAULT_TIMEOUT = 60.0  # seconds; also the limit of resources/read and prompts/get functions


@dataclass(frozen=True, slots=True)
class ToolSpec:
    name: str
    kind: str
    description: str | None
    title: str | None
    input_schema: Mapping[str, Any] | None
    output_schema: Mapping[str, Any] | None
    annotations: Mapping[str, Any] | None
    timeout: float
    expose: bool
    where: Where = field(compare=False)  # an entry that only moved in the file is the same entry
    priority: str
    concurrency: int | None
    cache: CacheUseSpec | None
    invalidates: tuple[str, ...]
    rate_limit: RateLimitSpec | None
    breaker: str | None
    fallback: FallbackSpec | None
    split: SplitSpec | None
    scopes: tuple[str, ...]  # OAuth scopes a caller needs (server.http.auth)

    @staticmethod
    def common(name: str, node: Mapping[str, Any], path: Path, ctx: SpecContext) -> dict[str, Any]:
        return {
            "name": name,
            "kind": node["kind"],
            "description": node.get("description"),
            "title": node.get("title"),
            "input_schema": node.get("input"),
            "output_schema": node.get("output"),
            "annotations": node.get("annotations"),
            "timeout": parse_duration(node["timeout"]) if "timeout" in node else DEFAULT_TIMEOUT,
            "expose": node.get("expose", False),
            "where": ctx.where(path),
            "priority": node.get("priority", "normal"),
            "concurrency": node.get("concurrency"),
            "cache": CacheUseSpec.from_config(name, node["cache"], (*path, "cache"), ctx) if "cache" in node else None,
            "invalidates": tuple(node.get("invalidates", ())),
            "rate_limit": RateLimitSpec.from_config(node["rate_limit"]) if "rate_limit" in node else None,
            "breaker": node.get("breaker"),
            "fallback": FallbackSpec.from_config(node.get("fallback")),
            "split": SplitSpec.from_config(node.get("split"), (*path, "split"), ctx),
            "scopes": tuple(node.get("scopes", ())),
        }

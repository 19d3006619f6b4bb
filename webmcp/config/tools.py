"""`ToolSpec`: the settings every tool kind shares; each kind's Spec extends it (kinds/tools/*)."""

from __future__ import annotations

import datetime
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
class DeprecationSpec:
    """`deprecated: {message, sunset, replacement}`: the tool is listed until the end of `sunset` (UTC)."""

    message: str
    sunset: datetime.date | None = None
    replacement: str | None = None

    @classmethod
    def from_config(cls, node: Mapping[str, Any] | None, path: Path, ctx: SpecContext) -> DeprecationSpec | None:
        if node is None:
            return None
        sunset = node.get("sunset")
        if sunset is not None and not isinstance(sunset, datetime.date):
            try:
                sunset = datetime.date.fromisoformat(str(sunset))
            except ValueError:
                ctx.problem((*path, "sunset"), "must be a date like 2026-06-30", repr(sunset))
                sunset = None
        if isinstance(sunset, datetime.datetime):
            sunset = sunset.date()
        return cls(node["message"], sunset, node.get("replacement"))

    def is_past(self, today: datetime.date | None = None) -> bool:
        """Is the sunset day over (UTC)?"""
        today = today or datetime.datetime.now(datetime.UTC).date()
        return self.sunset is not None and today > self.sunset

    def notice(self) -> str:
        """The sentence appended to the description, which is what the model reads."""
        parts = [f"Deprecated: {self.message.rstrip('.')}."]
        if self.replacement:
            parts.append(f"Use {self.replacement} instead.")
        if self.sunset:
            parts.append(f"Removed after {self.sunset.isoformat()}.")
        return " ".join(parts)

    def as_meta(self) -> dict[str, Any]:
        out: dict[str, Any] = {"message": self.message}
        if self.sunset:
            out["sunset"] = self.sunset.isoformat()
        if self.replacement:
            out["replacement"] = self.replacement
        return out


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
    tags: tuple[str, ...]
    version: str | None
    deprecated: DeprecationSpec | None
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
            "tags": tuple(node.get("tags", ())),
            "version": node.get("version"),
            "deprecated": DeprecationSpec.from_config(node.get("deprecated"), (*path, "deprecated"), ctx),
            "scopes": tuple(node.get("scopes", ())),
        }

"""Versions and deprecation of tools: what the definition says, and what each call of a deprecated tool does.

The spec has no version or deprecation field for tools, so both travel in `_meta` under our own prefix
(`dev.webmcp/version`, `dev.webmcp/deprecated`) and, because models read descriptions, in the description.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from webmcp.call.results import error_result
from webmcp.callpath.tool import Tool
from webmcp.config.tools import DeprecationSpec, ToolSpec
from webmcp.telemetry.stats import DEPRECATED_CALLS

log = logging.getLogger(__name__)

META_PREFIX = "dev.webmcp/"


def annotate(tool: Tool, spec: ToolSpec) -> None:
    """Put the entry's tags, version and deprecation into the tool's definition, and make its calls pass the
    deprecation check."""
    meta: dict[str, Any] = {}
    if spec.tags:
        meta[META_PREFIX + "tags"] = list(spec.tags)
    if spec.version is not None:
        meta[META_PREFIX + "version"] = spec.version
    gone = spec.deprecated
    if gone is not None:
        meta[META_PREFIX + "deprecated"] = gone.as_meta()
        described = tool.definition.get("description", "").rstrip()
        tool.definition["description"] = f"{described}\n\n{gone.notice()}" if described else gone.notice()
        tool.deprecate(check(gone))
    if meta:
        tool.definition["_meta"] = {**tool.definition.get("_meta", {}), **meta}


def check(gone: DeprecationSpec) -> Callable[[str], dict[str, Any] | None]:
    """What a call of a deprecated tool passes first: a warning and a count; after the sunset, the refusal."""

    def deprecated_call(name: str) -> dict[str, Any] | None:
        DEPRECATED_CALLS[name] = DEPRECATED_CALLS.get(name, 0) + 1
        if gone.is_past():
            return error_result(retired_message(name, gone))
        log.warning("deprecated tool %r called: %s", name, gone.notice())
        return None

    return deprecated_call


def retired_message(name: str, gone: DeprecationSpec) -> str:
    assert gone.sunset is not None
    text = f"tool {name!r} was removed after {gone.sunset.isoformat()} ({gone.message.rstrip('.')})"
    return f"{text}; use {gone.replacement} instead" if gone.replacement else text

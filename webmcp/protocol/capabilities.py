"""What a session is told the server offers: the capabilities of the current config, per revision, and
what a 2026-07-28 `subscriptions/listen` request may have."""

from __future__ import annotations

from typing import Any

from webmcp.call.jsonrpc import INVALID_PARAMS
from webmcp.errors import ProtocolError
from webmcp.graph.graph import Graph


def capabilities(graph: Graph, sessionless: bool, streams: bool = True) -> dict[str, Any]:
    """What the config serves. Without a session (2026-07-28) there is no logging/setLevel; change
    notifications and resource subscriptions come through subscriptions/listen. Without streams (a
    stateless 2025 session: one JSON reply per POST) there are no notifications at all."""
    changes = {"listChanged": True} if streams else {}
    out: dict[str, Any] = {"tools": dict(changes)}
    if not sessionless and streams:
        out["logging"] = {}
    if graph.resources:
        out["resources"] = {"subscribe": True, "listChanged": True} if streams else {}
    if graph.prompts:
        out["prompts"] = dict(changes)
    if graph.prompts or graph.resources.templates:
        out["completions"] = {}
    return out


_LISTS = (("toolsListChanged", "tools"), ("promptsListChanged", "prompts"), ("resourcesListChanged", "resources"))


def grant_listen(params: dict[str, Any], graph: Graph) -> tuple[dict[str, Any], set[str], list[str]]:
    """What a subscriptions/listen request gets: the granted filter (for the acknowledgement), the lists
    whose changes it hears, and the resource URIs it subscribes to. -32602 for a malformed request."""
    wanted = params.get("notifications")
    if not isinstance(wanted, dict):
        raise ProtocolError(INVALID_PARAMS, "params.notifications must be an object (toolsListChanged, "
                            "promptsListChanged, resourcesListChanged, resourceSubscriptions)")
    served = {"tools": True, "prompts": bool(graph.prompts), "resources": bool(graph.resources)}
    granted: dict[str, Any] = {}
    lists: set[str] = set()
    for flag, what in _LISTS:
        if wanted.get(flag) is True and served[what]:
            granted[flag] = True
            lists.add(what)
    uris = wanted.get("resourceSubscriptions")
    if uris is None:
        return granted, lists, []
    if not isinstance(uris, list) or not all(isinstance(u, str) for u in uris):
        raise ProtocolError(INVALID_PARAMS, "params.notifications.resourceSubscriptions must be a list of URIs")
    unknown = [u for u in uris if not graph.resources.knows(u)]
    if unknown:
        raise ProtocolError(INVALID_PARAMS, f"Resource not found: {unknown[0]}", {"uri": unknown[0]})
    granted["resourceSubscriptions"] = uris
    return granted, lists, uris

"""Which tools an OAuth access token may see and call: each tool's `scopes:` (and a master tool's, plus the
chosen operation's) against the scopes the request's token grants (`server.http.auth`).

Contract: the transport that checked the token sets `GRANTED` for the request, in the task that hands the
message to the Session; tasks the Session starts for the request copy it (contextvars). `None` means no
access token applies (stdio, a static token, no auth configured): every tool is listed and callable.
"""

from __future__ import annotations

import weakref
from contextvars import ContextVar
from typing import Any

from webmcp.graph.graph import Graph
from webmcp.graph.master import MasterTool

GRANTED: ContextVar[frozenset[str] | None] = ContextVar("webmcp_granted_scopes", default=None)

# graph -> {listed tool name: the scopes listing it needs}; computed once per Graph, on first use.
_listing: weakref.WeakKeyDictionary[Graph, dict[str, frozenset[str]]] = weakref.WeakKeyDictionary()


def _own(tool: Any) -> tuple[str, ...]:
    return tuple(getattr(getattr(tool, "spec", None), "scopes", ()))


def needed(tool: Any, arguments: Any) -> tuple[str, ...]:
    """The scopes a call of `tool` with `arguments` needs: its own; for a master tool, also the operation's."""
    own = _own(tool)
    if isinstance(tool, MasterTool) and isinstance(arguments, dict):
        operation = tool.operations.get(arguments.get("operation"))  # type: ignore[arg-type]
        if operation is not None:
            own += tuple(s for s in operation.spec.scopes if s not in own)
    return own


def missing(tool: Any, arguments: Any) -> tuple[str, ...]:
    """What the current request's token lacks for this call; () when it may call it."""
    granted = GRANTED.get()
    if granted is None:
        return ()
    return tuple(s for s in needed(tool, arguments) if s not in granted)


def refusal(name: str, lacking: tuple[str, ...]) -> str:
    return (f"tool {name!r} needs the scope{'s' if len(lacking) > 1 else ''} {' '.join(lacking)}, which the "
            "access token does not grant")


def visible(page: dict[str, Any], graph: Graph, hinted: bool = False) -> dict[str, Any]:
    """A tools/list page without the tools the current request's token may not see. `hinted` (revision
    2026-07-28, whose results carry cache hints): such a page says `cacheScope: private`, since a token with
    other scopes sees other tools."""
    granted = GRANTED.get()
    if granted is None:
        return page
    listing = _listing.get(graph)
    if listing is None:
        listing = _listing[graph] = {name: frozenset(_own(tool))
                                     for name, tool in graph.tools.items()}
    if not any(listing.values()):
        return page
    tools = [t for t in page["tools"] if listing.get(t["name"], frozenset()) <= granted]
    return {**page, "tools": tools, **({"cacheScope": "private"} if hinted else {})}


def supported(graph: Graph) -> list[str]:
    """Every scope a tool of `graph` names (the resource metadata's scopes_supported)."""
    found: set[str] = set()
    for tool in graph.tools.values():
        found.update(_own(tool))
        if isinstance(tool, MasterTool):
            for operation in tool.operations.values():
                found.update(operation.spec.scopes)
    return sorted(found)

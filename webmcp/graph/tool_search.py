"""`mode: search` of a toolset: two tools stand for the whole view.

`find_tools(query, limit)` ranks the view's tools with BM25 (search/bm25.py) over each tool's name (counted
twice: a name is the densest description there is), title, description, tags, and argument names and descriptions;
its result carries `structuredContent {"tools": [{"name", "description", "score", "inputSchema"}, ...]}`,
best first. `call_tool(name, arguments)` calls one of them; every tool of the view also stays callable by
its own name."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from webmcp.call.results import error_result, from_value
from webmcp.callpath.tool import tool_definition
from webmcp.graph.invocable import Invocable
from webmcp.graph.views import is_retired
from webmcp.search.bm25 import Index, tokens

if TYPE_CHECKING:
    from webmcp.call.context import Context

FIND = "find_tools"
CALL = "call_tool"
DEFAULT_LIMIT = 5
MAX_LIMIT = 50


def document(definition: Mapping[str, Any]) -> list[str]:
    """The words a tool is found by."""
    name = definition["name"]
    tags = (definition.get("_meta") or {}).get("dev.webmcp/tags") or []
    parts = [name, name, definition.get("title") or "", definition.get("description") or "", *tags]
    for arg, schema in ((definition.get("inputSchema") or {}).get("properties") or {}).items():
        parts.append(arg)
        if isinstance(schema, dict) and isinstance(schema.get("description"), str):
            parts.append(schema["description"])
    return tokens(" ".join(parts))


class FindTools:
    __slots__ = ("_index", "_tools", "definition", "name")

    def __init__(self, toolset: str, tools: Mapping[str, Invocable]) -> None:
        self.name = FIND
        self._tools = list(tools.values())
        self._index = Index([document(t.definition) for t in self._tools])
        self.definition = tool_definition(
            FIND, None,
            f"Search the {len(self._tools)} tools of the {toolset!r} toolset by what you want to do; returns the "
            f"best matches (name, description, score, inputSchema), best first. Run one with {CALL}.",
            {"type": "object", "properties": {
                "query": {"type": "string", "description": "What you want to do, in a few words."},
                "limit": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT,
                          "description": f"How many tools to return. Default {DEFAULT_LIMIT}."},
            }, "required": ["query"], "additionalProperties": False},
            annotations={"readOnlyHint": True, "idempotentHint": True, "openWorldHint": False},
        )

    def rank(self, query: str, limit: int = DEFAULT_LIMIT) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for i, score in self._index.rank(tokens(query)):
            if len(out) == limit:
                break
            if is_retired(self._tools[i]):
                continue  # past its sunset: no longer offered (a call still names the replacement)
            d = self._tools[i].definition
            out.append({"name": d["name"], "description": d.get("description", ""), "score": round(score, 4),
                        "inputSchema": d["inputSchema"]})
        return out

    async def call(self, arguments: dict[str, Any], ctx: Context) -> dict[str, Any]:
        query = arguments.get("query")
        limit = arguments.get("limit", DEFAULT_LIMIT)
        if not isinstance(query, str) or not query.strip():
            return error_result("query must be a non-empty string: what you want to do, in a few words")
        if type(limit) is not int or not 1 <= limit <= MAX_LIMIT:
            return error_result(f"limit must be a whole number from 1 to {MAX_LIMIT} (got {limit!r})")
        return from_value({"tools": self.rank(query, limit)})


class CallTool:
    __slots__ = ("_tools", "definition", "name")

    def __init__(self, toolset: str, tools: Mapping[str, Invocable]) -> None:
        self.name = CALL
        self._tools = dict(tools)
        self.definition = tool_definition(
            CALL, None,
            f"Run one tool of the {toolset!r} toolset, found with {FIND}: give its name and its arguments "
            "(an object matching the tool's inputSchema).",
            {"type": "object", "properties": {
                "name": {"type": "string", "description": f"The tool's name, as {FIND} gave it."},
                "arguments": {"type": "object", "description": "The tool's arguments. Default {}."},
            }, "required": ["name"], "additionalProperties": False},
        )

    async def call(self, arguments: dict[str, Any], ctx: Context) -> dict[str, Any]:
        name = arguments.get("name")
        args = arguments.get("arguments", {})
        tool = self._tools.get(name) if isinstance(name, str) else None
        if tool is None:
            return error_result(f"no tool named {name!r} in this toolset; {FIND} lists the tools there are")
        if not isinstance(args, dict):
            return error_result(f"arguments must be an object (got {type(args).__name__})")
        return await tool.call(args, ctx)

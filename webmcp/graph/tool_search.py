"""`mode: search` of a toolset: two tools stand for the whole view.

`find_tools(query, limit)` ranks the view's tools with BM25 (search/bm25.py) over each tool's name (counted
twice: a name is the densest description there is), title, description, tags, and argument names and descriptions;
its result carries `structuredContent {"tools": [{"name", "description", "score", "inputSchema"}, ...]}`,
best first. With a `model:` (a `models:` entry), the ranking is the cosine similarity of the query's embedding
with each tool's (its name, description, tags and arguments in one sentence, embedded at the first query and
kept for the Graph's life); if the model fails (not loadable, overloaded), that query is ranked with BM25 and
the failure logged. `call_tool(name, arguments)` calls one of them; every tool of the view also stays callable
by its own name. Both honour the caller's access token (graph/scopes.py): find_tools leaves out what it may
not see, and call_tool refuses what it may not call, as tools/list and tools/call do."""

from __future__ import annotations

import asyncio
import logging
import math
import operator
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from webmcp.call.results import error_result, from_value
from webmcp.callpath.tool import tool_definition
from webmcp.graph import scopes
from webmcp.graph.invocable import Invocable
from webmcp.graph.views import is_retired
from webmcp.search.bm25 import Index, tokens

if TYPE_CHECKING:
    from webmcp.call.context import Context

log = logging.getLogger(__name__)

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


class Embedded(Protocol):
    @property
    def vectors(self) -> list[list[float]]: ...


class Embedder(Protocol):
    """What find_tools needs of a model (models/model.Model)."""

    async def embed(self, texts: Sequence[str]) -> Embedded: ...


def sentence(definition: Mapping[str, Any]) -> str:
    """A tool as one text for an embedding model."""
    name = str(definition["name"]).replace("_", " ")
    args = list((definition.get("inputSchema") or {}).get("properties") or {})
    tags = (definition.get("_meta") or {}).get("dev.webmcp/tags") or []
    text = f"{name}: {definition.get('description') or definition.get('title') or ''}".strip()
    if args:
        text += f" Arguments: {', '.join(args)}."
    if tags:
        text += f" Tags: {', '.join(tags)}."
    return text


def _unit(vector: Sequence[float]) -> list[float]:
    norm = math.sqrt(math.fsum(x * x for x in vector)) or 1.0
    return [x / norm for x in vector]


class FindTools:
    __slots__ = ("_index", "_lock", "_model", "_tools", "_vectors", "definition", "name")

    def __init__(self, toolset: str, tools: Mapping[str, Invocable], model: Embedder | None = None) -> None:
        self.name = FIND
        self._tools = list(tools.values())
        self._index = Index([document(t.definition) for t in self._tools])
        self._model = model
        self._vectors: list[list[float]] | None = None
        self._lock = asyncio.Lock()
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

    async def _embedded(self, query: str) -> list[tuple[int, float]]:
        """(tool, cosine similarity), best first."""
        assert self._model is not None
        async with self._lock:  # concurrent first queries embed the tools once
            if self._vectors is None:
                embedded = await self._model.embed([sentence(t.definition) for t in self._tools])
                self._vectors = [_unit(v) for v in embedded.vectors]
        q = _unit((await self._model.embed([query])).vectors[0])
        scores = [(i, sum(map(operator.mul, q, v))) for i, v in enumerate(self._vectors)]
        return sorted(scores, key=lambda item: (-item[1], item[0]))

    async def ranked(self, query: str) -> list[tuple[int, float]]:
        if self._model is not None:
            try:
                return await self._embedded(query)
            except Exception as exc:  # a model that cannot answer must not take tool search down with it
                log.warning("find_tools: the model failed (%s); ranking this query with BM25", exc)
        return self._index.rank(tokens(query))

    async def rank(self, query: str, limit: int = DEFAULT_LIMIT) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for i, score in await self.ranked(query):
            if len(out) == limit:
                break
            if is_retired(self._tools[i]):
                continue  # past its sunset: no longer offered (a call still names the replacement)
            if scopes.missing(self._tools[i], None):
                continue  # the caller's access token may not see it (server.http.auth, scopes:)
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
        return from_value({"tools": await self.rank(query, limit)})


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
        lacking = scopes.missing(tool, args)
        if lacking:  # as a direct call of the tool would be refused
            return error_result(scopes.refusal(str(name), lacking))
        return await tool.call(args, ctx)

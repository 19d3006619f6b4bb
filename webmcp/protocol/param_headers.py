"""Tool arguments mirrored in HTTP headers (revision 2026-07-28, SEP-2243).

A tool's input schema may mark a top-level or nested property with `"x-mcp-header": "Region"`; a
client then sends the argument's value in the header `Mcp-Param-Region` too, so that proxies and load
balancers can route on it without reading the body. The server checks that every marked argument and
its header agree (present together, equal after decoding `=?base64?...?=`), else -32020.

A marking is valid on a property reached from the root through `properties` only, of type string,
integer or boolean, named by an HTTP token, unique regardless of case; an invalid one is a config error.
"""

from __future__ import annotations

import base64
import binascii
import re
import weakref
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from webmcp.errors import ProtocolError
from webmcp.protocol.envelope import HEADER_MISMATCH

if TYPE_CHECKING:
    from webmcp.graph.graph import Graph

KEY = "x-mcp-header"
PREFIX = "Mcp-Param-"
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_TYPES = frozenset({"string", "integer", "boolean"})

Marked = tuple[tuple[str, ...], str, str]  # (property path, header token, JSON type)


def _marked(schema: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Mapping[str, Any]]]:
    if not isinstance(schema, Mapping):
        return
    if path:
        yield path, schema
    properties = schema.get("properties")
    if isinstance(properties, Mapping):
        for name, sub in properties.items():
            yield from _marked(sub, (*path, str(name)))


def _misplaced(schema: Any, on_path: bool = True) -> bool:
    """Is there a marking anywhere but on a `properties` chain from the root (under items, anyOf...)?"""
    if isinstance(schema, Mapping):
        for key, value in schema.items():
            if key == KEY and not on_path:
                return True
            if key == "properties" and isinstance(value, Mapping):
                if any(_misplaced(sub, on_path) for sub in value.values()):
                    return True
            elif key not in ("default", "examples", "const", "enum") and _misplaced(value, False):
                return True
    elif isinstance(schema, list):
        return any(_misplaced(item, False) for item in schema)
    return False


def problem(schema: Mapping[str, Any]) -> str | None:
    """What is wrong with the schema's x-mcp-header markings, or None."""
    if isinstance(schema.get(KEY), str) or _misplaced(schema):
        return f"{KEY} is allowed only on properties reached through `properties` from the root"
    seen: dict[str, str] = {}
    for path, sub in _marked(schema):
        token = sub.get(KEY)
        if token is None:
            continue
        where = ".".join(path)
        if not isinstance(token, str) or not _TOKEN.fullmatch(token):
            return f"property {where}: {KEY} must be a header name token (letters, digits, -), got {token!r}"
        if sub.get("type") not in _TYPES:
            return f"property {where}: {KEY} needs type string, integer or boolean (got {sub.get('type')!r})"
        if token.lower() in seen:
            return f"property {where}: {KEY} {token!r} is also used by {seen[token.lower()]}"
        seen[token.lower()] = where
    return None


def marked(schema: Mapping[str, Any]) -> tuple[Marked, ...]:
    return tuple((path, sub[KEY], sub["type"]) for path, sub in _marked(schema) if isinstance(sub.get(KEY), str))


_BY_GRAPH: weakref.WeakKeyDictionary[Graph, dict[str, tuple[Marked, ...]]] = weakref.WeakKeyDictionary()


def of_tool(graph: Graph, name: str) -> tuple[Marked, ...]:
    """The marked arguments of tool `name` in `graph` (worked out once per Graph)."""
    table = _BY_GRAPH.get(graph)
    if table is None:
        table = _BY_GRAPH[graph] = {}
        for tool_name, tool in graph.tools.items():
            found = marked(tool.definition.get("inputSchema") or {})
            if found:
                table[tool_name] = found
    return table.get(name, ())


def check(marks: tuple[Marked, ...], arguments: Any, headers: Mapping[str, str]) -> None:
    """-32020 unless every marked argument and its Mcp-Param header agree."""
    arguments = arguments if isinstance(arguments, Mapping) else {}
    for path, token, kind in marks:
        value: Any = arguments
        for step in path:
            value = value.get(step) if isinstance(value, Mapping) else None
        raw = headers.get(PREFIX + token)
        header = f"{PREFIX}{token}"
        if value is None:
            if raw is not None:
                raise ProtocolError(HEADER_MISMATCH, f"the {header} header is sent but argument "
                                    f"{'.'.join(path)} is absent")
            continue
        if raw is None:
            raise ProtocolError(HEADER_MISMATCH, f"argument {'.'.join(path)} needs the {header} header too")
        if not _agrees(kind, value, _decoded(raw)):
            raise ProtocolError(HEADER_MISMATCH, f"the {header} header does not match argument {'.'.join(path)}")


def _decoded(raw: str) -> str | None:
    if not (raw.startswith("=?base64?") and raw.endswith("?=")):
        return raw
    try:
        return base64.b64decode(raw[9:-2], validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None


def _agrees(kind: str, value: Any, header: str | None) -> bool:
    if header is None:
        return False
    if isinstance(value, bool):
        return header == ("true" if value else "false")
    if kind == "integer" and isinstance(value, (int, float)) and re.fullmatch(r"-?[0-9]+(\.0+)?", header):
        return int(header.split(".")[0]) == value
    return header == str(value)

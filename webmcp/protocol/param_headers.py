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
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from webmcp.callpath.header_marks import Marked, marked
from webmcp.errors import ProtocolError
from webmcp.protocol.envelope import HEADER_MISMATCH

if TYPE_CHECKING:
    from webmcp.graph.graph import Graph

PREFIX = "Mcp-Param-"


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

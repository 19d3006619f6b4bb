"""2026-07-28 `x-mcp-header` markings in a tool's input schema: which arguments a client mirrors into
`Mcp-Param-*` headers. Checked when the tool is built (a misplaced marking is a build error); the
transport compares the headers with the arguments (protocol/param_headers.py)."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

KEY = "x-mcp-header"
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

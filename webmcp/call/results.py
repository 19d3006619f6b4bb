"""Building MCP CallToolResult dicts from what backends produce."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import orjson

CONTENT_TYPES = frozenset({"text", "image", "audio", "resource", "resource_link"})


def text_result(text: str) -> dict[str, Any]:
    return {"content": [{"type": "text", "text": text}], "isError": False}


# Every value the process's configurations took from the environment through `${VAR}` → that reference
# (filled by config/load.py; it only grows: calls of an older configuration may still end after a reload).
# No error result shows them, whatever exception text carried them; log lines neither (cli/options.py).
HIDDEN: dict[str, str] = {}
SHORTEST_HIDDEN = 6  # shorter values are more likely a number or a word of the text than the variable


def hide(text: str, secrets: Mapping[str, str] | None = None) -> str:
    """`text` with each value of `secrets` (default HIDDEN), as written and as JSON escapes it, shown as its
    reference."""
    for value, ref in sorted((HIDDEN if secrets is None else secrets).items(), key=lambda item: -len(item[0])):
        if len(value) >= SHORTEST_HIDDEN:
            text = text.replace(value, ref).replace(orjson.dumps(value).decode()[1:-1], ref)
    return text


# The `user:password@` of a URL, up to the `@` of the authority (no `/`, white space or quote before it).
_CREDENTIALS = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://)[^/\s@'\"<>]+@")


def hide_credentials(text: str) -> str:
    """`text` with the credentials of every URL in it cut to `***@`."""
    return _CREDENTIALS.sub(r"\1***@", text) if "@" in text else text


def error_result(text: str) -> dict[str, Any]:
    text = hide_credentials(text)
    return {"content": [{"type": "text", "text": hide(text) if HIDDEN else text}], "isError": True}


def _is_block(item: Any) -> bool:
    return isinstance(item, dict) and item.get("type") in CONTENT_TYPES


def from_value(value: Any, blocks: bool = False) -> dict[str, Any]:
    """The pinned mapping of a python tool's return value to a result.

    str -> one text block; dict -> structuredContent plus its JSON as text; with `blocks`, a list of
    MCP content blocks -> passed through (python tools only: a JSON list from a backend is data);
    None -> no content; anything else -> its JSON as text.
    """
    if isinstance(value, str):
        return {"content": [{"type": "text", "text": value}], "isError": False}
    if isinstance(value, dict):
        return {"content": [{"type": "text", "text": _json(value)}], "structuredContent": value, "isError": False}
    if blocks and isinstance(value, list) and value and all(_is_block(item) for item in value):
        return {"content": value, "isError": False}
    if value is None:
        return {"content": [], "isError": False}
    return {"content": [{"type": "text", "text": _json(value)}], "isError": False}


def _json(value: Any) -> str:
    return orjson.dumps(value, default=str).decode()

"""JSON-RPC 2.0 error codes, message builders, and encoding that never fails."""

from __future__ import annotations

import logging
from typing import Any

import orjson

log = logging.getLogger(__name__)

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
RESOURCE_NOT_FOUND = -32002  # MCP: resources/read of an unknown URI
MISSING_CLIENT_CAPABILITY = -32021  # 2026-07-28: the call needs a client capability the request did not declare


def error(mid: Any, code: int, message: str, data: Any = None) -> dict[str, Any]:
    err: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        err["data"] = data
    return {"jsonrpc": "2.0", "id": mid, "error": err}


def result(mid: Any, value: Any) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": mid, "result": value}


def encode(message: dict[str, Any], option: int = 0) -> bytes | None:
    """The message as JSON; a tool result JSON cannot carry becomes an isError result, and a
    notification JSON cannot carry is dropped (None) with a log line. Never raises."""
    try:
        return orjson.dumps(message, option=option)
    except TypeError as exc:
        if "id" not in message:
            log.error("dropped a %s notification that is not JSON: %s", message.get("method"), exc)
            return None
        log.error("the reply to %r is not JSON: %s", message["id"], exc)
        if "result" in message:
            text = f"The tool returned a value that is not JSON: {exc}"
            safe = {"content": [{"type": "text", "text": text}], "isError": True}
            return orjson.dumps({"jsonrpc": "2.0", "id": message["id"], "result": safe}, option=option)
        return orjson.dumps(error(message["id"], INTERNAL_ERROR, f"reply is not JSON: {exc}"), option=option)

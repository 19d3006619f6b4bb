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


def malformed(msg: Any) -> dict[str, Any] | None:
    """The error reply to a message that is not a well-formed request, notification or response (a
    response is recognised by its id and result or error, whatever else it carries); None if it is."""
    if not isinstance(msg, dict):
        if isinstance(msg, list):
            return error(None, INVALID_REQUEST, "batch requests are not supported by this protocol revision; "
                         "send one message per line")
        return error(None, INVALID_REQUEST, "a JSON-RPC message must be an object")
    method = msg.get("method")
    if "id" not in msg:
        return None if isinstance(method, str) else error(None, INVALID_REQUEST,
                                                          "not a request, notification or response")
    mid = msg["id"]
    if method is None and ("result" in msg or "error" in msg):
        return None
    if msg.get("jsonrpc") != "2.0":
        return error(mid if type(mid) in (str, int) else None, INVALID_REQUEST, 'jsonrpc must be "2.0"')
    if type(mid) not in (str, int):
        return error(None, INVALID_REQUEST, "id must be a string or an integer")
    if not isinstance(method, str):
        return error(mid, INVALID_REQUEST, "method must be a string")
    params = msg.get("params")
    if params is not None and not isinstance(params, dict):
        return error(mid, INVALID_PARAMS, "params must be an object")
    return None

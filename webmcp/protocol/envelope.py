"""The sessionless 2026-07-28 revision: the per-request `_meta` envelope, and what differs on its wire.

A 2026-07-28 request carries everything a 2025 session would have negotiated once: the protocol
version, the client's capabilities and (optionally) its info and log level, under `params._meta`.
There is no `initialize`, `ping`, `logging/setLevel` or resource subscription; `server/discover`
describes the server. Over HTTP the `MCP-Protocol-Version`, `Mcp-Method` and `Mcp-Name` headers must
repeat what the body says. Every result says `resultType`, cacheable ones carry `ttlMs`/`cacheScope`,
and each names the server in `_meta`.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from webmcp.call.jsonrpc import INVALID_PARAMS, METHOD_NOT_FOUND, MISSING_CLIENT_CAPABILITY, RESOURCE_NOT_FOUND
from webmcp.errors import ProtocolError

if TYPE_CHECKING:
    from webmcp.config.spec import ServerSpec

MODERN = ("2026-07-28",)

PROTOCOL_VERSION_KEY = "io.modelcontextprotocol/protocolVersion"
CLIENT_CAPABILITIES_KEY = "io.modelcontextprotocol/clientCapabilities"
CLIENT_INFO_KEY = "io.modelcontextprotocol/clientInfo"
LOG_LEVEL_KEY = "io.modelcontextprotocol/logLevel"
SERVER_INFO_KEY = "io.modelcontextprotocol/serverInfo"
SUBSCRIPTION_ID_KEY = "io.modelcontextprotocol/subscriptionId"

HEADER_MISMATCH = -32020
UNSUPPORTED_VERSION = -32022

# The HTTP status of an error reply on this revision's wire; other codes (and results) are 200.
HTTP_STATUS = {-32700: 400, -32600: 400, INVALID_PARAMS: 400, HEADER_MISMATCH: 400, MISSING_CLIENT_CAPABILITY: 400,
               UNSUPPORTED_VERSION: 400, METHOD_NOT_FOUND: 404}

# Methods of the 2025 revisions that this one removed: -32601 (HTTP 404), like any unknown method.
REMOVED = frozenset({"initialize", "ping", "logging/setLevel", "resources/subscribe", "resources/unsubscribe"})
CACHEABLE = frozenset({"server/discover", "tools/list", "prompts/list", "resources/list",
                       "resources/templates/list", "resources/read"})
_NAMED_BY = {"tools/call": "name", "prompts/get": "name", "resources/read": "uri"}  # mirrored in Mcp-Name


@dataclass(frozen=True, slots=True)
class Envelope:
    version: str
    capabilities: Mapping[str, Any]
    client_info: Any
    log_level: str | None


def is_modern(params: Any) -> bool:
    """Does this request carry the 2026-07-28 envelope (whatever version it names)?"""
    meta = params.get("_meta") if isinstance(params, dict) else None
    return isinstance(meta, dict) and PROTOCOL_VERSION_KEY in meta


def read(method: str, params: Any, headers: Mapping[str, str] | None = None) -> Envelope:
    """The envelope of one request, checked in the revision's order: the required `_meta` keys (-32602),
    then that the HTTP headers agree with the body (-32020), then the version (-32022)."""
    meta = params.get("_meta") if isinstance(params, dict) else None
    if not isinstance(meta, dict):
        raise ProtocolError(INVALID_PARAMS, f"params._meta must be an object carrying {PROTOCOL_VERSION_KEY} and "
                            f"{CLIENT_CAPABILITIES_KEY} (protocol revision {MODERN[0]} sends them with every request)")
    missing = [k for k in (PROTOCOL_VERSION_KEY, CLIENT_CAPABILITIES_KEY) if k not in meta]
    if missing:
        raise ProtocolError(INVALID_PARAMS, f"params._meta is missing {' and '.join(missing)}")
    version = meta[PROTOCOL_VERSION_KEY]
    if headers is not None:
        _check_headers(method, params, version, headers)
    if not isinstance(version, str):
        raise ProtocolError(INVALID_PARAMS, f"_meta.{PROTOCOL_VERSION_KEY} must be a string")
    if version not in MODERN:
        raise unsupported(version)
    capabilities = meta[CLIENT_CAPABILITIES_KEY]
    if not isinstance(capabilities, dict):
        raise ProtocolError(INVALID_PARAMS, f"_meta.{CLIENT_CAPABILITIES_KEY} must be an object")
    level = meta.get(LOG_LEVEL_KEY)
    return Envelope(version, capabilities, meta.get(CLIENT_INFO_KEY), level if isinstance(level, str) else None)


def unsupported(version: str) -> ProtocolError:
    return ProtocolError(UNSUPPORTED_VERSION, f"Unsupported protocol version: {version}",
                         {"supported": list(MODERN), "requested": version})


def _check_headers(method: str, params: dict[str, Any], version: Any, headers: Mapping[str, str]) -> None:
    if headers.get("MCP-Protocol-Version") != version:
        raise ProtocolError(HEADER_MISMATCH, "the MCP-Protocol-Version header does not match "
                            f"_meta.{PROTOCOL_VERSION_KEY}")
    if headers.get("Mcp-Method") != method:
        raise ProtocolError(HEADER_MISMATCH, "the Mcp-Method header does not match the request's method")
    key = _NAMED_BY.get(method)
    if key is not None and params.get(key) is not None and _header_value(headers.get("Mcp-Name")) != params[key]:
        raise ProtocolError(HEADER_MISMATCH, f"the Mcp-Name header does not match params.{key}")


def _header_value(value: str | None) -> str | None:
    """A header value, decoding the `=?base64?...?=` form clients use for values HTTP cannot carry."""
    if value is None or not (value.startswith("=?base64?") and value.endswith("?=")):
        return value
    try:
        return base64.b64decode(value[9:-2], validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None


def finish(message: dict[str, Any], method: str, server: ServerSpec) -> dict[str, Any]:
    """The reply as this revision's wire has it: `resultType`, cache hints on cacheable results, the
    server's name in `_meta`; an unknown resource is -32602 naming the URI (SEP-2164)."""
    result = message.get("result")
    if isinstance(result, dict):
        result = dict(result)  # results may be shared (cached, prebuilt lists, static tools): never edit them
        message = {**message, "result": result}
        result.setdefault("resultType", "complete")
        if method in CACHEABLE and result["resultType"] == "complete":
            hints = server.cache_hints
            ttl = hints.resources if method == "resources/read" else hints.lists
            result.setdefault("ttlMs", round(ttl * 1000))
            result.setdefault("cacheScope", hints.scope)
        meta = result.get("_meta")
        info = {"name": server.name, "version": server.version}
        if meta is None:
            result["_meta"] = {SERVER_INFO_KEY: info}
        elif isinstance(meta, dict) and SERVER_INFO_KEY not in meta:
            result["_meta"] = {**meta, SERVER_INFO_KEY: info}
        return message
    error = message.get("error")
    if isinstance(error, dict) and error.get("code") == RESOURCE_NOT_FOUND:
        return {**message, "error": {**error, "code": INVALID_PARAMS}}
    return message


def status_of(message: dict[str, Any]) -> int:
    error = message.get("error")
    return HTTP_STATUS.get(error.get("code"), 200) if isinstance(error, dict) else 200  # type: ignore[arg-type]

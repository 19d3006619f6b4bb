"""completion/complete: values for a prompt argument or a resource-template parameter, from the
`complete:` lists in the config, filtered by what the user typed so far."""

from __future__ import annotations

from typing import Any

from webmcp.call.jsonrpc import INVALID_PARAMS
from webmcp.catalog.prompts import Prompts
from webmcp.catalog.resources import Resources
from webmcp.errors import ProtocolError

MAX_VALUES = 100  # the most the spec lets one response carry


def complete(resources: Resources, prompts: Prompts, params: dict[str, Any]) -> dict[str, Any]:
    ref = params.get("ref")
    argument = params.get("argument")
    if not isinstance(ref, dict) or not isinstance(argument, dict) or not isinstance(argument.get("name"), str):
        raise ProtocolError(INVALID_PARAMS, "completion/complete needs params.ref and params.argument.name")
    typed = str(argument.get("value") or "").lower()
    if ref.get("type") == "ref/prompt":
        name = ref.get("name")
        if not isinstance(name, str) or name not in prompts.by_name:
            raise ProtocolError(INVALID_PARAMS, f"Unknown prompt: {name}")
        values = prompts.completions(name, argument["name"])
    elif ref.get("type") == "ref/resource":
        values = resources.completions(str(ref.get("uri")), argument["name"])
    else:
        raise ProtocolError(INVALID_PARAMS, "params.ref.type must be ref/prompt or ref/resource")
    matches = [v for v in values if v.lower().startswith(typed)]
    return {"completion": {"values": matches[:MAX_VALUES], "total": len(matches), "hasMore": len(matches) > MAX_VALUES}}

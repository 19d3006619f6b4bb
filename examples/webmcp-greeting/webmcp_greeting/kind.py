"""The `greeting` tool kind: `{kind: greeting, greeting: Hello, punctuation: "!"}` answers `greet(name)` with
"Hello, NAME!".

What a plugin kind brings, as a built-in kind does: its Spec (a frozen ToolSpec subclass read from the entry),
its build (an async function returning a Tool), `SCHEMA` (the JSON Schema of the entry, `$id`
`urn:webmcp:kinds/tools/greeting`) and the registration (`KIND = register(Kind(...))`), run when webmcp imports
this module: only when a config names `kind: greeting`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from webmcp.call.results import from_value
from webmcp.callpath.tool import Tool
from webmcp.config.registry import Kind, register
from webmcp.config.tools import ToolSpec

SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "urn:webmcp:kinds/tools/greeting",
    "title": "greeting tool: greets a name",
    "$ref": "urn:webmcp:tool",
    "properties": {
        "kind": {"const": "greeting"},
        "greeting": {"type": "string", "minLength": 1, "description": "The word of greeting. Default Hello."},
        "punctuation": {"enum": ["!", ".", "?"], "description": "How the greeting ends. Default !."},
    },
    "unevaluatedProperties": False,
}

INPUT = {"type": "object", "properties": {"name": {"type": "string", "description": "Who to greet."}},
         "required": ["name"], "additionalProperties": False}


@dataclass(frozen=True, slots=True)
class GreetingToolSpec(ToolSpec):
    greeting: str
    punctuation: str

    @classmethod
    def from_config(cls, name: str, node: Mapping[str, Any], path: Any, ctx: Any) -> GreetingToolSpec:
        return cls(**ToolSpec.common(name, node, path, ctx), greeting=node.get("greeting", "Hello"),
                   punctuation=node.get("punctuation", "!"))


class GreetingBackend:
    def __init__(self, spec: GreetingToolSpec) -> None:
        self._spec = spec

    async def invoke(self, arguments: dict[str, Any], ctx: Any) -> dict[str, Any]:
        text = f"{self._spec.greeting}, {arguments['name']}{self._spec.punctuation}"
        return from_value({"greeting": text})


async def build(spec: GreetingToolSpec, ctx: Any) -> Tool:
    return Tool(spec, GreetingBackend(spec), spec.input_schema or INPUT,
                f"Greets a name with {spec.greeting!r}.", ctx.error_details)


KIND = register(Kind("tools", "greeting", GreetingToolSpec, build))

"""static tool: returns fixed content (text, image, audio, embedded resource)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from webmcp.callpath.tool import Tool
from webmcp.config.marked_yaml import Path
from webmcp.config.registry import Kind, register
from webmcp.config.spec import SpecContext
from webmcp.config.tools import ToolSpec

if TYPE_CHECKING:
    from webmcp.call.context import Context
    from webmcp.kinds.contract import BuildContext

_NO_ARGS = {"type": "object", "properties": {}, "additionalProperties": False}


@dataclass(frozen=True, slots=True)
class StaticToolSpec(ToolSpec):
    content: tuple[Mapping[str, Any], ...]
    structured: Mapping[str, Any] | None

    @classmethod
    def from_config(cls, name: str, node: Mapping[str, Any], path: Path, ctx: SpecContext) -> StaticToolSpec:
        content = node["content"]
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
        return cls(**ToolSpec.common(name, node, path, ctx), content=tuple(blocks), structured=node.get("structured"))


class StaticBackend:
    def __init__(self, spec: StaticToolSpec) -> None:
        self._result: dict[str, Any] = {"content": [dict(b) for b in spec.content], "isError": False}
        if spec.structured is not None:
            self._result["structuredContent"] = dict(spec.structured)

    async def invoke(self, arguments: dict[str, Any], ctx: Context) -> dict[str, Any]:
        return self._result


async def build(spec: StaticToolSpec, ctx: BuildContext) -> Tool:
    if spec.output_schema is not None:
        from jsonschema import Draft202012Validator

        if spec.structured is None:
            raise ctx.fail(spec.where, "output: needs `structured:` content to describe")
        problem = next(iter(Draft202012Validator(dict(spec.output_schema)).iter_errors(spec.structured)), None)
        if problem is not None:
            raise ctx.fail(spec.where, f"structured does not match output: {problem.message}")
    return Tool(spec, StaticBackend(spec), spec.input_schema or _NO_ARGS, None, ctx.error_details)


KIND = register(Kind("tools", "static", StaticToolSpec, build))

"""What every tool kind shares: the common Spec fields and the runtime wrapper around a backend.

Contract of `Tool.call` (the hot path): arguments are checked against the schema compiled at build
time before any backend runs; the backend runs under the tool's timeout; every failure of the tool
becomes an `isError` result, never an exception, except cancellation, which propagates.
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from jsonschema import Draft202012Validator

from webmcp.config.marked_yaml import Path
from webmcp.config.spec import SpecContext, Where
from webmcp.config.units import parse_duration
from webmcp.config.validate import show
from webmcp.errors import ToolError
from webmcp.kinds.tools.arguments import compile_check
from webmcp.kinds.tools.results import error_result
from webmcp.kinds.tools.templates import TemplateSyntaxError, placeholder_names

if TYPE_CHECKING:
    from webmcp.protocol.context import Context

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 60.0


@dataclass(frozen=True, slots=True)
class ToolSpec:
    name: str
    kind: str
    description: str | None
    title: str | None
    input_schema: Mapping[str, Any] | None
    output_schema: Mapping[str, Any] | None
    annotations: Mapping[str, Any] | None
    timeout: float
    expose: bool
    where: Where

    @staticmethod
    def common(name: str, node: Mapping[str, Any], path: Path, ctx: SpecContext) -> dict[str, Any]:
        return {
            "name": name,
            "kind": node["kind"],
            "description": node.get("description"),
            "title": node.get("title"),
            "input_schema": node.get("input"),
            "output_schema": node.get("output"),
            "annotations": node.get("annotations"),
            "timeout": parse_duration(node.get("timeout", "60s")),
            "expose": node.get("expose", False),
            "where": ctx.where(path),
        }


def template_input(
    templates: Any, declared: Mapping[str, Any] | None, path: Path, ctx: SpecContext
) -> Mapping[str, Any] | None:
    """Check the placeholders of a templated tool against its input schema, or derive the schema.

    Without `input:`, every placeholder becomes a required string argument.
    """
    try:
        names = list(dict.fromkeys(placeholder_names(templates)))
    except TemplateSyntaxError as exc:
        ctx.problem(path, str(exc))
        return declared
    if declared is None:
        return {
            "type": "object",
            "properties": {n: {"type": "string"} for n in names},
            "required": names,
            "additionalProperties": False,
        }
    known = set((declared.get("properties") or {}).keys())
    for n in names:
        if n not in known:
            ctx.problem(path, f"placeholder {{{n}}} is not an argument of the tool", show(n),
                        f"declare it under input.properties (has: {', '.join(sorted(known)) or 'none'})")
    return declared


class Backend(Protocol):
    """What a kind builds: something that runs one call and returns a CallToolResult dict."""

    async def invoke(self, arguments: dict[str, Any], ctx: Context) -> dict[str, Any]: ...


class Tool:
    """A built tool: MCP definition + compiled argument check + timeout + backend."""

    __slots__ = ("_backend", "_is_valid", "_validator", "definition", "error_details", "name", "timeout")

    def __init__(
        self,
        spec: ToolSpec,
        backend: Backend,
        input_schema: Mapping[str, Any],
        description: str | None = None,
        error_details: bool = False,
    ) -> None:
        self.name = spec.name
        self.timeout = spec.timeout
        self.error_details = error_details
        self._backend = backend
        self._is_valid, self._validator = compile_check(input_schema)
        definition: dict[str, Any] = {"name": spec.name}
        if spec.title:
            definition["title"] = spec.title
        definition["description"] = spec.description or description or ""
        definition["inputSchema"] = dict(input_schema)
        if spec.output_schema:
            definition["outputSchema"] = dict(spec.output_schema)
        if spec.annotations:
            definition["annotations"] = dict(spec.annotations)
        self.definition = definition

    @property
    def input_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = self.definition["inputSchema"]
        return schema

    def check_schema(self) -> str | None:
        """A problem with the input schema itself, or None."""
        try:
            Draft202012Validator.check_schema(self.input_schema)
        except Exception as exc:  # jsonschema.SchemaError
            return f"input is not a valid JSON Schema: {getattr(exc, 'message', exc)}"
        return None

    async def call(self, arguments: dict[str, Any], ctx: Context, label: str | None = None) -> dict[str, Any]:
        """Run one call. `label` names the tool in messages when it is called as a master-tool operation."""
        if not self._is_valid(arguments):
            return error_result(self.describe_invalid(arguments, label))
        deadline = asyncio.timeout(self.timeout)
        try:
            async with deadline:
                return await self._backend.invoke(arguments, ctx)
        except ToolError as exc:
            return error_result(str(exc))
        except Exception as exc:
            label = label or f"Tool {self.name!r}"
            if isinstance(exc, TimeoutError) and deadline.expired():
                return error_result(f"{label} timed out after {self.timeout:g}s")
            log.exception("%s failed", label)
            text = f"{label} failed: {type(exc).__name__}: {exc}"
            if self.error_details:
                text += "\n" + traceback.format_exc()
            return error_result(text)

    def describe_invalid(self, arguments: Any, label: str | None = None) -> str:
        errors = sorted(self._validator.iter_errors(arguments), key=lambda e: list(map(str, e.absolute_path)))
        lines = []
        for e in errors:
            where = ".".join(map(str, e.absolute_path))
            lines.append(f"- {where + ': ' if where else ''}{e.message}")
        return f"Invalid arguments for {label or f'tool {self.name!r}'}:\n" + "\n".join(lines)

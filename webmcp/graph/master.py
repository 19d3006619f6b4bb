"""Master tools at run time: one MCP tool whose `operation` argument dispatches to a full tool."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from webmcp.call.jsonrpc import INVALID_PARAMS
from webmcp.callpath.tool import Tool, tool_definition
from webmcp.config.spec import MasterToolSpec
from webmcp.errors import ProtocolError
from webmcp.telemetry.observe import OperationLabel

if TYPE_CHECKING:
    from webmcp.call.context import Context


class MasterTool:
    __slots__ = ("_labels", "_valid", "definition", "name", "operations", "spec")

    def __init__(self, spec: MasterToolSpec, operations: Mapping[str, Tool]) -> None:
        self.spec = spec
        self.name = spec.name
        self.operations = dict(operations)
        self._valid = ", ".join(self.operations)
        self._labels = {op: OperationLabel.of(self.name, op) for op in self.operations}
        self.definition = definition(spec, self.operations)

    async def call(self, arguments: dict[str, Any], ctx: Context) -> dict[str, Any]:
        op = arguments.get("operation")
        tool = self.operations.get(op) if isinstance(op, str) else None
        if tool is None or not isinstance(op, str):
            what = "missing operation" if op is None else f"unknown operation {op!r}"
            raise ProtocolError(INVALID_PARAMS, f"{what} for tool {self.name!r}; valid operations: {self._valid}",
                                {"operations": list(self.operations)})
        rest = {k: v for k, v in arguments.items() if k != "operation"}
        return await tool.call(rest, ctx, self._labels[op])


def conflicts(operations: Mapping[str, Tool]) -> list[str]:
    """Operations whose own schema has an `operation` field, which the dispatch argument would shadow."""
    return [op for op, tool in operations.items() if "operation" in (tool.input_schema.get("properties") or {})]


def definition(spec: MasterToolSpec, operations: Mapping[str, Tool]) -> dict[str, Any]:
    op_names = list(operations)
    selector = {"type": "string", "enum": op_names, "description": "The operation to run; see the tool description."}
    lines = [spec.description.rstrip(), "", "Operations (pass `operation` and that operation's fields):"]
    for op, tool in operations.items():
        schema = tool.input_schema
        required = set(schema.get("required") or [])
        fields = [f"{f}{'' if f in required else '?'}" for f in (schema.get("properties") or {})]
        summary = (tool.definition.get("description") or "").strip().split("\n")[0]
        lines.append(f"- {op}: {summary or tool.name}" + (f" (fields: {', '.join(fields)})" if fields else ""))
    description = "\n".join(lines).lstrip("\n")

    if spec.schema_style == "one_of":
        branches = []
        for op, tool in operations.items():
            schema = tool.input_schema
            branch: dict[str, Any] = {
                "type": "object",
                "properties": {"operation": {"const": op}, **(schema.get("properties") or {})},
                "required": ["operation", *(schema.get("required") or [])],
            }
            if schema.get("additionalProperties") is False:
                branch["additionalProperties"] = False
            branches.append(branch)
        input_schema: dict[str, Any] = {
            "type": "object", "properties": {"operation": selector}, "required": ["operation"], "oneOf": branches,
        }
    else:
        props: dict[str, Any] = {"operation": selector}
        users: dict[str, list[str]] = {}
        variants: dict[str, list[Any]] = {}
        for op, tool in operations.items():
            for field, fschema in (tool.input_schema.get("properties") or {}).items():
                users.setdefault(field, []).append(op)
                if fschema not in variants.setdefault(field, []):
                    variants[field].append(fschema)
        for field, options in variants.items():
            merged = dict(options[0]) if len(options) == 1 else {"anyOf": options}
            note = f"(operations: {', '.join(users[field])})"
            merged["description"] = f"{merged.get('description', '')} {note}".strip()
            props[field] = merged
        input_schema = {"type": "object", "properties": props, "required": ["operation"]}

    return tool_definition(spec.name, spec.title, description, input_schema, None, spec.annotations)

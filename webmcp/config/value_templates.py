"""Reading templated settings of a tool's config (command argv and env, http query, headers and body):
string values as written, and the input schema their placeholders imply."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from webmcp.config.marked_yaml import Path
from webmcp.config.spec import SpecContext
from webmcp.config.templates import TemplateSyntaxError, placeholder_names, stringify
from webmcp.config.validate import show


def string_map(node: Mapping[str, Any] | None, path: Path, ctx: SpecContext) -> dict[str, str]:
    """A mapping whose values are strings by nature (headers, env, query): an unquoted `0755` or
    `no` keeps the text the user wrote instead of YAML 1.1's number or boolean."""
    out = {}
    for key, value in (node or {}).items():
        out[key] = value if isinstance(value, str) else (ctx.source_text((*path, key)) or stringify(value))
    return out


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

"""`PromptSpec`: one entry of `prompts:` (catalog/prompts.py serves it)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from webmcp.config.marked_yaml import Path
from webmcp.config.spec import SpecContext, Where
from webmcp.config.templates import TemplateSyntaxError, placeholder_names
from webmcp.config.validate import show


@dataclass(frozen=True, slots=True)
class PromptSpec:
    name: str
    title: str | None
    description: str
    arguments: tuple[Mapping[str, Any], ...]
    messages: tuple[Mapping[str, Any], ...]
    function: str | None
    complete: Mapping[str, tuple[str, ...]]
    where: Where

    @classmethod
    def from_config(cls, name: str, node: Mapping[str, Any], path: Path, ctx: SpecContext) -> PromptSpec:
        arguments = tuple(node.get("arguments") or ())
        declared = {a["name"] for a in arguments}
        try:
            used = placeholder_names(list(node.get("messages") or []))
        except TemplateSyntaxError as exc:
            ctx.problem((*path, "messages"), str(exc))
            used = []
        for placeholder in dict.fromkeys(used):
            if placeholder not in declared:
                has = ", ".join(sorted(declared)) or "none"
                ctx.problem((*path, "messages"), f"placeholder {{{placeholder}}} is not a declared argument",
                            show(placeholder), f"declare it under arguments (has: {has})")
        for key in node.get("complete") or {}:
            if key not in declared:
                ctx.problem((*path, "complete", key), "not a declared argument", show(key))
        return cls(
            name=name,
            title=node.get("title"),
            description=node.get("description", ""),
            arguments=arguments,
            messages=tuple(node.get("messages") or ()),
            function=node.get("function"),
            complete={k: tuple(map(str, v)) for k, v in (node.get("complete") or {}).items()},
            where=ctx.where(path),
        )

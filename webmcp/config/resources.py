"""`ResourceSpec`: one entry of `resources:` (catalog/resources.py serves it)."""

from __future__ import annotations

import mimetypes
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from webmcp.config.marked_yaml import Path
from webmcp.config.spec import SpecContext, Where
from webmcp.config.templates import Template, TemplateSyntaxError
from webmcp.config.validate import show


@dataclass(frozen=True, slots=True)
class ResourceSpec:
    name: str
    uri: str | None
    uri_template: str | None
    title: str | None
    description: str | None
    mime_type: str | None
    text: str | None
    blob: str | None
    file: str | None
    function: str | None
    complete: Mapping[str, tuple[str, ...]]
    where: Where

    @classmethod
    def from_config(cls, name: str, node: Mapping[str, Any], path: Path, ctx: SpecContext) -> ResourceSpec:
        template = node.get("uri_template")
        if template is not None:
            try:
                params = Template.parse(template).names
            except TemplateSyntaxError as exc:
                ctx.problem((*path, "uri_template"), str(exc))
                params = []
            for name in {p for p in params if params.count(p) > 1}:
                ctx.problem((*path, "uri_template"), f"parameter {{{name}}} appears more than once", show(template))
            if node.get("text") is not None:
                try:
                    used = Template.parse(node["text"]).names
                except TemplateSyntaxError as exc:
                    ctx.problem((*path, "text"), f"{exc} (text of a uri_template resource is a template)")
                    used = []
                for name in used:
                    if name not in params:
                        ctx.problem((*path, "text"), f"placeholder {{{name}}} is not a parameter of uri_template",
                                    show(name), f"parameters: {', '.join(dict.fromkeys(params)) or 'none'}")
            for key in node.get("complete") or {}:
                if key not in params:
                    ctx.problem((*path, "complete", key), "not a parameter of uri_template", show(key),
                                f"parameters: {', '.join(params) or 'none'}")
        elif node.get("complete"):
            ctx.problem((*path, "complete"), "only resources with a uri_template have parameters to complete")
        file = node.get("file")
        return cls(
            name=name,
            uri=node.get("uri"),
            uri_template=template,
            title=node.get("title"),
            description=node.get("description"),
            mime_type=node.get("mime_type") or (mimetypes.guess_type(file)[0] if file else None),
            text=node.get("text"),
            blob=node.get("blob"),
            file=str(ctx.base_dir / file) if file else None,
            function=node.get("function"),
            complete={k: tuple(map(str, v)) for k, v in (node.get("complete") or {}).items()},
            where=ctx.where(path),
        )

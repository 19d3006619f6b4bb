"""Prompts declared under `prompts:`: messages templated over the prompt's arguments, or a Python function.

`messages` is a list of `{role: user|assistant, content: ...}` where content is a string (one text
block, a `{name}` template) or an MCP content block whose strings are templates (an embedded
`resource`, an `image`...). `function: package.module:attr` instead returns the messages (a string
is one user message); a parameter annotated `Context` receives the request's context (to ask the
client for input, for instance). `complete:` lists values for an argument (completion/complete).
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from webmcp.call.jsonrpc import INVALID_PARAMS
from webmcp.config.prompts import PromptSpec
from webmcp.config.templates import Template
from webmcp.errors import ProtocolError
from webmcp.executor.signature import context_param

if TYPE_CHECKING:
    from webmcp.call.context import Context
    from webmcp.kinds.contract import BuildContext


def _render(value: Any, args: Mapping[str, Any]) -> Any:
    if isinstance(value, str):
        return Template.parse(value).render(args)
    if isinstance(value, list):
        return [_render(v, args) for v in value]
    if isinstance(value, dict):
        return {k: _render(v, args) for k, v in value.items()}
    return value


def _message(raw: Any) -> dict[str, Any]:
    if isinstance(raw, str):
        return {"role": "user", "content": {"type": "text", "text": raw}}
    content = raw.get("content")
    if isinstance(content, str):
        content = {"type": "text", "text": content}
    return {"role": raw.get("role", "user"), "content": content}


class Prompt:
    def __init__(self, spec: PromptSpec, function: Callable[..., Any] | None, pool: Any) -> None:
        self.spec = spec
        self._function = function
        self._context_param = context_param(function) if function is not None else None
        self._pool = pool
        self.entry: dict[str, Any] = {"name": spec.name}
        if spec.title:
            self.entry["title"] = spec.title
        self.entry["description"] = spec.description
        self.entry["arguments"] = [dict(a) for a in spec.arguments]

    async def get(self, args: dict[str, Any], ctx: Context) -> dict[str, Any]:
        declared = {a["name"] for a in self.spec.arguments}
        unknown = sorted(set(args) - declared)
        if unknown:
            raise ProtocolError(INVALID_PARAMS, f"prompt {self.spec.name!r}: unknown argument(s) "
                                f"{', '.join(unknown)}; it takes {', '.join(sorted(declared)) or 'none'}")
        missing = [a["name"] for a in self.spec.arguments if a.get("required") and a["name"] not in args]
        if missing:
            raise ProtocolError(INVALID_PARAMS, f"prompt {self.spec.name!r}: missing argument(s) {', '.join(missing)}")
        fn = self._function
        if fn is None:
            messages = [_message(_render(dict(m), args)) for m in self.spec.messages]
        else:
            kwargs: dict[str, Any] = dict(args)
            if self._context_param is not None:
                kwargs[self._context_param] = ctx
            if inspect.iscoroutinefunction(fn):
                produced = await fn(**kwargs)
            else:
                produced = await asyncio.get_running_loop().run_in_executor(self._pool, lambda: fn(**kwargs))
            messages = [_message(m) for m in ([produced] if isinstance(produced, str) else produced)]
        return {"description": self.spec.description, "messages": messages}


class Prompts:
    """Every declared prompt of a Graph, and the prompts/* methods."""

    def __init__(self, items: list[Prompt]) -> None:
        self.by_name = {p.spec.name: p for p in items}

    def __bool__(self) -> bool:
        return bool(self.by_name)

    def list(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"prompts": [p.entry for p in self.by_name.values()]}

    async def get(self, params: dict[str, Any], ctx: Context) -> dict[str, Any]:
        name = params.get("name")
        prompt = self.by_name.get(name) if isinstance(name, str) else None
        if prompt is None:
            raise ProtocolError(INVALID_PARAMS, f"Unknown prompt: {name}")
        args = params.get("arguments") or {}
        if not isinstance(args, dict):
            raise ProtocolError(INVALID_PARAMS, "params.arguments must be an object")
        return await prompt.get({k: str(v) for k, v in args.items()}, ctx)

    def completions(self, name: str, argument: str) -> tuple[str, ...]:
        prompt = self.by_name.get(name)
        return prompt.spec.complete.get(argument, ()) if prompt else ()


async def build(specs: Mapping[str, PromptSpec], ctx: BuildContext) -> Prompts:
    items = []
    for spec in specs.values():
        function = ctx.import_function(spec.function, spec.where) if spec.function else None
        items.append(Prompt(spec, function, ctx.thread_pool()))
    return Prompts(items)

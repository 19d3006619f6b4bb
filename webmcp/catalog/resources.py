"""Resources declared under `resources:`: fixed text or bytes, files, Python functions, URI templates.

An entry has `uri` (one resource) or `uri_template` (`test://items/{id}`: a family, read by URI),
and one source: `text` (a template over the URI's parameters), `blob` (base64), `file` (read on
every request, relative to the config file) or `function` (`package.module:attr`, called with the
URI's parameters; returns str, bytes, or a dict/list sent as JSON text). `complete:` lists values
for a template parameter (completion/complete).
"""

from __future__ import annotations

import asyncio
import base64
import inspect
import re
from collections.abc import Callable, Mapping
from pathlib import Path as FsPath
from typing import TYPE_CHECKING, Any

import orjson

from webmcp.call.jsonrpc import INVALID_PARAMS, RESOURCE_NOT_FOUND
from webmcp.config.resources import ResourceSpec
from webmcp.config.templates import Template
from webmcp.errors import ProtocolError

if TYPE_CHECKING:
    from webmcp.kinds.contract import BuildContext



class Resource:
    """One resource or one template; `read` gives MCP `contents` for a URI it answers."""

    def __init__(self, spec: ResourceSpec, function: Callable[..., Any] | None, pool: Any) -> None:
        self.spec = spec
        self._function = function
        self._pool = pool
        # A template's text is a template over the URI's parameters; a fixed resource's text is verbatim.
        self._text = Template.parse(spec.text) if spec.text is not None and spec.uri_template else None
        self._pattern = _uri_pattern(spec.uri_template) if spec.uri_template else None
        self.entry: dict[str, Any] = {"name": spec.name}
        if spec.uri_template:
            self.entry["uriTemplate"] = spec.uri_template
        else:
            self.entry["uri"] = spec.uri
        for key, value in (("title", spec.title), ("description", spec.description), ("mimeType", spec.mime_type)):
            if value:
                self.entry[key] = value

    def match(self, uri: str) -> dict[str, str] | None:
        if self._pattern is None:
            return {} if uri == self.spec.uri else None
        m = self._pattern.fullmatch(uri)
        return m.groupdict() if m else None

    async def read(self, uri: str, params: dict[str, str]) -> list[dict[str, Any]]:
        spec = self.spec
        content: Any
        if spec.text is not None:
            content = self._text.render(params) if self._text is not None else spec.text
        elif spec.blob is not None:
            content = base64.b64decode(spec.blob)
        elif spec.file is not None:
            content = await asyncio.get_running_loop().run_in_executor(self._pool, FsPath(spec.file).read_bytes)
            if (spec.mime_type or "text/plain").startswith("text/") or spec.mime_type == "application/json":
                content = content.decode(errors="replace")
        else:
            fn = self._function
            assert fn is not None
            if inspect.iscoroutinefunction(fn):
                content = await fn(**params)
            else:
                content = await asyncio.get_running_loop().run_in_executor(self._pool, lambda: fn(**params))
        item: dict[str, Any] = {"uri": uri}
        if isinstance(content, (bytes, bytearray)):
            item["mimeType"] = spec.mime_type or "application/octet-stream"
            item["blob"] = base64.b64encode(bytes(content)).decode()
        elif isinstance(content, str):
            item["mimeType"] = spec.mime_type or "text/plain"
            item["text"] = content
        else:
            item["mimeType"] = spec.mime_type or "application/json"
            item["text"] = orjson.dumps(content, default=str).decode()
        return [item]


def _uri_pattern(template: str) -> re.Pattern[str]:
    """`test://items/{id}/data` -> a regex with one group per parameter (a parameter spans no `/`)."""
    out = []
    for part in Template.parse(template).parts:
        out.append(f"(?P<{part[0]}>[^/]+)" if isinstance(part, tuple) else re.escape(part))
    return re.compile("".join(out))


class Resources:
    """Every declared resource of a Graph, and the resources/* methods."""

    def __init__(self, items: list[Resource]) -> None:
        self.fixed = [r for r in items if r.spec.uri_template is None]
        self.templates = [r for r in items if r.spec.uri_template is not None]
        self.files: dict[str, str] = {r.spec.uri: r.spec.file for r in self.fixed if r.spec.file and r.spec.uri}

    def __bool__(self) -> bool:
        return bool(self.fixed or self.templates)

    def list(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"resources": [r.entry for r in self.fixed]}

    def list_templates(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"resourceTemplates": [r.entry for r in self.templates]}

    async def read(self, params: dict[str, Any]) -> dict[str, Any]:
        uri = params.get("uri")
        if not isinstance(uri, str):
            raise ProtocolError(INVALID_PARAMS, "params.uri must be a string")
        for resource in (*self.fixed, *self.templates):
            found = resource.match(uri)
            if found is not None:
                return {"contents": await resource.read(uri, found)}
        raise ProtocolError(RESOURCE_NOT_FOUND, f"Resource not found: {uri}", {"uri": uri})

    def knows(self, uri: str) -> bool:
        return any(r.match(uri) is not None for r in (*self.fixed, *self.templates))

    def completions(self, uri: str, argument: str) -> tuple[str, ...]:
        for resource in self.templates:
            if resource.spec.uri_template == uri:
                return resource.spec.complete.get(argument, ())
        return ()


async def build(specs: Mapping[str, ResourceSpec], ctx: BuildContext) -> Resources:
    items = []
    for spec in specs.values():
        function = ctx.import_function(spec.function, spec.where) if spec.function else None
        if spec.file and not FsPath(spec.file).is_file():
            raise ctx.fail(spec.where, "file does not exist", f"\"{spec.file}\"")  # the whole path, not cut short
        items.append(Resource(spec, function, ctx.thread_pool()))
    return Resources(items)

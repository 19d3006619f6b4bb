"""http tool: one templated HTTP request per call, through the graph's pooled aiohttp session.

aiohttp is imported only when a config has http tools (it costs ~200 ms and ~20 MB at start-up).
"""

from __future__ import annotations

import base64
import ipaddress
import re
import time
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from webmcp.call.results import error_result, from_value, text_result
from webmcp.callpath.tool import Tool
from webmcp.config.marked_yaml import Path
from webmcp.config.registry import Kind, register
from webmcp.config.spec import SpecContext
from webmcp.config.templates import Template
from webmcp.config.tools import ToolSpec
from webmcp.config.units import parse_size
from webmcp.config.value_templates import string_map, template_input
from webmcp.errors import ToolError
from webmcp.upstreams.upstream import AttemptFailed, UpstreamFailure

if TYPE_CHECKING:
    from webmcp.call.context import Context
    from webmcp.kinds.contract import BuildContext
    from webmcp.kinds.upstreams.http import HttpUpstream
    from webmcp.upstreams.destinations import Destinations


@dataclass(frozen=True, slots=True)
class HttpToolSpec(ToolSpec):
    method: str
    url: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: Any
    max_response: int
    upstream: str | None
    pool: str | None
    idempotent: bool
    allow_hosts: tuple[str, ...]
    allow_private: bool

    @property
    def host_from_arguments(self) -> bool:
        """Does the URL take its scheme, host or port from an argument (so the SSRF guard applies)?"""
        return self.upstream is None and takes_host(self.url)

    @classmethod
    def from_config(cls, name: str, node: Mapping[str, Any], path: Path, ctx: SpecContext) -> HttpToolSpec:
        common = ToolSpec.common(name, node, path, ctx)
        req = node["request"]
        query = string_map(req.get("query"), (*path, "request", "query"), ctx)
        headers = string_map(req.get("headers"), (*path, "request", "headers"), ctx)
        upstream = node.get("upstream")
        if upstream is not None and "path" not in req:
            ctx.problem((*path, "request"), "a tool with an upstream gives request.path, not request.url",
                        hint="write the path after the upstream's base URL, like path: /search")
        elif upstream is None and "url" not in req:
            ctx.problem((*path, "request"), "request.path needs an upstream", hint="add upstream: NAME, or give url:")
        if upstream is not None and "pool" in node:
            ctx.problem((*path, "pool"), "a tool with an upstream uses the upstream's pool",
                        hint="set pool: on the upstream")
        target = req.get("url") or req.get("path") or ""
        templates = [target, query, headers, req.get("body")]
        common["input_schema"] = template_input(templates, common["input_schema"], (*path, "request"), ctx)
        method = req.get("method", "GET")
        for key in ("allow_hosts", "allow_private"):
            if key in node and (upstream is not None or not takes_host(target)):
                ctx.problem((*path, key), f"{key} applies only to a tool whose request.url takes its host or port "
                            "from an argument; this URL's host is fixed (and trusted)", hint=f"remove {key}")
        return cls(
            allow_hosts=tuple(node.get("allow_hosts", ())),
            allow_private=node.get("allow_private", False),
            **common,
            method=method,
            url=target,
            upstream=upstream,
            pool=node.get("pool"),
            idempotent=node.get("idempotent", method in ("GET", "HEAD")),
            query=query,
            headers=headers,
            body=req.get("body"),
            max_response=parse_size(node.get("max_response", "4MiB")),
        )


def takes_host(url: str) -> bool:
    """Is a placeholder of the URL template in its scheme or authority (before the path)? Placeholder values
    are encoded as one segment, so where the authority ends is fixed by the literal text."""
    try:
        parts = Template.parse(url).parts
    except ValueError:
        return False  # reported by the template check
    before = ""
    for part in parts:
        if isinstance(part, tuple):
            _, sep, rest = before.partition("://")
            return not sep or not any(c in rest for c in "/?#")
        before += part
    return False


MAX_REDIRECTS = 10
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


def _compile_body(template: Any) -> Any:
    """The body template with every string parsed once (at build time, not per call)."""
    if isinstance(template, str):
        return Template.parse(template)
    if isinstance(template, list):
        return [_compile_body(v) for v in template]
    if isinstance(template, dict):
        return {k: _compile_body(v) for k, v in template.items()}
    return template


def _render_body(compiled: Any, args: Mapping[str, Any]) -> Any:
    if isinstance(compiled, Template):
        return args.get(compiled.whole) if compiled.whole is not None else compiled.render(args)
    if isinstance(compiled, list):
        return [_render_body(v, args) for v in compiled]
    if isinstance(compiled, dict):
        return {k: _render_body(v, args) for k, v in compiled.items()}
    return compiled


def _quote_segment(value: str) -> str:
    if value in (".", ".."):
        raise ToolError(f"{value!r} is not allowed as a URL path value")
    return urllib.parse.quote(value, safe="")


class HttpBackend:
    def __init__(self, spec: HttpToolSpec, session: Any, error_details: bool, upstream: HttpUpstream | None,
                 destinations: Destinations | None = None) -> None:
        """`destinations`: the SSRF guard of a tool whose host comes from the arguments (`session` resolves
        names through it; addresses written in a URL are checked here)."""
        import aiohttp
        import yarl

        self.spec = spec
        self._session = session
        self._upstream = upstream
        self._connect_error = aiohttp.ClientConnectorError
        self._url = Template.parse(spec.url)
        self._query = {k: Template.parse(v) for k, v in spec.query.items()}
        self._headers = {k: Template.parse(v) for k, v in spec.headers.items()}
        self._body = _compile_body(spec.body)
        self._sets_content_type = any(k.lower() == "content-type" for k in spec.headers)
        self._error_details = error_details
        self._guarded = spec.breaker is not None or spec.fallback is not None  # failures go to the guard
        self._client_error = aiohttp.ClientError
        self._make_url = yarl.URL
        self._destinations = destinations
        self._refused: type[Exception] | None = None
        if destinations is not None:
            from webmcp.upstreams.destinations import DestinationRefused

            self._refused = DestinationRefused

    def _present(self, template: Template, args: Mapping[str, Any]) -> bool:
        """A template that is exactly one placeholder is left out when that argument is absent."""
        return template.whole is None or args.get(template.whole) is not None

    async def invoke(self, arguments: dict[str, Any], ctx: Context) -> dict[str, Any]:
        spec = self.spec
        url = self._url.render(arguments, quote=_quote_segment)
        query = {k: t.render(arguments) for k, t in self._query.items() if self._present(t, arguments)}
        headers = {k: t.render(arguments) for k, t in self._headers.items() if self._present(t, arguments)}
        for name, value in headers.items():
            if "\r" in value or "\n" in value:
                raise ToolError(f"the value for header {name} contains a line break")
        body = None
        if spec.body is not None:
            body = orjson.dumps(_render_body(self._body, arguments))
            if not self._sets_content_type:
                headers["Content-Type"] = "application/json"
        upstream = self._upstream
        if upstream is None:
            return await self._send(url, query, headers, body, False)
        return await upstream.call(lambda ep: self._send(ep.address + url, query, headers, body, True), arguments,
                                   spec.idempotent, time.monotonic() + spec.timeout)

    async def _send(self, url: str, query: dict[str, str], headers: dict[str, str], body: bytes | None,
                    balanced: bool) -> dict[str, Any]:
        """One request, following redirects. `balanced`: through an upstream, where a failure of the endpoint
        raises AttemptFailed (counted against the endpoint, maybe tried again) instead of being the result."""
        spec = self.spec
        target = self._make_url(url, encoded=True)
        method, data = spec.method, body
        params: dict[str, str] | None = query
        try:
            for _ in range(MAX_REDIRECTS + 1):
                refused = self._refusal(target)
                if refused is not None:
                    return error_result(f"HTTP {spec.method} {_origin(str(target))} refused: {refused}")
                async with self._session.request(method, target, params=params, headers=headers, data=data,
                                                 allow_redirects=False) as resp:
                    location = resp.headers.get("Location") if resp.status in _REDIRECTS else None
                    if location is None:
                        too_big = f"HTTP response too large (over {spec.max_response} bytes)"
                        if method != "HEAD" and (resp.content_length or 0) > spec.max_response:
                            return error_result(too_big)
                        chunks: list[bytes] = []
                        size = 0
                        async for chunk in resp.content.iter_chunked(65536):
                            size += len(chunk)
                            if size > spec.max_response:
                                return error_result(too_big)
                            chunks.append(chunk)
                        raw = b"".join(chunks)
                        status, reason, ctype = resp.status, resp.reason, resp.content_type
                        break
                    current = target
                    target, params = current.join(self._make_url(location)), None
                    if target.scheme not in ("http", "https"):
                        return error_result(f"HTTP {spec.method} {_origin(url)} redirected to a non-HTTP URL")
                    if target.origin() != current.origin():
                        # The configured headers (tokens, API keys) were meant for the first origin only.
                        headers = {k: v for k, v in headers.items() if k.lower() == "content-type" and data}
                    if resp.status == 303 or (resp.status in (301, 302) and method == "POST"):
                        method, data = ("HEAD" if method == "HEAD" else "GET"), None
                        headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
            else:
                return error_result(f"HTTP {spec.method} {_origin(url)} failed: more than {MAX_REDIRECTS} redirects")
        except (self._client_error, ValueError) as exc:
            cause = getattr(exc, "os_error", None)
            if self._refused is not None and isinstance(cause, self._refused):
                return error_result(f"HTTP {spec.method} {_origin(str(target))} refused: {cause}")
            text = f"HTTP {spec.method} {_origin(url)} failed: {type(exc).__name__}: {_scrub(str(exc))}"
            if balanced:
                raise AttemptFailed(text, safe=isinstance(exc, self._connect_error)) from None
            if self._guarded:
                raise UpstreamFailure(text) from None  # the tool's breaker and fallback take it from here
            return error_result(text)
        if status >= 400:
            text = f"HTTP {status} {reason or ''}".rstrip() + f" from {spec.method} {_origin(url)}"
            if self._error_details and raw:
                text += "\n" + raw.decode(errors="replace")
            if balanced and status >= 500:
                raise AttemptFailed(text, safe=status in (502, 503, 504))
            if self._guarded and status >= 500:
                raise UpstreamFailure(text)
            return error_result(text)
        return _result(raw, ctype)


    def _refusal(self, target: Any) -> str | None:
        """Why the SSRF guard refuses a URL whose host is an address (names are checked as they resolve)."""
        if self._destinations is None:
            return None
        host = target.raw_host or ""
        try:
            address = ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            return None
        return self._destinations.refusal(host, address)


def _origin(url: str) -> str:
    """scheme://host/path, without credentials or the query (they may carry secrets)."""
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{parts.path}"


_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>]+")


def _scrub(text: str) -> str:
    """`text` (an exception's, which may quote the URL it failed on) with every URL cut to its origin and path."""
    def cut(match: re.Match[str]) -> str:
        try:
            return _origin(match.group())
        except ValueError:  # not a URL urlsplit can read (a bad IPv6 literal): none of it is shown
            return "<url>"

    return _URL.sub(cut, text)


def _result(raw: bytes, ctype: str) -> dict[str, Any]:
    if ctype == "application/json" or ctype.endswith("+json"):
        try:
            return from_value(orjson.loads(raw)) if raw else text_result("")
        except orjson.JSONDecodeError:
            return text_result(raw.decode(errors="replace"))
    if ctype.startswith(("image/", "audio/")):
        kind = "image" if ctype.startswith("image/") else "audio"
        block = {"type": kind, "data": base64.b64encode(raw).decode(), "mimeType": ctype}
        return {"content": [block], "isError": False}
    return text_result(raw.decode(errors="replace"))


async def build(spec: HttpToolSpec, ctx: BuildContext) -> Tool:
    assert spec.input_schema is not None
    if spec.upstream is not None:
        from webmcp.kinds.upstreams.http import HttpUpstream

        upstream = await ctx.upstream(spec.upstream, HttpUpstream)
        backend = HttpBackend(spec, upstream.session, ctx.error_details, upstream)
    elif spec.host_from_arguments:
        from webmcp.upstreams.destinations import Destinations

        destinations = Destinations(spec.allow_hosts, spec.allow_private)
        session = await ctx.guarded_http_session(spec.pool, destinations)
        backend = HttpBackend(spec, session, ctx.error_details, None, destinations)
    else:
        backend = HttpBackend(spec, await ctx.http_session(spec.pool), ctx.error_details, None)
    return Tool(spec, backend, spec.input_schema, None, ctx.error_details)


KIND = register(Kind("tools", "http", HttpToolSpec, build))

"""A real HTTP backend on loopback for http-tool tests, run in a thread with its own event loop."""

from __future__ import annotations

import asyncio
import base64
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from aiohttp import ClientSession, web

PNG_1PX = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def _app(seen: list[dict[str, Any]]) -> web.Application:
    async def search(request: web.Request) -> web.Response:
        seen.append({"path": request.path, "query": dict(request.query), "headers": dict(request.headers)})
        return web.json_response({"query": request.query.get("q"), "limit": request.query.get("limit"), "hits": 3})

    async def echo_body(request: web.Request) -> web.Response:
        body = await request.json()
        seen.append({"path": request.path, "body": body})
        return web.json_response({"received": body})

    async def item(request: web.Request) -> web.Response:
        return web.Response(text=f"item {request.match_info['id']}")

    async def missing(request: web.Request) -> web.Response:
        return web.Response(status=404, text="secret internal detail")

    async def image(request: web.Request) -> web.Response:
        return web.Response(body=PNG_1PX, content_type="image/png")

    async def huge(request: web.Request) -> web.Response:
        return web.Response(text="x" * 200_000)

    async def profile_escape(request: web.Request) -> web.Response:
        seen.append({"path": request.raw_path})
        return web.Response(text="escaped the path segment")

    async def chunked(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "application/json"})
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        await resp.write(b'{"items": [')
        for i in range(20_000):
            await resp.write(b'"item-%05d",' % i)
        await resp.write(b'"last"]}')
        await resp.write_eof()
        return resp

    async def profile(request: web.Request) -> web.Response:
        seen.append({"path": request.raw_path})
        return web.Response(text=f"profile of {request.match_info['id']}")

    async def peer(request: web.Request) -> web.Response:
        peername = request.transport.get_extra_info("peername") if request.transport else None
        return web.json_response({"port": peername[1] if peername else None})

    async def loop(request: web.Request) -> web.Response:
        raise web.HTTPFound(f"/loop?{request.query_string}")

    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound(request.query["to"])

    app = web.Application()
    app.router.add_get("/loop", loop)
    app.router.add_get("/redirect", redirect)
    app.router.add_get("/peer", peer)
    app.router.add_get("/chunked", chunked)
    app.router.add_get("/api/users/{id}/profile", profile)
    app.router.add_get("/api/profile", profile_escape)
    app.router.add_get("/search", search)
    app.router.add_post("/echo", echo_body)
    app.router.add_get("/items/{id}", item)
    app.router.add_get("/missing", missing)
    app.router.add_get("/image", image)
    app.router.add_get("/huge", huge)
    return app


def basic_gate(upstream: str, authorization: str) -> Callable[[list[dict[str, Any]]], web.Application]:
    """An app in front of the JSON-only MCP server at `upstream`: requests with this Authorization value are
    passed on (POST and DELETE bodies as they are), others get 401; each is recorded."""

    def make(seen: list[dict[str, Any]]) -> web.Application:
        async def forward(request: web.Request) -> web.Response:
            seen.append({"method": request.method, "url": str(request.url),
                         "authorization": request.headers.get("Authorization")})
            if request.headers.get("Authorization") != authorization:
                return web.Response(status=401)
            headers = {k: v for k, v in request.headers.items()
                       if k.lower() in ("content-type", "accept", "mcp-session-id", "mcp-protocol-version")}
            async with ClientSession() as http, http.request(request.method, upstream, headers=headers,
                                                             data=await request.read()) as resp:
                passed = {k: v for k, v in resp.headers.items() if k.lower() in ("content-type", "mcp-session-id")}
                return web.Response(status=resp.status, body=await resp.read(), headers=passed)

        app = web.Application()
        app.router.add_route("*", "/mcp", forward)
        return app

    return make


@contextmanager
def run_backend(
    make: Callable[[list[dict[str, Any]]], web.Application] | None = None,
) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """Serve the app (this file's, or `make`'s) on 127.0.0.1 on a free port; yields (base URL, list of
    recorded requests)."""
    seen: list[dict[str, Any]] = []
    loop = asyncio.new_event_loop()
    started = threading.Event()
    state: dict[str, Any] = {}

    async def start() -> None:
        runner = web.AppRunner((make or _app)(seen))
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        state["runner"] = runner
        state["port"] = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        started.set()

    thread = threading.Thread(target=lambda: (loop.run_until_complete(start()), loop.run_forever()), daemon=True)
    thread.start()
    started.wait(10)
    try:
        yield f"http://127.0.0.1:{state['port']}", seen
    finally:
        asyncio.run_coroutine_threadsafe(state["runner"].cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()

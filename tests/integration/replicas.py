"""Several real HTTP backends (replicas) on loopback that a test can slow down, fail, kill and restart.

They run in one thread with its own event loop; every replica answers `GET /who` with its name, counts
the requests it got, and serves `/healthz` (503 while it is told to fail its health checks).
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Replica:
    name: str
    port: int
    status: int = 200  # what /who and /work answer
    delay: float = 0.0
    healthy: bool = True
    hits: Counter[str] = field(default_factory=Counter)
    runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Replicas:
    def __init__(self, names: list[str]) -> None:
        self.loop = asyncio.new_event_loop()
        self.by_name = {n: Replica(n, _free_port()) for n in names}
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        for n in names:
            self.start(n)

    def __getitem__(self, name: str) -> Replica:
        return self.by_name[name]

    def _run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)

    def _app(self, r: Replica) -> web.Application:
        async def who(request: web.Request) -> web.Response:
            r.hits[request.method + " " + request.path] += 1
            if r.delay:
                await asyncio.sleep(r.delay)
            if r.status >= 400:
                return web.Response(status=r.status, text=f"{r.name} failing")
            return web.json_response({"replica": r.name, "key": request.match_info.get("key")})

        async def healthz(request: web.Request) -> web.Response:
            r.hits["healthz"] += 1
            return web.Response(status=200 if r.healthy else 503)

        app = web.Application()
        app.router.add_route("*", "/who", who)
        app.router.add_route("*", "/who/{key}", who)
        app.router.add_get("/healthz", healthz)
        return app

    def start(self, name: str) -> None:
        r = self.by_name[name]

        async def go() -> None:
            r.runner = web.AppRunner(self._app(r), shutdown_timeout=0.1)
            await r.runner.setup()
            await web.TCPSite(r.runner, "127.0.0.1", r.port, reuse_address=True).start()

        self._run(go())

    def kill(self, name: str) -> None:
        r = self.by_name[name]
        if r.runner is not None:
            self._run(r.runner.cleanup())
            r.runner = None

    def hits(self, path: str = "GET /who") -> dict[str, int]:
        return {n: r.hits[path] for n, r in self.by_name.items()}

    def close(self) -> None:
        for n in self.by_name:
            self.kill(n)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


@contextmanager
def run_replicas(*names: str) -> Iterator[Replicas]:
    replicas = Replicas(list(names))
    try:
        yield replicas
    finally:
        replicas.close()

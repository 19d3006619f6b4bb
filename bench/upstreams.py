"""Cost of upstreams: endpoint choice + breaker check per strategy, and the proxy overhead per call of
an `http` upstream and an `mcp` upstream against calling the same backend directly (< 1 min).

    .venv/bin/python bench/upstreams.py

The HTTP backend is an aiohttp server in a child process (GET /who answers a small JSON object); the
MCP backend is `webmcp serve -c bench/echo.yaml` over stdio. "direct" is the same request made by the
same client library (aiohttp on the same pooled session; the official `mcp` ClientSession), without
webmcp's tool layer; the difference is what webmcp adds per call (argument check, timer, upstream:
balancer pick, breaker, bookkeeping, result mapping). Numbers are medians of 5 rounds, in µs.
"""

from __future__ import annotations

import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
N = int(os.environ.get("UPSTREAM_BENCH_CALLS", "2000"))
PICKS = int(os.environ.get("UPSTREAM_BENCH_PICKS", "200000"))

BACKEND = """
import sys
from aiohttp import web
async def who(request):
    return web.json_response({"replica": "x", "n": 1})
app = web.Application()
app.router.add_get("/who", who)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError("backend did not start")


async def rounds(fn: Any, n: int = N, k: int = 5) -> float:
    out = []
    for _ in range(k):
        t = time.perf_counter()
        for _ in range(n):
            await fn()
        out.append((time.perf_counter() - t) / n * 1e6)
    return statistics.median(out)


async def interleaved(fns: list[Any], n: int = N, k: int = 7) -> list[float]:
    """Median µs per call of each function, measured in alternation so drifts of the machine hit all alike."""
    samples: list[list[float]] = [[] for _ in fns]
    for _ in range(k):
        for i, fn in enumerate(fns):
            t = time.perf_counter()
            for _ in range(n):
                await fn()
            samples[i].append((time.perf_counter() - t) / n * 1e6)
    return [statistics.median(x) for x in samples]


async def call_layer() -> list[tuple[str, float]]:
    """Upstream.call around an attempt that does nothing: the whole in-process cost of an upstream."""
    import webmcp.kinds.imports  # noqa: F401  (registers the balancers)
    from webmcp.config.upstreams import Balancing, BreakerSpec, EndpointSpec
    from webmcp.kinds.upstreams import balancer_of
    from webmcp.upstreams.upstream import Upstream

    eps = [EndpointSpec(f"e{i}", f"http://127.0.0.1:{9000 + i}", 1) for i in range(3)]
    up = Upstream("bench", eps, Balancing(), BreakerSpec("b"), balancer_of(Balancing()))

    async def attempt(ep: Any) -> None:
        return None

    async def bare() -> None:
        await attempt(None)

    base, through = await interleaved([bare, lambda: up.call(attempt, {}, True, time.monotonic() + 60)], PICKS // 4, 5)
    return [("  Upstream.call (round_robin + breaker + bookkeeping) - bare await", through - base)]


def picks() -> list[tuple[str, float]]:
    import webmcp.kinds.imports  # noqa: F401  (registers the balancers)
    from webmcp.config.upstreams import Balancing, BreakerSpec, EndpointSpec
    from webmcp.kinds.upstreams import balancer_of
    from webmcp.upstreams.upstream import Upstream

    eps = [EndpointSpec(f"e{i}", f"http://127.0.0.1:{9000 + i}", i + 1) for i in range(3)]
    rows = []
    args = {"key": "user-42"}
    for balance in ("round_robin", "weighted", "least_connections", "response_time", "consistent_hash"):
        for breaker in (None, BreakerSpec("b")):
            balancing = Balancing(balance=balance, hash_on=("key",))  # type: ignore[arg-type]
            up = Upstream("bench", eps, balancing, breaker, balancer_of(balancing))
            choose = up._choose
            t = time.perf_counter()
            for _ in range(PICKS):
                choose(args, None)
            rows.append((f"  {balance}{' + breaker' if breaker else ''}", (time.perf_counter() - t) / PICKS * 1e6))
    return rows


async def http_overhead(folder: Path) -> list[tuple[str, float]]:
    from webmcp.config.load import load
    from webmcp.graph.build import build

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", BACKEND, str(port)])
    try:
        wait_port(port)
        base = f"http://127.0.0.1:{port}"
        (folder / "http.yaml").write_text(textwrap.dedent(f"""
            version: 1
            breakers: {{b: {{failure_threshold: 5}}}}
            upstreams:
              api: {{kind: http, endpoints: ["{base}"], breaker: b, retry: {{attempts: 2}}}}
            tools:
              via_url: {{kind: http, request: {{url: "{base}/who"}}}}
              via_upstream: {{kind: http, upstream: api, request: {{path: /who}}}}
            """))
        graph = await build(load(str(folder / "http.yaml")))
        session = next(v.value for k, v in graph.shared.items() if k[0] == "pool default")

        async def direct() -> None:
            async with session.get(f"{base}/who") as resp:
                await resp.read()

        url_tool, up_tool = graph.tools["via_url"], graph.tools["via_upstream"]
        await rounds(direct, 200, 1)  # warm the pool
        d, u, p = await interleaved([direct, lambda: url_tool.call({}, None),  # type: ignore[arg-type]
                                     lambda: up_tool.call({}, None)])  # type: ignore[arg-type]
        await graph.close()
        return [("  direct aiohttp GET (same pooled session)", d), ("  http tool, url", u),
                ("  http tool through an upstream (breaker, retry policy)", p),
                ("  => webmcp's overhead through the upstream", p - d)]
    finally:
        proc.terminate()
        proc.wait(10)


async def mcp_overhead(folder: Path) -> list[tuple[str, float]]:
    from mcp import ClientSession, StdioServerParameters, stdio_client

    from webmcp.config.load import load
    from webmcp.graph.build import build

    argv = [sys.executable, "-m", "webmcp", "serve", "-c", str(HERE / "echo.yaml"), "--log-level", "warning"]
    (folder / "mcp.yaml").write_text(textwrap.dedent(f"""
        version: 1
        upstreams:
          echo_srv: {{kind: mcp, command: {argv!r}}}
        tools:
          echo: {{kind: mcp, upstream: echo_srv}}
        """).replace("'", '"'))
    graph = await build(load(str(folder / "mcp.yaml")))
    tool = graph.tools["echo"]
    args = {"text": "x" * 16}
    params = StdioServerParameters(command=argv[0], args=argv[1:])
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        n = max(200, N // 4)
        d, p = await interleaved([lambda: session.call_tool("echo", args),
                                  lambda: tool.call(args, None)], n)  # type: ignore[arg-type]
    await graph.close()
    return [("  direct: official mcp ClientSession.call_tool over stdio", d),
            ("  mcp tool through an mcp upstream (same client inside)", p),
            ("  => webmcp's overhead through the upstream", p - d)]


async def main() -> None:
    rows: list[tuple[str, float]] = [("endpoint choice + breaker check (3 endpoints), per call", float("nan"))]
    rows += picks()
    rows += await call_layer()
    with tempfile.TemporaryDirectory() as d:
        rows.append(("http upstream, per call (sequential, loopback)", float("nan")))
        rows += await http_overhead(Path(d))
        rows.append(("mcp upstream, per call (sequential, stdio)", float("nan")))
        rows += await mcp_overhead(Path(d))
    for label, us in rows:
        print(f"{label:<66} {'' if us != us else f'{us:8.2f} µs'}")


if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parent))
    started = time.perf_counter()
    asyncio.run(main())
    print(f"({time.perf_counter() - started:.0f} s)")

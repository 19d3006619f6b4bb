"""What sharing 2025 sessions through Redis (`server.http.sessions: {backend: redis}`) costs a call.

    .venv/bin/python bench/sessions.py [--redis redis://127.0.0.1:6379/0] [--sessions 300] [--calls 20000]

Starts three `webmcp serve --transport http` on the echo tool: L with the default (memory) sessions, and A
and B sharing session records in Redis. Prints:
- the first request of a session on a process that has never seen it (B, for sessions opened on A: one
  record fetch from Redis and a local copy built) against the second (the copy exists): the lookup cost;
- steady calls/s and p50 within sessions on L and on A, alternating rounds: what a shared store costs a
  call once the process holds the session (nothing is looked up on that path).
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import orjson

BENCH = Path(__file__).resolve().parent
HEADERS = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
CONFIG = """version: 1
server:
  name: bench-sessions
  http: SESSIONS
pools:
  shared: {kind: redis, url: "URL"}
tools:
  echo: {kind: python, function: echo_tool:echo}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(config: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "webmcp", "serve", "-c", str(config), "--transport", "http",
                             "--port", str(port), "--log-level", "warning"], cwd=BENCH)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return proc, f"http://127.0.0.1:{port}/mcp"
        time.sleep(0.05)
    raise SystemExit(f"server on {config} did not start")


async def initialize(http: aiohttp.ClientSession, url: str) -> str:
    body = {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}}}
    async with http.post(url, data=orjson.dumps(body), headers=HEADERS) as resp:
        return resp.headers["Mcp-Session-Id"]


async def echo(http: aiohttp.ClientSession, url: str, sid: str, i: int) -> float:
    body = orjson.dumps({"jsonrpc": "2.0", "id": i, "method": "tools/call",
                         "params": {"name": "echo", "arguments": {"text": f"t{i}"}}})
    started = time.perf_counter()
    async with http.post(url, data=body, headers={**HEADERS, "Mcp-Session-Id": sid}) as resp:
        reply = orjson.loads(await resp.read())
    assert resp.status == 200 and reply["result"]["content"][0]["text"] == f"t{i}", reply
    return time.perf_counter() - started


async def steady(http: aiohttp.ClientSession, url: str, sids: list[str], calls: int) -> tuple[float, float]:
    """calls/s and p50 (ms) of `calls` echo calls, one worker per session."""
    per = calls // len(sids)
    latencies: list[float] = []

    async def run(sid: str) -> None:
        for i in range(per):
            latencies.append(await echo(http, url, sid, i))

    started = time.perf_counter()
    await asyncio.gather(*(run(sid) for sid in sids))
    return per * len(sids) / (time.perf_counter() - started), statistics.median(latencies) * 1e3


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    ap.add_argument("--sessions", type=int, default=300)
    ap.add_argument("--calls", type=int, default=20000)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-sessions-"))
    local, shared = folder / "local.yaml", folder / "shared.yaml"
    local.write_text(CONFIG.replace("SESSIONS", "{}").replace("URL", a.redis))
    shared.write_text(CONFIG.replace("SESSIONS", "{sessions: {backend: redis, pool: shared}}").replace("URL", a.redis))
    procs = []
    try:
        (pl, l_url), (pa, a_url), (pb, b_url) = (start(local), start(shared), start(shared))
        procs = [pl, pa, pb]
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=16)) as http:
            sids = [await initialize(http, a_url) for _ in range(a.sessions)]
            first, second = [], []
            for n, sid in enumerate(sids):
                first.append(await echo(http, b_url, sid, n))
                second.append(await echo(http, b_url, sid, n))
            f50, s50 = statistics.median(first) * 1e3, statistics.median(second) * 1e3
            print(f"first request of a session on another instance (Redis fetch + copy), {a.sessions} sessions:")
            print(f"  first p50 {f50:.3f} ms, second p50 {s50:.3f} ms: the lookup adds {f50 - s50:.3f} ms, once per "
                  "session and process")
            sessions = {"memory (local)": [await initialize(http, l_url) for _ in range(16)],
                        "redis (shared)": sids[:16]}
            urls = {"memory (local)": l_url, "redis (shared)": a_url}
            for name, url in urls.items():
                await steady(http, url, sessions[name], 1000)  # warm up
            best: dict[str, tuple[float, float]] = {}
            for _ in range(a.rounds):
                for name, url in urls.items():
                    rate, p50 = await steady(http, url, sessions[name], a.calls)
                    if name not in best or rate > best[name][0]:
                        best[name] = (rate, p50)
            print(f"steady tools/call within 16 sessions, {a.calls} calls, best of {a.rounds} rounds:")
            for name, (rate, p50) in best.items():
                print(f"  {name:<16} {rate:>8,.0f} calls/s  p50 {p50:.3f} ms")
            ratio = best["redis (shared)"][0] / best["memory (local)"][0]
            print(f"  shared / local: {ratio:.2f}x calls/s")
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(10)


if __name__ == "__main__":
    asyncio.run(main())

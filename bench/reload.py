"""Reload under load: reload time of a 200-tool config, and call latency during reloads vs steady.

    .venv/bin/python bench/reload.py [--tools 200] [--seconds 3] [--reloads 10] [--concurrency 16]

Starts `webmcp serve --transport http` on a generated config (python and static tools), drives
tools/call at a fixed concurrency for a steady phase, then for a phase in which the config is
reloaded repeatedly through POST /admin/reload. Prints reload times and call p50/p99 per phase,
and the number of failed calls (expected 0).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import orjson

TOOL_MODULE = '''
async def echo(text: str) -> str:
    """Return the text."""
    return text
'''


def write_config(folder: Path, tools: int) -> Path:
    (folder / "bench_tools.py").write_text(TOOL_MODULE)
    # Stateless: each POST stands alone, so the load needs no session set-up.
    lines = ["version: 1", "server:", "  http: {stateless: true, admin_token_env: BENCH_ADMIN}", "tools:"]
    for i in range(tools):
        if i % 2:
            lines.append(f"  static_{i}: {{kind: static, description: 'tool {i}', content: 'fixed {i}'}}")
        else:
            lines.append(f"  echo_{i}: {{kind: python, function: 'bench_tools:echo', description: 'tool {i}'}}")
    path = folder / "webmcp.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def drive(url: str, seconds: float, concurrency: int, failures: list[str]) -> list[float]:
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    headers = {"Content-Type": "application/json", "Accept": "application/json"}

    async def worker(n: int, http: aiohttp.ClientSession) -> None:
        i = 0
        while time.perf_counter() < deadline:
            i += 1
            body = orjson.dumps({"jsonrpc": "2.0", "id": i, "method": "tools/call",
                                 "params": {"name": "echo_0", "arguments": {"text": f"w{n}-{i}"}}})
            t = time.perf_counter()
            async with http.post(url, data=body, headers=headers) as resp:
                reply = orjson.loads(await resp.read())
            latencies.append(time.perf_counter() - t)
            if resp.status != 200 or reply.get("result", {}).get("content", [{}])[0].get("text") != f"w{n}-{i}":
                failures.append(f"{resp.status} {reply}")

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        await asyncio.gather(*(worker(n, http) for n in range(concurrency)))
    return latencies


async def reload_repeatedly(admin: str, count: int, seconds: float) -> list[float]:
    times: list[float] = []
    headers = {"Authorization": "Bearer bench"}
    async with aiohttp.ClientSession() as http:
        for _ in range(count):
            await asyncio.sleep(seconds / (count + 1))
            async with http.post(admin, headers=headers) as resp:
                report = await resp.json()
                assert report["ok"], report
                times.append(report["seconds"])
    return times


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tools", type=int, default=200)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--reloads", type=int, default=10)
    ap.add_argument("--concurrency", type=int, default=16)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        config = write_config(Path(tmp), a.tools)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        proc = subprocess.Popen([sys.executable, "-m", "webmcp", "serve", "-c", str(config), "--transport", "http",
                                 "--port", str(port), "--log-level", "warning"],
                                env={**os.environ, "BENCH_ADMIN": "bench"}, cwd=tmp)
        try:
            url = f"http://127.0.0.1:{port}/mcp"
            for _ in range(300):
                with socket.socket() as s:
                    if s.connect_ex(("127.0.0.1", port)) == 0:
                        break
                await asyncio.sleep(0.05)
            failures: list[str] = []
            steady = await drive(url, a.seconds, a.concurrency, failures)
            during, reloads = await asyncio.gather(
                drive(url, a.seconds, a.concurrency, failures),
                reload_repeatedly(url.replace("/mcp", "/admin/reload"), a.reloads, a.seconds))
        finally:
            proc.terminate()
            proc.wait(15)
    print(f"config: {a.tools} tools; load: {a.concurrency} concurrent tools/call over HTTP, {a.seconds:g} s a phase")
    print(f"reload time ({len(reloads)} reloads): median {statistics.median(reloads) * 1000:.1f} ms, "
          f"max {max(reloads) * 1000:.1f} ms")
    for name, lat in (("steady", steady), ("during reloads", during)):
        print(f"{name:>15}: {len(lat):6d} calls, p50 {percentile(lat, 0.5) * 1e3:.2f} ms, "
              f"p99 {percentile(lat, 0.99) * 1e3:.2f} ms")
    print(f"failed calls: {len(failures)}" + (f" (first: {failures[0]})" if failures else ""))
    if failures:
        sys.exit(1)


if __name__ == "__main__":
    asyncio.run(main())

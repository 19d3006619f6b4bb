"""Throughput of 1 vs 3 webmcp instances behind nginx on this machine (plus 1 instance without nginx, for
nginx's own cost).

    .venv/bin/python bench/fleet.py [--duration 8] [--concurrency 64] [--rounds 2]

Each setup starts its instances (`webmcp serve --transport http`, stateless JSON, the echo tool of
bench/echo-stateless.yaml) and, except `direct`, a real nginx in front (round-robin, upstream keepalive;
tests/integration/nginx.py, which installs nginx from Debian's packages if needed). The load is raw JSON-RPC
tools/call posts from `--concurrency` aiohttp workers in this process for `--duration` seconds. Prints
calls/s, p50/p99 latency (client side), errors, and the CPU seconds each party used (instances, nginx, the
load client itself), so the ceiling of the machine shows: on 2 cores, the client, nginx and the instances
share them, and 3 instances cannot go faster than the cores that are left. Setups alternate for `--rounds`
rounds; each figure is the best round. Exits 1 on any error.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.integration.nginx import Instance, Nginx  # noqa: E402
from tests.integration.redis_server import free_port  # noqa: E402

CONFIG = """version: 1
server:
  log_level: warning
  http: {stateless: true, max_connections: 10000, max_connections_per_client: 10000}
tools:
  echo: {kind: python, function: echo_tool:echo}
"""
HEADERS = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}


async def load(url: str, concurrency: int, duration: float) -> tuple[int, int, list[float]]:
    """Calls done, errors, latencies (s)."""
    latencies: list[float] = []
    errors = 0
    stop = time.monotonic() + duration
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:

        async def worker(index: int) -> None:
            nonlocal errors
            n = 0
            while time.monotonic() < stop:
                n += 1
                text = f"w{index}-{n}"
                body = orjson.dumps({"jsonrpc": "2.0", "id": n, "method": "tools/call",
                                     "params": {"name": "echo", "arguments": {"text": text}}})
                started = time.perf_counter()
                try:
                    async with http.post(url, data=body, headers=HEADERS) as resp:
                        answer = orjson.loads(await resp.read())
                    ok = answer["result"]["content"][0]["text"] == text
                except Exception:
                    ok = False
                latencies.append(time.perf_counter() - started)
                errors += 0 if ok else 1

        await asyncio.gather(*(worker(i) for i in range(concurrency)))
    return len(latencies), errors, latencies


def cpu(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            proc = psutil.Process(pid)
            times = proc.cpu_times()
            total += times.user + times.system
            for child in proc.children(recursive=True):
                t = child.cpu_times()
                total += t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return total


def run_setup(folder: Path, config: Path, count: int, proxied: bool, args: argparse.Namespace) -> dict[str, Any]:
    instances = [Instance(config, free_port(), folder / f"{count}-{proxied}-{i}.log") for i in range(count)]
    proxy: Nginx | None = None
    try:
        for instance in instances:
            instance.start()
        url = f"http://127.0.0.1:{instances[0].port}/mcp"
        if proxied:
            proxy = Nginx(folder / f"nginx-{count}", [i.port for i in instances]).start()
            url = proxy.url
        asyncio.run(load(url, 8, 1.0))  # warm up: imports, connections, nginx keepalive pool
        server_pids = [i.pid for i in instances]
        proxy_pids = [proxy.proc.pid] if proxy is not None and proxy.proc is not None else []
        before = (cpu(server_pids), cpu(proxy_pids), psutil.Process().cpu_times())
        started = time.monotonic()
        done, errors, latencies = asyncio.run(load(url, args.concurrency, args.duration))
        elapsed = time.monotonic() - started
        me = psutil.Process().cpu_times()
        latencies.sort()
        return {
            "calls_per_s": done / elapsed, "errors": errors,
            "p50_ms": statistics.median(latencies) * 1000,
            "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
            "cpu_instances": cpu(server_pids) - before[0], "cpu_nginx": cpu(proxy_pids) - before[1],
            "cpu_client": (me.user + me.system) - (before[2].user + before[2].system), "seconds": elapsed,
        }
    finally:
        if proxy is not None:
            proxy.stop()
        for instance in instances:
            instance.kill()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=8.0)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    setups = [("direct, 1 instance", 1, False), ("nginx, 1 instance", 1, True), ("nginx, 3 instances", 3, True)]
    best: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="webmcp-fleet-bench-") as d:
        folder = Path(d)
        config = folder / "webmcp.yaml"
        config.write_text(CONFIG)
        (folder / "echo_tool.py").write_text((ROOT / "bench" / "echo_tool.py").read_text())
        for _ in range(args.rounds):
            for label, count, proxied in setups:
                result = run_setup(folder, config, count, proxied, args)
                if label not in best or result["calls_per_s"] > best[label]["calls_per_s"]:
                    best[label] = result
    print(f"{os.cpu_count()} CPUs; {args.concurrency} concurrent clients for {args.duration:g}s; best of "
          f"{args.rounds} round(s)")
    print(f"{'setup':22} {'calls/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}   CPU s: instances / nginx / client")
    base = best["nginx, 1 instance"]["calls_per_s"]
    for label, *_ in setups:
        r = best[label]
        print(f"{label:22} {r['calls_per_s']:9.0f} {r['p50_ms']:8.2f} {r['p99_ms']:8.2f} {r['errors']:7d}   "
              f"{r['cpu_instances']:.1f} / {r['cpu_nginx']:.1f} / {r['cpu_client']:.1f}   "
              f"(x{r['calls_per_s'] / base:.2f} of nginx, 1 instance)")
    return 1 if any(r["errors"] for r in best.values()) else 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Cache benchmark: hit ratio, latency and throughput for a Zipf-distributed key workload.

    .venv/bin/python bench/cache.py          # about 30 s; needs Redis for the redis rows (REDIS_URL)

In-process through the Tool API (bench/cache.yaml): 10,000 distinct keys drawn with Zipf s=1.1,
a cache of 1,000 entries, a backend that takes 1 ms; 64 calls in flight. Rows: uncached, memory LRU,
Redis alone, Redis behind a memory l1. Then one end-to-end figure: `webmcp serve` over stdio with
64 pipelined requests in flight, uncached vs memory-cached. Redis keys live under
webmcp-bench:<run>:* and are deleted at the end.
"""

from __future__ import annotations

import asyncio
import bisect
import itertools
import os
import random
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import orjson

HERE = Path(__file__).resolve().parent
KEYS = 10_000
CALLS = int(os.environ.get("CACHE_BENCH_CALLS", "20000"))
IN_FLIGHT = 64


def zipf_keys(n: int, s: float = 1.1, seed: int = 7) -> list[int]:
    weights = [1 / (k**s) for k in range(1, KEYS + 1)]
    cumulative = list(itertools.accumulate(weights))
    rng = random.Random(seed)
    return [bisect.bisect_left(cumulative, rng.random() * cumulative[-1]) for _ in range(n)]


async def run_tool(tool: Any, keys: list[int]) -> tuple[float, list[float], dict[str, int]]:
    """(calls/s, latencies in µs, outcome counts) with IN_FLIGHT calls at a time."""
    from webmcp.cache.outcome import OUTCOME

    latencies: list[float] = []
    outcomes: dict[str, int] = {}
    queue = iter(keys)

    async def worker() -> None:
        for key in queue:
            OUTCOME.set(None)  # an uncached tool never sets it
            t = time.perf_counter()
            await tool.call({"key": key}, None)
            latencies.append((time.perf_counter() - t) * 1e6)
            outcome = OUTCOME.get() or "uncached"
            outcomes[outcome] = outcomes.get(outcome, 0) + 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(IN_FLIGHT)))
    return len(keys) / (time.perf_counter() - started), latencies, outcomes


def pct(values: list[float], p: float) -> float:
    return sorted(values)[min(len(values) - 1, int(len(values) * p))]


async def inline_cost(tool: Any, n: int = CALLS, rounds: int = 7) -> float:
    """Best µs per Tool.call awaited inline, same arguments every time (for the cached tool: a hit)."""
    args = {"text": "x" * 16}
    out = []
    for _ in range(rounds):
        t = time.perf_counter()
        for _ in range(n):
            await tool.call(args, None)
        out.append((time.perf_counter() - t) / n * 1e6)
    return min(out)


async def in_process(run: str) -> list[tuple[str, float, float, float, float, float]]:
    from webmcp.config.load import load
    from webmcp.graph.build import build

    os.environ["BENCH_RUN"] = run
    graph = await build(load(str(HERE / "cache.yaml")))
    keys = zipf_keys(CALLS)
    rows = []
    try:
        plain, hit = await inline_cost(graph.tools["echo"]), await inline_cost(graph.tools["echo_cached"])
        print(f"Tool.call awaited inline: echo uncached {plain:.2f} µs, echo cached (a memory hit) {hit:.2f} µs")
        for name in ("uncached", "memory", "redis_only", "tiered"):
            tool: Any = graph.tools[name]
            cache = getattr(tool._cache, "cache", None)
            if cache is not None and cache.remote is not None and not cache.remote.up:
                print(f"({name}: Redis not reachable, skipped)", file=sys.stderr)
                continue
            per_second, latencies, outcomes = await run_tool(tool, keys)
            served = sum(v for k, v in outcomes.items() if k in ("hit", "shared"))
            rows.append((name, served / len(keys), per_second, statistics.mean(latencies), pct(latencies, 0.5),
                         pct(latencies, 0.99)))
    finally:
        await graph.close()
    return rows


def end_to_end(tool: str, n: int = min(CALLS, 5000)) -> float:
    """Calls/s of `webmcp serve` over stdio, IN_FLIGHT requests pipelined, Zipf keys."""
    proc = subprocess.Popen([sys.executable, "-m", "webmcp", "serve", "-c", str(HERE / "cache.yaml")],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=HERE,
                            env={**os.environ, "BENCH_RUN": f"e2e-{uuid.uuid4().hex[:8]}"})
    assert proc.stdin is not None and proc.stdout is not None
    init = {"jsonrpc": "2.0", "id": 0, "method": "initialize",
            "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                       "clientInfo": {"name": "bench", "version": "1"}}}
    proc.stdin.write(orjson.dumps(init) + b"\n")
    proc.stdin.flush()
    proc.stdout.readline()
    keys = zipf_keys(n, seed=11)

    def request(i: int) -> bytes:
        return orjson.dumps({"jsonrpc": "2.0", "id": i + 1, "method": "tools/call",
                             "params": {"name": tool, "arguments": {"key": keys[i]}}}) + b"\n"

    started = time.perf_counter()
    sent = 0
    for _ in range(min(IN_FLIGHT, n)):
        proc.stdin.write(request(sent))
        sent += 1
    proc.stdin.flush()
    for _ in range(n):
        proc.stdout.readline()
        if sent < n:
            proc.stdin.write(request(sent))
            proc.stdin.flush()
            sent += 1
    elapsed = time.perf_counter() - started
    proc.stdin.close()
    proc.wait(10)
    return n / elapsed


def cleanup(run: str) -> None:
    try:
        import redis

        client = redis.Redis.from_url(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"), socket_timeout=1)
        for pattern in (f"webmcp-bench:{run}*", "webmcp-bench:e2e-*"):
            keys = list(client.scan_iter(match=pattern, count=1000))
            if keys:
                client.delete(*keys)
    except Exception:
        pass


def main() -> None:
    run = uuid.uuid4().hex[:8]
    try:
        rows = asyncio.run(in_process(run))
    finally:
        cleanup(run)
    print(f"In-process, {CALLS} calls, {KEYS} Zipf(1.1) keys, 1000-entry cache, 1 ms backend, {IN_FLIGHT} in flight")
    print(f"{'tool':<12}{'hit ratio':>10}{'calls/s':>10}{'mean µs':>10}{'p50 µs':>10}{'p99 µs':>10}")
    for name, ratio, per_second, mean, p50, p99 in rows:
        print(f"{name:<12}{ratio:>10.1%}{per_second:>10.0f}{mean:>10.0f}{p50:>10.0f}{p99:>10.0f}")
    print(f"End to end (webmcp serve over stdio, {IN_FLIGHT} pipelined, {min(CALLS, 5000)} calls)")
    try:
        for tool in ("uncached", "memory"):
            print(f"{tool:<12}{end_to_end(tool):>10.0f} calls/s")
    finally:
        cleanup(run)


if __name__ == "__main__":
    main()

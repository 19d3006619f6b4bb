"""The latency a Redis-backed rate limit adds to a call (executor.rate_limits: {backend: redis}) against the
in-memory buckets, measured two ways on the machine's Redis (127.0.0.1:6379, or REDIS_URL):

    .venv/bin/python bench/ratelimit.py [--takes 5000] [--calls 3000] [--rounds 3]

1. A bucket's `take()` alone, one at a time: MemoryBuckets vs RedisBuckets (one EVALSHA round trip).
2. End to end: one `webmcp serve --transport http` (stateless JSON), a tool with `rate_limit: 1000000/s`,
   `--calls` sequential tools/call posts from one client; memory vs redis backend (a fresh server each).
Modes alternate for `--rounds` rounds; each figure is the best round's. Prints p50/p99 and the difference.
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

import aiohttp
import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.integration.nginx import Instance  # noqa: E402
from tests.integration.redis_server import free_port  # noqa: E402
from webmcp.config.spec import RateLimitSpec  # noqa: E402
from webmcp.executor.ratelimit import MemoryBuckets  # noqa: E402
from webmcp.executor.redis_buckets import RedisBuckets  # noqa: E402
from webmcp.kinds.pools.redis import RedisPoolSpec, connect  # noqa: E402

URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
CONFIG = """version: 1
server:
  log_level: warning
  http: {{stateless: true}}
pools:
  r: {{kind: redis, url: "{url}"}}
executor:
  rate_limits: {{backend: {backend}, {pool}prefix: "webmcp-bench:rl"}}
tools:
  echo: {{kind: python, function: echo_tool:echo, rate_limit: 1000000/s}}
"""
HEADERS = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}


def figures(latencies: list[float]) -> tuple[float, float]:
    latencies = sorted(latencies)
    return statistics.median(latencies) * 1e6, latencies[int(len(latencies) * 0.99) - 1] * 1e6


async def takes(backend: str, count: int) -> tuple[float, float]:
    spec = RateLimitSpec.from_config("1000000/s")
    redis = connect(RedisPoolSpec("bench", URL, 4, 1.0, 1.0, True, where=None))  # type: ignore[arg-type]
    buckets = (RedisBuckets(spec, "webmcp-bench:rl:t:", redis, "deny") if backend == "redis"
               else MemoryBuckets(spec, "webmcp-bench:rl:t:"))
    out = []
    try:
        for _ in range(200):
            await buckets.take("*")
        for _ in range(count):
            started = time.perf_counter()
            wait = await buckets.take("*")
            out.append(time.perf_counter() - started)
            assert wait == 0.0, wait
    finally:
        await redis.aclose()
    return figures(out)


async def calls(url: str, count: int) -> tuple[float, float]:
    out = []
    async with aiohttp.ClientSession() as http:
        for n in range(count + 200):
            body = orjson.dumps({"jsonrpc": "2.0", "id": n, "method": "tools/call",
                                 "params": {"name": "echo", "arguments": {"text": str(n)}}})
            started = time.perf_counter()
            async with http.post(url, data=body, headers=HEADERS) as resp:
                answer = orjson.loads(await resp.read())
            if n >= 200:
                out.append(time.perf_counter() - started)
            assert not answer["result"].get("isError") and answer["result"]["content"][0]["text"] == str(n), answer
    return figures(out)


def end_to_end(folder: Path, backend: str, count: int) -> tuple[float, float]:
    config = folder / f"{backend}.yaml"
    config.write_text(CONFIG.format(url=URL, backend=backend, pool="pool: r, " if backend == "redis" else ""))
    instance = Instance(config, free_port(), folder / f"{backend}.log").start()
    try:
        return asyncio.run(calls(f"http://127.0.0.1:{instance.port}/mcp", count))
    finally:
        instance.kill()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--takes", type=int, default=5000)
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    best: dict[str, tuple[float, float]] = {}

    def keep(label: str, value: tuple[float, float]) -> None:
        if label not in best or value[0] < best[label][0]:
            best[label] = value

    with tempfile.TemporaryDirectory(prefix="webmcp-rl-bench-") as d:
        folder = Path(d)
        (folder / "echo_tool.py").write_text((ROOT / "bench" / "echo_tool.py").read_text())
        for _ in range(args.rounds):
            for backend in ("memory", "redis"):
                keep(f"take, {backend}", asyncio.run(takes(backend, args.takes)))
                keep(f"call, {backend}", end_to_end(folder, backend, args.calls))
    print(f"Redis {URL}; best of {args.rounds} round(s); µs")
    print(f"{'measure':16} {'p50':>9} {'p99':>9}")
    for label, (p50, p99) in best.items():
        print(f"{label:16} {p50:9.1f} {p99:9.1f}")
    for what in ("take", "call"):
        added = best[f"{what}, redis"][0] - best[f"{what}, memory"][0]
        print(f"added by Redis per {what} (p50): {added:.1f} µs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""1,000 calls in flight over HTTP: throughput and latency of a tool that sleeps 50 ms, with the
execution engine's features off (bare) and all on (metrics, spans, rate limits, memory guard, targets).

    .venv/bin/python bench/inflight.py [--calls 15000] [--concurrency 1000] [--sleep-ms 50] [--rounds 2]

For each mode, starts `webmcp serve --transport http` in stateless JSON mode on a generated config
(executor.max_concurrency above the load), warms up, then posts raw JSON-RPC tools/call requests
from `--concurrency` aiohttp workers until `--calls` are done. Prints calls/s, p50/p95/p99 latency
(client side), errors (anything but the expected text), the most calls the server reported in flight
(its /metrics, sampled during the run) and the server's CPU time per call. Modes alternate for
`--rounds` rounds and each figure is the best round (the load client shares the machine). Exits 1
on any error. About 40 s with the defaults.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import orjson

TOOL_MODULE = '''
import asyncio


async def nap(ms: int, tag: str) -> str:
    """Sleep `ms` milliseconds, then return the tag."""
    await asyncio.sleep(ms / 1000)
    return tag
'''

BASE = """version: 1
server:
  http: {stateless: true, max_connections: 10000, max_connections_per_client: 10000}  # one client, many connections
  log_level: warning
executor: {max_concurrency: 2000, queue_limit: 10000}
tools:
  nap: {kind: python, function: "bench_tools:nap"RATE}
"""
FEATURES = """executor: {max_concurrency: 2000, queue_limit: 10000, client_rate_limit: 10000000/s}
scaling:
  targets: {p95_latency: 500ms, error_rate: 0.1%, max_memory: 4GB}
  shed: [low, normal]
telemetry:
  metrics: true
  spans: {path: spans.jsonl, batch_size: 256, flush_interval: 1s, max_buffer: 100000}
"""


def config_text(observed: bool) -> str:
    if not observed:
        return BASE.replace("RATE", "")
    text = BASE.replace("RATE", ", rate_limit: 10000000/s")
    return text.replace("executor: {max_concurrency: 2000, queue_limit: 10000}\n", FEATURES)


def percentile(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def load(url: str, calls: int, concurrency: int, sleep_ms: int) -> tuple[float, list[float], list[str]]:
    latencies: list[float] = []
    errors: list[str] = []
    ids = iter(range(calls))
    headers = {"Content-Type": "application/json", "Accept": "application/json"}

    async def worker(http: aiohttp.ClientSession) -> None:
        for i in ids:
            body = orjson.dumps({"jsonrpc": "2.0", "id": i, "method": "tools/call",
                                 "params": {"name": "nap", "arguments": {"ms": sleep_ms, "tag": f"t{i}"}}})
            t = time.perf_counter()
            try:
                async with http.post(url, data=body, headers=headers) as resp:
                    raw = await resp.read()
                reply = orjson.loads(raw)
                text = reply["result"]["content"][0]["text"]
                if resp.status != 200 or text != f"t{i}" or reply["result"].get("isError"):
                    errors.append(f"{resp.status} {raw[:200]!r}")
            except Exception as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
            latencies.append(time.perf_counter() - t)

    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as http:
        started = time.perf_counter()
        await asyncio.gather(*(worker(http) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return elapsed, sorted(latencies), errors


def best(results: list[dict[str, float]]) -> dict[str, float]:
    """The best round of each figure; errors summed over every round."""
    out = {k: (max if k in ("calls/s", "peak", "spans") else min)(r[k] for r in results) for k in results[0]}
    out["errors"] = sum(r["errors"] for r in results)
    return out


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def peak_in_flight(metrics_url: str, stop: asyncio.Event) -> int:
    peak = 0
    async with aiohttp.ClientSession() as http:
        while not stop.is_set():
            try:
                async with http.get(metrics_url) as resp:
                    m = re.search(r"^webmcp_in_flight_calls (\S+)$", await resp.text(), re.M)
                    if m:
                        peak = max(peak, int(float(m.group(1))))
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.5)
    return peak


async def run_mode(observed: bool, a: argparse.Namespace) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "bench_tools.py").write_text(TOOL_MODULE)
        config = Path(tmp) / "webmcp.yaml"
        config.write_text(config_text(observed))
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        proc = subprocess.Popen([sys.executable, "-m", "webmcp", "serve", "-c", str(config), "--transport", "http",
                                 "--port", str(port)], cwd=tmp, env=os.environ.copy())
        try:
            for _ in range(300):
                with socket.socket() as s:
                    if s.connect_ex(("127.0.0.1", port)) == 0:
                        break
                await asyncio.sleep(0.05)
            url = f"http://127.0.0.1:{port}/mcp"
            await load(url, a.concurrency, a.concurrency, a.sleep_ms)  # warm-up: connections, imports
            stop = asyncio.Event()
            sampler = asyncio.create_task(peak_in_flight(f"http://127.0.0.1:{port}/metrics", stop))
            cpu_before = cpu_seconds(proc.pid)
            elapsed, lat, errors = await load(url, a.calls, a.concurrency, a.sleep_ms)
            cpu = cpu_seconds(proc.pid) - cpu_before
            stop.set()
            peak = await sampler
        finally:
            proc.terminate()
            proc.wait(15)
        spans = len((Path(tmp) / "spans.jsonl").read_bytes().splitlines()) if observed else 0
    if errors:
        print(f"  first error: {errors[0]}")
    return {"calls/s": a.calls / elapsed, "cpu": cpu / a.calls, "p50": percentile(lat, 0.5),
            "p95": percentile(lat, 0.95), "p99": percentile(lat, 0.99), "errors": len(errors),
            "peak": peak, "spans": spans}


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=15000)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--concurrency", type=int, default=1000)
    ap.add_argument("--sleep-ms", type=int, default=50)
    a = ap.parse_args()
    runs: dict[str, list[dict[str, float]]] = {"bare": [], "all features": []}
    for _ in range(a.rounds):
        for name, observed in (("bare", False), ("all features", True)):
            runs[name].append(await run_mode(observed, a))
    rows = {name: best(results) for name, results in runs.items()}
    print(f"{a.calls} tools/call over HTTP (stateless JSON), {a.concurrency} in flight, tool sleeps {a.sleep_ms} ms; "
          f"best of {a.rounds} rounds")
    print(f"{'mode':<14}{'calls/s':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'errors':>8}{'peak in flight':>16}"
          f"{'server CPU µs/call':>20}")
    for name, r in rows.items():
        print(f"{name:<14}{r['calls/s']:9.0f}{r['p50'] * 1e3:9.1f}{r['p95'] * 1e3:9.1f}{r['p99'] * 1e3:9.1f}"
              f"{r['errors']:8.0f}{r['peak']:16.0f}{r['cpu'] * 1e6:20.0f}")
    bare, full = rows["bare"], rows["all features"]
    print(f"all features vs bare: throughput {full['calls/s'] / bare['calls/s'] - 1:+.1%}, "
          f"p95 {(full['p95'] - bare['p95']) * 1e3:+.1f} ms, "
          f"server CPU {(full['cpu'] - bare['cpu']) * 1e6:+.0f} µs/call "
          f"({full['cpu'] / bare['cpu'] - 1:+.1%}); spans written in a round: {full['spans']:.0f}")
    errors = sum(int(r["errors"]) for r in rows.values())
    print(f"errors: {errors}")
    if errors:
        sys.exit(1)


if __name__ == "__main__":
    try:
        import uvloop

        factory = uvloop.new_event_loop  # the load client's own cost shares the machine with the server
    except ImportError:
        factory = None  # type: ignore[assignment]
    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(main())

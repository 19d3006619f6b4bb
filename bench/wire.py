"""The cost of the sessionless 2026-07-28 wire against the 2025 stateless JSON wire, same server, same tool.

    .venv/bin/python bench/wire.py [--calls 20000] [--concurrency 32] [--rounds 3]

Starts `webmcp serve --transport http` on bench/echo-stateless.yaml and posts `tools/call` of the echo
tool, alternating rounds of the two wires: 2025-11-25 stateless JSON (no session, no envelope) and
2026-07-28 (the `_meta` envelope, the `MCP-Protocol-Version`/`Mcp-Method`/`Mcp-Name` headers, a reply
shaped with `resultType` and the server's name). Prints calls/s, p50/p99 and the server's CPU per call
(from /proc) for each wire, best round of each.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import orjson

BENCH = Path(__file__).resolve().parent
META = {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "bench", "version": "1"}}
WIRES = {
    "2025 stateless JSON": ({"Content-Type": "application/json", "Accept": "application/json"}, None),
    "2026-07-28": ({"Content-Type": "application/json", "Accept": "application/json",
                    "MCP-Protocol-Version": "2026-07-28", "Mcp-Method": "tools/call", "Mcp-Name": "echo"}, META),
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def load(url: str, wire: str, calls: int, concurrency: int) -> tuple[float, list[float], int]:
    headers, meta = WIRES[wire]
    ids = iter(range(calls))
    latencies: list[float] = []
    errors = 0

    async def worker(http: aiohttp.ClientSession) -> None:
        nonlocal errors
        for i in ids:
            params: dict[str, object] = {"name": "echo", "arguments": {"text": f"t{i}"}}
            if meta is not None:
                params["_meta"] = meta
            body = orjson.dumps({"jsonrpc": "2.0", "id": i, "method": "tools/call", "params": params})
            t = time.perf_counter()
            async with http.post(url, data=body, headers=headers) as resp:
                reply = orjson.loads(await resp.read())
            latencies.append(time.perf_counter() - t)
            if resp.status != 200 or reply["result"]["content"][0]["text"] != f"t{i}":
                errors += 1

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as http:
        started = time.perf_counter()
        await asyncio.gather(*(worker(http) for _ in range(concurrency)))
        return time.perf_counter() - started, sorted(latencies), errors


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=20000)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "webmcp", "serve", "-c", str(BENCH / "echo-stateless.yaml"),
                             "--transport", "http", "--port", str(port), "--log-level", "warning"], cwd=BENCH)
    url = f"http://127.0.0.1:{port}/mcp"
    try:
        for _ in range(100):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            await asyncio.sleep(0.05)
        await load(url, "2026-07-28", 500, a.concurrency)  # warm up
        best: dict[str, tuple[float, float, float, float, int]] = {}
        for _ in range(a.rounds):
            for wire in WIRES:
                cpu = cpu_seconds(proc.pid)
                elapsed, lat, errors = await load(url, wire, a.calls, a.concurrency)
                per_call = (cpu_seconds(proc.pid) - cpu) / a.calls * 1e6
                row = (a.calls / elapsed, lat[len(lat) // 2] * 1e3, lat[int(len(lat) * 0.99)] * 1e3, per_call, errors)
                if wire not in best or row[0] > best[wire][0]:
                    best[wire] = row
        print(f"{a.calls} tools/call of echo over HTTP, {a.concurrency} in flight, best of {a.rounds} rounds")
        print(f"{'wire':<22} {'calls/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'server CPU µs/call':>19} {'errors':>6}")
        for wire, (rate, p50, p99, cpu_us, errors) in best.items():
            print(f"{wire:<22} {rate:>8,.0f} {p50:>7.2f} {p99:>7.2f} {cpu_us:>19.0f} {errors:>6}")
        base, modern = best["2025 stateless JSON"], best["2026-07-28"]
        print(f"2026-07-28 vs 2025 stateless: {modern[0] / base[0]:.2f}x calls/s, "
              f"{modern[3] - base[3]:+.0f} µs server CPU per call")
    finally:
        proc.terminate()
        proc.wait(10)


if __name__ == "__main__":
    asyncio.run(main())

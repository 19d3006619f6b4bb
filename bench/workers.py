"""Worker processes: throughput of `webmcp serve --workers N` for N = 1, 2, ..., the efficiency of each added
worker, throughput(N) / (N x throughput(1)), and the memory of each worker.

    .venv/bin/python bench/workers.py [--workers 1,2] [--duration 10] [--concurrency 64] [--clients 2] [--rounds 2]

For each N, starts `webmcp serve --transport http --workers N` in stateless JSON mode on a generated config
(the `echo` tool of bench/echo_tool.py: the figure is the cost of the server's HTTP and MCP path), warms up,
then runs `--clients` load processes, each posting raw JSON-RPC tools/call requests from `--concurrency`
keep-alive connections for `--duration` seconds. A single process without a supervisor (`single`) is measured
the same way as a reference. Prints calls/s, p50/p99 latency (client side), errors, and after the run the
resident memory (psutil RSS) of the supervisor and of each worker. Rounds alternate the Ns; each figure is the
best round. The load clients run on the same machine as the server: they take cores too, and the text printed
says how many the machine has. Exits 1 on any error.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import orjson
import psutil

BENCH = Path(__file__).resolve().parent
CONFIG = """version: 1
server:
  name: webmcp-bench-workers
  http: {stateless: true, max_connections: 10000, max_connections_per_client: 10000}
  log_level: warning
tools:
  echo: {kind: python, function: "echo_tool:echo"}
"""


def percentile(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def client(url: str, duration: float, concurrency: int) -> dict[str, object]:
    """One load process: `concurrency` keep-alive connections posting calls until `duration` is over."""
    latencies: list[float] = []
    errors: list[str] = []
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    deadline = time.perf_counter() + duration

    async def worker(http: aiohttp.ClientSession, w: int) -> None:
        i = 0
        while time.perf_counter() < deadline:
            i += 1
            tag = f"{w}-{i}"
            body = orjson.dumps({"jsonrpc": "2.0", "id": i, "method": "tools/call",
                                 "params": {"name": "echo", "arguments": {"text": tag}}})
            t = time.perf_counter()
            try:
                async with http.post(url, data=body, headers=headers) as resp:
                    raw = await resp.read()
                reply = orjson.loads(raw)
                if resp.status != 200 or reply["result"]["content"][0]["text"] != tag:
                    errors.append(f"{resp.status} {raw[:200]!r}")
            except Exception as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
            latencies.append(time.perf_counter() - t)

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as http:
        started, cpu_before = time.perf_counter(), time.process_time()
        await asyncio.gather(*(worker(http, w) for w in range(concurrency)))
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_before
    return {"calls": len(latencies), "seconds": elapsed, "latencies": latencies, "errors": errors[:5],
            "error_count": len(errors), "cpu": cpu}


def load(url: str, a: argparse.Namespace, duration: float) -> dict[str, float]:
    """`--clients` load processes at once; their calls added up."""
    with tempfile.TemporaryDirectory() as tmp:
        outs = [Path(tmp) / f"client{i}.json" for i in range(a.clients)]
        procs = [subprocess.Popen([sys.executable, __file__, "--client", url, str(duration), str(a.concurrency),
                                   str(out)]) for out in outs]
        for p in procs:
            p.wait()
        results = [json.loads(out.read_text()) for out in outs]
    latencies = sorted(x for r in results for x in r["latencies"])
    errors = sum(r["error_count"] for r in results)
    if errors:
        print(f"  first error: {next(e for r in results for e in r['errors'])}")
    seconds = max(r["seconds"] for r in results)
    calls = sum(r["calls"] for r in results)
    return {"calls/s": calls / seconds, "p50": percentile(latencies, 0.5), "p99": percentile(latencies, 0.99),
            "errors": errors, "client cpu": sum(r["cpu"] for r in results) / max(1, calls)}


def cpu(processes: list[psutil.Process]) -> float:
    """User + system CPU seconds of these processes so far."""
    return sum(sum(p.cpu_times()[:2]) for p in processes)


def run(workers: int, a: argparse.Namespace) -> dict[str, float]:
    """One server (`workers` 0: a single process, no supervisor), loaded; its figures and memory."""
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "echo_tool.py").write_text((BENCH / "echo_tool.py").read_text())
        config = Path(tmp) / "webmcp.yaml"
        config.write_text(CONFIG)
        (Path(tmp) / "run").mkdir()
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        flags = ["--workers", str(workers)] if workers else []
        proc = subprocess.Popen([sys.executable, "-m", "webmcp", "serve", "-c", str(config), "--transport", "http",
                                 "--port", str(port), *flags], cwd=tmp,
                                env={**os.environ, "XDG_RUNTIME_DIR": str(Path(tmp) / "run")})
        try:
            url = f"http://127.0.0.1:{port}/mcp"
            for _ in range(400):
                with socket.socket() as s:
                    if s.connect_ex(("127.0.0.1", port)) == 0:
                        break
                time.sleep(0.05)
            time.sleep(0.5 if workers < 2 else 0.5 * workers)  # every worker up
            load(url, a, 1.0)  # warm-up: connections, imports
            server = psutil.Process(proc.pid)
            children = server.children()
            before = cpu([server, *children])
            out = load(url, a, a.duration)
            out["cpu"] = (cpu([server, *children]) - before) / (out["calls/s"] * a.duration)
            out["supervisor MB"] = server.memory_info().rss / 1e6 if workers else 0.0
            rss = [c.memory_info().rss / 1e6 for c in children] if workers else [server.memory_info().rss / 1e6]
            out["worker MB"] = sum(rss) / len(rss)
        finally:
            proc.terminate()
            proc.wait(30)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", default="1,2", help="the worker counts, comma separated (default 1,2)")
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument("--concurrency", type=int, default=64, help="connections per load process")
    ap.add_argument("--clients", type=int, default=2, help="load processes")
    ap.add_argument("--rounds", type=int, default=2)
    a = ap.parse_args()
    counts = [0, *(int(n) for n in a.workers.split(","))]
    runs: dict[int, list[dict[str, float]]] = {n: [] for n in counts}
    for _ in range(a.rounds):
        for n in counts:
            runs[n].append(run(n, a))
    rows = {n: max(results, key=lambda r: r["calls/s"]) for n, results in runs.items()}
    errors = sum(int(r["errors"]) for results in runs.values() for r in results)
    print(f"echo over HTTP (stateless JSON), {a.clients} load process(es) x {a.concurrency} connections, "
          f"{a.duration:g}s, best of {a.rounds} rounds; {os.cpu_count()} cores shared by the server and the load")
    print(f"{'workers':<10}{'calls/s':>9}{'efficiency':>12}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}"
          f"{'server CPU µs/call':>20}{'client CPU µs/call':>20}{'RSS/worker MB':>15}{'supervisor MB':>15}")
    one = rows[counts[1]]["calls/s"] if len(counts) > 1 else rows[0]["calls/s"]
    for n, r in rows.items():
        eff = f"{r['calls/s'] / (n * one):.2f}" if n else "-"
        print(f"{n or 'single':<10}{r['calls/s']:9.0f}{eff:>12}{r['p50'] * 1e3:9.2f}{r['p99'] * 1e3:9.2f}"
              f"{r['errors']:8.0f}{r['cpu'] * 1e6:20.0f}{r['client cpu'] * 1e6:20.0f}{r['worker MB']:15.0f}"
              f"{(r['supervisor MB'] or float('nan')):15.0f}")
    r = rows[counts[-1]]
    bound = (os.cpu_count() or 1) / (r["cpu"] + r["client cpu"])
    print(f"with {counts[-1]} worker(s): server + client CPU {(r['cpu'] + r['client cpu']) * 1e6:.0f} µs per call, so "
          f"{os.cpu_count()} cores cap the run at about {bound:.0f} calls/s, whatever the workers")
    print(f"errors: {errors}")
    if errors:
        sys.exit(1)


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "--client":
        try:
            import uvloop

            runner = uvloop.run
        except ImportError:
            runner = asyncio.run  # type: ignore[assignment]
        found = runner(client(sys.argv[2], float(sys.argv[3]), int(sys.argv[4])))
        Path(sys.argv[5]).write_text(json.dumps(found))
    else:
        main()

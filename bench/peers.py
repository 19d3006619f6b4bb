"""webmcp against the official SDK's reference server, both driven by `webmcp bench` in one run.

    .venv/bin/python bench/peers.py [--reps 3] [--duration 10s] [--concurrency 16] [--transport stdio|http|both]

The servers: webmcp on bench/echo.yaml, and the SDK's low-level `Server` from the shared peerbench harness
(../shared/peerbench/servers/sdk_lowlevel.py, run on this venv's Python, which has the same `mcp==2.3.0`),
each exposing `echo(text)`. Every rep runs each server once per transport, interleaved, with the same closed
workload (`--concurrency` clients, each with its own session) for `--duration`; over stdio, `webmcp bench`
starts the server and reads its memory and CPU; over HTTP the server runs in its default session mode (2025
sessions, SSE allowed). Prints the medians over the reps and webmcp's ratios to the SDK; the reports go to
bench/results/peers-<UTC stamp>/ (one `webmcp bench --json` report per run, and summary.json).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

BENCH = Path(__file__).resolve().parent
SDK_SERVER = BENCH.parent.parent / "shared" / "peerbench" / "servers" / "sdk_lowlevel.py"
WEBMCP = [sys.executable, "-m", "webmcp"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def servers() -> dict[str, list[str]]:
    return {"webmcp": [*WEBMCP, "serve", "-c", str(BENCH / "echo.yaml"), "--log-level", "warning"],
            "sdk-lowlevel": [sys.executable, str(SDK_SERVER)]}


def http_args(name: str, port: int) -> list[str]:
    return ["--transport", "http", "--port", str(port)] + (["--mode", "default"] if name != "webmcp" else [])


def run_bench(target: list[str], out: Path, a: argparse.Namespace, pid: int | None = None) -> dict[str, object]:
    command = [*WEBMCP, "bench", "--tool", "echo", "--args", '{"text": "hello"}', "--concurrency",
               str(a.concurrency), "--duration", a.duration, "--json", str(out), *target]
    if pid is not None:
        command += ["--pid", str(pid)]
    done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=BENCH)
    if done.returncode != 0:
        raise SystemExit(f"webmcp bench failed ({done.returncode}):\n{done.stderr[-3000:]}")
    report: dict[str, object] = json.loads(out.read_text())
    return report


def one(name: str, command: list[str], transport: str, out: Path, a: argparse.Namespace) -> dict[str, object]:
    if transport == "stdio":
        return run_bench(["--", *command], out, a)
    port = free_port()
    proc = subprocess.Popen([*command, *http_args(name, port)], cwd=BENCH, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while True:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"{name} did not start on port {port}")
            time.sleep(0.05)
        return run_bench(["--url", f"http://127.0.0.1:{port}/mcp"], out, a, proc.pid)
    finally:
        proc.terminate()
        proc.wait(10)


def figures(report: dict[str, object]) -> dict[str, float]:
    latency = report["latency_ms"]
    server = report.get("server") or {}
    assert isinstance(latency, dict) and isinstance(server, dict)
    return {"throughput": float(report["throughput"]), "p50": float(latency["p50"]), "p95": float(latency["p95"]),
            "error_rate": float(report["error_rate"]),
            "rss_mb": float(server["rss_mb"]["max"]) if server.get("rss_mb") else float("nan"),
            "cpu_us_per_call": float(server.get("cpu_us_per_call") or float("nan"))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--duration", default="10s")
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--transport", choices=["stdio", "http", "both"], default="both")
    ap.add_argument("--out", type=Path)
    a = ap.parse_args()
    if not SDK_SERVER.is_file():
        raise SystemExit(f"the SDK reference server was not found at {SDK_SERVER} (../shared/peerbench)")
    out = a.out or BENCH / "results" / f"peers-{datetime.now(UTC):%Y%m%dT%H%M%SZ}"
    out.mkdir(parents=True, exist_ok=True)
    transports = ["stdio", "http"] if a.transport == "both" else [a.transport]
    runs: dict[tuple[str, str], list[dict[str, float]]] = {}
    for rep in range(1, a.reps + 1):
        for transport in transports:
            for name, command in servers().items():
                report = one(name, command, transport, out / f"{name}-{transport}-{rep}.json", a)
                runs.setdefault((transport, name), []).append(figures(report))
                print(f"rep {rep} {transport:<5} {name:<13} {runs[(transport, name)][-1]['throughput']:>8,.0f} calls/s",
                      file=sys.stderr)
    summary: dict[str, dict[str, float]] = {}
    print(f"echo, {a.concurrency} clients (closed model, a session each), {a.duration} per run, median of {a.reps} "
          f"reps; load {os.getloadavg()[0]:.1f}")
    print(f"{'transport':<9} {'server':<13} {'calls/s':>9} {'p50 ms':>7} {'p95 ms':>7} {'errors':>7} {'RSS MB':>7} "
          f"{'CPU µs/call':>11}")
    for (transport, name), rows in runs.items():
        med = {key: statistics.median(r[key] for r in rows) for key in rows[0]}
        summary[f"{transport}/{name}"] = med
        print(f"{transport:<9} {name:<13} {med['throughput']:>9,.0f} {med['p50']:>7.2f} {med['p95']:>7.2f} "
              f"{med['error_rate']:>7.2%} {med['rss_mb']:>7.1f} {med['cpu_us_per_call']:>11.0f}")
    for transport in transports:
        ours, sdk = summary[f"{transport}/webmcp"], summary[f"{transport}/sdk-lowlevel"]
        print(f"{transport}: webmcp / sdk-lowlevel = {ours['throughput'] / sdk['throughput']:.2f}x calls/s, "
              f"p95 {ours['p95'] / sdk['p95']:.2f}x")
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(f"reports: {out}")


if __name__ == "__main__":
    main()

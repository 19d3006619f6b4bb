"""Metrics, spans, targets and `webmcp status`, through real servers and the official client."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import anyio
import pytest

from tests.integration.conftest import connect, write_config
from tests.integration.rawstdio import RawServer
from tests.integration.test_http import client, free_port, http_server

pytestmark = pytest.mark.anyio


async def scrape(url: str) -> str:
    async with aiohttp.ClientSession() as http, http.get(url) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/plain")
        return await resp.text()


def sample(text: str, name: str, **labels: str) -> float | None:
    """The value of one series in a Prometheus exposition (labels in any order)."""
    for line in text.splitlines():
        m = re.fullmatch(r"([a-z_:]+)(?:\{(.*)\})? (\S+)", line)
        if m and m.group(1) == name:
            got = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2) or ""))
            if got == labels:
                return float(m.group(3))
    return None


async def test_metrics_of_a_stdio_server_on_the_telemetry_listener(workdir: Path) -> None:
    """telemetry.listen serves /metrics with per-tool outcomes, durations, queue wait and the running state."""
    port = free_port()
    config = write_config(workdir, f"""
version: 1
telemetry: {{metrics: true, listen: "127.0.0.1:{port}"}}
tools:
  greet: {{kind: python, function: "sample_tools:greet", rate_limit: 3/hour}}
  fails: {{kind: python, function: "sample_tools:fails", priority: high}}
master_tools:
  box:
    description: Helpers.
    operations: {{ping: {{kind: static, content: pong}}}}
""")
    async with connect(config) as s:
        for _ in range(2):
            await s.call_tool("greet", {"name": "a"})
        await s.call_tool("greet", {"nom": "a"})  # invalid
        await s.call_tool("greet", {"name": "a"})  # the third token
        assert (await s.call_tool("greet", {"name": "a"})).is_error  # rate limited
        assert (await s.call_tool("fails", {"kind": "crash"})).is_error
        await s.call_tool("box", {"operation": "ping"})
        text = await scrape(f"http://127.0.0.1:{port}/metrics")
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/healthz") as resp:
                assert resp.status == 200
            async with http.get(f"http://127.0.0.1:{port}/readyz") as resp:
                assert (await resp.json())["status"] == "ready"
    assert sample(text, "webmcp_tool_calls_total", tool="greet", outcome="ok") == 3
    assert sample(text, "webmcp_tool_calls_total", tool="greet", outcome="invalid") == 1
    assert sample(text, "webmcp_tool_calls_total", tool="greet", outcome="rejected") == 1
    assert sample(text, "webmcp_tool_calls_total", tool="fails", outcome="error") == 1
    assert sample(text, "webmcp_tool_calls_total", tool="box.ping", outcome="ok") == 1
    assert sample(text, "webmcp_rejections_total", reason="rate_limit") == 1
    assert sample(text, "webmcp_tool_duration_seconds_count", tool="greet") == 3
    assert sample(text, "webmcp_tool_duration_seconds_bucket", tool="greet", le="+Inf") == 3
    assert sample(text, "webmcp_queue_wait_seconds_count", priority="high") == 1
    assert sample(text, "webmcp_queue_wait_seconds_count", priority="normal") == 4
    assert sample(text, "webmcp_in_flight_calls") == 0
    assert sample(text, "webmcp_queue_depth", priority="low") == 0
    assert sample(text, "webmcp_generation") == 1
    assert (sample(text, "webmcp_memory_rss_bytes") or 0) > 10_000_000
    assert sample(text, "webmcp_reload_failures_total") == 0


async def test_metrics_on_the_http_listener_count_reloads(workdir: Path) -> None:
    """Over HTTP, /metrics lives on the main listener; reloads and failed reloads are counted."""
    config = """
version: 1
telemetry: {metrics: true}
tools:
  greet: {kind: python, function: "sample_tools:greet"}
"""
    with http_server(workdir, config=config) as url:
        base = url.removesuffix("/mcp")
        async with client(url) as s:
            await s.call_tool("greet", {"name": "a"})
        pid = int(json.loads(subprocess.run([sys.executable, "-m", "webmcp", "status", "-c",
                                             str(workdir / "webmcp.yaml"), "--json"], capture_output=True,
                                            text=True, cwd=workdir, check=True).stdout)["servers"][0]["pid"])
        os.kill(pid, signal.SIGHUP)
        await anyio.sleep(1.0)
        (workdir / "webmcp.yaml").write_text("version: 1\ntools: {bad: {kind: nope}}\n")
        os.kill(pid, signal.SIGHUP)
        await anyio.sleep(1.0)
        text = await scrape(f"{base}/metrics")
    assert sample(text, "webmcp_tool_calls_total", tool="greet", outcome="ok") == 1
    assert sample(text, "webmcp_reloads_total") == 1
    assert sample(text, "webmcp_reload_failures_total") == 1
    assert sample(text, "webmcp_generation") == 2


def test_spans_are_written_in_batches_and_flushed_at_shutdown(workdir: Path) -> None:
    """One JSON line per call with its outcome, timings, client and generation; the rest is written at exit."""
    config = write_config(workdir, """
version: 1
telemetry:
  spans: {path: logs/spans.jsonl, batch_size: 1000, flush_interval: 1h}
tools:
  greet: {kind: python, function: "sample_tools:greet", rate_limit: 1/hour}
  sleep: {kind: python, function: "sample_tools:blocking_sleep", timeout: 100ms}
master_tools:
  box:
    description: Helpers.
    operations: {ping: {kind: static, content: pong}}
""")
    raw = RawServer(config)
    try:
        raw.call(1, "greet", {"name": "a"})
        raw.call(2, "greet", {"name": "a"})
        raw.call(3, "box", {"operation": "ping"})
        raw.call(4, "sleep", {"seconds": 0.3})
        raw.call(5, "greet", {"nom": 1})
        raw.until(lambda m: m.get("id") == 4)
        assert not (workdir / "logs" / "spans.jsonl").exists()  # nothing due yet: batch 1000, interval 1h
        raw.close_input()
        assert raw.proc.wait(15) == 0
    finally:
        raw.stop()
    lines = (workdir / "logs" / "spans.jsonl").read_text().splitlines()
    spans = sorted((json.loads(line) for line in lines), key=lambda s: s["start"])
    assert [(s["tool"], s["operation"], s["outcome"], s["reason"]) for s in spans] \
        == [("greet", None, "ok", None), ("greet", None, "rejected", "rate_limit"), ("box", "ping", "ok", None),
            ("sleep", None, "timeout", None), ("greet", None, "invalid", None)]
    first = spans[0]
    assert set(first) == {"start", "tool", "operation", "args_hash", "outcome", "reason", "queue_us", "run_us",
                          "client", "generation", "cache"}
    assert first["client"] == "stdio" and first["generation"] == 1 and first["cache"] is None
    assert abs(first["start"] - time.time()) < 60 and re.fullmatch(r"[0-9a-f]{16}", first["args_hash"])
    assert spans[1]["args_hash"] == first["args_hash"]  # same arguments, same hash
    timed_out = next(s for s in spans if s["outcome"] == "timeout")
    assert 90_000 <= timed_out["run_us"] < 300_000


def test_status_shows_live_figures_and_violated_targets(workdir: Path, tmp_path: Path) -> None:
    """`webmcp status` prints generation, calls, latency, memory and targets; a violated target is logged."""
    config = write_config(workdir, """
version: 1
scaling:
  targets: {p95_latency: 50ms, error_rate: 10%, max_memory: 4GB}
  window: 10s
tools:
  sleep: {kind: python, function: "sample_tools:blocking_sleep"}
  greet: {kind: python, function: "sample_tools:greet"}
""")
    env = {**os.environ, "XDG_RUNTIME_DIR": str(tmp_path)}
    raw_proc = subprocess.Popen([sys.executable, "-m", "webmcp", "serve", "-c", str(config)], cwd=workdir, env=env,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        init = {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}
        lines = [init] + [{"jsonrpc": "2.0", "id": i, "method": "tools/call",
                           "params": {"name": "sleep", "arguments": {"seconds": 0.15}}} for i in (1, 2)]
        lines.append({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
                      "params": {"name": "greet", "arguments": {"name": "a"}}})
        assert raw_proc.stdin is not None and raw_proc.stdout is not None
        raw_proc.stdin.write(b"".join(json.dumps(m).encode() + b"\n" for m in lines))
        raw_proc.stdin.flush()
        for _ in range(4):
            raw_proc.stdout.readline()
        time.sleep(2.2)  # targets are evaluated and the snapshot written once a second
        run = [sys.executable, "-m", "webmcp", "status", "-c", str(config)]
        text = subprocess.run(run, capture_output=True, text=True, env=env, cwd=workdir, check=True).stdout
        data = json.loads(subprocess.run([*run, "--json"], capture_output=True, text=True, env=env, cwd=workdir,
                                         check=True).stdout)
    finally:
        raw_proc.terminate()
        _, err = raw_proc.communicate(timeout=15)
    assert re.search(r"^pid \d+: generation 1, up \d+s$", text, re.M), text
    assert "in flight 0; queued: critical 0, high 0, normal 0, low 0" in text
    assert "calls 3: ok 3, errors 0 (timeouts 0), rejected 0, invalid 0, cancelled 0" in text
    assert re.search(r"last 10s: 3 calls, p50 1\d\d\.\dms, p95 1\d\d\.\dms", text), text
    assert re.search(r"target p95_latency: 1\d\d\.\dms \(target 50\.0ms\) VIOLATED", text), text
    assert "target error_rate: 0.00% (target 10.00%) ok" in text
    assert re.search(r"target max_memory: \d+MB \(target 4000MB\) ok", text), text
    server = data["servers"][0]
    assert server["generation"] == 1 and server["calls"]["ok"] == 3 and server["window"]["calls"] == 3
    assert {t["name"]: t["violated"] for t in server["targets"]} == {"p95_latency": True, "error_rate": False,
                                                                     "max_memory": False}
    assert "target violated: p95_latency is 1" in err.decode()

"""`webmcp bench` against real servers on loopback: `webmcp serve` over stdio and HTTP, and a scripted
stdio server for the outcomes webmcp never produces on purpose. Runs are a second or two each."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import write_config
from tests.integration.test_http import free_port, http_server, wait_for_port

pytestmark = pytest.mark.slow

# `nap` holds one of two slots for `seconds`: the server does about 2 / seconds calls per second, and
# beyond that calls queue inside it.
CONFIG = """
version: 1
profile: none
executor: {max_concurrency: 2}
tools:
  greet: {kind: python, function: "sample_tools:greet"}
  nap: {kind: python, function: "sample_tools:blocking_sleep"}
  fails: {kind: python, function: "sample_tools:fails"}
"""
PINNED = {"calls", "errors", "error_rate", "throughput", "latency_ms"}
SDK_SERVER = Path(__file__).with_name("sdk_echo_server.py")

# A stdio server that answers tools/call in turn: a JSON-RPC error, an isError result, no answer at
# all, a good result; it exits after its 40th call.
SCRIPTED = """
import json, sys
calls = 0
for line in sys.stdin:
    message = json.loads(line)
    if "id" not in message:
        continue
    method, reply = message["method"], {"jsonrpc": "2.0", "id": message["id"]}
    if method == "initialize":
        reply["result"] = {"protocolVersion": "2025-11-25", "capabilities": {"tools": {}},
                           "serverInfo": {"name": "scripted", "version": "1"}}
    elif method == "tools/list":
        reply["result"] = {"tools": [{"name": "flaky", "inputSchema": {"type": "object"}}]}
    else:
        calls += 1
        if calls > 40:
            sys.exit(0)
        turn = calls % 4
        if turn == 0:
            reply["error"] = {"code": -32603, "message": "internal"}
        elif turn == 1:
            reply["result"] = {"content": [{"type": "text", "text": "no"}], "isError": True}
        elif turn == 2:
            continue
        else:
            reply["result"] = {"content": [{"type": "text", "text": "ok"}]}
    print(json.dumps(reply), flush=True)
"""


def bench(*args: str, cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "webmcp", "bench", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd)


def serve_stdio(config: Path) -> list[str]:
    return ["--", sys.executable, "-m", "webmcp", "serve", "-c", str(config)]


def report(path: Path) -> dict[str, Any]:
    return dict(json.loads(path.read_text()))


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bench")
    write_config(path, CONFIG)
    return path


@pytest.fixture(scope="module")
def http_url(folder: Path) -> Iterator[str]:
    with http_server(folder, config=CONFIG) as url:
        yield url


@pytest.mark.parametrize("transport", ["stdio", "http"])
def test_open_model_shows_the_queueing_the_closed_model_hides(transport: str, folder: Path,
                                                              request: pytest.FixtureRequest) -> None:
    """A server of 40 calls/s: two closed-model clients see 50 ms calls; 60 calls/s on schedule see the queue."""
    server = serve_stdio(folder / "webmcp.yaml") if transport == "stdio" else ["--url", request.getfixturevalue(
        "http_url")]
    common = ["--tool", "nap", "--args", '{"seconds": 0.05}', "--duration", "2s", *server]
    closed = bench("--concurrency", "2", "--json", str(folder / f"closed-{transport}.json"), *common, cwd=folder)
    opened = bench("--rate", "60", "--json", str(folder / f"open-{transport}.json"), *common, cwd=folder)
    assert closed.returncode == 0, closed.stderr
    assert opened.returncode == 0, opened.stderr
    closed_report, open_report = report(folder / f"closed-{transport}.json"), report(folder / f"open-{transport}.json")
    assert closed_report["latency_ms"]["p95"] < 250
    assert 25 < closed_report["throughput"] <= 42  # the server's pace, not ours
    assert open_report["calls"] == 120 and open_report["errors"] == 0
    assert open_report["latency_ms"]["p95"] > 500  # 20 calls/s too many pile up for 2 s
    assert open_report["latency_ms"]["p95"] > 3 * closed_report["latency_ms"]["p95"]
    assert open_report["driver"]["lag_ms"]["p99"] < 100  # the queue is the server's, not the driver's


def test_report_shape_over_http_on_both_revisions(http_url: str, folder: Path) -> None:
    """The pinned top level, per tool and per stage figures, histograms, the server's memory (--pid)."""
    import psutil

    port = int(http_url.split(":")[2].split("/")[0])
    pid = next(c.pid for c in psutil.net_connections("tcp") if c.laddr and c.laddr.port == port and c.pid)
    done = bench("--url", http_url, "--pid", str(pid), "--tool", "greet", "--args", '{"name": {"words": 2}}',
                 "--stages", "1s:4,1s:4", "--json", str(folder / "shape.json"), "--html", str(folder / "shape.html"),
                 cwd=folder)
    assert done.returncode == 0, done.stderr
    out = report(folder / "shape.json")
    assert set(out) >= PINNED and set(out["latency_ms"]) >= {"p50", "p95", "p99", "max"}
    assert out["calls"] > 0 and out["errors"] == 0 and out["error_rate"] == 0 and out["throughput"] > 0
    assert set(out["outcomes"]) == {"ok", "jsonrpc_error", "is_error", "timeout", "transport_error"}
    assert out["histogram"] and set(out["tools"]["greet"]) >= PINNED
    assert [s["label"] for s in out["stages"]] == ["1s at 0→4", "1s at 4"]
    assert sum(s["calls"] for s in out["stages"]) == out["calls"]
    assert out["server"]["pid"] == pid and out["server"]["rss_mb"]["max"] > 10
    assert out["target"] == {"transport": "http", "endpoint": http_url, "protocol": "2025-11-25",
                             "server": {"name": "webmcp", "version": out["target"]["server"]["version"]}}
    assert out["timeline"] and {"t", "calls", "p95", "rss_mb", "driver_cpu"} <= set(out["timeline"][0])
    page = (folder / "shape.html").read_text()
    assert page.count("<svg") == 4 and "Server memory (RSS, MB)" in page and "p95" in page
    assert "<script" not in page and "src=" not in page and "href=" not in page  # readable offline

    modern = bench("--url", http_url, "--protocol", "2026-07-28", "--tool", "greet", "--args", '{"name": "x"}',
                   "--rate", "40", "--duration", "1s", "--json", str(folder / "modern.json"), cwd=folder)
    assert modern.returncode == 0, modern.stderr
    out = report(folder / "modern.json")
    assert (out["calls"], out["errors"]) == (40, 0)
    assert "calls 40  errors 0 (0.00%)" in modern.stdout


def test_outcomes_are_split_by_kind(tmp_path: Path) -> None:
    """JSON-RPC errors, isError results, timeouts and transport errors are counted apart; the run stops when
    the stdio server exits."""
    (tmp_path / "scripted.py").write_text(textwrap.dedent(SCRIPTED))
    done = bench("--tool", "flaky", "--concurrency", "4", "--duration", "5s", "--timeout", "200ms",
                 "--json", str(tmp_path / "r.json"), "--", sys.executable, str(tmp_path / "scripted.py"), cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    assert done.stderr.strip().endswith("the run stopped early: the server exited (code 0)")
    out = report(tmp_path / "r.json")
    outcomes = out["outcomes"]
    assert outcomes["ok"] == outcomes["jsonrpc_error"] == outcomes["is_error"] == 10
    assert 1 <= outcomes["timeout"] <= 10  # unanswered calls still waiting when it exited fail with it
    assert outcomes["transport_error"] >= 1
    assert out["errors"] == out["calls"] - 10
    assert out["elapsed_s"] < 4 and out["stopped_early"]  # stopped when the server exited, not at 5 s
    assert any(w.startswith("the run stopped early: the server exited") for w in out["driver"]["warnings"])
    assert "first jsonrpc_error: {'code': -32603" in done.stdout


def test_thresholds_and_baseline_verdicts(http_url: str, folder: Path) -> None:
    """A failed threshold or a regression against the baseline exits 5 naming it; within tolerance exits 0."""
    base = folder / "base.json"
    common = ["--url", http_url, "--tool", "nap", "--concurrency", "1", "--duration", "1s"]
    first = bench(*common, "--args", '{"seconds": 0.02}', "--json", str(base), cwd=folder)
    assert first.returncode == 0, first.stderr

    slower = bench(*common, "--args", '{"seconds": 0.06}', "--repeat", "2", "--baseline", str(base),
                   "--threshold", "p95<40ms", "--threshold", "errors<1%", "--json", str(folder / "slow.json"),
                   cwd=folder)
    assert slower.returncode == 5, slower.stderr
    assert slower.stderr.splitlines()[-1].startswith("failed: p95<40ms, baseline p50 (+")
    assert "baseline throughput (-" in slower.stderr
    assert "threshold errors<1%: ok" in slower.stdout
    out = report(folder / "slow.json")
    assert len(out["runs"]) == 2 and out["calls"] == sum(run["calls"] for run in out["runs"])
    assert next(row for row in out["baseline"] if row["metric"] == "p95")["worse_runs"] == 2
    assert [row["ok"] for row in out["thresholds"]] == [False, True]

    same = bench(*common, "--args", '{"seconds": 0.02}', "--baseline", str(base), "--tolerance", "latency=100%",
                 "--tolerance", "throughput=50%", "--threshold", "p95<500ms", cwd=folder)
    assert same.returncode == 0, same.stdout + same.stderr
    assert "REGRESSED" not in same.stdout and "threshold p95<500ms: ok" in same.stdout


def test_bad_input_is_refused_before_the_load(http_url: str, folder: Path, tmp_path: Path) -> None:
    """Unreachable server, failed initialize, unknown tool, arguments outside the schema: one clear error each."""
    unknown = bench("--url", http_url, "--tool", "gret", cwd=folder)
    assert (unknown.returncode, unknown.stderr.strip()) == (
        2, "unknown tool 'gret': did you mean 'greet'? the server has fails, greet, nap")
    wrong = bench("--url", http_url, "--tool", "nap", "--args", '{"seconds": "long"}', cwd=folder)
    assert wrong.returncode == 2
    assert wrong.stderr.startswith("tool 'nap': arguments do not fit its input schema: seconds: 'long' is not of type")
    unreachable = bench("--url", "http://127.0.0.1:9/mcp", "--tool", "greet", cwd=folder)
    assert unreachable.returncode == 1
    assert unreachable.stderr.startswith("cannot reach http://127.0.0.1:9/mcp (initialize): ")
    (tmp_path / "broken.yaml").write_text("version: 1\ntools: {x: {kind: python, function: nowhere:x}}\n")
    broken = bench("--tool", "x", *serve_stdio(tmp_path / "broken.yaml"), cwd=tmp_path)
    assert broken.returncode == 1
    assert "no reply to initialize (the server exited (code 4)); its stderr ends with:" in broken.stderr
    for done in (unknown, wrong, unreachable, broken):
        assert "calls" not in done.stdout  # no run, no report


def test_ctrl_c_stops_the_run_and_writes_the_report(http_url: str, folder: Path) -> None:
    """SIGINT ends a 30 s run at once; the report covers what was measured and says it was interrupted."""
    path = folder / "interrupted.json"
    proc = subprocess.Popen([sys.executable, "-m", "webmcp", "bench", "--url", http_url, "--tool", "greet", "--args",
                             '{"name": "x"}', "--concurrency", "2", "--duration", "30s", "--json", str(path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=folder,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert proc.stderr is not None
    line = proc.stderr.readline()  # the first progress line: the load is running
    assert line.startswith("bench: "), line
    started = time.monotonic()
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=20)
    assert time.monotonic() - started < 10
    assert proc.returncode == 130, stderr
    out = report(path)
    assert out["interrupted"] is True and out["calls"] > 0 and out["elapsed_s"] < 10
    assert "INTERRUPTED" in stdout


def test_stress_finds_the_concurrency_where_the_server_starts_failing(tmp_path: Path) -> None:
    """Two slots and a queue of two: 4 clients are served, 8 get "server overloaded" results; --stress says so,
    and bisecting (6, then 5) finds that 5 already breaks."""
    config = write_config(tmp_path, CONFIG.replace("{max_concurrency: 2}", "{max_concurrency: 2, queue_limit: 2}"))
    done = bench("--stress", "--stress-max", "16", "--stress-hold", "1s", "--stress-bisect", "3", "--tool", "nap",
                 "--args", '{"seconds": 0.05}', "--json", str(tmp_path / "stress.json"), *serve_stdio(config),
                 cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    out = report(tmp_path / "stress.json")
    stress = out["stress"]
    assert [(step["load"], step["bisect"]) for step in stress["steps"]] == [
        (1, False), (2, False), (4, False), (8, False), (6, True), (5, True)]
    assert stress["last_good"]["load"] == 4 and stress["last_good"]["held"]
    assert stress["breaking_point"]["load"] == 5 and stress["breaking_point"]["signal"].startswith("errors ")
    assert stress["breaking_point"] == stress["steps"][-1]
    assert set(out) >= PINNED and out["calls"] == sum(step["calls"] for step in stress["steps"])
    assert "last good: 4 clients; breaking point: 5 clients (errors " in done.stdout


@pytest.mark.parametrize("how", ["stdio", "http 2025-11-25", "http 2026-07-28"])
def test_drives_a_server_built_on_the_official_sdk(how: str, tmp_path: Path) -> None:
    """Not only webmcp: the SDK's MCPServer over stdio, and over HTTP with sessions or sessionless."""
    load = ["--tool", "echo", "--args", '{"text": {"words": 2}}', "--rate", "20", "--duration", "1s",
            "--json", str(tmp_path / "sdk.json")]
    if how == "stdio":
        done = bench(*load, "--", sys.executable, str(SDK_SERVER), cwd=tmp_path)
    else:
        port = free_port()
        proc = subprocess.Popen([sys.executable, str(SDK_SERVER), str(port)], stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
        try:
            wait_for_port(proc, port)
            done = bench(*load, "--url", f"http://127.0.0.1:{port}/mcp", "--pid", str(proc.pid),
                         "--protocol", how.split()[1], cwd=tmp_path)
        finally:
            proc.terminate()
            proc.wait(15)
            assert proc.stderr is not None
            proc.stderr.close()
    assert done.returncode == 0, done.stderr
    out = report(tmp_path / "sdk.json")
    assert (out["calls"], out["errors"]) == (20, 0)
    assert out["target"]["server"]["name"] == "sdk-echo"
    assert out["server"]["rss_mb"]["max"] > 10


def test_soak_gates_on_memory_growth_after_the_warm_up(tmp_path: Path) -> None:
    """A tool that keeps 64 KiB per call grows the server by gigabytes an hour: the soak fails, naming it."""
    (tmp_path / "leak.py").write_text('KEPT = []\n\n\ndef hoard(kb: int) -> str:\n    """Keep kb KiB for good."""\n'
                                      '    KEPT.append(bytearray(kb * 1024))\n    return "kept"\n')
    config = write_config(tmp_path, 'version: 1\ntools:\n  hoard: {kind: python, function: "leak:hoard"}\n')
    done = bench("--soak", "4s", "--soak-warmup", "1s", "--tool", "hoard", "--args", '{"kb": 64}', "--rate", "100",
                 "--json", str(tmp_path / "soak.json"), *serve_stdio(config), cwd=tmp_path)
    assert done.returncode == 5, done.stderr
    assert done.stderr.splitlines()[-1].startswith("failed: soak: memory grows ")
    soak = report(tmp_path / "soak.json")["soak"]
    assert soak["slope_mb_per_hour"] > 1000 and soak["warmup_s"] == 1 and soak["samples"] >= 2
    assert not soak["ok"] and soak["rss_mb"]["last"] > soak["rss_mb"]["after_warmup"] + 10

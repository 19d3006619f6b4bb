"""Autoscaled workers, the merged /metrics and webhook alerts, through real `webmcp serve` processes: the
worker count follows a burst up and comes back down after the cooldown with no failed call; /metrics
counts the calls of every worker; alerts reach a receiver on loopback, violated then recovered, and a
webhook that refuses affects no call."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import pytest
from aiohttp import web

from tests.integration.conftest import write_config
from tests.integration.test_http import free_port
from tests.integration.test_workers import Supervised, all_ready, call, fresh_connections

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

TOOLS = """
tools:
  pid_after: {kind: python, function: "sample_tools:pid_after"}
"""


@contextlib.contextmanager
def serving(workdir: Path, runtime_dir: Path, text: str, *flags: str) -> Iterator[Supervised]:
    """`webmcp serve` over HTTP (a supervisor when the file or `flags` ask for workers), ready to call."""
    config = write_config(workdir, text + TOOLS)
    port = free_port()
    log = workdir / "serve.log"
    with open(log, "wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "webmcp", "serve", "-c", str(config), "--transport", "http", "--port", str(port),
             *flags], cwd=workdir, stdout=subprocess.DEVNULL, stderr=err,
            env={**os.environ, "XDG_RUNTIME_DIR": str(runtime_dir)})
    sup = Supervised(proc, f"http://127.0.0.1:{port}/mcp", config, runtime_dir, log)
    pids: set[int] = set()
    try:
        deadline = time.monotonic() + 20
        while "serving on http://" not in log.read_text():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"the server did not start:\n{log.read_text()}")
            time.sleep(0.05)
        yield sup
    finally:
        pids |= sup.pids()
        if proc.poll() is None:
            proc.terminate()
        proc.wait(30)
        for pid in pids:  # nothing outlives the supervisor
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
                raise AssertionError(f"worker {pid} outlived its supervisor")


async def calls(http: Any, url: str, count: int, seconds: float) -> list[str]:
    """`count` calls at once, each `seconds` long; the pids that served them (raises if one failed)."""
    return list(await asyncio.gather(*(call(http, url, "pid_after", {"seconds": seconds}) for _ in range(count))))


def autoscaling(sup: Supervised) -> dict[str, Any]:
    return dict((sup.status().get("live") or {}).get("autoscaling") or {})


async def test_a_burst_scales_up_and_the_count_returns_to_min_after_the_cooldown(workdir: Path,
                                                                                 runtime_dir: Path) -> None:
    """{min: 1, max: 3, in_flight: 2}: 12 calls in flight on one worker scale it to 3 at once (capped by
    max); the calls all succeed. Then 3s calls spread over the workers and a trickle of short ones (below
    the target) run while the count returns to 1 after the 3s cooldown: the retired workers finish their
    calls and exit; no call fails. The decisions are in the status, with their reasons."""
    text = """
version: 1
server: {transport: http, graceful_timeout: 10s, http: {stateless: true}}
scaling:
  workers: {min: 1, max: 3, cooldown: 3s, in_flight: 2}
"""
    with serving(workdir, runtime_dir, text) as sup:
        assert len(sup.workers()) == 1
        async with fresh_connections() as http:
            burst = asyncio.ensure_future(calls(http, sup.url, 12, 4.0))
            workers = await anyio.to_thread.run_sync(lambda: sup.wait(all_ready(3), "no scale-up to 3", 15))
            up = autoscaling(sup)["decisions"][0]
            assert (up["before"], up["after"]) == (1, 3)
            assert up["reason"].startswith("in_flight wants "), up
            burst_pids = await burst
            assert len(burst_pids) == 12

        # While scaling down: long calls spread over the 3 workers, and a trickle of short ones, on keep-alive
        # connections: a retired worker answers the calls under way with `Connection: close`.
        async with aiohttp.ClientSession() as keep_alive:
            long_calls = asyncio.ensure_future(calls(keep_alive, sup.url, 2, 3.0))
            served: list[str] = []
            deadline = time.monotonic() + 25
            while len(sup.workers()) > 1 or sup.status()["live"].get("stopping"):
                assert time.monotonic() < deadline, (sup.status(), sup.log.read_text())
                served.append(await call(keep_alive, sup.url, "pid_after", {"seconds": 0.2}))
            await long_calls  # raises if the call failed
        downs = autoscaling(sup)["decisions"][1:]  # 3 -> 1, or 3 -> 2 -> 1 while the long calls run
        assert downs and downs[0]["before"] == 3 and downs[-1]["after"] == 1, autoscaling(sup)
        assert all(d["after"] < d["before"] and "for the last 3s (cooldown)" in d["reason"] for d in downs)
        assert [w["index"] for w in sup.workers()] == [1]
        retired = {w["pid"] for w in workers if w["index"] > 1}
        log = sup.log.read_text()
        for w in workers:
            if w["index"] > 1:
                assert f"worker {w['index']} (pid {w['pid']}) stopped (scaled down), exit code 0" in log
        assert all(not Path(f"/proc/{pid}").exists() for pid in retired)
        assert "autoscaling up: 1 -> 3 worker(s)" in log and "-> 1 worker(s)" in log

        status = subprocess.run([sys.executable, "-m", "webmcp", "status", "-c", str(sup.config)],
                                capture_output=True, text=True, timeout=60, cwd=workdir,
                                env={**os.environ, "XDG_RUNTIME_DIR": str(runtime_dir)})
        assert "autoscaling 1..3 (cooldown 3s)" in status.stdout, status.stdout + status.stderr
        assert f"decisions: 1 up, {len(downs)} down" in status.stdout


def samples(text: str, name: str) -> dict[str, float]:
    """Every sample of one metric in an exposition: labels text -> value."""
    return {m.group(1) or "": float(m.group(2))
            for m in re.finditer(rf"^{name}(\{{[^}}]*\}})? (\S+)$", text, re.MULTILINE)}


async def test_metrics_sum_the_calls_of_every_worker(workdir: Path, runtime_dir: Path) -> None:
    """Two workers: calls land on both; /metrics, whichever worker answers, counts all of them, keeps one
    memory series per worker, and lists the workers."""
    text = """
version: 1
server: {http: {stateless: true}}
telemetry: {metrics: true}
"""
    with serving(workdir, runtime_dir, text, "--workers", "2") as sup:
        await anyio.to_thread.run_sync(lambda: sup.wait(all_ready(2), "the workers did not start"))
        pids = sup.pids()
        metrics_url = sup.url.replace("/mcp", "/metrics")
        async with fresh_connections() as http:
            served: list[str] = []
            for _ in range(10):
                served += await asyncio.gather(*(call(http, sup.url, "pid_after", {"seconds": 0.2})
                                                 for _ in range(16)))
                if {int(p) for p in served} == pids:
                    break
            assert {int(p) for p in served} == pids  # both workers served calls
            for _ in range(4):  # any worker answers the scrape: always the sum
                async with http.get(metrics_url) as response:
                    assert response.status == 200
                    body = await response.text()
                calls = samples(body, "webmcp_tool_calls_total")
                assert calls == {'{outcome="ok",tool="pid_after"}': len(served)}, calls
                assert set(samples(body, "webmcp_memory_rss_bytes")) == {'{worker="1"}', '{worker="2"}'}
                assert samples(body, "webmcp_workers")['{state="running"}'] == 2
                assert samples(body, "webmcp_in_flight_calls") == {"": 0}


class Receiver:
    """A webhook receiver on loopback: records every JSON body."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []

    async def hook(self, request: web.Request) -> web.Response:
        self.bodies.append(await request.json())
        return web.Response(text="ok")

    async def hang(self, request: web.Request) -> web.Response:
        await asyncio.sleep(60)
        return web.Response(text="too late")


@contextlib.asynccontextmanager
async def receiver() -> AsyncIterator[tuple[Receiver, str]]:
    got = Receiver()
    app = web.Application()
    app.router.add_post("/hook", got.hook)
    app.router.add_post("/hang", got.hang)
    runner = web.AppRunner(app, shutdown_timeout=1, handler_cancellation=True)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield got, f"http://127.0.0.1:{port}/hook"
    finally:
        await runner.cleanup()


@pytest.mark.parametrize("flags", [(), ("--workers", "2")], ids=["one-process", "two-workers"])
async def test_alerts_reach_a_webhook_violated_then_recovered(workdir: Path, runtime_dir: Path,
                                                              flags: tuple[str, ...]) -> None:
    """p95_latency 200ms over a 2s window: calls of 0.6s violate it, an idle window recovers it. The
    receiver gets exactly one `violated` then one `recovered` alert for the server (with workers: from
    the supervisor, not one per worker), with the Slack `text`; a second webhook refuses every attempt
    and a third never answers: each is retried, then dropped, and no call is failed or slowed by them."""
    refused = f"http://127.0.0.1:{free_port()}/nothing-listens"
    async with receiver() as (got, url):
        hanging = url.replace("/hook", "/hang")
        text = f"""
version: 1
server: {{name: alerting, http: {{stateless: true}}}}
scaling:
  targets: {{p95_latency: 200ms}}
  window: 2s
telemetry:
  alerts: [{{url: "{url}"}}, {{url: "{refused}", attempts: 3}}, {{url: "{hanging}", attempts: 2, timeout: 500ms}}]
"""
        with serving(workdir, runtime_dir, text, *flags) as sup:
            async with fresh_connections() as http:
                started = time.monotonic()
                results = await asyncio.gather(*(call(http, sup.url, "pid_after", {"seconds": 0.6}) for _ in range(8)))
                assert len(results) == 8 and time.monotonic() - started < 3.0
                deadline = time.monotonic() + 15
                while [b["state"] for b in got.bodies] != ["violated", "recovered"]:
                    assert time.monotonic() < deadline, (got.bodies, sup.log.read_text())
                    await asyncio.sleep(0.1)
                    if len(got.bodies) < 2:  # calls go on while the other webhooks are retried
                        await call(http, sup.url, "pid_after", {"seconds": 0.0})
            violated, recovered = got.bodies
            assert violated["target"] == recovered["target"] == "p95_latency"
            assert violated["threshold"] == 0.2 and violated["value"] > 0.5
            assert violated["text"].startswith("webmcp alerting: target p95_latency VIOLATED: ")
            assert violated["text"].endswith("over the last 2s (target 200ms)")
            assert recovered["value"] <= 0.2 and "recovered" in recovered["text"]
            await asyncio.sleep(3.5)  # 3 attempts of the refused hook: 0.5s and 1s apart
            log = sup.log.read_text()
            assert "alert to http://127.0.0.1:" in log and "dropped after 3 attempts" in log, log
            assert "dropped after 2 attempts (last: TimeoutError)" in log, log
            assert "nothing-listens" not in log  # a webhook's path is not logged
            assert len(got.bodies) == 2


def test_status_file_lists_autoscaling_as_json(workdir: Path, runtime_dir: Path) -> None:
    """The supervisor's status (what `webmcp status` reads) carries the autoscaler's bounds and note."""
    text = """
version: 1
server: {http: {stateless: true}}
scaling:
  workers: {min: 1, max: 2, cooldown: 1s}
"""
    with serving(workdir, runtime_dir, text) as sup:
        deadline = time.monotonic() + 10
        while not autoscaling(sup).get("note"):
            assert time.monotonic() < deadline, sup.log.read_text()
            time.sleep(0.1)
        found = autoscaling(sup)
        assert (found["min"], found["max"], found["cooldown"], found["desired"]) == (1, 2, 1.0, 1)
        assert found["readings"][0]["metric"] == "in_flight"
        assert json.dumps(found)

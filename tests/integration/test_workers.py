"""`webmcp serve --workers N`: a supervisor and its worker processes, driven as a user would, with real
processes and signals: calls spread over the workers, a killed worker is replaced, SIGTERM drains, reloads
reach every worker or none."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import pytest

from tests.integration.conftest import write_config
from tests.integration.test_http import free_port, post
from tests.integration.test_sessionless import _headers, _request

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

CONFIG = """
version: 1
server:
  graceful_timeout: 5s
  http: {stateless: true, admin_token_env: TEST_ADMIN_TOKEN}
tools:
  pid_after: {kind: python, function: "sample_tools:pid_after"}
  slow: {kind: python, function: "sample_tools:slow"}
  trip: {kind: python, function: "sample_tools:trip"}
"""
EXTRA = '  about: {kind: static, content: "added by a reload"}\n'


@dataclass
class Supervised:
    proc: subprocess.Popen[bytes]
    url: str
    config: Path
    runtime_dir: Path
    log: Path

    def status(self) -> dict[str, Any]:
        path = next(self.runtime_dir.glob(f"webmcp/*/{self.proc.pid}.pid.status.json"), None)
        if path is None:
            return {}
        with contextlib.suppress(ValueError):
            return dict(json.loads(path.read_text()))
        return {}

    def workers(self) -> list[dict[str, Any]]:
        return list((self.status().get("live") or {}).get("workers", []))

    def wait(self, ready: Any, what: str, timeout: float = 20.0) -> list[dict[str, Any]]:
        """Until `ready(workers)` holds; fails with the server's log."""
        deadline = time.monotonic() + timeout
        while True:
            workers = self.workers()
            if ready(workers):
                return workers
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"{what}: {workers}\n{self.log.read_text()}")
            time.sleep(0.05)

    def pids(self) -> set[int]:
        return {w["pid"] for w in self.workers()}


def all_ready(count: int) -> Any:
    return lambda workers: len(workers) == count and all(w["ready"] for w in workers)


@contextlib.contextmanager
def supervisor(workdir: Path, runtime_dir: Path, text: str = CONFIG, workers: int = 2) -> Iterator[Supervised]:
    config = write_config(workdir, text)
    port = free_port()
    log = workdir / "serve.log"
    with open(log, "wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "webmcp", "serve", "-c", str(config), "--transport", "http", "--port", str(port),
             "--workers", str(workers)], cwd=workdir, stdout=subprocess.DEVNULL, stderr=err,
            env={**os.environ, "XDG_RUNTIME_DIR": str(runtime_dir), "TEST_ADMIN_TOKEN": "adm1n"})
    sup = Supervised(proc, f"http://127.0.0.1:{port}/mcp", config, runtime_dir, log)
    pids: set[int] = set()
    try:
        sup.wait(all_ready(workers), "the workers did not start")
        pids = sup.pids()
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


def fresh_connections() -> aiohttp.ClientSession:
    """A client that opens a new connection per request, so the kernel hands each to any worker."""
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True, limit=0))


async def call(http: aiohttp.ClientSession, url: str, tool: str, arguments: dict[str, Any]) -> str:
    """A stateless tools/call; its text, or an exception for anything but a successful result."""
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": tool, "arguments": arguments}}
    status, _, answer = await post(http, url, body)
    assert status == 200 and "result" in answer and not answer["result"].get("isError"), (status, answer)
    return str(answer["result"]["content"][0]["text"])


async def outcomes(http: aiohttp.ClientSession, url: str, count: int, seconds: float) -> list[str | BaseException]:
    return list(await asyncio.gather(*(call(http, url, "pid_after", {"seconds": seconds}) for _ in range(count)),
                                     return_exceptions=True))


async def reach_all(http: aiohttp.ClientSession, url: str, tool: str, pids: set[str]) -> set[str]:
    """Call `tool` on fresh connections until every worker in `pids` has answered (the kernel may hand a
    run of connections to one worker), at most 100 times; what answered."""
    seen: set[str] = set()
    for _ in range(100):
        seen.add(await call(http, url, tool, {}))
        if seen >= pids:
            break
    return seen


def cli(*args: str, config: Path, runtime_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "webmcp", *args, "-c", str(config)], capture_output=True, text=True,
                          timeout=60, cwd=config.parent, env={**os.environ, "XDG_RUNTIME_DIR": str(runtime_dir)})


async def test_calls_spread_over_the_workers(workdir: Path, runtime_dir: Path) -> None:
    """Two workers, each a child of the supervisor: concurrent calls are served by both, and all succeed;
    a 2026-07-28 requestState issued by one worker is accepted by the other."""
    with supervisor(workdir, runtime_dir) as sup:
        pids = sup.pids()
        assert len(pids) == 2 and sup.proc.pid not in pids
        for pid in pids:
            assert int(Path(f"/proc/{pid}/stat").read_text().split(")")[1].split()[1]) == sup.proc.pid  # the parent
        async with fresh_connections() as http:
            # A worker woken by a burst accepts every queued connection at once, so one burst may all land on
            # one worker; a few bursts reach both.
            seen: set[int] = set()
            for _ in range(10):
                served = await outcomes(http, sup.url, 24, 0.3)
                assert not [r for r in served if isinstance(r, BaseException)]
                seen |= {int(str(pid)) for pid in served}
                if seen == pids:
                    break
            assert seen == pids

            # input_required across workers: answer the first round many times over new connections
            trip = {"name": "trip", "arguments": {"destination": "Oslo"}}
            _, _, first = await post(http, sup.url, _request("tools/call", trip), _headers("tools/call", "trip"))
            state = first["result"]["requestState"]
            retry = {**trip, "inputResponses": {"traveller": {"action": "accept", "content": {"name": "Bo"}}},
                     "requestState": state}
            for _ in range(8):
                status, _, body = await post(http, sup.url, _request("tools/call", retry),
                                             _headers("tools/call", "trip"))
                assert status == 200 and sorted(body["result"]["inputRequests"]) == ["dates", "idea"], body


async def test_a_killed_worker_is_replaced_and_calls_go_on(workdir: Path, runtime_dir: Path) -> None:
    """kill -9 one worker while calls run on both: only its own calls fail; the other worker's complete; a
    new worker (new pid) takes its place and every later call succeeds."""
    with supervisor(workdir, runtime_dir) as sup:
        victim, survivor = sorted(sup.workers(), key=lambda w: w["index"])
        async with fresh_connections() as http:
            # 6s calls: the in-flight figures come from the status file, up to 2s old
            running = asyncio.ensure_future(outcomes(http, sup.url, 10, 6.0))
            in_flight = await anyio.to_thread.run_sync(lambda: sup.wait(
                lambda ws: sum((w.get("live") or {}).get("in_flight", 0) for w in ws) == 10, "calls not in flight"))
            on_victim = next(w for w in in_flight if w["pid"] == victim["pid"])["live"]["in_flight"]
            os.kill(victim["pid"], signal.SIGKILL)
            results = await running
            failed = [r for r in results if isinstance(r, BaseException)]
            assert len(failed) == on_victim, (results, in_flight, victim, sup.log.read_text())
            assert [r for r in results if not isinstance(r, BaseException)] == [str(survivor["pid"])] * (10 - on_victim)

            workers = await anyio.to_thread.run_sync(lambda: sup.wait(
                lambda ws: all_ready(2)(ws) and victim["pid"] not in {w["pid"] for w in ws}, "no replacement"))
            replacement = next(w for w in workers if w["index"] == victim["index"])
            served = await outcomes(http, sup.url, 20, 0.3)
            assert not [r for r in served if isinstance(r, BaseException)]
            assert {int(str(pid)) for pid in served} <= {survivor["pid"], replacement["pid"]}
        assert f"worker {victim['index']} (pid {victim['pid']}) was killed by signal 9" in sup.log.read_text()


async def test_sigterm_lets_calls_finish_then_every_process_exits(workdir: Path, runtime_dir: Path) -> None:
    """SIGTERM to the supervisor: calls under way on both workers complete; then the supervisor and the
    workers are gone within graceful_timeout (5s), the run file removed."""
    with supervisor(workdir, runtime_dir) as sup:
        pids = sup.pids()
        async with fresh_connections() as http:
            slow = {"seconds": 1.5, "marker": str(workdir / "m")}
            running = asyncio.gather(*(call(http, sup.url, "slow", slow) for _ in range(6)))
            await anyio.to_thread.run_sync(lambda: sup.wait(
                lambda ws: sum((w.get("live") or {}).get("in_flight", 0) for w in ws) == 6, "calls not in flight"))
            sent = time.monotonic()
            sup.proc.send_signal(signal.SIGTERM)
            assert await running == ["slept"] * 6
        code = await anyio.to_thread.run_sync(lambda: sup.proc.wait(10))
        assert code == 0 and time.monotonic() - sent < 5.0
        for pid in pids:
            assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split(")")[1][:3]
        assert not (workdir / "m").exists()  # nothing was cancelled
        assert not list(runtime_dir.glob("webmcp/*/*.pid"))


async def test_reload_under_load_reaches_every_worker_and_drops_no_call(workdir: Path, runtime_dir: Path) -> None:
    """`webmcp reload` while calls run on both workers: no call fails; the report gives each worker's outcome;
    POST /admin/reload, landing on one worker, and SIGHUP sent to one worker reload both."""
    with supervisor(workdir, runtime_dir) as sup:
        pids = sorted(sup.pids())
        async with fresh_connections() as http:
            stop = asyncio.Event()

            async def keep_calling() -> list[str | BaseException]:
                seen: list[str | BaseException] = []
                while not stop.is_set():
                    seen += await outcomes(http, sup.url, 4, 0.05)
                return seen

            load = asyncio.ensure_future(keep_calling())
            await asyncio.sleep(0.3)
            sup.config.write_text(sup.config.read_text() + EXTRA)
            done = await anyio.to_thread.run_sync(lambda: cli("reload", config=sup.config, runtime_dir=runtime_dir))
            await asyncio.sleep(0.3)
            stop.set()
            seen = await load
        assert done.returncode == 0, done.stdout + done.stderr
        lines = done.stdout.splitlines()
        assert lines[0] == f"pid {sup.proc.pid}: reloaded 2 worker(s) to generation 2"
        for index, line in enumerate(sorted(lines[1:]), 1):
            assert line.startswith(f"  worker {index} (pid ")
            assert "reloaded to generation 2 in " in line and ": tools: added about" in line
        assert sorted(int(line.split("(pid ")[1].split(")")[0]) for line in lines[1:]) == pids
        assert [r for r in seen if isinstance(r, BaseException)] == [] and len(seen) > 8
        assert sup.wait(lambda ws: {w["generation"] for w in ws} == {2}, "generation 2 everywhere")

        async with aiohttp.ClientSession() as http:
            admin = sup.url.replace("/mcp", "/admin/reload")
            async with http.post(admin, headers={"Authorization": "Bearer adm1n"}) as resp:
                report = await resp.json()
        assert resp.status == 200 and report["ok"] is True and report["generation"] == 3
        assert sorted(w["pid"] for w in report["workers"]) == pids
        assert all(w["generation"] == 3 for w in report["workers"])

        os.kill(pids[0], signal.SIGHUP)  # SIGHUP sent to one worker reloads them all
        await anyio.to_thread.run_sync(lambda: sup.wait(lambda ws: {w["generation"] for w in ws} == {4}, "gen 4"))


async def test_a_file_that_fails_in_one_worker_keeps_every_worker_on_the_old_generation(
    workdir: Path, runtime_dir: Path
) -> None:
    """A new tool module that imports in one worker and fails in the other (the first to import it, every
    time): the worker that built it discards it; both stay on generation 1 and the report says why, worker by
    worker."""
    with supervisor(workdir, runtime_dir) as sup:
        flaky = workdir / "flaky_tools.py"
        flaky.write_text(
            "import os\n"
            f"_FLAG = {str(workdir / 'first-importer')!r}\n"
            "try:\n"
            "    _fd = os.open(_FLAG, os.O_CREAT | os.O_EXCL | os.O_WRONLY)\n"
            "    os.write(_fd, str(os.getpid()).encode())\n"
            "    os.close(_fd)\n"
            "except FileExistsError:\n"
            "    pass\n"
            "if open(_FLAG).read() == str(os.getpid()):\n"
            "    raise ImportError('the first importer fails')\n"
            "def hello() -> str:\n"
            "    return 'hello'\n")
        sup.config.write_text(sup.config.read_text() + '  hello: {kind: python, function: "flaky_tools:hello"}\n')
        os.kill(sup.proc.pid, signal.SIGHUP)
        deadline = time.monotonic() + 30
        while (sup.status().get("last") or None) is None:
            assert time.monotonic() < deadline, sup.log.read_text()
            await anyio.sleep(0.05)
        last = sup.status()["last"]
        assert last["ok"] is False and last["generation"] == 1
        assert last["message"].startswith("kept generation 1 on every worker: the new config failed in 1 of 2")
        outcomes_by_worker = sorted(w["message"] for w in last["workers"])
        assert "the first importer fails" in outcomes_by_worker[0]
        assert outcomes_by_worker[1].startswith("kept generation 1: its build of generation 2 was discarded, as worker")
        assert {w["generation"] for w in sup.workers()} == {1}
        async with fresh_connections() as http:
            body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
            for _ in range(6):
                _, _, answer = await post(http, sup.url, body)
                assert "hello" not in {t["name"] for t in answer["result"]["tools"]}
        # A worker started now (replacing a killed one) runs generation 1's text, not the file on disk.
        victim = sup.workers()[0]
        os.kill(victim["pid"], signal.SIGKILL)
        workers = await anyio.to_thread.run_sync(lambda: sup.wait(
            lambda ws: all_ready(2)(ws) and victim["pid"] not in {w["pid"] for w in ws}, "no replacement"))
        assert {w["generation"] for w in workers} == {1}


def test_a_worker_that_cannot_start_stops_serve_with_its_exit_code(workdir: Path, runtime_dir: Path) -> None:
    """A python tool whose module does not import: the workers fail their first start, and `serve` exits 4
    (as a single server does) with the problem on stderr, instead of restarting them forever."""
    config = write_config(workdir, CONFIG + '  broken: {kind: python, function: "nowhere:fn"}\n')
    done = subprocess.run(
        [sys.executable, "-m", "webmcp", "serve", "-c", str(config), "--transport", "http", "--port",
         str(free_port()), "--workers", "2"], capture_output=True, text=True, timeout=60, cwd=workdir,
        env={**os.environ, "XDG_RUNTIME_DIR": str(runtime_dir)})
    assert done.returncode == 4, done.stderr
    assert "tools.broken: cannot import nowhere:fn" in done.stderr
    assert "failed to start (exit code 4); its error is above" in done.stderr
    assert not list(runtime_dir.glob("webmcp/*/*.pid"))


async def test_status_and_cache_clear_reach_every_worker(workdir: Path, runtime_dir: Path) -> None:
    """`webmcp status` prints the supervisor and each worker; `webmcp cache clear` drops memory entries in
    every worker, through the supervisor."""
    text = CONFIG.replace("  pid_after:", "  cached_pid:  {kind: python, function: \"sample_tools:pid_after\", "
                          "cache: {strategy: lru, max_entries: 10}}\n  pid_after:")
    with supervisor(workdir, runtime_dir, text) as sup:
        pids = {str(pid) for pid in sup.pids()}
        async with fresh_connections() as http:
            served = await reach_all(http, sup.url, "cached_pid", pids)
        assert served == pids  # each worker filled its own cache once
        shown = cli("status", config=sup.config, runtime_dir=runtime_dir)
        assert shown.returncode == 0, shown.stderr
        lines = shown.stdout.splitlines()
        assert lines[0].startswith(f"pid {sup.proc.pid}: supervisor of 2 worker(s), generation 1, up ")
        for worker in sup.workers():
            assert any(line.startswith(f"  worker {worker['index']} (pid {worker['pid']}): generation 1, up ")
                       for line in lines)
        cleared = cli("cache", "clear", "--all", config=sup.config, runtime_dir=runtime_dir)
        assert cleared.returncode == 0, cleared.stdout + cleared.stderr
        assert cleared.stdout.strip() == f"pid {sup.proc.pid}: dropped 2 entries from cached_pid"

        async with fresh_connections() as http:
            assert await reach_all(http, sup.url, "cached_pid", pids) == served
            admin = sup.url.replace("/mcp", "/admin/cache/clear")
            async with http.post(admin, json={"all": True}, headers={"Authorization": "Bearer adm1n"}) as resp:
                answer = await resp.json()
        assert resp.status == 200 and answer["dropped"] == 2 and answer["caches"] == ["cached_pid"]
        assert sorted(w["pid"] for w in answer["workers"]) == sorted(sup.pids())


async def test_a_stuck_worker_is_killed_and_replaced(workdir: Path, runtime_dir: Path) -> None:
    """A worker whose event loop is blocked misses its health pings: after 10s it is killed and replaced, while
    the other worker goes on serving."""
    text = CONFIG + '  block: {kind: python, function: "sample_tools:block_loop"}\n'
    with supervisor(workdir, runtime_dir, text) as sup:
        before = sup.pids()
        async with fresh_connections() as http:
            blocked = asyncio.ensure_future(call(http, sup.url, "block", {"seconds": 60}))
            await asyncio.sleep(1.0)
            served = await outcomes(http, sup.url, 6, 0.1)  # the other worker answers meanwhile
            assert not [r for r in served if isinstance(r, BaseException)]
            stuck = before - {int(str(pid)) for pid in served}
            assert len(stuck) == 1
            workers = await anyio.to_thread.run_sync(lambda: sup.wait(
                lambda ws: all_ready(2)(ws) and not stuck & {w["pid"] for w in ws}, "not replaced", timeout=30))
            with pytest.raises(aiohttp.ClientError):
                await blocked  # its connection died with it
        assert len({w["pid"] for w in workers} - before) == 1
        assert "did not answer a health ping within 10s: killing it" in sup.log.read_text()


async def test_a_worker_stuck_at_shutdown_is_killed_after_graceful_timeout(workdir: Path, runtime_dir: Path) -> None:
    """SIGTERM while a worker's loop is blocked: it cannot drain; the supervisor kills it once graceful_timeout
    (1s) and the grace for unwinding (5s) are over, and exits."""
    text = CONFIG.replace("graceful_timeout: 5s", "graceful_timeout: 1s") + (
        '  block: {kind: python, function: "sample_tools:block_loop"}\n')
    with supervisor(workdir, runtime_dir, text) as sup:
        async with fresh_connections() as http:
            blocked = asyncio.ensure_future(call(http, sup.url, "block", {"seconds": 60}))
            await asyncio.sleep(1.0)
            sent = time.monotonic()
            sup.proc.send_signal(signal.SIGTERM)
            code = await anyio.to_thread.run_sync(lambda: sup.proc.wait(20))
            elapsed = time.monotonic() - sent
            with pytest.raises((AssertionError, aiohttp.ClientError)):
                await blocked
        assert code == 0 and 5.5 < elapsed < 9, (elapsed, sup.log.read_text())
        assert "did not stop in time: killing it" in sup.log.read_text()

"""Three webmcp instances on loopback behind nginx (round-robin, no affinity), sharing Redis: every client
revision served by every instance, one rate limit for all, no stale cache read across instances, a rolling
restart under load that loses no call, and Redis stopped and started again mid-run."""

from __future__ import annotations

import asyncio
import re
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import pytest
from mcp import Client

from tests.integration.conftest import write_config
from tests.integration.nginx import Fleet, fleet, nginx_installed  # noqa: F401  (fixture)
from tests.integration.redis_server import RedisServer, prefix, redis_url  # noqa: F401  (fixtures)
from tests.integration.test_http import client, post
from tests.integration.test_sessionless import _headers, _request

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

CONFIG = """
version: 1
server:
  graceful_timeout: 10s
  http: {{stateless: true, trusted_proxies: [127.0.0.1]}}
pools:
  r: {{kind: redis, url: "{url}", timeout: 200ms, connect_timeout: 200ms}}
executor:
  rate_limits: {{backend: redis, pool: r, prefix: "{prefix}:rl"}}
caches:
  shared: {{backend: redis, pool: r, prefix: "{prefix}", ttl: 1m, l1: {{strategy: lru, max_entries: 100}}}}
tools:
  pid_after: {{kind: python, function: "sample_tools:pid_after"}}
  limited: {{kind: python, function: "sample_tools:pid_after", rate_limit: {{rate: 1/hour, burst: 5}}}}
  mine: {{kind: python, function: "sample_tools:pid_after", rate_limit: {{rate: 1/hour, burst: 2, per: client}}}}
  roomy: {{kind: python, function: "sample_tools:pid_after", rate_limit: 10000/s}}
  profile:
    kind: python
    function: "sample_tools:read_value"
    cache: {{use: shared, key: [path], tags: ["user:{{user_id}}"]}}
  update: {{kind: python, function: "sample_tools:write_value", invalidates: ["user:{{user_id}}"]}}
"""


@pytest.fixture
def three(workdir: Path, redis_url: str, prefix: str, nginx_installed: str) -> Iterator[Fleet]:  # noqa: F811
    config = write_config(workdir, CONFIG.format(url=redis_url, prefix=prefix))
    with fleet(workdir, config, 3) as running:
        yield running


async def call(http: aiohttp.ClientSession, url: str, tool: str, arguments: dict[str, Any],
               modern: bool = False) -> dict[str, Any]:
    """One tools/call over HTTP without a session: 2025 stateless, or 2026-07-28 when `modern`; the result."""
    if modern:
        body = _request("tools/call", {"name": tool, "arguments": arguments})
        status, _, answer = await post(http, url, body, _headers("tools/call", tool))
    else:
        body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": tool, "arguments": arguments}}
        status, _, answer = await post(http, url, body)
    assert status == 200 and "result" in answer, (status, answer)
    result: dict[str, Any] = answer["result"]
    return result


def text(result: dict[str, Any]) -> str:
    return str(result["content"][0]["text"])


async def test_both_revisions_are_served_round_robin_by_every_instance(three: Fleet) -> None:
    """The SDK's 2026-07-28 Client and a stateless 2025-11-25 ClientSession, through nginx without affinity:
    consecutive calls of each land on all three instances, and every call succeeds."""
    pids = {str(p) for p in three.pids()}
    async with Client(three.url) as modern:
        assert modern.protocol_version == "2026-07-28"
        served = [(await modern.call_tool("pid_after", {})).content[0].text for _ in range(6)]
    assert set(served) == pids, served
    async with client(three.url) as legacy:
        served = [(await legacy.call_tool("pid_after", {})).content[0].text for _ in range(6)]
    assert set(served) == pids, served
    counts = Counter(three.nginx.upstreams())
    assert len(counts) == 3 and min(counts.values()) >= 4, counts


async def test_a_rate_limit_holds_across_instances(three: Fleet) -> None:
    """30 concurrent calls of a tool with burst 5 and 1/hour, spread over three instances: exactly 5 pass (per
    instance buckets would let 15 through); the others get the same isError text as a local limit."""
    async with aiohttp.ClientSession() as http:
        results = await asyncio.gather(*(call(http, three.url, "limited", {}, modern=i % 2 == 0) for i in range(30)))
    passed = [r for r in results if not r.get("isError")]
    refused = [r for r in results if r.get("isError")]
    assert len(passed) == 5, [text(r) for r in results]
    assert len({text(r) for r in passed}) >= 2  # served by more than one instance
    for r in refused:
        assert re.fullmatch(r"rate limit 1/hour for tool 'limited' exceeded; retry in \d+(\.\d)?m?s", text(r)), r


async def test_a_per_client_limit_holds_across_instances(three: Fleet) -> None:
    """Behind nginx (trusted_proxies: the client is the X-Forwarded-For address): each of two clients gets
    exactly its burst of 2 out of 6 concurrent calls spread over the three instances."""
    async with aiohttp.ClientSession() as http:

        async def one(address: str) -> dict[str, Any]:
            body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "mine", "arguments": {}}}
            status, _, answer = await post(http, three.url, body, {"X-Forwarded-For": address})
            assert status == 200, answer
            result: dict[str, Any] = answer["result"]
            return result

        results = await asyncio.gather(*(one(a) for a in ("10.0.0.1", "10.0.0.2") * 6))
    for address in ("10.0.0.1", "10.0.0.2"):
        mine = results[("10.0.0.1", "10.0.0.2").index(address)::2]
        assert sum(1 for r in mine if not r.get("isError")) == 2, [text(r) for r in mine]
        refused = [text(r) for r in mine if r.get("isError")]
        assert all(t.startswith("rate limit 1/hour per client for tool 'mine' exceeded; retry in") for t in refused)


async def test_no_stale_read_after_an_invalidating_call_on_another_instance(three: Fleet, workdir: Path) -> None:
    """Every instance caches a value; the file changes behind their back (they still answer from cache); an
    invalidating call through one instance; the next reads on every instance see the new value."""
    path = workdir / "value.txt"
    path.write_text("v1")
    args = {"path": str(path), "user_id": "ada"}
    async with aiohttp.ClientSession() as http:
        assert [text(await call(http, three.url, "profile", args)) for _ in range(3)] == ["v1"] * 3
        path.write_text("v2")
        assert [text(await call(http, three.url, "profile", args)) for _ in range(3)] == ["v1"] * 3
        assert text(await call(http, three.url, "update", {**args, "value": "v3"})) == "written"
        assert [text(await call(http, three.url, "profile", args)) for _ in range(6)] == ["v3"] * 6


class Load:
    """Calls kept running through nginx by `clients` concurrent loops until stopped; every outcome counted."""

    def __init__(self, url: str, tools: list[tuple[str, dict[str, Any]]], clients: int = 12) -> None:
        self.url = url
        self.tools = tools
        self.clients = clients
        self.ok = 0
        self.failures: list[str] = []
        self.pids: Counter[str] = Counter()
        self._stop = asyncio.Event()

    async def _loop(self, index: int, http: aiohttp.ClientSession) -> None:
        n = 0
        while not self._stop.is_set():
            tool, args = self.tools[n % len(self.tools)]
            n += 1
            try:
                result = await call(http, self.url, tool, args, modern=index % 2 == 0)
            except (TimeoutError, AssertionError, aiohttp.ClientError) as exc:
                self.failures.append(f"{tool}: {type(exc).__name__}: {exc}")
                continue
            if result.get("isError"):
                self.failures.append(f"{tool}: {text(result)}")
            else:
                self.ok += 1
                if tool in ("pid_after", "roomy"):
                    self.pids[text(result)] += 1

    async def run(self, during: Any) -> None:
        """Run the load while `during()` runs in a thread, then stop it. Each call opens its own connection to
        nginx: a reload of nginx closes the idle client connections of its old worker, and a client reusing one
        at that moment fails before its request is sent (nginx's matter, not the instances')."""
        timeout = aiohttp.ClientTimeout(total=60)
        connector = aiohttp.TCPConnector(force_close=True, limit=0)
        async with aiohttp.ClientSession(timeout=timeout, connector=connector) as http:
            loops = [asyncio.create_task(self._loop(i, http)) for i in range(self.clients)]
            try:
                await anyio.to_thread.run_sync(during)
            finally:
                self._stop.set()
                await asyncio.gather(*loops)


async def test_a_rolling_restart_under_load_loses_no_call(three: Fleet) -> None:
    """Each instance in turn leaves nginx's upstream, drains on SIGTERM and starts again while 12 clients call
    without pause: every call succeeds, and the calls after it are served by the new processes."""
    before = {str(p) for p in three.pids()}
    load = Load(three.url, [("pid_after", {"seconds": 0.05}), ("roomy", {})])

    def restart() -> None:
        time.sleep(0.5)
        three.rolling_restart()
        time.sleep(0.5)

    await load.run(restart)
    assert load.failures == [], load.failures[:5]
    after = {str(p) for p in three.pids()}
    assert not before & after and load.ok > 100
    assert set(load.pids) >= after  # the new processes served calls too
    assert set(load.pids) & before  # and the old ones did before


async def test_calls_go_on_while_redis_is_stopped_and_started(workdir: Path, nginx_installed: str) -> None:  # noqa: F811
    """A Redis of the test's own is killed mid-run and started again: rate-limited and cached calls go on
    (rate limits fall back to each instance's buckets, the cache to its memory tier or the tool); afterwards
    the instances counted the fallback."""
    server = RedisServer(workdir).start()
    config = write_config(workdir, CONFIG.format(url=server.url, prefix="webmcp-test-redis-restart"))
    path = workdir / "value.txt"
    path.write_text("v1")
    try:
        with fleet(workdir, config, 3) as running:
            load = Load(running.url, [("roomy", {}), ("profile", {"path": str(path), "user_id": "ada"})])

            def outage() -> None:
                time.sleep(0.5)
                server.kill()
                time.sleep(1.5)
                server.start()
                time.sleep(1.5)

            await load.run(outage)
            assert load.failures == [], load.failures[:5]
            assert load.ok > 100
            failures = 0
            async with aiohttp.ClientSession() as http:
                for instance in running.instances:
                    async with http.get(f"http://127.0.0.1:{instance.port}/metrics") as resp:
                        body = await resp.text()
                    found = re.search(r'^webmcp_rate_limit_store_failures_total\{on_error="local"\} (\S+)$', body,
                                      re.MULTILINE)
                    failures += int(float(found.group(1))) if found else 0
            assert failures > 0
    finally:
        server.kill()


SESSIONS = CONFIG.replace("stateless: true", "sessions: {{backend: redis, pool: r}}") + (
    '  ask_user: {{kind: python, function: "sample_tools:ask_user"}}\n')


async def test_2025_sessions_are_served_round_robin_and_survive_a_rolling_restart(
        workdir: Path, redis_url: str, prefix: str, nginx_installed: str) -> None:  # noqa: F811
    """server.http.sessions in Redis: one official 2025 session through nginx without affinity has its calls
    served by all three instances, its elicitations answered wherever the answer lands, and goes on, every call
    succeeding, while each instance in turn drains and restarts."""
    config = write_config(workdir, SESSIONS.format(url=redis_url, prefix=prefix))

    async def elicit(context: Any, params: Any) -> Any:
        from mcp import types

        return types.ElicitResult(action="accept", content={"name": "Bo"})

    with fleet(workdir, config, 3) as three:
        pids = {str(p) for p in three.pids()}
        async with client(three.url, elicitation_callback=elicit) as session:
            served = [(await session.call_tool("pid_after", {})).content[0].text for _ in range(6)]
            assert set(served) == pids, served
            asked = await asyncio.gather(*(session.call_tool("ask_user", {}) for _ in range(6)))
            assert [r.content[0].text for r in asked] == ["accept: {'name': 'Bo'}"] * 6

            failures: list[str] = []
            seen: set[str] = set()
            stop = asyncio.Event()

            async def keep_calling() -> None:
                while not stop.is_set():
                    result = await session.call_tool("pid_after", {"seconds": 0.05})
                    if result.is_error:
                        failures.append(result.content[0].text)
                    else:
                        seen.add(result.content[0].text)

            def restart() -> None:
                time.sleep(0.3)
                three.rolling_restart()
                time.sleep(0.3)

            loops = [asyncio.create_task(keep_calling()) for _ in range(4)]
            await anyio.to_thread.run_sync(restart)
            stop.set()
            await asyncio.gather(*loops)
            assert failures == []
            assert seen & {str(p) for p in three.pids()}  # the restarted instances served the same session

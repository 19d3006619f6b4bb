"""2025 sessions served by any process (`server.http.sessions`): by any of two instances sharing Redis,
driven request by request on the raw wire so that each step lands where the test says; and by any
worker of one supervisor (memory backend), driven by the official client over fresh connections."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import httpx2
import orjson
import pytest
from mcp import ClientSession, types
from mcp.client.streamable_http import streamable_http_client

from tests.integration.conftest import write_config
from tests.integration.redis_server import RedisServer, redis_url  # noqa: F401  (fixture)
from tests.integration.test_http import HEADERS, free_port, post, wait_for_port
from tests.integration.test_sessionless import _headers, _request
from tests.integration.test_workers import supervisor

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

TOOLS = """
tools:
  ask_user: {kind: python, function: "sample_tools:ask_user"}
  slow: {kind: python, function: "sample_tools:slow"}
  pid_after: {kind: python, function: "sample_tools:pid_after"}
  progress_then_log: {kind: python, function: "sample_tools:progress_then_log"}
  trip: {kind: python, function: "sample_tools:trip"}
resources:
  notes: {uri: "file://notes", file: notes.txt}
"""
REDIS = """
version: 1
server:
  name: NAME
  graceful_timeout: 3s
  http: {sessions: {backend: redis, pool: shared}}
pools:
  shared: {kind: redis, url: "URL"}
""" + TOOLS
CAPABILITIES = {"elicitation": {}, "sampling": {}}


@contextlib.contextmanager
def instance(workdir: Path, config: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "webmcp", "serve", "-c", str(config), "--transport", "http",
                             "--port", str(port)], cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for_port(proc, port)
        yield f"http://127.0.0.1:{port}/mcp", proc
    finally:
        if proc.poll() is None:
            proc.terminate()
        proc.wait(15)
        assert proc.stderr is not None
        proc.stderr.close()


@pytest.fixture
def two(workdir: Path, redis_url: str) -> Iterator[tuple[str, str, subprocess.Popen[bytes]]]:  # noqa: F811
    """Two single-process instances sharing session records in Redis; (url A, url B, process A)."""
    (workdir / "notes.txt").write_text("first")
    text = REDIS.replace("NAME", f"shared-{uuid.uuid4().hex[:8]}").replace("URL", redis_url)
    config = write_config(workdir, text)
    with instance(workdir, config) as (a, proc_a), instance(workdir, config) as (b, _):
        yield a, b, proc_a


class Wire:
    """One 2025 session on the raw wire; each request goes to the URL the test names."""

    def __init__(self, http: aiohttp.ClientSession) -> None:
        self.http = http
        self.sid = ""
        self._ids = 0

    def headers(self) -> dict[str, str]:
        return {**HEADERS, "Mcp-Session-Id": self.sid, "MCP-Protocol-Version": "2025-11-25"}

    async def initialize(self, url: str) -> None:
        body = {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": CAPABILITIES, "clientInfo": {"name": "t", "version": "1"}}}
        async with self.http.post(url, data=orjson.dumps(body), headers=HEADERS) as resp:
            assert resp.status == 200, await resp.text()
            self.sid = resp.headers["Mcp-Session-Id"]
        await self.send(url, {"jsonrpc": "2.0", "method": "notifications/initialized"})

    async def send(self, url: str, message: dict[str, Any]) -> int:
        """A notification or a response: its status (202)."""
        async with self.http.post(url, data=orjson.dumps(message), headers=self.headers()) as resp:
            return resp.status

    @contextlib.asynccontextmanager
    async def open(self, url: str, method: str, params: dict[str, Any]) -> AsyncIterator[aiohttp.ClientResponse]:
        """POST a request; yields the response (read it with `events` or `.json()`)."""
        self._ids += 1
        body = {"jsonrpc": "2.0", "id": self._ids, "method": method, "params": params}
        async with self.http.post(url, data=orjson.dumps(body), headers=self.headers()) as resp:
            yield resp

    @property
    def last_id(self) -> int:
        return self._ids

    async def call(self, url: str, method: str, params: dict[str, Any]) -> tuple[int, list[dict[str, Any]]]:
        """A request and every message its POST carried (the reply last; none when it was cancelled)."""
        async with self.open(url, method, params) as resp:
            if resp.content_type == "application/json":
                return resp.status, [await resp.json()]
            if resp.content_type != "text/event-stream":
                return resp.status, []
            return resp.status, [event async for event in events(resp)]


async def events(resp: aiohttp.ClientResponse) -> AsyncIterator[dict[str, Any]]:
    """The JSON messages of an SSE response, as they arrive."""
    data: list[bytes] = []
    async for line in resp.content:
        line = line.rstrip(b"\r\n")
        if line.startswith(b"data:"):
            data.append(line[5:].strip())
        elif not line and data:
            yield orjson.loads(b"\n".join(data))
            data = []


def text_of(reply: dict[str, Any]) -> str:
    return str(reply["result"]["content"][0]["text"])


async def test_a_session_opened_on_one_instance_is_served_by_another(two: Any, workdir: Path) -> None:
    """initialize on A; calls, the logging level, an elicitation answer and a cancellation sent to B act on the
    session and on the calls running on A; DELETE on B ends the session on A too."""
    a, b, _ = two
    async with aiohttp.ClientSession() as http:
        wire = Wire(http)
        await wire.initialize(a)
        status, [reply] = await wire.call(b, "tools/call", {"name": "pid_after", "arguments": {}})
        assert status == 200 and text_of(reply).isdigit()

        # The level set on B holds on A: the call's info message is not sent any more.
        _, before = await wire.call(a, "tools/call", {"name": "progress_then_log", "arguments": {}})
        assert [m["params"]["data"] for m in before if m.get("method") == "notifications/message"] == ["half way"]
        status, [reply] = await wire.call(b, "logging/setLevel", {"level": "warning"})
        assert status == 200 and reply["result"] == {}
        _, after = await wire.call(a, "tools/call", {"name": "progress_then_log", "arguments": {}})
        assert len(after) == 1 and text_of(after[0]) == "done"  # the reply alone

        # A call on A asks the client; the answer, POSTed to B, reaches the call on A.
        async with wire.open(a, "tools/call", {"name": "ask_user", "arguments": {}}) as resp:
            stream = events(resp)
            question = await anext(stream)
            assert question["method"] == "elicitation/create"
            answer = {"jsonrpc": "2.0", "id": question["id"], "result": {"action": "accept", "content": {"name": "Bo"}}}
            assert await wire.send(b, answer) == 202
            with anyio.fail_after(5):
                reply = await anext(stream)
            assert text_of(reply) == "accept: {'name': 'Bo'}"

        # notifications/cancelled sent to B cancels the call running on A: its POST ends without a reply.
        marker = workdir / "cancelled"
        running = asyncio.ensure_future(wire.call(a, "tools/call", {"name": "slow", "arguments": {
            "seconds": 20, "marker": str(marker)}}))
        await asyncio.sleep(0.5)
        cancel = {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": wire.last_id}}
        assert await wire.send(b, cancel) == 202
        with anyio.fail_after(5):
            status, _ = await running
        assert status == 202 and marker.read_text() == "cancelled"

        async with http.delete(b, headers=wire.headers()) as resp:
            assert resp.status == 200
        for url in (a, b):
            status, [reply] = await wire.call(url, "tools/list", {})
            assert status == 404 and reply["error"]["message"] == "unknown or ended session"


async def test_subscriptions_and_the_get_stream_follow_the_session(two: Any, workdir: Path) -> None:
    """A subscription made on B is served on the GET stream held by A; a GET stream opened on B replaces A's."""
    a, b, _ = two
    async with aiohttp.ClientSession() as http:
        wire = Wire(http)
        await wire.initialize(a)
        status, _ = await wire.call(b, "resources/subscribe", {"uri": "file://notes"})
        assert status == 200
        headers = {**wire.headers(), "Accept": "text/event-stream"}
        async with http.get(a, headers=headers) as stream_a:
            assert stream_a.status == 200
            await asyncio.sleep(1.2)  # the subscription's watcher looks once a second
            (workdir / "notes.txt").write_text("second")
            with anyio.fail_after(5):
                update = await anext(events(stream_a))
            assert update == {"jsonrpc": "2.0", "method": "notifications/resources/updated",
                              "params": {"uri": "file://notes"}}
            async with http.get(b, headers=headers) as stream_b:
                assert stream_b.status == 200
                with anyio.fail_after(5):  # A's stream ends: one GET stream per session
                    assert [m async for m in events(stream_a)] == []


async def test_a_shared_reload_tells_the_client_once(workdir: Path, redis_url: str) -> None:  # noqa: F811
    """Both instances watch one config file; a tool added to it reloads both, and the session's GET stream
    (held by B, the session opened on A) carries exactly one tools/list_changed."""
    (workdir / "notes.txt").write_text("first")
    text = REDIS.replace("NAME", f"watched-{uuid.uuid4().hex[:8]}").replace("URL", redis_url).replace(
        "  graceful_timeout: 3s\n", "  graceful_timeout: 3s\n  watch: true\n")
    config = write_config(workdir, text)
    with instance(workdir, config) as (a, _), instance(workdir, config) as (b, _):
        async with aiohttp.ClientSession() as http:
            wire = Wire(http)
            await wire.initialize(a)
            async with http.get(b, headers={**wire.headers(), "Accept": "text/event-stream"}) as stream:
                await asyncio.sleep(0.5)
                config.write_text(text.replace("tools:\n", 'tools:\n  about: {kind: static, content: "added"}\n'))
                received: list[dict[str, Any]] = []

                async def collect() -> None:
                    async for message in events(stream):
                        received.append(message)

                reader = asyncio.ensure_future(collect())
                await asyncio.sleep(4)  # both reload within 2 s of the write
                reader.cancel()
            assert [m.get("method") for m in received] == ["notifications/tools/list_changed"]
            _, [reply] = await wire.call(a, "tools/list", {})
            assert "about" in {t["name"] for t in reply["result"]["tools"]}


async def test_a_session_outlives_the_instance_that_opened_it(two: Any) -> None:
    """A stops (SIGTERM); the session it opened goes on at B. A session id no instance knows is 404."""
    a, b, proc_a = two
    async with aiohttp.ClientSession() as http:
        wire = Wire(http)
        await wire.initialize(a)
        proc_a.send_signal(signal.SIGTERM)
        proc_a.wait(15)
        status, [reply] = await wire.call(b, "tools/call", {"name": "pid_after", "arguments": {}})
        assert status == 200 and int(text_of(reply)) != proc_a.pid
        stranger = Wire(http)
        stranger.sid = "no-such-session"
        status, [reply] = await stranger.call(b, "tools/list", {})
        assert status == 404


async def test_instances_sharing_redis_share_the_request_state_key(two: Any) -> None:
    """No request_state.secret_env: the instances sign 2026-07-28 requestState with the key the first one put in
    Redis, so a retry that reaches the other instance is accepted."""
    a, b, _ = two
    trip = {"name": "trip", "arguments": {"destination": "Oslo"}}
    async with aiohttp.ClientSession() as http:
        _, _, first = await post(http, a, _request("tools/call", trip), _headers("tools/call", "trip"))
        retry = {**trip, "inputResponses": {"traveller": {"action": "accept", "content": {"name": "Bo"}}},
                 "requestState": first["result"]["requestState"]}
        status, _, body = await post(http, b, _request("tools/call", retry), _headers("tools/call", "trip"))
        assert status == 200 and sorted(body["result"]["inputRequests"]) == ["dates", "idea"], body


async def test_redis_down_is_503_and_sessions_resume_when_it_is_back(workdir: Path, tmp_path: Path) -> None:
    """With the session store's Redis stopped, a request that needs a record gets 503 with Retry-After (never
    a wrong 404); a session with a copy here goes on; once Redis is back, sessions open and travel again."""
    server = RedisServer(tmp_path).start()
    (workdir / "notes.txt").write_text("first")
    config = write_config(workdir, REDIS.replace("NAME", "down").replace("URL", server.url))
    try:
        with instance(workdir, config) as (a, _), instance(workdir, config) as (b, _):
            async with aiohttp.ClientSession() as http:
                wire = Wire(http)
                await wire.initialize(a)
                server.kill()
                status, [reply] = await wire.call(a, "tools/call", {"name": "pid_after", "arguments": {}})
                assert status == 200, reply  # A holds a copy: no store needed
                async with wire.open(b, "tools/list", {}) as resp:
                    assert resp.status == 503 and resp.headers["Retry-After"] == "1"
                    answer = await resp.json()
                    assert answer["error"]["message"] == "the session store is unavailable; try again later"
                server.start()  # empty: this Redis keeps nothing on disk, so the old records are gone
                fresh = Wire(http)
                with anyio.fail_after(10):
                    while True:
                        try:
                            await fresh.initialize(b)
                            break
                        except AssertionError:
                            await asyncio.sleep(0.2)
                status, [reply] = await fresh.call(a, "tools/call", {"name": "pid_after", "arguments": {}})
                assert status == 200, reply
    finally:
        server.kill()


# -- workers of one supervisor, memory backend, the official client -------------------------------------------------

WORKERS = """
version: 1
server:
  graceful_timeout: 3s
""" + TOOLS


def fresh_connection_client() -> httpx2.AsyncClient:
    """The official client's HTTP client, opening a new connection per request: the kernel hands each to any
    worker, so one session's requests are spread over the workers."""
    return httpx2.AsyncClient(timeout=httpx2.Timeout(30, read=300),
                              limits=httpx2.Limits(max_keepalive_connections=0))


@contextlib.asynccontextmanager
async def official(url: str, **options: Any) -> AsyncIterator[ClientSession]:
    async with fresh_connection_client() as http, streamable_http_client(url, http_client=http) as (read, write), \
            ClientSession(read, write, **options) as session:
        await session.initialize()
        yield session


async def test_workers_share_sessions_with_the_official_client(workdir: Path, runtime_dir: Path) -> None:
    """Two workers: one official-client session's calls are served by both; elicitation answers reach the worker
    whose call asked, wherever they land; after kill -9 of a worker, the session goes on."""
    (workdir / "notes.txt").write_text("first")

    async def elicit(context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        return types.ElicitResult(action="accept", content={"name": "Bo"})

    with supervisor(workdir, runtime_dir, WORKERS) as sup:
        pids = sup.pids()
        async with official(sup.url, elicitation_callback=elicit) as session:
            seen: set[int] = set()
            for _ in range(10):
                results = await asyncio.gather(*(session.call_tool("pid_after", {"seconds": 0.2}) for _ in range(12)))
                seen |= {int(r.content[0].text) for r in results}  # type: ignore[union-attr]
                if seen == pids:
                    break
            assert seen == pids

            answers = await asyncio.gather(*(session.call_tool("ask_user", {}) for _ in range(12)))
            assert [r.content[0].text for r in answers] == ["accept: {'name': 'Bo'}"] * 12  # type: ignore[union-attr]

            os.kill(min(pids), signal.SIGKILL)
            after = await asyncio.gather(*(session.call_tool("pid_after", {}) for _ in range(8)))
            assert all(not r.is_error for r in after)
            assert min(pids) not in {int(r.content[0].text) for r in after}  # type: ignore[union-attr]

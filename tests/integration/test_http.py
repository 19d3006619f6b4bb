"""Streamable HTTP: the official client end to end, and the transport's rules on the raw wire."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

from tests.integration.conftest import write_config

pytestmark = pytest.mark.anyio

CONFIG = """
version: 1
server:
  max_message_size: 64KB
  http: EXTRA
tools:
  greet: {kind: python, function: "sample_tools:greet"}
  slow: {kind: python, function: "sample_tools:slow"}
master_tools:
  box:
    description: Helpers.
    operations: {hello: greet}
"""
INIT = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}}}
HEADERS = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(proc: subprocess.Popen[Any], port: int) -> None:
    """Until the server process listens on `port`; fails with its stderr if it exits first."""
    deadline = time.monotonic() + 15
    while True:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        if proc.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"server did not start: {proc.stderr.read().decode() if proc.stderr else ''}")
        time.sleep(0.05)


@contextlib.contextmanager
def http_server(
    workdir: Path, extra: str = "{}", env: dict[str, str] | None = None, config: str | None = None
) -> Iterator[str]:
    """`webmcp serve --transport http` on a free loopback port (this file's CONFIG with `extra` as
    server.http, or the given config text); yields the endpoint URL."""
    config_path = write_config(workdir, config if config is not None else CONFIG.replace("EXTRA", extra))
    port = free_port()
    import os

    proc = subprocess.Popen([sys.executable, "-m", "webmcp", "serve", "-c", str(config_path), "--transport", "http",
                             "--port", str(port)], cwd=workdir, env={**os.environ, **(env or {})},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for_port(proc, port)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        proc.terminate()
        proc.wait(15)
        if proc.stderr:
            proc.stderr.close()


@contextlib.asynccontextmanager
async def client(url: str, **session_options: Any) -> AsyncIterator[ClientSession]:
    async with streamable_http_client(url) as (read, write), ClientSession(read, write, **session_options) as session:
        await session.initialize()
        yield session


async def post(http: aiohttp.ClientSession, url: str, body: Any, headers: dict[str, str] | None = None,
               raw: bytes | None = None) -> tuple[int, dict[str, str], Any]:
    import orjson

    data = raw if raw is not None else orjson.dumps(body)
    async with http.post(url, data=data, headers={**HEADERS, **(headers or {})}) as resp:
        text = await resp.read()
        parsed = orjson.loads(text) if resp.content_type == "application/json" and text else text
        return resp.status, dict(resp.headers), parsed


async def test_official_client_lists_and_calls_tools(workdir: Path) -> None:
    """initialize, tools/list, tools/call and a master-tool operation through the SDK's HTTP client."""
    with http_server(workdir) as url:
        async with client(url) as s:
            names = sorted(t.name for t in (await s.list_tools()).tools)
            assert names == ["box", "slow"]
            r = await s.call_tool("box", {"operation": "hello", "name": "Web"})
            assert r.content[0].text == "Hello, Web!"


async def test_progress_and_logs_stream_over_sse(workdir: Path) -> None:
    """A call that reports progress and logs answers with an SSE stream carrying them, then the result."""
    progress: list[float] = []

    async def on_progress(p: float, total: float | None, message: str | None) -> None:
        progress.append(p)

    with http_server(workdir) as url:
        async with client(url) as s:
            r = await s.call_tool("slow", {"seconds": 0.2, "marker": str(workdir / "m")}, progress_callback=on_progress)
    assert r.content[0].text == "slept"
    assert progress == [0, 1, 2, 3, 4]


async def test_concurrent_calls_in_one_session(workdir: Path) -> None:
    """Several POSTs of one session run at the same time, each with its own reply."""
    with http_server(workdir) as url:
        async with client(url) as s:
            started = time.monotonic()
            results = await asyncio.gather(*(s.call_tool("slow", {"seconds": 0.5, "marker": str(workdir / "m")})
                                             for _ in range(8)))
            elapsed = time.monotonic() - started
    assert [r.content[0].text for r in results] == ["slept"] * 8
    assert elapsed < 2.0


async def test_session_rules_on_the_raw_wire(workdir: Path) -> None:
    """Session ids: issued on initialize, required after, 404 once ended by DELETE."""
    with http_server(workdir) as url:
        async with aiohttp.ClientSession() as http:
            status, headers, body = await post(http, url, INIT)
            assert status == 200 and body["result"]["protocolVersion"] == "2025-11-25"
            sid = headers["Mcp-Session-Id"]
            ping = {"jsonrpc": "2.0", "id": 2, "method": "ping"}
            assert (await post(http, url, ping))[0] == 400
            assert (await post(http, url, ping, {"Mcp-Session-Id": "nope"}))[0] == 404
            status, _, body = await post(http, url, ping, {"Mcp-Session-Id": sid})
            assert status == 200 and body == {"jsonrpc": "2.0", "id": 2, "result": {}}
            note = {"jsonrpc": "2.0", "method": "notifications/initialized"}
            assert (await post(http, url, note, {"Mcp-Session-Id": sid}))[0] == 202
            bad_version = {"Mcp-Session-Id": sid, "MCP-Protocol-Version": "1999-01-01"}
            assert (await post(http, url, ping, bad_version))[0] == 400
            async with http.delete(url, headers={"Mcp-Session-Id": sid}) as resp:
                assert resp.status == 200
            assert (await post(http, url, ping, {"Mcp-Session-Id": sid}))[0] == 404


async def test_bad_requests_get_precise_statuses(workdir: Path) -> None:
    """Malformed JSON 400/-32700, batch 400/-32600, wrong content type 415, oversized body 413."""
    with http_server(workdir) as url:
        async with aiohttp.ClientSession() as http:
            status, _, body = await post(http, url, None, raw=b'{"jsonrpc": "2.0", "id": 1, "method": ')
            assert status == 400 and body["error"]["code"] == -32700
            status, _, body = await post(http, url, [INIT])
            assert status == 400 and body["error"]["code"] == -32600
            assert (await post(http, url, INIT, {"Content-Type": "text/plain"}))[0] == 415
            big = {**INIT, "params": {**INIT["params"], "pad": "x" * 100_000}}
            status, _, body = await post(http, url, big)
            assert status == 413 and "message too large" in body["error"]["message"]


async def test_dns_rebinding_protection(workdir: Path) -> None:
    """A foreign Host or Origin is refused; the server's own loopback names are accepted."""
    with http_server(workdir) as url:
        port = url.split(":")[2].split("/")[0]
        async with aiohttp.ClientSession() as http:
            assert (await post(http, url, INIT, {"Host": "evil.example.com"}))[0] == 421
            assert (await post(http, url, INIT, {"Origin": "http://evil.example.com"}))[0] == 403
            ok = await post(http, url, INIT, {"Host": f"localhost:{port}", "Origin": f"http://localhost:{port}"})
            assert ok[0] == 200


async def test_stateless_mode_needs_no_session(workdir: Path) -> None:
    """With stateless: true any request is served on its own, JSON only, no session id."""
    with http_server(workdir, "{stateless: true}") as url:
        async with aiohttp.ClientSession() as http:
            call = {"jsonrpc": "2.0", "id": 5, "method": "tools/call",
                    "params": {"name": "box", "arguments": {"operation": "hello", "name": "S"}}}
            status, headers, body = await post(http, url, call)
            assert status == 200 and "Mcp-Session-Id" not in headers
            assert body["result"]["content"][0]["text"] == "Hello, S!"
            status, headers, body = await post(http, url, INIT)
            assert status == 200 and "Mcp-Session-Id" not in headers
            # No stream ever carries a notification here: nothing that needs one is offered.
            assert body["result"]["capabilities"] == {"tools": {}}


async def test_bearer_token(workdir: Path) -> None:
    """With auth_token_env set, requests without the token get 401."""
    with http_server(workdir, "{auth_token_env: TEST_WEBMCP_TOKEN}", env={"TEST_WEBMCP_TOKEN": "s3cret"}) as url:
        async with aiohttp.ClientSession() as http:
            assert (await post(http, url, INIT))[0] == 401
            assert (await post(http, url, INIT, {"Authorization": "Bearer wrong"}))[0] == 401
            assert (await post(http, url, INIT, {"Authorization": "Bearer s3cret"}))[0] == 200


async def test_idle_sessions_expire(workdir: Path) -> None:
    """A session unused for session_idle_timeout is ended: its id then gets 404."""
    with http_server(workdir, "{session_idle_timeout: 1s}") as url:
        async with aiohttp.ClientSession() as http:
            _, headers, _ = await post(http, url, INIT)
            sid = headers["Mcp-Session-Id"]
            ping = {"jsonrpc": "2.0", "id": 2, "method": "ping"}
            assert (await post(http, url, ping, {"Mcp-Session-Id": sid}))[0] == 200
            await asyncio.sleep(2.6)
            assert (await post(http, url, ping, {"Mcp-Session-Id": sid}))[0] == 404


async def test_admin_reload_endpoint(workdir: Path) -> None:
    """POST /admin/reload with the admin token reloads and reports; without it, 401; the MCP token is separate."""
    with http_server(workdir, "{admin_token_env: TEST_ADMIN_TOKEN}", env={"TEST_ADMIN_TOKEN": "adm1n"}) as url:
        admin = url.replace("/mcp", "/admin/reload")
        async with aiohttp.ClientSession() as http:
            async with http.post(admin) as resp:
                assert resp.status == 401
            async with http.post(admin, headers={"Authorization": "Bearer wrong"}) as resp:
                assert resp.status == 401
            config = workdir / "webmcp.yaml"
            config.write_text(config.read_text().replace("master_tools:", "  extra: {kind: static, content: new}\n"
                                                                          "master_tools:"))
            async with http.post(admin, headers={"Authorization": "Bearer adm1n"}) as resp:
                report = await resp.json()
                assert resp.status == 200 and report["ok"] is True and report["generation"] == 2
                assert report["changes"]["added"]["tools"] == ["extra"]
            config.write_text(config.read_text().replace("master_tools:", "  broken: {kind: nope}\nmaster_tools:"))
            async with http.post(admin, headers={"Authorization": "Bearer adm1n"}) as resp:
                report = await resp.json()
                assert resp.status == 422 and report["ok"] is False and "kept generation 2" in report["message"]


async def test_no_admin_endpoint_without_a_token(workdir: Path) -> None:
    """Without admin_token_env there is no /admin/reload at all."""
    with http_server(workdir) as url:
        async with aiohttp.ClientSession() as http, http.post(url.replace("/mcp", "/admin/reload")) as resp:
            assert resp.status == 404


async def test_a_cancelled_call_ends_its_post_and_frees_its_id(workdir: Path) -> None:
    """notifications/cancelled: the call's POST ends (202, no reply), and its id can be used again."""
    with http_server(workdir) as url:
        async with aiohttp.ClientSession() as http:
            _, headers, _ = await post(http, url, INIT)
            sid = {"Mcp-Session-Id": headers["Mcp-Session-Id"], "Accept": "application/json"}
            call = {"jsonrpc": "2.0", "id": 7, "method": "tools/call",
                    "params": {"name": "slow", "arguments": {"seconds": 5, "marker": str(workdir / "m")}}}
            pending = asyncio.ensure_future(post(http, url, call, sid))
            await asyncio.sleep(0.3)
            cancel = {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 7}}
            assert (await post(http, url, cancel, sid))[0] == 202
            status, _, body = await asyncio.wait_for(pending, 5)
            assert status == 202 and not body
            again = {**call, "params": {"name": "box", "arguments": {"operation": "hello", "name": "x"}}}
            assert (await post(http, url, again, sid))[2]["result"]["content"][0]["text"] == "Hello, x!"


async def test_unusable_messages_and_stateless_subscriptions_are_refused(workdir: Path) -> None:
    """A message that is neither request, notification nor response is 400; stateless mode has no subscriptions."""
    config = CONFIG.replace("EXTRA", "{stateless: true}") + 'resources:\n  r: {uri: "x://r", text: "r"}\n'
    with http_server(workdir, config=config) as url:
        async with aiohttp.ClientSession() as http:
            assert (await post(http, url, {"jsonrpc": "2.0", "id": 1}))[0] == 400
            sub = {"jsonrpc": "2.0", "id": 2, "method": "resources/subscribe", "params": {"uri": "x://r"}}
            body = (await post(http, url, sub))[2]
            assert body["error"]["code"] == -32601 and "stateless" in body["error"]["message"]


async def test_public_bind_without_allow_list_still_refuses_foreign_origins(workdir: Path) -> None:
    """Bound to 0.0.0.0 with no allowed_hosts: any Host is served, but a browser Origin must match it."""
    with http_server(workdir, "{host: 0.0.0.0}") as url:
        port = url.split(":")[2].split("/")[0]
        async with aiohttp.ClientSession() as http:
            assert (await post(http, url, INIT, {"Host": f"mybox.lan:{port}"}))[0] == 200
            assert (await post(http, url, INIT, {"Origin": "http://evil.example.com"}))[0] == 403
            same = {"Host": f"mybox.lan:{port}", "Origin": f"http://mybox.lan:{port}"}
            assert (await post(http, url, INIT, same))[0] == 200


async def test_session_cap_ends_the_least_recently_used_idle_session(workdir: Path) -> None:
    """With max_sessions: 2, a third initialize succeeds by ending the oldest idle session."""
    with http_server(workdir, "{max_sessions: 2}") as url:
        async with aiohttp.ClientSession() as http:
            sids = []
            for _ in range(3):
                status, headers, _ = await post(http, url, INIT)
                assert status == 200
                sids.append(headers["Mcp-Session-Id"])
                await asyncio.sleep(0.01)
            ping = {"jsonrpc": "2.0", "id": 9, "method": "ping"}
            statuses = [(await post(http, url, ping, {"Mcp-Session-Id": sid}))[0] for sid in sids]
    assert statuses == [404, 200, 200]


async def test_health_and_readiness_through_a_drain(workdir: Path) -> None:
    """/healthz and /readyz answer 200; SIGTERM during a call: /readyz is 503, new sessions are refused, the
    running call still completes and its POST gets the result, then the server exits 0."""
    text = CONFIG.replace("EXTRA", "{}").replace("  max_message_size: 64KB",
                                                 "  max_message_size: 64KB\n  graceful_timeout: 5s")
    config = write_config(workdir, text)
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "webmcp", "serve", "-c", str(config), "--transport", "http",
                             "--port", str(port)], cwd=workdir, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_port(proc, port)
        async with aiohttp.ClientSession() as http:
            async with http.get(base + "/healthz") as resp:
                assert resp.status == 200
            async with http.get(base + "/readyz") as resp:
                assert resp.status == 200 and (await resp.json())["status"] == "ready"
            _, headers, _ = await post(http, base + "/mcp", INIT)
            call = {"jsonrpc": "2.0", "id": 3, "method": "tools/call",
                    "params": {"name": "slow", "arguments": {"seconds": 1.5, "marker": str(workdir / "m")}}}
            json_only = {"Mcp-Session-Id": headers["Mcp-Session-Id"], "Accept": "application/json"}
            pending = asyncio.ensure_future(post(http, base + "/mcp", call, json_only))
            await asyncio.sleep(0.3)
            proc.terminate()
            await asyncio.sleep(0.3)
            async with http.get(base + "/readyz") as resp:
                assert resp.status == 503 and (await resp.json())["status"] == "stopping"
            assert (await post(http, base + "/mcp", INIT))[0] == 503
            status, _, body = await pending
            assert status == 200 and body["result"]["content"][0]["text"] == "slept"
        assert await asyncio.to_thread(proc.wait, 10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stderr:
            proc.stderr.close()


async def test_an_admin_client_that_gives_up_does_not_abort_the_reload(workdir: Path) -> None:
    """The reload requested by POST /admin/reload goes on when its client disconnects mid-way."""
    (workdir / "slow_module.py").write_text("import time\ntime.sleep(1.0)\n\ndef hello() -> str:\n    return 'hi'\n")
    with http_server(workdir, "{admin_token_env: TEST_ADMIN_TOKEN}", env={"TEST_ADMIN_TOKEN": "adm1n"}) as url:
        config = workdir / "webmcp.yaml"
        config.write_text(config.read_text().replace(
            "master_tools:", '  late: {kind: python, function: "slow_module:hello"}\nmaster_tools:'))
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=0.3)) as http:
            with pytest.raises(TimeoutError):
                await http.post(url.replace("/mcp", "/admin/reload"), headers={"Authorization": "Bearer adm1n"})
        await asyncio.sleep(2.0)
        async with aiohttp.ClientSession() as http, http.get(url.replace("/mcp", "/readyz")) as resp:
            assert (await resp.json())["generation"] == 2


def test_validate_diff_compares_with_the_flags_the_server_was_started_with(workdir: Path, runtime_dir: Path) -> None:
    """`validate --diff` against a server started with --transport http --port reads the file with those flags:
    settings the flags gave are not reported as ignored until restart; a setting the file changed still is."""
    with http_server(workdir, "{max_sessions: 10}"):
        config = workdir / "webmcp.yaml"

        def diff() -> list[str]:
            done = subprocess.run([sys.executable, "-m", "webmcp", "validate", "-c", str(config), "--diff"],
                                  capture_output=True, text=True, timeout=60, cwd=workdir)
            assert done.returncode == 0, done.stderr
            return done.stdout.splitlines()[1:]

        assert diff() == [f"changes from the running server to {config}:", "  no changes"]
        config.write_text(config.read_text().replace("max_sessions: 10", "max_sessions: 20"))
        assert diff() == [f"changes from the running server to {config}:", "  ignored until restart: server.http"]

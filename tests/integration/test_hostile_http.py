"""The HTTP listener against a hostile client: malformed headers, spoofed hosts, trickling connections, and
the endpoints a token guards. Each test is a defect found by trying the server that way (issue #17)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import anyio
import orjson
import pytest

from tests.integration.conftest import write_config
from tests.integration.test_http import CONFIG, INIT, free_port, post, wait_for_port

pytestmark = pytest.mark.anyio


@contextlib.contextmanager
def serve(workdir: Path, extra: str = "{}", env: dict[str, str] | None = None) -> Iterator[tuple[int, Path]]:
    """`webmcp serve --transport http` with `extra` as server.http; yields (port, the file its stderr goes to)."""
    config = write_config(workdir, CONFIG.replace("EXTRA", extra))
    port = free_port()
    errors = workdir / "stderr.log"
    with errors.open("wb") as stderr:
        proc = subprocess.Popen([sys.executable, "-m", "webmcp", "serve", "-c", str(config), "--transport", "http",
                                 "--port", str(port)], cwd=workdir, env={**os.environ, **(env or {})},
                                stdout=subprocess.DEVNULL, stderr=stderr)
        try:
            wait_for_port(proc, port)
            yield port, errors
        finally:
            proc.terminate()
            proc.wait(15)


async def raw_request(port: int, head: bytes, body: bytes = b"") -> tuple[int, bytes]:
    """Send `head` (request line and headers, as bytes) and `body`; the status and body of the reply."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(head + b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()
    status_line, _, rest = answer.partition(b"\r\n")
    return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2]


async def test_a_non_utf8_protocol_version_header_is_a_400_not_a_500(workdir: Path) -> None:
    """An MCP-Protocol-Version header that is not UTF-8 gets 400 with a JSON-RPC error naming it, and no
    traceback is logged; the server goes on serving."""
    with serve(workdir) as (port, errors):
        head = (b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                b"Accept: application/json\r\nMCP-Protocol-Version: 2025-\xff\xfe-18\r\n")
        status, body = await raw_request(port, head, orjson.dumps(INIT))
        assert status == 400
        assert b'"code":-32600' in body and b"MCP-Protocol-Version header is not valid UTF-8" in body
        async with aiohttp.ClientSession() as http:
            assert (await post(http, f"http://127.0.0.1:{port}/mcp", INIT))[0] == 200
    assert "Traceback" not in errors.read_text()


async def test_the_host_check_parses_bracketed_addresses(workdir: Path) -> None:
    """`[::1]` followed by anything is not the loopback name `[::1]`: Host and Origin are refused."""
    with serve(workdir) as (port, _):
        url = f"http://127.0.0.1:{port}/mcp"
        async with aiohttp.ClientSession() as http:
            assert (await post(http, url, INIT, {"Host": "[::1]evil.example"}))[0] == 421
            assert (await post(http, url, INIT, {"Host": "[::1]:80evil.example"}))[0] == 421
            assert (await post(http, url, INIT, {"Origin": "http://[::1]evil.example"}))[0] == 403
            assert (await post(http, url, INIT, {"Host": f"[::1]:{port}", "Origin": f"http://[::1]:{port}"}))[0] == 200


async def test_a_public_bind_refuses_origins_that_do_not_parse(workdir: Path) -> None:
    """Without an allow-list, an Origin matching a malformed Host (both unparseable) is still refused."""
    with serve(workdir, "{host: 0.0.0.0}") as (port, _):
        url = f"http://127.0.0.1:{port}/mcp"
        async with aiohttp.ClientSession() as http:
            bad = {"Host": "[::1]evil.example", "Origin": "http://[::1]evil.example"}
            assert (await post(http, url, INIT, bad))[0] == 403


async def test_metrics_need_the_token_when_one_is_configured(workdir: Path) -> None:
    """With auth_token_env set, /metrics answers 401 without the token and 200 with it (as Prometheus scrapes
    with a bearer token); /healthz and /readyz stay open for probes."""
    with serve(workdir, "{auth_token_env: TEST_WEBMCP_TOKEN}", env={"TEST_WEBMCP_TOKEN": "s3cret"}) as (port, _):
        base = f"http://127.0.0.1:{port}"
        async with aiohttp.ClientSession() as http:
            async with http.get(base + "/metrics") as resp:
                assert resp.status == 401 and "webmcp_" not in await resp.text()
            async with http.get(base + "/metrics", headers={"Authorization": "Bearer wrong"}) as resp:
                assert resp.status == 401
            async with http.get(base + "/metrics", headers={"Authorization": "Bearer s3cret"}) as resp:
                assert resp.status == 200
            for probe in ("/healthz", "/readyz"):
                async with http.get(base + probe) as resp:
                    assert resp.status == 200


async def trickle(port: int, head: bytes, drip: bytes, every: float = 0.3, limit: float = 15.0) -> tuple[float, bytes]:
    """Send `head`, then `drip` every `every` seconds until the server closes the connection; how long that
    took, and what the server answered."""
    started = asyncio.get_running_loop().time()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    answer = b""
    try:
        writer.write(head)
        while asyncio.get_running_loop().time() - started < limit:
            try:
                chunk = await asyncio.wait_for(reader.read(65536), every)
            except TimeoutError:
                writer.write(drip)
                continue
            if not chunk:
                break
            answer += chunk
    except ConnectionError:
        pass
    finally:
        writer.close()
    return asyncio.get_running_loop().time() - started, answer


async def test_trickling_clients_are_cut_off_while_a_normal_client_is_served(workdir: Path) -> None:
    """Ten connections trickling header lines and ten trickling a chunked body that never ends are closed within
    header_timeout / body_timeout (the body ones with 408); meanwhile a normal client is served at once."""
    with serve(workdir, "{header_timeout: 1s, body_timeout: 1s}") as (port, _):
        start = b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        chunked = start + (b"Content-Type: application/json\r\nAccept: application/json\r\n"
                           b"Transfer-Encoding: chunked\r\n\r\n")
        slow = [trickle(port, start, b"X-Slow: 1\r\n") for _ in range(10)]
        slow += [trickle(port, chunked, b"1\r\n \r\n") for _ in range(10)]
        pending = asyncio.gather(*slow)
        await asyncio.sleep(0.3)
        async with aiohttp.ClientSession() as http:
            started = asyncio.get_running_loop().time()
            assert (await post(http, f"http://127.0.0.1:{port}/mcp", INIT))[0] == 200
            assert asyncio.get_running_loop().time() - started < 1.0
        results = await pending
    headers, bodies = results[:10], results[10:]
    assert all(took < 3.0 for took, _ in headers), headers
    assert all(took < 4.0 and answer.startswith(b"HTTP/1.1 408") for took, answer in bodies), bodies


async def test_connections_over_the_caps_get_503_at_once(workdir: Path) -> None:
    """max_connections_per_client: 3 idle connections from 127.0.0.1 are kept, a fourth gets 503; with
    max_connections: 5 a connection from another address beyond the total gets 503 too; once the idle
    connections close, requests are served again."""
    with serve(workdir, "{max_connections: 5, max_connections_per_client: 3, header_timeout: 30s}") as (port, _):
        idle = [await asyncio.open_connection("127.0.0.1", port) for _ in range(3)]
        refused = await raw_request(port, b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        assert refused[0] == 503 and b"max_connections_per_client" in refused[1]
        idle += [await asyncio.open_connection("127.0.0.1", port, local_addr=("127.0.0.2", 0)) for _ in range(2)]
        reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=("127.0.0.3", 0))
        answer = await asyncio.wait_for(reader.read(), 5)
        writer.close()
        assert answer.startswith(b"HTTP/1.1 503") and b"server.http.max_connections)" in answer
        for _, w in idle:
            w.close()
        await asyncio.sleep(0.2)
        assert (await raw_request(port, b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"))[0] == 200


async def test_sessions_and_event_streams_are_capped(workdir: Path) -> None:
    """max_sessions: 2 sessions, both busy (each holds its GET stream), so a third initialize gets 503 with
    Retry-After; a second GET stream on one session replaces the first (one stream per session); 2026-07-28
    listen streams stop at max_sessions too (503); once a stream ends, its session can be evicted and
    initialize succeeds again."""
    from tests.integration.test_sessionless import _headers, _request

    with serve(workdir, "{max_sessions: 2}") as (port, _):
        url = f"http://127.0.0.1:{port}/mcp"
        sse = {"Accept": "text/event-stream"}
        async with aiohttp.ClientSession() as http:
            sids = []
            for _ in range(2):
                status, headers, _ = await post(http, url, INIT)
                assert status == 200
                sids.append(headers["Mcp-Session-Id"])
            streams = [await http.get(url, headers={**sse, "Mcp-Session-Id": sid}) for sid in sids]
            assert all(s.status == 200 for s in streams)
            status, headers, body = await post(http, url, INIT)
            assert status == 503 and headers["Retry-After"] and "too many sessions" in body["error"]["message"]
            async with http.get(url, headers={**sse, "Mcp-Session-Id": sids[0]}) as second:
                assert second.status == 200  # one GET stream per session: the new one replaces the first
                with anyio.fail_after(5):
                    assert await streams[0].content.read() == b""

            listen = {**_headers("subscriptions/listen"), "Accept": "application/json, text/event-stream"}
            held = [await http.post(url, data=orjson.dumps(_request("subscriptions/listen", {"notifications": {}},
                                                                    mid=f"l{i}")),
                                    headers={"Content-Type": "application/json", **listen}) for i in range(2)]
            assert all(h.status == 200 and h.content_type == "text/event-stream" for h in held)
            status, _, body = await post(http, url, _request("subscriptions/listen", {"notifications": {}}), listen)
            assert status == 503 and "too many listen streams" in body["error"]["message"]
            for response in (*streams, *held):
                response.close()
            for _ in range(50):
                status, _, _ = await post(http, url, INIT)
                if status == 200:
                    break
                await asyncio.sleep(0.1)
            assert status == 200


@pytest.mark.slow
async def test_the_telemetry_listener_cuts_trickling_and_greedy_clients(workdir: Path) -> None:
    """telemetry.listen (a stdio server's /metrics): a connection trickling header lines is closed within the
    10s header deadline; from one address, 16 idle connections are kept and a 17th gets 503 at once, while
    /healthz still answers from another address."""
    from tests.integration.conftest import connect

    port = free_port()
    config = write_config(workdir, f'version: 1\ntelemetry: {{metrics: true, listen: "127.0.0.1:{port}"}}\n'
                                   "tools:\n  about: {kind: static, content: hi}\n")
    async with connect(config):
        took, _ = await trickle(port, b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n", b"X-Slow: 1\r\n",
                                every=1.0, limit=20.0)
        assert took < 13.0, took
        idle = [await asyncio.open_connection("127.0.0.1", port) for _ in range(16)]
        refused = await raw_request(port, b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        assert refused[0] == 503
        reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=("127.0.0.2", 0))
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        assert (await asyncio.wait_for(reader.read(), 5)).startswith(b"HTTP/1.1 200")
        writer.close()
        for _, w in idle:
            w.close()

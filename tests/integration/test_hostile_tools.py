"""Tools against hostile arguments and hostile backends: each test is a defect found by trying the server as a
hostile client would (issue #17), driven through the official client against a real `webmcp serve`."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import aiohttp
import pytest

from tests.integration.backend import run_backend
from tests.integration.conftest import connect, write_config
from tests.integration.test_http import free_port

pytestmark = pytest.mark.anyio

COMMANDS = """
version: 1
server: {event_loop: LOOP}
tools:
  report:
    kind: command
    argv: [python3, -c, "import os, sys; print(sys.argv[1:], os.environ['MODE'])", "--file={name}.txt"]
    env: {MODE: "{mode}"}
    input: {type: object, properties: {name: {type: string}, mode: {type: string}}, required: [name, mode]}
"""


@pytest.mark.parametrize("loop", ["uvloop", "asyncio"])
async def test_a_nul_byte_in_a_command_argument_is_refused_on_every_loop(workdir: Path, loop: str) -> None:
    """A NUL in an argument bound for argv or env is an isError result naming the argument, and nothing runs
    (uvloop used to cut `--file=report\\0-evil.txt` to `--file=report`)."""
    config = write_config(workdir, COMMANDS.replace("LOOP", loop))
    async with connect(config) as s:
        r = await s.call_tool("report", {"name": "report\0-evil", "mode": "fast"})
        assert r.is_error
        assert r.content[0].text == ("Tool 'report': argument 'name' contains a NUL byte, which a command's argv[3] "
                                     "cannot carry; nothing was run")
        r = await s.call_tool("report", {"name": "report", "mode": "fa\0st"})
        text = r.content[0].text
        assert r.is_error and "argument 'mode' contains a NUL byte" in text and "env MODE" in text
        r = await s.call_tool("report", {"name": "report", "mode": "fast"})
        assert not r.is_error and r.content[0].text.strip() == "['--file=report.txt'] fast"


HTTP_TOOLS = """
version: 1
tools:
  looping:
    kind: http
    request: {url: "BASE/loop", query: {api_key: "${TEST_API_KEY}"}}
"""


async def test_a_redirect_loop_error_does_not_show_the_query_secret(workdir: Path) -> None:
    """The error result of a failed request names the URL without its query, even when the exception quotes it."""
    with run_backend() as (base, _):
        config = write_config(workdir, HTTP_TOOLS.replace("BASE", base))
        async with connect(config, env={**os.environ, "TEST_API_KEY": "k-SECRET-123"}) as s:
            r = await s.call_tool("looping", {})
    assert r.is_error and f"{base}/loop" in r.content[0].text
    assert "k-SECRET-123" not in r.content[0].text and "api_key" not in r.content[0].text


REDIRECTS = """
version: 1
tools:
  hop:
    kind: http
    request:
      url: "BASE/redirect"
      query: {to: "{to}"}
      headers: {X-Api-Key: "${TEST_API_KEY}", Authorization: "Bearer ${TEST_API_KEY}", X-Trace: "t-1"}
"""


async def test_a_redirect_to_another_origin_drops_every_configured_header(workdir: Path) -> None:
    """A redirect within the origin keeps the configured headers; one to another origin (another port) is
    followed without any of them, so a custom X-Api-Key never reaches it."""
    with run_backend() as (base, seen), run_backend() as (other, elsewhere):
        config = write_config(workdir, REDIRECTS.replace("BASE", base))
        async with connect(config, env={**os.environ, "TEST_API_KEY": "k-SECRET-123"}) as s:
            same = await s.call_tool("hop", {"to": "/search?q=same"})
            away = await s.call_tool("hop", {"to": f"{other}/search?q=away"})
    assert not same.is_error and not away.is_error
    assert away.structured_content == {"query": "away", "limit": None, "hits": 3}
    (here,) = [r["headers"] for r in seen if r["path"] == "/search"]
    assert here["X-Api-Key"] == "k-SECRET-123" and here["X-Trace"] == "t-1"
    (there,) = [r["headers"] for r in elsewhere if r["path"] == "/search"]
    assert not {"X-Api-Key", "Authorization", "X-Trace"} & set(there)
    assert "k-SECRET-123" not in str(there)


HUNG = """
version: 1
executor: {threads: 2}
telemetry: {listen: "127.0.0.1:PORT"}
tools:
  hang: {kind: python, function: "sample_tools:blocking_sleep", timeout: 300ms}
  greet: {kind: python, function: "sample_tools:greet"}
"""


async def test_hung_sync_calls_do_not_starve_the_other_sync_tools(workdir: Path) -> None:
    """With threads: 2, two sync calls past their timeout keep running in their threads; each thread is
    replaced, so an unrelated sync tool still answers at once; /metrics and the log report it."""
    port = free_port()
    config = write_config(workdir, HUNG.replace("PORT", str(port)))
    log = workdir / "stderr.log"
    with log.open("w") as errlog:
        async with connect(config, stderr=errlog) as s:
            hung = await asyncio.gather(*(s.call_tool("hang", {"seconds": 4}) for _ in range(2)))
            assert all(r.is_error and "timed out" in r.content[0].text for r in hung)
            started = time.monotonic()
            r = await s.call_tool("greet", {"name": "still served"})
            assert not r.is_error and time.monotonic() - started < 1.0
            async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/metrics") as resp:
                metrics = await resp.text()
    assert "webmcp_worker_threads_lost 2.0" in metrics and "webmcp_worker_threads_replaced_total 2.0" in metrics
    assert "still holds its worker thread: replaced" in log.read_text()

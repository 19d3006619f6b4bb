"""Rate limits (per tool, per operation, per client) and the memory guard, through real servers."""

from __future__ import annotations

import os
import re
import signal
import time
from pathlib import Path

import pytest

from tests.integration.conftest import connect, write_config
from tests.integration.rawstdio import RawServer
from tests.integration.test_http import client, http_server

pytestmark = pytest.mark.anyio

RETRY = r"retry in \d+(\.\d)?m?s"


async def test_a_tool_over_its_rate_limit_is_refused_at_once(workdir: Path) -> None:
    """Past its bucket a tool's call is an isError result naming the limit; a master-tool operation has its own."""
    config = write_config(workdir, """
version: 1
tools:
  greet: {kind: python, function: "sample_tools:greet", rate_limit: 2/min}
  other: {kind: python, function: "sample_tools:greet", rate_limit: {rate: 1/hour}}
master_tools:
  box:
    description: Helpers.
    operations: {hello: other, ping: {kind: static, content: pong, rate_limit: {rate: 10/min, burst: 1}}}
""")
    async with connect(config) as s:
        for _ in range(2):
            assert not (await s.call_tool("greet", {"name": "a"})).is_error
        started = time.monotonic()
        refused = await s.call_tool("greet", {"name": "a"})
        assert time.monotonic() - started < 0.5
        assert refused.is_error
        assert re.fullmatch(rf"rate limit 2/min for tool 'greet' exceeded; {RETRY}", refused.content[0].text)
        assert (await s.call_tool("box", {"operation": "hello", "name": "b"})).content[0].text == "Hello, b!"
        refused = await s.call_tool("box", {"operation": "hello", "name": "b"})
        assert re.fullmatch(rf"rate limit 1/hour for tool 'other' exceeded; {RETRY}", refused.content[0].text)
        assert (await s.call_tool("box", {"operation": "ping"})).content[0].text == "pong"
        refused = await s.call_tool("box", {"operation": "ping"})  # burst 1: the next token comes in 6s
        assert refused.is_error and refused.content[0].text == \
            "rate limit 10/min for tool 'box.ping' exceeded; retry in 6.0s"


async def test_each_http_session_has_its_own_client_bucket(workdir: Path) -> None:
    """executor.client_rate_limit and a per-client tool limit count each session apart."""
    config = """
version: 1
executor: {client_rate_limit: 3/min}
tools:
  greet: {kind: python, function: "sample_tools:greet"}
  mine: {kind: python, function: "sample_tools:greet", rate_limit: {rate: 1/min, per: client}}
"""
    with http_server(workdir, config=config) as url:
        async with client(url) as first, client(url) as second:
            assert not (await first.call_tool("mine", {"name": "a"})).is_error
            refused = await first.call_tool("mine", {"name": "a"})
            assert re.fullmatch(rf"rate limit 1/min per client for tool 'mine' exceeded; {RETRY}",
                                refused.content[0].text)
            assert not (await second.call_tool("mine", {"name": "b"})).is_error  # its own bucket
            assert not (await first.call_tool("greet", {"name": "a"})).is_error  # first: its 3rd call
            refused = await first.call_tool("greet", {"name": "a"})
            assert re.fullmatch(rf"rate limit 3/min per client exceeded \(executor.client_rate_limit\); {RETRY}",
                                refused.content[0].text)
            for _ in range(2):
                assert not (await second.call_tool("greet", {"name": "b"})).is_error


def test_buckets_keep_their_tokens_across_an_unrelated_reload(workdir: Path, tmp_path: Path) -> None:
    """A reload that leaves a tool's limit alone keeps its bucket; one that changes the limit starts afresh."""
    base = """
version: 1
tools:
  greet: {kind: python, function: "sample_tools:greet", rate_limit: RATE}
"""
    config = write_config(workdir, base.replace("RATE", "1/hour"))
    raw = RawServer(config)
    try:
        def call(mid: int) -> dict[str, object]:
            raw.call(mid, "greet", {"name": "x"})
            return raw.until(lambda m: m.get("id") == mid)[-1]["result"]  # type: ignore[no-any-return]

        def reload(text: str) -> None:
            config.write_text(text)
            raw.proc.send_signal(signal.SIGHUP)
            raw.until(lambda m: m.get("method") == "notifications/tools/list_changed")

        assert not call(1)["isError"]
        assert call(2)["isError"]
        reload(base.replace("RATE", "1/hour") + '  about: {kind: static, content: "new"}\n')
        assert call(3)["isError"]  # same limit: the empty bucket was kept
        reload(base.replace("RATE", "2/hour"))
        assert not call(4)["isError"]  # a new limit: a new, full bucket
    finally:
        raw.stop()


async def test_memory_guard_sheds_low_priority_calls_and_recovers(workdir: Path) -> None:
    """Over 90% of max_memory new low-priority calls are refused, critical ones run; under 80% all run again."""
    config = write_config(workdir, """
version: 1
scaling:
  targets: {max_memory: 150MB}
  shed: [low]
tools:
  greet: {kind: python, function: "sample_tools:greet", priority: low}
  hog: {kind: python, function: "sample_tools:hog", priority: critical}
  release: {kind: python, function: "sample_tools:release", priority: critical}
""")
    async with connect(config, env=dict(os.environ)) as s:
        assert not (await s.call_tool("greet", {"name": "a"})).is_error
        assert (await s.call_tool("hog", {"megabytes": 160})).content[0].text == "holding 160MB"
        time.sleep(0.6)  # the guard samples every 250 ms
        refused = await s.call_tool("greet", {"name": "a"})
        assert refused.is_error
        assert re.fullmatch(r"overloaded: memory \d+MB of 150MB \(scaling.targets.max_memory\); new 'low' priority "
                            r"calls are refused until it falls; try again later", refused.content[0].text)
        assert (await s.call_tool("release", {})).content[0].text == "released"
        time.sleep(0.6)
        assert (await s.call_tool("greet", {"name": "a"})).content[0].text == "Hello, a!"


@pytest.mark.anyio
@pytest.mark.parametrize("trusted", [True, False])
async def test_clients_behind_a_trusted_proxy_are_told_apart(workdir: Path, trusted: bool) -> None:
    """Stateless requests count per client address; behind a trusted proxy that is the X-Forwarded-For
    address the proxy added, never one a client made up (the untrusted case shares one bucket)."""
    import aiohttp

    from tests.integration.test_http import post

    proxies = "trusted_proxies: [127.0.0.0/8], " if trusted else ""
    text = f"""
version: 1
server: {{http: {{{proxies}stateless: true}}}}
executor: {{client_rate_limit: 1/min}}
tools:
  greet: {{kind: python, function: "sample_tools:greet"}}
"""
    call = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "greet", "arguments": {"name": "x"}}}
    with http_server(workdir, config=text) as url:
        async with aiohttp.ClientSession() as http:
            texts = []
            for forwarded in ("203.0.113.7", "spoofed, 203.0.113.8", "203.0.113.7"):
                _, _, body = await post(http, url, call, {"X-Forwarded-For": forwarded})
                texts.append(body["result"]["content"][0]["text"])
    limited = [t.startswith("rate limit 1/min per client exceeded") for t in texts]
    assert limited == ([False, False, True] if trusted else [False, True, True]), texts

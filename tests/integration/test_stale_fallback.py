"""`fallback: {cached: true}` through a real `webmcp serve`: the last cached result, marked stale, once its
upstream (a real aiohttp backend) is killed, past TTL and eviction; never after an invalidation; kept
across an unrelated reload; and the config errors."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from tests.integration.conftest import connect, write_config
from tests.integration.replicas import Replicas, run_replicas
from tests.integration.test_cache_clear import cache_clear
from tests.integration.test_reload import cli_reload, wait_for_run_file

pytestmark = pytest.mark.anyio


@pytest.fixture
def replicas() -> Iterator[Replicas]:
    with run_replicas("a") as r:
        yield r


def config_text(replicas: Replicas, fallback: str = '{cached: true, message: "nothing cached"}') -> str:
    return f"""
version: 1
caches:
  short: {{strategy: ttl, ttl: 300ms, max_entries: 2}}
upstreams:
  api: {{kind: http, endpoints: ["{replicas['a'].url}"]}}
tools:
  who:
    kind: http
    upstream: api
    request: {{path: "/who/{{key}}"}}
    cache: {{use: short, tags: ["k:{{key}}"]}}
    fallback: {fallback}
  only_cached:
    kind: http
    upstream: api
    request: {{path: "/who/{{key}}"}}
    cache: {{strategy: ttl, ttl: 100ms}}
    fallback: {{cached: true}}
  touch:
    kind: python
    function: "sample_tools:mutate"
    invalidates: ["k:{{user_id}}"]
"""


def fresh(result: Any, key: str) -> None:
    assert not result.is_error, result.content[0].text
    assert result.structured_content == {"replica": "a", "key": key}
    assert not (result.meta or {}).get("webmcp/stale")


def stale(result: Any, key: str, older_than_ms: int = 0) -> int:
    assert not result.is_error, result.content[0].text
    assert result.structured_content == {"replica": "a", "key": key}
    meta = result.meta or {}
    assert meta["webmcp/stale"] is True
    assert meta["webmcp/age_ms"] >= older_than_ms
    note = result.content[-1].text
    assert note.startswith("[stale: this result is from ") and note.endswith(" ago; the live source is failing]")
    assert len(result.content) == 2  # the original text block, then the note
    age: int = meta["webmcp/age_ms"]
    return age


async def test_last_cached_result_is_served_stale_after_ttl_and_eviction(workdir: Path, replicas: Replicas) -> None:
    """With the backend killed, a key whose entry expired or was evicted answers its last result marked
    stale; a key never cached gets the fallback message; the stale answer is not cached as fresh."""
    config = write_config(workdir, config_text(replicas))
    log = workdir / "log.txt"
    async with connect(config) as s:
        for key in ("k1", "k2", "k3"):  # k1 is evicted (max_entries: 2)
            fresh(await s.call_tool("who", {"key": key}), key)
        fresh(await s.call_tool("only_cached", {"key": "k1"}), "k1")
        await anyio.sleep(0.4)  # past the TTL of all of them
        replicas.kill("a")
        old = stale(await s.call_tool("who", {"key": "k1"}), "k1", older_than_ms=400)
        stale(await s.call_tool("who", {"key": "k3"}), "k3", older_than_ms=400)
        stale(await s.call_tool("only_cached", {"key": "k1"}), "k1")
        r = await s.call_tool("who", {"key": "never"})
        assert (r.is_error, r.content[0].text) == (False, "nothing cached")
        r = await s.call_tool("only_cached", {"key": "never"})  # cached: true alone: the failure itself
        assert r.is_error and "failed: ClientConnectorError" in r.content[0].text

        replicas.start("a")
        fresh(await s.call_tool("who", {"key": "k1"}), "k1")  # the stale answer was not stored
        assert replicas["a"].hits["GET /who/k1"] == 3  # who, only_cached, who again
        await anyio.sleep(0.35)
        replicas.kill("a")
        assert stale(await s.call_tool("who", {"key": "k1"}), "k1", older_than_ms=350) < old  # the newer copy

        # invalidation drops the stale copy too: by invalidates:, then by `webmcp cache clear` (below)
        assert (await s.call_tool("touch", {"log": str(log), "user_id": "k3"})).content[0].text == "changed"
        r = await s.call_tool("who", {"key": "k3"})
        assert r.content[0].text == "nothing cached"
        stale(await s.call_tool("who", {"key": "k1"}), "k1")  # another tag's copy stays


async def test_cache_clear_drops_stale_copies_and_a_reload_keeps_them(workdir: Path, replicas: Replicas,
                                                                      runtime_dir: Path) -> None:
    """After an unrelated reload the stale copies are still served; `webmcp cache clear` drops them."""
    config = write_config(workdir, config_text(replicas))
    async with connect(config, env={"XDG_RUNTIME_DIR": str(runtime_dir)}) as s:
        for key in ("k1", "k2"):
            fresh(await s.call_tool("who", {"key": key}), key)
        wait_for_run_file(runtime_dir)
        config.write_text(config.read_text() + '  about: {kind: static, content: "added"}\n')
        done = await anyio.to_thread.run_sync(cli_reload, config)
        assert done.returncode == 0, done.stdout + done.stderr
        assert (await s.call_tool("about", {})).content[0].text == "added"
        replicas.kill("a")
        stale(await s.call_tool("who", {"key": "k1"}), "k1")
        stale(await s.call_tool("who", {"key": "k2"}), "k2")
        done = await anyio.to_thread.run_sync(lambda: cache_clear(config, "--tag", "k:k1"))
        assert done.returncode == 0, done.stdout + done.stderr
        assert (await s.call_tool("who", {"key": "k1"})).content[0].text == "nothing cached"
        stale(await s.call_tool("who", {"key": "k2"}), "k2")
        done = await anyio.to_thread.run_sync(lambda: cache_clear(config, "--all"))
        assert done.returncode == 0, done.stdout + done.stderr
        assert (await s.call_tool("who", {"key": "k2"})).content[0].text == "nothing cached"


async def test_a_cached_fallback_needs_a_cache(workdir: Path) -> None:
    """`fallback: {cached: true}` without a cache, or with a cache that stores nothing, is a located error;
    so are a bad fallback shape and an unknown key."""
    config = write_config(workdir, """
version: 1
caches:
  nothing: {strategy: none}
tools:
  a: {kind: static, content: x, fallback: {cached: true}}
  b: {kind: static, content: x, fallback: {cached: true, tool: a, message: m}}
  c: {kind: static, content: x, fallback: {cached: false}}
  d: {kind: static, content: x, cache: nothing, fallback: {cached: true}}
""")
    proc = await anyio.run_process([sys.executable, "-m", "webmcp", "validate", "-c", str(config)], check=False)
    where = str(config)
    assert proc.stdout.decode().splitlines() == [
        f"{where}:7:33: tools.b.fallback: must be {{tool: NAME}}, {{message: TEXT}} or {{cached: true}}; cached: "
        "true may add one of tool or message",
        f"{where}:8:44: tools.c.fallback.cached: must be true (got false)",
    ]
    config.write_text(config.read_text().replace("  b: {", "#").replace("  c: {", "#"))
    proc = await anyio.run_process([sys.executable, "-m", "webmcp", "validate", "-c", str(config)], check=False)
    assert proc.stdout.decode().splitlines() == [
        f"{where}:6:44: tools.a.fallback.cached: a cached fallback serves the tool's last cached result, and this "
        "tool has no cache; add cache: NAME (or an inline cache: mapping)",
    ]
    config.write_text(config.read_text().replace("  a: {", "#"))
    proc = await anyio.run_process([sys.executable, "-m", "webmcp", "validate", "-c", str(config)], check=False)
    assert proc.stdout.decode().splitlines() == [
        f"{where}:9:3: tools.d: fallback: {{cached: true}} needs a cache that stores results; give the tool a cache "
        "whose strategy is not none",
    ]


async def test_a_hanging_source_times_out_into_the_stale_result(workdir: Path, replicas: Replicas) -> None:
    """When the live source hangs past the tool's timeout, the last cached result answers (stale) instead
    of a timeout error."""
    text = config_text(replicas)
    timed = "    timeout: 300ms\n    cache: {strategy: ttl"
    config = write_config(workdir, text.replace("    cache: {strategy: ttl", timed, 1))
    async with connect(config) as s:
        fresh(await s.call_tool("only_cached", {"key": "k1"}), "k1")
        await anyio.sleep(0.2)  # past its TTL
        replicas["a"].delay = 5
        stale(await s.call_tool("only_cached", {"key": "k1"}), "k1")
        r = await s.call_tool("only_cached", {"key": "k2"})  # nothing cached: the timeout itself
        assert r.is_error and "timed out after 0.3s" in r.content[0].text


async def test_a_fallback_guards_a_plain_http_tool_too(workdir: Path) -> None:
    """Without an upstream, an http tool's transport failures and 5xx still reach its fallback."""
    config = write_config(workdir, """
version: 1
tools:
  down: {kind: http, request: {url: "http://127.0.0.1:9/x"}, fallback: {message: "the service is down"}}
""")
    async with connect(config) as s:
        r = await s.call_tool("down", {})
    assert (r.is_error, r.content[0].text) == (False, "the service is down")

"""Caching through real `webmcp serve` processes: hits, tags and invalidates, master-tool operations,
single-flight, config errors, and cache contents across a reload."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import connect, write_config
from tests.integration.rawstdio import RawServer

CONFIG = """
version: 1
caches:
  hot: {strategy: lru, max_entries: 100, ttl: 5m}
tools:
  profile:
    kind: python
    function: "sample_tools:read_value"
    cache: {use: hot, key: [path], tags: ["user:{user_id}", profiles]}
  update:
    kind: python
    function: "sample_tools:write_value"
    invalidates: ["user:{user_id}"]
  counted: {kind: python, function: "sample_tools:counted", cache: {use: hot, key: [key]}, expose: true}
master_tools:
  docs:
    description: Documents.
    operations:
      read: {kind: python, function: "sample_tools:counted", cache: {strategy: lfu, max_entries: 10, key: [key]}}
      plain: counted
"""


def text(result: Any) -> str:
    return str(result.content[0].text)


@pytest.mark.anyio
async def test_tags_and_invalidates_drop_exactly_the_tagged_entries(workdir: Path) -> None:
    """A successful update of user 1 drops user 1's cached profile, not user 2's; reads see the new value."""
    config = write_config(workdir, CONFIG)
    one, two = workdir / "one.txt", workdir / "two.txt"
    one.write_text("one-v1")
    two.write_text("two-v1")
    async with connect(config) as client:
        assert text(await client.call_tool("profile", {"path": str(one), "user_id": "1"})) == "one-v1"
        assert text(await client.call_tool("profile", {"path": str(two), "user_id": "2"})) == "two-v1"
        one.write_text("one-v2 (behind the cache's back)")
        two.write_text("two-v2 (behind the cache's back)")
        assert text(await client.call_tool("profile", {"path": str(one), "user_id": "1"})) == "one-v1"  # cached
        await client.call_tool("update", {"path": str(one), "value": "one-v3", "user_id": "1"})
        assert text(await client.call_tool("profile", {"path": str(one), "user_id": "1"})) == "one-v3"
        assert text(await client.call_tool("profile", {"path": str(two), "user_id": "2"})) == "two-v1"  # kept


@pytest.mark.anyio
async def test_a_failed_mutating_call_invalidates_nothing(workdir: Path) -> None:
    """invalidates applies after a successful call only."""
    config = write_config(workdir, CONFIG)
    one = workdir / "one.txt"
    one.write_text("v1")
    async with connect(config) as client:
        await client.call_tool("profile", {"path": str(one), "user_id": "1"})
        one.write_text("v2")
        failed = await client.call_tool("update", {"path": str(workdir / "no" / "such" / "dir"), "value": "x",
                                                   "user_id": "1"})
        assert failed.is_error
        assert text(await client.call_tool("profile", {"path": str(one), "user_id": "1"})) == "v1"


@pytest.mark.anyio
async def test_master_tool_operations_carry_their_own_cache(workdir: Path) -> None:
    """An inline operation with a cache of its own is cached; the key includes the operation."""
    config = write_config(workdir, CONFIG)
    log = str(workdir / "runs.log")
    async with connect(config) as client:
        runs = []
        for op in ("read", "read", "plain", "plain"):
            result = await client.call_tool("docs", {"operation": op, "key": "k", "log": log})
            runs.append(result.structured_content["run"])  # type: ignore[index]
        assert runs == [1, 1, 2, 2]  # same arguments, two operations: two entries


def test_identical_concurrent_calls_over_stdio_run_the_backend_once(workdir: Path) -> None:
    """Twenty identical calls sent at once: one backend run, twenty identical answers."""
    raw = RawServer(write_config(workdir, CONFIG))
    try:
        log = workdir / "runs.log"
        for mid in range(1, 21):
            raw.call(mid, "counted", {"key": "same", "log": str(log), "seconds": 0.3})
        replies: list[dict[str, Any]] = []
        deadline = time.monotonic() + 10
        while len(replies) < 20 and time.monotonic() < deadline:
            replies += [m for m in raw.collect(0.1) if "id" in m]
        assert sorted(m["id"] for m in replies) == list(range(1, 21))
        assert {m["result"]["structuredContent"]["run"] for m in replies} == {1}
        assert log.read_text().split() == ["same"]
    finally:
        raw.stop()


def call(raw: RawServer, mid: int, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    raw.call(mid, name, arguments)
    reply = raw.until(lambda m: m.get("id") == mid)[-1]
    return reply["result"]  # type: ignore[no-any-return]


def test_cache_contents_survive_an_unrelated_reload_and_go_with_a_changed_cache(workdir: Path) -> None:
    """After a reload that adds a tool, the cached entry is still served; changing the cache empties it."""
    config = write_config(workdir, CONFIG)
    raw = RawServer(config)
    try:
        log = str(workdir / "runs.log")
        assert call(raw, 1, "counted", {"key": "a", "log": log})["structuredContent"]["run"] == 1
        config.write_text(config.read_text().replace("master_tools:", '  extra: {kind: static, content: "added"}\n'
                                                                      "master_tools:"))
        raw.proc.send_signal(signal.SIGHUP)
        time.sleep(1.0)
        assert call(raw, 9, "extra", {})["content"][0]["text"] == "added"  # the reload happened
        assert call(raw, 2, "counted", {"key": "a", "log": log})["structuredContent"]["run"] == 1  # kept
        config.write_text(config.read_text().replace("max_entries: 100", "max_entries: 50"))
        raw.proc.send_signal(signal.SIGHUP)
        time.sleep(1.0)
        assert call(raw, 3, "counted", {"key": "a", "log": log})["structuredContent"]["run"] == 2  # a new cache
    finally:
        raw.stop()


def validate(workdir: Path, yaml_text: str) -> list[str]:
    config = write_config(workdir, yaml_text)
    done = subprocess.run([sys.executable, "-m", "webmcp", "validate", "-c", config.name], capture_output=True,
                          text=True, timeout=60, cwd=workdir)
    assert done.returncode in (3, 4), done
    return [line for line in done.stdout.splitlines() if line.startswith("webmcp.yaml")]


BAD = [
    ("unknown-cache", "caches: {hot: {}}\ntools:\n  t: {kind: python, function: 'sample_tools:greet', cache: hott}\n",
     ["webmcp.yaml:4:53: tools.t.cache: no such cache in caches: (got \"hott\"); did you mean 'hot'?"]),
    ("key-not-an-argument",
     "caches: {hot: {}}\ntools:\n  t: {kind: python, function: 'sample_tools:greet', cache: {use: hot, key: [nam]}}\n",
     ["webmcp.yaml:4:53: tools.t.cache: cache key 'nam' is not an argument of the tool; "
      "arguments: name, punctuation"]),
    ("tag-not-an-argument",
     "caches: {hot: {}}\ntools:\n  t: {kind: python, function: 'sample_tools:greet', cache: {use: hot, "
     "tags: ['u:{id}']}}\n",
     ["webmcp.yaml:4:53: tools.t.cache: cache tag 'u:{id}' uses {id}, which is not an argument of the tool; "
      "arguments: name, punctuation"]),
    ("redis-without-pool", "caches: {shared: {backend: redis}}\n",
     ["webmcp.yaml:2:10: caches.shared: a redis cache needs a pool; add pool: NAME of a kind: redis entry of pools:"]),
    ("unknown-pool", "pools: {r: {kind: redis}}\ncaches: {shared: {backend: redis, pool: rr}}\n",
     ["webmcp.yaml:3:10: caches.shared: no such pool in pools: (got \"rr\"); did you mean 'r'?"]),
    ("ttl-strategy-without-ttl", "caches: {c: {strategy: ttl}}\n",
     ["webmcp.yaml:2:10: caches.c: strategy ttl needs a ttl; add ttl: 5m, or use strategy lru or lfu"]),
    ("lru-on-redis", "pools: {r: {kind: redis}}\ncaches: {s: {backend: redis, pool: r, strategy: lru}}\n",
     ["webmcp.yaml:3:39: caches.s.strategy: a redis cache evicts by the Redis server's maxmemory-policy "
      "(got \"lru\"); use strategy: ttl here, and lru/lfu on the l1 tier"]),
    ("bad-strategy", "caches: {c: {strategy: lru2}}\n",
     ["webmcp.yaml:2:14: caches.c.strategy: must be one of: lru, lfu, ttl, none (got \"lru2\"); did you mean 'lru'?"]),
    ("setting-beside-use",
     "caches: {hot: {}}\ntools:\n  t: {kind: python, function: 'sample_tools:greet', cache: {use: hot, "
     "max_entries: 5}}\n",
     ["webmcp.yaml:4:71: tools.t.cache.max_entries: a cache from caches: is configured there, not on the tool; "
      "beside use:, a tool may set key, tags, ttl, scope, cache_errors"]),
    ("cached-and-invalidates",
     "caches: {hot: {}}\ntools:\n  t: {kind: python, function: 'sample_tools:greet', cache: hot, "
     "invalidates: [x]}\n",
     ["webmcp.yaml:4:53: tools.t.cache: a tool cannot both be cached and invalidate; cache the reading tools; "
      "give the mutating one invalidates:"]),
]


@pytest.mark.parametrize(("yaml_text", "expected"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_cache_config_is_refused_with_a_located_message(workdir: Path, yaml_text: str,
                                                            expected: list[str]) -> None:
    """Each mistake is one line naming file:line:col, the key path, the bad value and a hint."""
    assert validate(workdir, "version: 1\n" + yaml_text) == expected


def test_a_new_redis_pool_must_answer_unless_it_is_not_required(workdir: Path) -> None:
    """An unreachable Redis fails the build (exit 4, naming the pool, credentials hidden); with
    `required: false` the config builds and its caches start in fallback."""
    text = """
version: 1
pools: {r: {kind: redis, url: "redis://user:secret@127.0.0.1:1/0", connect_timeout: 200msREQUIRED}}
caches: {c: {backend: redis, pool: r}}
tools:
  greet: {kind: python, function: "sample_tools:greet", cache: c}
"""
    config = write_config(workdir, text.replace("REQUIRED", ""))
    done = subprocess.run([sys.executable, "-m", "webmcp", "validate", "-c", str(config), "--connect"],
                          capture_output=True, text=True, cwd=workdir, timeout=60)
    assert done.returncode == 4, done.stderr
    assert "pools.r: cannot reach Redis at redis://127.0.0.1:1/0 within connect_timeout (0.2s)" in done.stdout
    assert "secret" not in done.stdout + done.stderr
    config = write_config(workdir, text.replace("REQUIRED", ", required: false"))
    done = subprocess.run([sys.executable, "-m", "webmcp", "validate", "-c", str(config), "--connect"],
                          capture_output=True, text=True, cwd=workdir, timeout=60)
    assert done.returncode == 0, done.stderr


def test_validate_reaches_redis_only_with_connect(workdir: Path) -> None:
    """Without --connect, a required Redis pool at a closed port is not reached: the config validates (its
    cache references and keys still checked) and the pool is named as not reached; --connect fails on it."""
    config = write_config(workdir, """
version: 1
pools: {r: {kind: redis, url: "redis://127.0.0.1:1/0", connect_timeout: 200ms}}
caches: {c: {backend: redis, pool: r}}
tools:
  greet: {kind: python, function: "sample_tools:greet", cache: {use: c, key: [name]}, fallback: {cached: true}}
""")
    done = subprocess.run([sys.executable, "-m", "webmcp", "validate", "-c", "webmcp.yaml"], capture_output=True,
                          text=True, cwd=workdir, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines() == [
        "webmcp.yaml: ok (1 tool listed, 1 declared)",
        "not connected: 1 required Redis pool not reached; webmcp validate --connect checks them:",
        "  webmcp.yaml:3:9: pools.r: Redis at redis://127.0.0.1:1/0 not reached: a required pool must answer at "
        "start",
    ]
    assert "cannot reach Redis" not in done.stderr  # no cache tried to connect
    config.write_text(config.read_text().replace("key: [name]", "key: [nam]"))
    done = subprocess.run([sys.executable, "-m", "webmcp", "validate", "-c", "webmcp.yaml"], capture_output=True,
                          text=True, cwd=workdir, timeout=60)
    assert done.returncode == 4
    assert done.stdout.startswith("webmcp.yaml:6:57: tools.greet.cache: cache key 'nam' is not an argument")
    config.write_text(config.read_text().replace("key: [nam]", "key: [name]"))
    done = subprocess.run([sys.executable, "-m", "webmcp", "validate", "-c", "webmcp.yaml", "--connect"],
                          capture_output=True, text=True, cwd=workdir, timeout=60)
    assert done.returncode == 4, done.stdout + done.stderr
    assert done.stdout.splitlines() == [
        "webmcp.yaml:3:9: pools.r: cannot reach Redis at redis://127.0.0.1:1/0 within connect_timeout (0.2s); "
        "start Redis or fix the URL; with required: false the server starts without it and its caches fall back "
        "until it answers",
    ]

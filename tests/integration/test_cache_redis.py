"""Redis-backed caches through real `webmcp serve` processes: zero stale reads across two instances,
Redis killed and restarted under a running server, write-back, and fallback: none."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.integration.conftest import write_config
from tests.integration.rawstdio import RawServer
from tests.integration.redis_server import RedisServer, prefix, redis_url  # noqa: F401  (fixtures)

TOOLS = """
tools:
  profile:
    kind: python
    function: "sample_tools:read_value"
    cache: {use: shared, key: [path], tags: ["user:{user_id}"]}
  update: {kind: python, function: "sample_tools:write_value", invalidates: ["user:{user_id}"]}
  counted: {kind: python, function: "sample_tools:counted", cache: {use: shared, key: [key]}}
  block: {kind: python, function: "sample_tools:block_loop"}
"""


def shared_config(url: str, namespace: str, extra: str = "") -> str:
    return f"""
version: 1
pools:
  r: {{kind: redis, url: "{url}", timeout: 200ms, connect_timeout: 200ms}}
caches:
  shared: {{backend: redis, pool: r, prefix: "{namespace}", ttl: 1m, l1: {{strategy: lru, max_entries: 100}}{extra}}}
""" + TOOLS


class Client:
    """A RawServer with a call() that returns the result (ids counted per client)."""

    def __init__(self, config: Path) -> None:
        self.raw = RawServer(config)
        self.next = 0

    def call(self, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        self.next += 1
        mid = self.next
        self.raw.call(mid, name, arguments)
        reply = self.raw.until(lambda m: m.get("id") == mid)[-1]
        return reply["result"]  # type: ignore[no-any-return]

    def text(self, name: str, arguments: dict[str, Any]) -> str:
        result = self.call(name, arguments)
        assert not result.get("isError"), result
        return str(result["content"][0]["text"])

    def stop(self) -> str:
        self.raw.stop()
        return ""


@pytest.fixture
def two(workdir: Path, redis_url: str, prefix: str) -> Iterator[tuple[Client, Client]]:  # noqa: F811
    config = write_config(workdir, shared_config(redis_url, prefix))
    a, b = Client(config), Client(config)
    yield a, b
    a.stop()
    b.stop()


def test_no_instance_serves_a_stale_value_after_an_invalidating_call_returns(two: tuple[Client, Client],
                                                                            workdir: Path) -> None:
    """Two instances share Redis; each holds the value in its memory tier. After either one's update
    returns, both read the new value at once, every time (30 rounds, writers alternating)."""
    a, b = two
    data = workdir / "profile.txt"
    data.write_text("v0")
    args = {"path": str(data), "user_id": "7"}
    for i in range(1, 31):
        assert a.text("profile", args) == f"v{i - 1}"
        assert b.text("profile", args) == f"v{i - 1}"  # both now hold it in memory
        writer, reader = (a, b) if i % 2 else (b, a)
        assert writer.text("update", {**args, "value": f"v{i}"}) == "written"
        assert reader.text("profile", args) == f"v{i}"
        assert writer.text("profile", args) == f"v{i}"


def test_an_invalidation_waits_for_a_busy_instance_to_drop_its_copy(two: tuple[Client, Client],
                                                                    workdir: Path) -> None:
    """While instance B's event loop is stuck for a second, A's update does not return until B has
    dropped its memory copy (B acknowledges); B's next read is fresh."""
    a, b = two
    data = workdir / "profile.txt"
    data.write_text("old")
    args = {"path": str(data), "user_id": "7"}
    assert b.text("profile", args) == "old"
    b.next += 1
    b.raw.call(b.next, "block", {"seconds": 1.0})
    time.sleep(0.2)
    started = time.monotonic()
    assert a.text("update", {**args, "value": "new"}) == "written"
    assert time.monotonic() - started > 0.5  # it waited for B's acknowledgement
    assert b.text("profile", args) == "new"


def test_the_second_instance_is_served_from_redis(two: tuple[Client, Client], workdir: Path) -> None:
    """A value one instance computed is a hit for the other: the backend runs once."""
    a, b = two
    log = str(workdir / "runs.log")
    assert a.call("counted", {"key": "k", "log": log})["structuredContent"]["run"] == 1
    assert b.call("counted", {"key": "k", "log": log})["structuredContent"]["run"] == 1
    assert (workdir / "runs.log").read_text().split() == ["k"]


def test_redis_killed_mid_run_falls_back_and_is_used_again_when_it_returns(workdir: Path, tmp_path: Path) -> None:
    """With its Redis killed, the server still answers every call (from memory, running the tool on a
    miss) and says so in its log; once Redis is back, new entries are written to Redis again."""
    server = RedisServer(tmp_path).start()
    raw = None
    try:
        name = "webmcp-test:restart"
        config = write_config(workdir, shared_config(server.url, name))
        client = Client(config)
        raw = client.raw
        log = str(workdir / "runs.log")

        def run(key: str) -> int:
            result = client.call("counted", {"key": key, "log": log})
            assert not result.get("isError"), result
            return int(result["structuredContent"]["run"])

        assert [run("a"), run("a")] == [1, 1]
        server.kill()
        assert run("a") == 1  # served from memory
        assert [run("b"), run("b")] == [2, 2]  # the fallback caches too
        server.start()
        time.sleep(1.5)  # the reconnect loop probes every 0.5s
        assert run("c") == 3
        keys = redis.Redis.from_url(server.url).keys(f"{name}:e:*")
        assert len(keys) == 1  # c went to Redis (the restarted one was empty)
        assert run("b") == 4  # memory was emptied on recovery: what it held may have been invalidated meanwhile
    finally:
        if raw is not None:
            raw.stop()
            stderr = raw.proc.stderr.read().decode() if raw.proc.stderr and not raw.proc.stderr.closed else ""
            if stderr:
                assert "Redis unavailable" in stderr and "Redis answers again" in stderr
        server.kill()


def test_fallback_none_bypasses_the_cache_while_redis_is_down(workdir: Path, tmp_path: Path) -> None:
    """fallback: none: while Redis is down every call runs the tool (no stale memory), and succeeds."""
    server = RedisServer(tmp_path).start()
    client = None
    try:
        config = write_config(workdir, shared_config(server.url, "webmcp-test:bypass", ", fallback: none"))
        client = Client(config)
        log = str(workdir / "runs.log")
        runs = [client.call("counted", {"key": "a", "log": log})["structuredContent"]["run"] for _ in range(2)]
        server.kill()
        time.sleep(0.5)  # the subscription notices the lost connection within its 0.25s poll
        runs += [client.call("counted", {"key": "a", "log": log})["structuredContent"]["run"] for _ in range(2)]
        assert runs == [1, 1, 2, 3]
    finally:
        if client is not None:
            client.stop()
        server.kill()


def test_write_back_reaches_redis_and_is_flushed_at_shutdown(workdir: Path, redis_url: str,  # noqa: F811
                                                             prefix: str) -> None:  # noqa: F811
    """write: back answers first and writes Redis in the background; the other instance then hits."""
    config = write_config(workdir, shared_config(redis_url, prefix, ", write: back"))
    a = Client(config)
    try:
        log = str(workdir / "runs.log")
        assert a.call("counted", {"key": "k", "log": log})["structuredContent"]["run"] == 1
    finally:
        a.raw.close_input()  # end of input: a clean shutdown, which flushes the backlog
        a.raw.proc.wait(10)
        a.stop()
    assert len(redis.Redis.from_url(redis_url).keys(f"{prefix}:e:*")) == 1
    b = Client(config)
    try:
        assert b.call("counted", {"key": "k", "log": log})["structuredContent"]["run"] == 1
    finally:
        b.stop()


def test_foreign_messages_on_the_channel_do_not_stop_invalidations(two: tuple[Client, Client], workdir: Path,
                                                                   redis_url: str, prefix: str) -> None:  # noqa: F811
    """Garbage published on the cache's invalidation channel (another program, another version) is
    ignored; later invalidations still reach every instance."""
    a, b = two
    data = workdir / "profile.txt"
    data.write_text("old")
    args = {"path": str(data), "user_id": "7"}
    assert b.text("profile", args) == "old"
    client = redis.Redis.from_url(redis_url)
    for junk in (b"hello", b"{}", b'{"tags": 3}', b"[1, 2]"):
        client.publish(f"{prefix}:inv", junk)
    time.sleep(0.3)
    assert a.text("update", {**args, "value": "new"}) == "written"
    assert b.text("profile", args) == "new"

"""Token buckets in Redis (executor.rate_limits: {backend: redis}) against a real Redis: the same answers as
the memory buckets, one bucket for every holder, and each on_error choice while Redis is down."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from tests.integration.redis_server import RedisServer, free_port, prefix, redis_url  # noqa: F401  (fixtures)
from webmcp.config.spec import RateLimitSpec
from webmcp.executor import redis_buckets
from webmcp.executor.ratelimit import STORE_FAILURES, UNAVAILABLE, MemoryBuckets
from webmcp.executor.redis_buckets import RedisBuckets

pytestmark = pytest.mark.anyio


def client(url: str) -> Redis:
    from webmcp.kinds.pools.redis import RedisPoolSpec, connect

    spec = RedisPoolSpec("shared", url, 4, 0.5, 0.25, True, where=None)  # type: ignore[arg-type]
    return connect(spec)


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:  # noqa: F811
    r = client(redis_url)
    yield r
    await r.aclose()


async def test_a_shared_bucket_answers_as_a_memory_bucket(redis: Redis, prefix: str) -> None:  # noqa: F811
    """Burst first, then refused with the time to the next token, as MemoryBuckets says for the same takes."""
    spec = RateLimitSpec.from_config({"rate": "6/min", "burst": 3})
    shared = RedisBuckets(spec, f"{prefix}:t:", redis, "local")
    memory = MemoryBuckets(spec, f"{prefix}:t:")
    got = [await shared.take("*") for _ in range(5)]
    want = [memory.take_now("*", 0.0) for _ in range(5)]
    assert got[:3] == want[:3] == [0.0, 0.0, 0.0]
    assert got[3] == pytest.approx(want[3], abs=0.05) and want[3] == pytest.approx(10.0)  # 6/min: one per 10s
    assert got[4] == pytest.approx(want[4], abs=0.05)
    assert await shared.take("other") == 0.0  # each client part is a bucket of its own
    ttl = await redis.pttl(f"{prefix}:t:*")
    assert 20_000 < ttl <= 31_000  # gone once it would be full again (30s from empty) plus a second


async def test_a_bucket_refills_on_redis_time(redis: Redis, prefix: str) -> None:  # noqa: F811
    """At 20/s a refused take waits about 50ms; after that the next one is granted."""
    shared = RedisBuckets(RateLimitSpec.from_config({"rate": "20/s", "burst": 1}), f"{prefix}:r:", redis, "local")
    assert await shared.take("*") == 0.0
    wait = await shared.take("*")
    assert 0 < wait <= 0.05
    await asyncio.sleep(wait + 0.01)
    assert await shared.take("*") == 0.0


async def test_holders_of_one_limit_share_its_bucket(redis_url: str, prefix: str) -> None:  # noqa: F811
    """Four instances' buckets of one limit, each with its own client, taking concurrently: exactly burst
    calls pass in all."""
    spec = RateLimitSpec.from_config({"rate": "1/hour", "burst": 7})
    clients = [client(redis_url) for _ in range(4)]
    try:
        holders = [RedisBuckets(spec, f"{prefix}:s:", c, "local") for c in clients]
        waits = await asyncio.gather(*(holders[i % 4].take("*") for i in range(40)))
        assert sum(1 for w in waits if w == 0.0) == 7
    finally:
        for c in clients:
            await c.aclose()


async def test_the_script_is_loaded_again_after_a_flush(redis: Redis, prefix: str) -> None:  # noqa: F811
    """EVALSHA after SCRIPT FLUSH (or a Redis restart) loads the script again, without a failure."""
    shared = RedisBuckets(RateLimitSpec.from_config({"rate": "1/hour", "burst": 2}), f"{prefix}:f:", redis, "deny")
    assert await shared.take("*") == 0.0
    await redis.script_flush()
    assert await shared.take("*") == 0.0
    assert await shared.take("*") > 0


@pytest.mark.parametrize(("on_error", "want"), [
    ("local", [0.0, 0.0, pytest.approx(1800.0, abs=1)]),
    ("allow", [0.0, 0.0, 0.0]),
    ("deny", [UNAVAILABLE, UNAVAILABLE, UNAVAILABLE]),
])
async def test_on_error_decides_while_redis_is_down(on_error: str, want: list[object],
                                                    caplog: pytest.LogCaptureFixture) -> None:
    """Nothing listens on the pool's port: each call is decided by on_error, counted, and warned about once."""
    dead = client(f"redis://127.0.0.1:{free_port()}/0")
    try:
        shared = RedisBuckets(RateLimitSpec.from_config({"rate": "2/hour"}), "x:", dead, on_error)  # type: ignore[arg-type]
        before = STORE_FAILURES.get(on_error, 0)
        with caplog.at_level(logging.WARNING, logger=redis_buckets.__name__):
            assert [await shared.take("*") for _ in range(3)] == want
        assert STORE_FAILURES[on_error] == before + 3
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1 and f"on_error: {on_error}" in warnings[0]
    finally:
        await dead.aclose()


async def test_the_shared_bucket_is_used_again_once_redis_answers(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Redis killed, then started again on its port: after the retry pause the calls count in Redis again."""
    monkeypatch.setattr(redis_buckets, "RETRY", 0.2)
    server = RedisServer(tmp_path).start()
    r = client(server.url)
    try:
        shared = RedisBuckets(RateLimitSpec.from_config({"rate": "1/hour", "burst": 1}), "x:", r, "allow")
        assert await shared.take("*") == 0.0
        server.kill()
        assert await shared.take("*") == 0.0  # allowed: Redis is down
        server.start()  # empty: the bucket is full again
        await asyncio.sleep(0.3)
        assert await shared.take("*") == 0.0
        assert await shared.take("*") > 0  # counted in Redis again
    finally:
        await r.aclose()
        server.kill()


async def test_a_required_pool_that_does_not_answer_fails_the_build(tmp_path: Path) -> None:
    """executor.rate_limits on a required pool nobody listens on: the build fails naming the pool; a static
    build (validate) lists the pool as not reached; with required: false it builds."""
    from webmcp.errors import BuildError
    from webmcp.graph.build import build
    from webmcp.kinds.imports import load

    port = free_port()
    text = ("version: 1\npools:\n  r: {{kind: redis, url: \"redis://127.0.0.1:{port}/0\", connect_timeout: 200ms"
            "{extra}}}\nexecutor:\n  rate_limits: {{backend: redis, pool: r}}\ntools:\n"
            "  t: {{kind: static, content: hi, rate_limit: 1/s}}\n")
    config = tmp_path / "webmcp.yaml"
    config.write_text(text.format(port=port, extra=""))
    with pytest.raises(BuildError) as failed:
        await build(load(str(config)))
    assert [p.render() for p in failed.value.problems] == [
        f"{config}:3:3: pools.r: cannot reach Redis at redis://127.0.0.1:{port}/0 within connect_timeout (0.2s); "
        "start Redis or fix the URL; with required: false the server starts without it, and rate limits follow "
        "executor.rate_limits.on_error until it answers"]
    static = await build(load(str(config)), connect=False)
    assert [p.message for p in static.unchecked.pools] == [
        f"Redis at redis://127.0.0.1:{port}/0 not reached: a required pool must answer at start"]
    await static.close()
    config.write_text(text.format(port=port, extra=", required: false"))
    graph = await build(load(str(config)))
    await graph.close()


async def test_a_call_refused_for_a_failed_store_says_so() -> None:
    """on_error: deny: the call's isError text names the store, not a limit it did not reach."""
    from types import SimpleNamespace

    from webmcp.executor.gate import Gate

    dead = client(f"redis://127.0.0.1:{free_port()}/0")
    try:
        buckets = RedisBuckets(RateLimitSpec.from_config("5/s"), "x:", dead, "deny")
        refused = await Gate("t", "normal", None, buckets, None).refuse(SimpleNamespace(client="c"))  # type: ignore[arg-type]
        assert refused is not None and str(refused) == ("rate limit store unavailable (Redis failed; "
                                                        "executor.rate_limits.on_error: deny); retry in 1.0s")
    finally:
        await dead.aclose()

"""Token buckets and the memory guard's thresholds, on their own."""

from __future__ import annotations

import pytest

from webmcp.config.spec import RateLimitSpec
from webmcp.executor.memory import MemoryGuard
from webmcp.executor.ratelimit import MemoryBuckets, retry_text


@pytest.mark.parametrize(("node", "count", "period", "burst", "per"), [
    ("100/min", 100, 60, 100, "tool"),
    ("5/s", 5, 1, 5, "tool"),
    ({"rate": "0.5/sec", "per": "client"}, 0.5, 1, 1, "client"),
    ({"rate": "1000/hour", "burst": 10}, 1000, 3600, 10, "tool"),
    ("2/day", 2, 86400, 2, "tool"),
])
def test_rate_limit_specs(node: object, count: float, period: float, burst: int, per: str) -> None:
    """A rate string or object becomes count, period, burst (default: the count) and scope."""
    spec = RateLimitSpec.from_config(node)
    assert (spec.count, spec.period, spec.burst, spec.per) == (count, period, burst, per)


def test_a_bucket_grants_its_burst_then_refills_at_the_rate() -> None:
    """Burst calls at once, then one token per 1/rate seconds; the wait is the time to the next token."""
    buckets = MemoryBuckets(RateLimitSpec.from_config({"rate": "2/s", "burst": 3}))
    assert [buckets.take_now("k", 10.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take_now("k", 10.0) == pytest.approx(0.5)
    assert buckets.take_now("k", 10.25) == pytest.approx(0.25)
    assert buckets.take_now("k", 10.5) == 0.0
    assert buckets.take_now("other", 10.5) == 0.0  # buckets are independent
    assert buckets.take_now("k", 100.0) == 0.0  # refilled, but never past the burst
    assert [buckets.take_now("k", 100.0) for _ in range(3)] == [0.0, 0.0, pytest.approx(0.5)]


def test_full_buckets_are_pruned_when_the_table_grows() -> None:
    """Clients that come and go leave no buckets behind once theirs are full again."""
    buckets = MemoryBuckets(RateLimitSpec.from_config("10/s"))
    for i in range(5000):
        buckets.take_now(f"client-{i}", 0.0)
    buckets.take_now("late", 100.0)
    assert len(buckets._state) < 1000


def test_retry_text() -> None:
    """Waits are shown in seconds with one decimal, short ones in milliseconds."""
    assert [retry_text(s) for s in (20.0, 0.44, 0.05, 0.0001)] == ["20.0s", "0.4s", "50ms", "1ms"]


def test_memory_guard_sheds_from_90_percent_and_recovers_under_80() -> None:
    """Hysteresis: shedding starts at 90% of the limit and stops only under 80%."""
    guard = MemoryGuard(1000)
    states = []
    for rss in (500, 899, 900, 850, 800, 799, 950):
        guard.update(rss)
        states.append(guard.shedding)
    assert states == [False, False, True, True, True, False, True]
    assert guard.sheds == 2
    assert guard.message("low") == ("overloaded: memory 0MB of 0MB (scaling.targets.max_memory); new 'low' "
                                    "priority calls are refused until it falls; try again later")

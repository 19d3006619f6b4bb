"""Rate limits: token buckets per tool and per client.

Contract:
- A bucket holds at most `burst` tokens and refills at the rate (`count` per `period`). A call takes
  one token, or is refused at once with the time until the next token; nothing ever waits here.
- A store holds the buckets of one limit, named as a shared store would name them:
  `webmcp:rl:{tool}:{client}` with `*` for "any" (`webmcp:rl:search:*` is the tool's own bucket,
  `webmcp:rl:search:{client}` one client's share of it, `webmcp:rl:*:{client}` a client's over all
  tools). Callers give only the client part (`take("*")` for one bucket per tool), so a
  Redis-backed store can replace the in-memory one (keys `prefix + client`) without changing them.
- In memory, a bucket that has refilled completely is the same as no bucket: such buckets are pruned
  when the table grows, so clients that come and go do not grow memory.
- Shared buckets (executor.rate_limits: {backend: redis}) are in redis_buckets.py.
- All state is touched from the event loop thread only.
"""

from __future__ import annotations

import time
from typing import Protocol

from webmcp.config.spec import RateLimitSpec

_PRUNE_AT = 4096  # buckets held before full ones are dropped
STORE_FAILURES: dict[str, int] = {}  # on_error -> calls decided without the shared store (/metrics)
UNAVAILABLE = -1.0  # what `take` returns when the shared store failed and on_error is deny


def key(tool: str, client: str) -> str:
    return f"webmcp:rl:{tool}:{client}"


class Buckets(Protocol):
    """The token buckets of one limit (one RateLimitSpec), under one key prefix."""

    spec: RateLimitSpec
    prefix: str  # "webmcp:rl:{tool}:" or "webmcp:rl:*:"

    async def take(self, client: str) -> float:
        """Take a token from bucket `prefix + client`: 0.0 when granted, else the seconds until one is
        available (UNAVAILABLE: refused because the shared store failed)."""
        ...


class MemoryBuckets:
    __slots__ = ("_burst", "_rate", "_state", "prefix", "spec")

    def __init__(self, spec: RateLimitSpec, prefix: str = "webmcp:rl:*:") -> None:
        self.spec = spec
        self.prefix = prefix
        self._rate = spec.per_second
        self._burst = float(spec.burst)
        self._state: dict[str, list[float]] = {}  # client part of the key -> [tokens, monotonic time of that count]

    async def take(self, name: str) -> float:
        return self.take_now(name, time.monotonic())

    def take_now(self, name: str, now: float) -> float:
        state = self._state.get(name)
        if state is None:
            if len(self._state) >= _PRUNE_AT:
                self._prune(now)
            self._state[name] = [self._burst - 1.0, now]
            return 0.0
        tokens = min(self._burst, state[0] + (now - state[1]) * self._rate)
        state[1] = now
        if tokens >= 1.0:
            state[0] = tokens - 1.0
            return 0.0
        state[0] = tokens
        return (1.0 - tokens) / self._rate

    def _prune(self, now: float) -> None:
        full = [n for n, (tokens, at) in self._state.items() if tokens + (now - at) * self._rate >= self._burst]
        for name in full:
            del self._state[name]


def retry_text(seconds: float) -> str:
    return f"{seconds:.1f}s" if seconds >= 0.1 else f"{max(seconds * 1000, 1):.0f}ms"

"""Token buckets in Redis (`executor.rate_limits: {backend: redis}`): one bucket per limit for every
process sharing the pool.

Contract:
- Same semantics as MemoryBuckets (ratelimit.py): a bucket starts full, holds at most `burst`
  tokens, refills at the rate; a call takes one token or gets the time until the next. The bucket
  is a hash {k: tokens, t: time of that count} updated by one Lua script, so concurrent takes from
  any number of instances are serialized by Redis, and the time is Redis's own (TIME), so clocks of
  the instances never matter. The script is loaded once and called by its SHA (EVALSHA; redis-py
  loads it again after a SCRIPT FLUSH or a restart). A bucket's key expires once it would be full
  again: a full bucket is the same as no bucket.
- When Redis fails or is slower than the pool's timeout, `on_error` decides for that call: `local`
  takes from this process's own MemoryBuckets of the same limit, `allow` grants, `deny` refuses
  (UNAVAILABLE). Each such call is counted (STORE_FAILURES, on /metrics); a warning is logged at most
  every WARN_EVERY seconds. After a failure Redis is left alone for RETRY seconds (calls decide by
  `on_error` at once instead of each paying a timeout), then the next call tries it again.
- Touched from the event loop thread only.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Literal

from redis.exceptions import RedisError

from webmcp.config.spec import RateLimitSpec
from webmcp.executor.ratelimit import STORE_FAILURES, UNAVAILABLE, MemoryBuckets

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = logging.getLogger(__name__)

RETRY = 1.0  # seconds after a failure before Redis is tried again
WARN_EVERY = 30.0  # seconds between two warnings of one store

# KEYS[1]: the bucket; ARGV: tokens per second, burst. Returns the wait in seconds as a string ("0":
# granted), since Redis turns a Lua number into an integer.
TAKE = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'k', 't')
local tokens = burst
if state[1] then
  tokens = math.min(burst, tonumber(state[1]) + math.max(0, now - tonumber(state[2])) * rate)
end
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = (1 - tokens) / rate
end
redis.call('HSET', KEYS[1], 'k', string.format('%.17g', tokens), 't', string.format('%.6f', now))
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) / rate * 1000) + 1000)
return string.format('%.17g', wait)
"""


class RedisBuckets:
    """The buckets of one limit in Redis, under `prefix` (e.g. "webmcp:rl:search:")."""

    __slots__ = ("_args", "_down_until", "_local", "_on_error", "_script", "_warned", "prefix", "spec")

    def __init__(self, spec: RateLimitSpec, prefix: str, redis: Redis,
                 on_error: Literal["local", "allow", "deny"]) -> None:
        self.spec = spec
        self.prefix = prefix
        self._script = redis.register_script(TAKE)
        self._args = (repr(spec.per_second), spec.burst)
        self._on_error = on_error
        self._local = MemoryBuckets(spec, prefix)
        self._down_until = 0.0
        self._warned = 0.0

    async def take(self, client: str) -> float:
        now = time.monotonic()
        if now >= self._down_until:
            try:
                wait = await self._script(keys=[self.prefix + client], args=self._args)
            except (RedisError, OSError) as exc:
                self._failed(exc, now)
            else:
                if self._down_until:
                    self._down_until = 0.0
                    log.info("rate limits: Redis answers again; buckets %s* are shared again", self.prefix)
                return float(wait)
        STORE_FAILURES[self._on_error] = STORE_FAILURES.get(self._on_error, 0) + 1
        if self._on_error == "local":
            return self._local.take_now(client, now)
        return 0.0 if self._on_error == "allow" else UNAVAILABLE

    def _failed(self, exc: BaseException, now: float) -> None:
        self._down_until = now + RETRY
        if now - self._warned >= WARN_EVERY or not self._warned:
            self._warned = now
            what = {"local": "this process's own buckets count instead", "allow": "calls are let through",
                    "deny": "limited calls are refused"}[self._on_error]
            log.warning("rate limits: Redis failed (%s: %s); on_error: %s, so %s (retrying every %gs)",
                        type(exc).__name__, exc or "timeout", self._on_error, what, RETRY)

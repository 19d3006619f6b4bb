"""The Redis tier of a cache: entries, tag versions, and invalidations published to every instance.

Contract (zero stale reads across instances sharing one Redis and one `prefix`):
- Every entry records the versions of its tags (plus the implicit tags "all" and its own key) as they
  were *before* the tool ran; a read fetches the entry and the current versions in one MGET and uses
  the entry only when they are equal. Invalidating a tag is an INCR of its version, so a fill that
  raced with an invalidation stores an entry no one will ever read.
- An invalidation is published on `<prefix>:inv`; each subscribed instance drops the matching entries
  from its memory tier *then* acknowledges on the sender's `<prefix>:ack:<id>` channel. The sender
  waits for as many acknowledgements as PUBLISH reported receivers (up to ACK_TIMEOUT), so when an
  invalidating call returns, no instance still holds the old value in memory.
- The memory tier is used only while this instance is subscribed (it would miss invalidations
  otherwise). When Redis fails, is slow, or the subscription drops, the store is "down": the cache
  falls back (memory or bypass), invalidations made meanwhile are kept and replayed, and a reconnect
  loop probes Redis. On recovery the pending invalidations are published first, the memory tiers are
  emptied (others' invalidations may have been missed), and only then is Redis used again.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import uuid
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import orjson
from redis.exceptions import RedisError

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = logging.getLogger(__name__)

ACK_TIMEOUT = 2.0  # seconds an invalidation waits for the other instances to drop their copies
RETRY = 0.5  # seconds between reconnect attempts while Redis is down
MAX_PENDING = 10_000  # invalidations kept while down; past it, recovery invalidates everything
ALL = "*"

Invalidation = tuple[tuple[str, ...], tuple[str, ...], bool]  # tags, keys, everything


class RemoteDown(Exception):
    """Redis failed or was too slow for this operation."""


def entry_id(key: str) -> str:
    return hashlib.blake2b(key.encode(), digest_size=16).hexdigest()


class RemoteStore:
    def __init__(
        self,
        redis: Redis,
        subscriber: Redis,
        prefix: str,
        on_state: Callable[[bool], None] = lambda up: None,
        on_invalidation: Callable[[Invalidation], None] = lambda inv: None,
    ) -> None:
        self.redis = redis
        self._subscriber = subscriber  # its own connection without a read timeout (it waits for messages)
        self.prefix = prefix
        self.id = uuid.uuid4().hex
        self.up = False
        self._on_state = on_state
        self._on_invalidation = on_invalidation
        self._channel = f"{prefix}:inv"
        self._ack_channel = f"{prefix}:ack:{self.id}"
        self._seq = 0
        self._acks: dict[int, list[Any]] = {}  # seq -> [acks received, acks expected, event]
        self._pending_tags: set[str] = set()
        self._pending_keys: set[str] = set()
        self._pending_all = False
        self._broken = False
        self._listener: asyncio.Task[None] | None = None
        self._backlog: dict[str, tuple[bytes, float | None]] = {}
        self._writer: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    # -- life ------------------------------------------------------------------------------
    async def start(self, wait: float) -> None:
        """Subscribe in the background; wait up to `wait` seconds for the first connection. A store kept
        across a reload is started again by the new Graph's build: its one listener goes on."""
        if self._listener is None or self._listener.done():
            self._listener = asyncio.get_running_loop().create_task(self._listen())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._ready.wait(), wait)

    async def close(self) -> None:
        await self.flush()
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        with contextlib.suppress(RedisError, OSError):
            await self._subscriber.aclose()

    # -- entries ---------------------------------------------------------------------------
    def _version_keys(self, key: str, tags: Iterable[str]) -> list[str]:
        v = f"{self.prefix}:v:"
        return [v + ALL, f"{v}k:{entry_id(key)}", *(f"{v}t:{t}" for t in tags)]

    async def get(self, key: str, tags: tuple[str, ...]) -> tuple[dict[str, Any] | None, list[int], int]:
        """The entry if it is current, the versions a fill must record, the entry's size. RemoteDown on
        failure."""
        try:
            raw, *versions = await self.redis.mget([f"{self.prefix}:e:{entry_id(key)}",
                                                    *self._version_keys(key, tags)])
        except (RedisError, OSError) as exc:
            raise self.fail(exc) from None
        current = [int(v) if v is not None else 0 for v in versions]
        if raw is None:
            return None, current, 0
        entry = orjson.loads(raw)
        return (entry["r"] if entry["v"] == current else None), current, len(raw)

    @staticmethod
    def encode(result: dict[str, Any], versions: list[int]) -> bytes:
        return orjson.dumps({"v": versions, "r": result})

    async def put(self, key: str, payload: bytes, ttl: float | None) -> None:
        try:
            await self.redis.set(f"{self.prefix}:e:{entry_id(key)}", payload,
                                 px=max(1, int(ttl * 1000)) if ttl is not None else None)
        except (RedisError, OSError) as exc:
            raise self.fail(exc) from None

    def put_later(self, key: str, payload: bytes, ttl: float | None) -> None:
        """write: back: written by a background task; `flush` (at close) waits for the backlog."""
        self._backlog[key] = (payload, ttl)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(self._write_backlog())

    async def _write_backlog(self) -> None:
        while self._backlog and self.up:
            batch, self._backlog = self._backlog, {}
            try:
                async with self.redis.pipeline(transaction=False) as pipe:
                    for key, (payload, ttl) in batch.items():
                        pipe.set(f"{self.prefix}:e:{entry_id(key)}", payload,
                                 px=max(1, int(ttl * 1000)) if ttl is not None else None)
                    await pipe.execute()
            except (RedisError, OSError) as exc:
                self.fail(exc)
                return
        self._backlog.clear()  # down: entries written now could not be trusted later anyway

    async def flush(self) -> None:
        if self._writer is not None and not self._writer.done():
            with contextlib.suppress(Exception):
                await self._writer

    # -- invalidation ----------------------------------------------------------------------
    async def invalidate(self, tags: tuple[str, ...] = (), keys: tuple[str, ...] = (), everything: bool = False,
                         ) -> int:
        """Bump the versions, publish, and wait for every subscribed instance to acknowledge. While
        down, the invalidation is kept for replay. Returns how many instances acknowledged."""
        if not self.up:
            self._keep(tags, keys, everything)
            return 0
        try:
            return await self._publish(tags, keys, everything)
        except (RedisError, OSError) as exc:
            self._keep(tags, keys, everything)
            self.fail(exc)
            return 0
        except asyncio.CancelledError:
            # Maybe bumped but not published: kept, and the listener reconnects, which replays it.
            self._keep(tags, keys, everything)
            self._broken = True
            raise

    async def _publish(self, tags: tuple[str, ...], keys: tuple[str, ...], everything: bool, wait: bool = True) -> int:
        v = f"{self.prefix}:v:"
        async with self.redis.pipeline(transaction=False) as pipe:
            if everything:
                pipe.incr(v + ALL)
            for tag in tags:
                pipe.incr(f"{v}t:{tag}")
            for key in keys:
                pipe.incr(f"{v}k:{entry_id(key)}")
                pipe.delete(f"{self.prefix}:e:{entry_id(key)}")
            await pipe.execute()
        self._seq += 1
        seq = self._seq
        ack: list[Any] = [0, None, asyncio.Event()]
        self._acks[seq] = ack
        try:
            message = orjson.dumps({"from": self.id, "seq": seq, "tags": tags, "keys": keys, "all": everything})
            ack[1] = expected = await self.redis.publish(self._channel, message)
            if wait and ack[0] < expected:
                try:
                    await asyncio.wait_for(ack[2].wait(), ACK_TIMEOUT)
                except TimeoutError:
                    log.warning("cache %s: %d of %d instances acknowledged an invalidation within %gs",
                                self.prefix, ack[0], expected, ACK_TIMEOUT)
            return int(ack[0])
        finally:
            del self._acks[seq]

    def _keep(self, tags: tuple[str, ...], keys: tuple[str, ...], everything: bool) -> None:
        self._pending_tags.update(tags)
        self._pending_keys.update(keys)
        self._pending_all = self._pending_all or everything
        if len(self._pending_tags) + len(self._pending_keys) > MAX_PENDING:
            self._pending_all = True
            self._pending_tags.clear()
            self._pending_keys.clear()

    # -- health ----------------------------------------------------------------------------
    def fail(self, exc: BaseException) -> RemoteDown:
        """Mark Redis down (the listener then reconnects and probes); the exception to raise."""
        if self.up:
            log.warning("cache %s: Redis unavailable (%s: %s); falling back until it answers again",
                        self.prefix, type(exc).__name__, exc)
            self.up = False
            self._on_state(False)
        self._broken = True
        return RemoteDown(str(exc))

    async def _listen(self) -> None:
        announced = False
        while True:
            pubsub = self._subscriber.pubsub()
            try:
                await pubsub.subscribe(self._channel, self._ack_channel)
                await self._recover()
                self._ready.set()
                while not self._broken:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.25)
                    if message is not None:
                        await self._receive(message)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # RedisError, OSError, or anything unforeseen: reconnect, never die
                if not isinstance(exc, (RedisError, OSError)):
                    log.exception("cache %s: the invalidation listener failed; reconnecting", self.prefix)
                self.fail(exc)
                if not announced:
                    log.warning("cache %s: cannot reach Redis (%s); retrying every %gs", self.prefix, exc, RETRY)
                    announced = True
            finally:
                with contextlib.suppress(RedisError, OSError, RuntimeError):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
            self._ready.set()  # whoever waited for the first connection goes on, on the fallback
            await asyncio.sleep(RETRY)

    async def _recover(self) -> None:
        """Subscribed again: replay what was invalidated meanwhile, then let the cache use Redis."""
        await self.redis.ping()
        if self._pending_all or self._pending_tags or self._pending_keys:
            tags, keys, everything = tuple(self._pending_tags), tuple(self._pending_keys), self._pending_all
            await self._publish(tags, keys, everything, wait=False)  # our own listener is not reading yet
            self._pending_tags.clear()
            self._pending_keys.clear()
            self._pending_all = False
        self._broken = False
        if not self.up:
            log.info("cache %s: Redis answers again; using it", self.prefix)
            self.up = True
            self._on_state(True)

    async def _receive(self, message: dict[str, Any]) -> None:
        try:
            data = orjson.loads(message["data"])
            channel = message["channel"]
            is_ack = (channel.decode() if isinstance(channel, bytes) else channel) == self._ack_channel
            if not is_ack:
                invalidation = (tuple(map(str, data["tags"])), tuple(map(str, data["keys"])), bool(data["all"]))
                reply_to, seq = f"{self.prefix}:ack:{data['from']}", int(data["seq"])
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
            log.warning("cache %s: ignored a message on its channels that is not webmcp's: %.80r", self.prefix,
                        message.get("data"))
            return
        if is_ack:
            ack = self._acks.get(data) if isinstance(data, int) else None
            if ack is not None:
                ack[0] += 1
                if ack[1] is not None and ack[0] >= ack[1]:
                    ack[2].set()
            return
        self._on_invalidation(invalidation)
        await self.redis.publish(reply_to, orjson.dumps(seq))

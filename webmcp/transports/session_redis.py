"""`server.http.sessions: {backend: redis, pool: NAME}`: 2025 session records in Redis, shared by every
worker and instance using the pool, and the session messages between them over Redis pub/sub
(what a record and a message are: transports/session_store.py).

Layout, under `webmcp:sessions:<server.name>`:
- `:s:<sha256(session id)>`: the record (JSON), expiring `session_idle_timeout` after its last use
  (a fetch slides it with GETEX; the processes serving a session touch it with EXPIRE). The session
  id itself is never stored: it is the client's credential for the session.
- `:request-state-key`: the key that signs 2026-07-28 requestState, made by the first instance, when
  `server.request_state.secret_env` names none.
- `:all`: messages for every node; `:node:<node>`: messages for one. A node is one process
  (host.pid.random); it ignores its own messages.

Failures: a command that fails or exceeds the pool's `timeout` raises StoreUnavailable (the request
gets 503). The subscription reconnects every RETRY seconds; after a reconnect, copies may have missed
changes, so idle ones are rebuilt from their records (`resync`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import math
import os
import secrets
import socket
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any

import orjson
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from webmcp.kinds.pools.redis import connect, subscriber
from webmcp.transports.session_store import Handler, Message, StoreUnavailable

if TYPE_CHECKING:
    from webmcp.kinds.pools.redis import RedisPoolSpec

log = logging.getLogger(__name__)

RETRY = 0.5  # seconds between reconnects of the subscription
_FAILURES = (RedisError, OSError, TimeoutError)


class RedisStore:
    shared = True

    def __init__(self, pool: RedisPoolSpec, server_name: str, idle_timeout: float) -> None:
        self.node = f"{socket.gethostname()}.{os.getpid()}.{secrets.token_hex(3)}"
        self._pool = pool
        self._redis = connect(pool)
        self._prefix = f"webmcp:sessions:{server_name}"
        self._all = f"{self._prefix}:all"
        self._mine = f"{self._prefix}:node:{self.node}"
        self._ttl = max(1, math.ceil(idle_timeout))
        self._handler: Handler | None = None
        self._listening: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[Any]] = set()

    def _key(self, sid: str) -> str:
        return f"{self._prefix}:s:{hashlib.sha256(sid.encode()).hexdigest()}"

    async def start(self, handler: Handler) -> None:
        """Subscribe before serving (up to the pool's connect timeout); keep trying in the background."""
        self._handler = handler
        subscribed = asyncio.get_running_loop().create_future()
        self._listening = asyncio.get_running_loop().create_task(self._listen(subscribed))
        try:
            await asyncio.wait_for(asyncio.shield(subscribed), self._pool.connect_timeout + self._pool.timeout)
        except TimeoutError:
            log.warning("session store %s: not reachable yet; sessions opened elsewhere are served once it is",
                        self._pool.address)

    async def _listen(self, subscribed: asyncio.Future[None]) -> None:
        lost = False
        while True:
            client = subscriber(self._pool)
            try:
                async with client.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.subscribe(self._all, self._mine)
                    if not subscribed.done():
                        subscribed.set_result(None)
                    if lost:
                        log.info("session store %s: subscribed again", self._pool.address)
                        self._dispatch({"op": "resync"})
                        lost = False
                    async for item in pubsub.listen():
                        if item.get("type") == "message":
                            self._receive(item["data"])
            except _FAILURES as exc:
                if not lost:
                    log.warning("session store %s: no subscription (%s); retrying", self._pool.address, exc)
                lost = True
            finally:
                with contextlib.suppress(*_FAILURES):
                    await client.aclose()
            await asyncio.sleep(RETRY)

    def _receive(self, data: bytes) -> None:
        try:
            message = orjson.loads(data)
        except orjson.JSONDecodeError:
            log.warning("session store: a message that is not JSON: %.200r", data)
            return
        if isinstance(message, dict) and message.get("from") != self.node:
            self._dispatch(message)

    def _dispatch(self, message: Message) -> None:
        if self._handler is not None:
            self._handler(message)

    async def _run(self, what: str, command: Callable[[], Awaitable[Any]]) -> Any:
        """The command, once more on a fresh connection if the pooled one turned out dead (Redis restarted)."""
        try:
            try:
                return await command()
            except RedisConnectionError:
                return await command()
        except _FAILURES as exc:
            raise StoreUnavailable(f"redis {self._pool.address}: {what} failed: {exc or type(exc).__name__}") from None

    def _encode(self, message: Message) -> bytes:
        return orjson.dumps({**message, "from": self.node})

    async def create(self, sid: str, record: Message) -> None:
        await self._run("create", lambda: self._redis.set(self._key(sid), orjson.dumps(record), ex=self._ttl))

    async def fetch(self, sid: str) -> Message | None:
        data = await self._run("fetch", lambda: self._redis.getex(self._key(sid), ex=self._ttl))
        if data is None:
            return None
        record = orjson.loads(data)
        return record if isinstance(record, dict) else None

    async def save(self, sid: str, record: Message) -> None:
        async def both() -> None:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.set(self._key(sid), orjson.dumps(record), ex=self._ttl)
                pipe.publish(self._all, self._encode({"op": "changed", "sid": sid, "record": record}))
                await pipe.execute()

        await self._run("save", both)

    async def delete(self, sid: str) -> None:
        async def both() -> None:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.delete(self._key(sid))
                pipe.publish(self._all, self._encode({"op": "ended", "sid": sid}))
                await pipe.execute()

        await self._run("delete", both)

    def touch(self, sids: Iterable[str]) -> None:
        keys = [self._key(sid) for sid in sids]

        async def expire() -> None:
            async with self._redis.pipeline(transaction=False) as pipe:
                for key in keys:
                    pipe.expire(key, self._ttl)
                await pipe.execute()

        self._later("touch", expire)

    def send(self, node: str, message: Message) -> None:
        channel = f"{self._prefix}:node:{node}"
        self._later("send", lambda: self._redis.publish(channel, self._encode(message)))

    def broadcast(self, message: Message) -> None:
        self._later("broadcast", lambda: self._redis.publish(self._all, self._encode(message)))

    def _later(self, what: str, command: Callable[[], Awaitable[Any]]) -> None:
        async def run() -> None:
            try:
                await self._run(what, command)
            except StoreUnavailable as exc:
                log.warning("session store: %s", exc)

        task = asyncio.get_running_loop().create_task(run())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def signing_key(self) -> bytes | None:
        """The requestState key of every instance using this Redis: made by the first (SET NX), read by all.
        None (each process keeps its own) when Redis does not answer."""
        key = f"{self._prefix}:request-state-key"

        async def make_or_read() -> Any:
            await self._redis.set(key, secrets.token_bytes(32), nx=True)
            return await self._redis.get(key)

        try:
            value = await self._run("the requestState key", make_or_read)
        except StoreUnavailable as exc:
            log.warning("%s; this process signs requestState with a key of its own (set "
                        "server.request_state.secret_env to share one)", exc)
            return None
        return bytes(value) if value else None

    async def close(self) -> None:
        self._handler = None
        for task in [self._listening, *self._background]:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, *_FAILURES):
                    await task
        with contextlib.suppress(*_FAILURES):
            await self._redis.aclose()

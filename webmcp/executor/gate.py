"""The gate a call passes after its argument check and before admission: memory shedding and rate
limits. It refuses at once (an isError result naming the limit) and never waits.

Order: the memory guard, then the client's bucket, then the tool's. A call refused by a later check
has already taken a token from an earlier bucket (as a shared store would count it too).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from webmcp.executor.admission import Refused
from webmcp.executor.ratelimit import UNAVAILABLE, Buckets, retry_text

if TYPE_CHECKING:
    from webmcp.call.context import Context
    from webmcp.executor.memory import MemoryGuard


_STORE_DOWN = ("rate limit store unavailable (Redis failed; executor.rate_limits.on_error: deny); "
               "retry in 1.0s")


class RateLimited(Refused):
    reason = "rate_limit"


class MemoryShed(Refused):
    reason = "memory"


class Gate:
    __slots__ = ("_client", "_guard", "_name", "_per_client", "_priority", "_tool")

    def __init__(
        self,
        name: str,
        priority: str,
        guard: MemoryGuard | None,
        tool_buckets: Buckets | None,
        client_buckets: Buckets | None,
    ) -> None:
        self._name = name
        self._priority = priority
        self._guard = guard
        self._tool = tool_buckets
        self._client = client_buckets
        self._per_client = tool_buckets is not None and tool_buckets.spec.per == "client"

    async def refuse(self, ctx: Context) -> Refused | None:
        """None when the call may go on; else why not."""
        guard = self._guard
        if guard is not None and guard.shedding:
            return MemoryShed(guard.message(self._priority))
        if self._client is not None:
            wait = await self._client.take(ctx.client)
            if wait == UNAVAILABLE:
                return RateLimited(_STORE_DOWN)
            if wait:
                return RateLimited(f"rate limit {self._client.spec.text} per client exceeded "
                                   f"(executor.client_rate_limit); retry in {retry_text(wait)}")
        tool = self._tool
        if tool is not None:
            wait = await tool.take(ctx.client if self._per_client else "*")
            if wait == UNAVAILABLE:
                return RateLimited(_STORE_DOWN)
            if wait:
                each = " per client" if self._per_client else ""
                return RateLimited(f"rate limit {tool.spec.text}{each} for tool {self._name!r} exceeded; "
                                   f"retry in {retry_text(wait)}")
        return None

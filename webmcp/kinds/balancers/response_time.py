"""response_time: the endpoint with the lowest expected wait, its moving average latency (EWMA)
times the attempts it already has under way plus one; endpoints without a sample yet go first."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from webmcp.upstreams.endpoint import Endpoint


class ResponseTime:
    __slots__ = ("_next",)

    def __init__(self, endpoints: Sequence[Endpoint], hash_on: Sequence[str]) -> None:
        self._next = 0

    def pick(self, available: Sequence[Endpoint], arguments: Mapping[str, Any]) -> Endpoint:
        n = len(available)
        start = self._next % n
        self._next += 1
        best = available[start]
        best_cost = best.ewma * (best.inflight + 1)
        for i in range(1, n):
            ep = available[(start + i) % n]
            cost = ep.ewma * (ep.inflight + 1)
            if cost < best_cost:
                best, best_cost = ep, cost
        return best

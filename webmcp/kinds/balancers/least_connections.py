"""least_connections: the endpoint with the fewest attempts under way per unit of weight; ties go
round robin so idle replicas share the load; O(endpoints)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from webmcp.upstreams.endpoint import Endpoint


class LeastConnections:
    __slots__ = ("_next",)

    def __init__(self, endpoints: Sequence[Endpoint], hash_on: Sequence[str]) -> None:
        self._next = 0

    def pick(self, available: Sequence[Endpoint], arguments: Mapping[str, Any]) -> Endpoint:
        n = len(available)
        start = self._next % n
        self._next += 1
        best = available[start]
        best_load = best.inflight / best.weight
        for i in range(1, n):
            ep = available[(start + i) % n]
            load = ep.inflight / ep.weight
            if load < best_load:
                best, best_load = ep, load
        return best

"""least_connections: the endpoint with the fewest attempts under way per unit of weight; ties go
round robin so idle replicas share the load; O(endpoints)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from webmcp.config.registry import Kind, register
from webmcp.config.upstreams import Balancing
from webmcp.upstreams.endpoint import Endpoint


def least(available: Sequence[Endpoint], start: int, cost: Callable[[Endpoint], float]) -> Endpoint:
    """The endpoint of lowest `cost`, looking from `start` round the list (ties go to the first seen, so
    rotating `start` spreads ties)."""
    n = len(available)
    best = available[start % n]
    best_cost = cost(best)
    for i in range(1, n):
        ep = available[(start + i) % n]
        c = cost(ep)
        if c < best_cost:
            best, best_cost = ep, c
    return best


def _load(ep: Endpoint) -> float:
    return ep.inflight / ep.weight


class LeastConnections:
    __slots__ = ("_next",)
    cost: Callable[[Endpoint], float] = staticmethod(_load)  # response_time picks by another cost

    def __init__(self, endpoints: Sequence[Endpoint], hash_on: Sequence[str]) -> None:
        self._next = 0

    def pick(self, available: Sequence[Endpoint], arguments: Mapping[str, Any]) -> Endpoint:
        start = self._next
        self._next += 1
        return least(available, start, self.cost)


KIND = register(Kind("balancers", "least_connections", Balancing, LeastConnections))

"""Balancing strategies, one module each; BALANCERS maps the `balance:` value to its class.

A balancer's `pick(available, arguments)` chooses among the endpoints that may take calls now
(`available` is never empty). It runs on every call: O(1) for round_robin, O(endpoints) at most for
the others, no locks (event loop only).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from webmcp.kinds.balancers import consistent_hash, least_connections, response_time, round_robin, weighted
from webmcp.upstreams.endpoint import Endpoint


class Balancer(Protocol):
    def pick(self, available: Sequence[Endpoint], arguments: Mapping[str, Any]) -> Endpoint: ...


BALANCERS: dict[str, Any] = {
    "round_robin": round_robin.RoundRobin,
    "weighted": weighted.Weighted,
    "least_connections": least_connections.LeastConnections,
    "response_time": response_time.ResponseTime,
    "consistent_hash": consistent_hash.ConsistentHash,
}


def make_balancer(name: str, endpoints: Sequence[Endpoint], hash_on: Sequence[str]) -> Balancer:
    balancer: Balancer = BALANCERS[name](endpoints, hash_on)
    return balancer

"""consistent_hash: calls with the same values of the `hash_on` arguments go to the same endpoint;
removing one endpoint moves only its own share (a ring of 100 points per unit of weight). When the
chosen endpoint is not available, the next one along the ring takes the call; O(log points)."""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from webmcp.config.registry import Kind, register
from webmcp.config.upstreams import Balancing
from webmcp.upstreams.endpoint import Endpoint

POINTS_PER_WEIGHT = 100


def _hash(data: bytes) -> int:
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "big")


class ConsistentHash:
    __slots__ = ("_hash_on", "_owners", "_points")

    def __init__(self, endpoints: Sequence[Endpoint], hash_on: Sequence[str]) -> None:
        ring = sorted((_hash(f"{ep.name}#{i}".encode()), ep) for ep in endpoints
                      for i in range(POINTS_PER_WEIGHT * ep.weight))
        self._points = [h for h, _ in ring]
        self._owners = [ep for _, ep in ring]
        self._hash_on = tuple(hash_on)

    def pick(self, available: Sequence[Endpoint], arguments: Mapping[str, Any]) -> Endpoint:
        key = orjson.dumps([arguments.get(name) for name in self._hash_on], option=orjson.OPT_SORT_KEYS)
        i = bisect.bisect(self._points, _hash(key))
        owners = self._owners
        for step in range(len(owners)):
            ep = owners[(i + step) % len(owners)]
            if ep in available:
                return ep
        return available[0]


KIND = register(Kind("balancers", "consistent_hash", Balancing, ConsistentHash))

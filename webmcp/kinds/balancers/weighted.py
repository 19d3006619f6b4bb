"""weighted: smooth weighted round robin (nginx's): shares follow the weights exactly, interleaved
rather than in bursts; O(endpoints)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from webmcp.config.registry import Kind, register
from webmcp.config.upstreams import Balancing
from webmcp.upstreams.endpoint import Endpoint


class Weighted:
    __slots__ = ()

    def __init__(self, endpoints: Sequence[Endpoint], hash_on: Sequence[str]) -> None:
        pass

    def pick(self, available: Sequence[Endpoint], arguments: Mapping[str, Any]) -> Endpoint:
        total = 0
        best = available[0]
        for ep in available:
            ep.current_weight += ep.weight
            total += ep.weight
            if ep.current_weight > best.current_weight:
                best = ep
        best.current_weight -= total
        return best


KIND = register(Kind("balancers", "weighted", Balancing, Weighted))

"""round_robin: each available endpoint in turn; O(1)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from webmcp.config.registry import Kind, register
from webmcp.config.upstreams import Balancing
from webmcp.upstreams.endpoint import Endpoint


class RoundRobin:
    __slots__ = ("_next",)

    def __init__(self, endpoints: Sequence[Endpoint], hash_on: Sequence[str]) -> None:
        self._next = 0

    def pick(self, available: Sequence[Endpoint], arguments: Mapping[str, Any]) -> Endpoint:
        n = self._next
        self._next = n + 1
        return available[n % len(available)]


KIND = register(Kind("balancers", "round_robin", Balancing, RoundRobin))

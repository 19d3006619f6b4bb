"""response_time: the endpoint with the lowest expected wait, its moving average latency (EWMA)
times the attempts it already has under way plus one; endpoints without a sample yet go first."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from webmcp.kinds.balancers.least_connections import least
from webmcp.upstreams.endpoint import Endpoint


def _expected_wait(ep: Endpoint) -> float:
    return ep.ewma * (ep.inflight + 1)


class ResponseTime:
    __slots__ = ("_next",)

    def __init__(self, endpoints: Sequence[Endpoint], hash_on: Sequence[str]) -> None:
        self._next = 0

    def pick(self, available: Sequence[Endpoint], arguments: Mapping[str, Any]) -> Endpoint:
        start = self._next
        self._next += 1
        return least(available, start, _expected_wait)

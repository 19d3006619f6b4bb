"""response_time: the endpoint with the lowest expected wait, its moving average latency (EWMA)
times the attempts it already has under way plus one; endpoints without a sample yet go first."""

from __future__ import annotations

from webmcp.config.registry import Kind, register
from webmcp.config.upstreams import Balancing
from webmcp.kinds.balancers.least_connections import LeastConnections
from webmcp.upstreams.endpoint import Endpoint


def _expected_wait(ep: Endpoint) -> float:
    return ep.ewma * (ep.inflight + 1)


class ResponseTime(LeastConnections):
    __slots__ = ()
    cost = staticmethod(_expected_wait)


KIND = register(Kind("balancers", "response_time", Balancing, ResponseTime))

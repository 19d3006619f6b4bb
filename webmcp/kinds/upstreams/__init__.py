"""Upstream kinds (`upstreams:` entries): http and mcp."""

from __future__ import annotations

from webmcp.config.registry import kind
from webmcp.config.upstreams import Balancing
from webmcp.upstreams.balancer import MakeBalancer


def balancer_of(balancing: Balancing) -> MakeBalancer:
    """The balancer kind named by `balance:`."""
    make: MakeBalancer = kind("balancers", balancing.balance).build
    return make

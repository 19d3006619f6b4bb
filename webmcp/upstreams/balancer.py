"""What an upstream asks of its balancing strategy (one per module in kinds/balancers/).

A balancer's `pick(available, arguments)` chooses among the endpoints that may take calls now
(`available` is never empty). It runs on every call: O(1) for round_robin, O(endpoints) at most for
the others, no locks (event loop only).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from webmcp.upstreams.endpoint import Endpoint


class Balancer(Protocol):
    def pick(self, available: Sequence[Endpoint], arguments: Mapping[str, Any]) -> Endpoint: ...


MakeBalancer = Callable[[Sequence[Endpoint], Sequence[str]], Balancer]  # (endpoints, hash_on) -> a Balancer

"""GraphHolder: the one place that knows the current Graph.

Contract: `current` is replaced by a single assignment (`swap`); calls take a lease on the Graph they
started with (`lease`) and finish on it even if a newer Graph is swapped in meanwhile.
"""

from __future__ import annotations

import weakref
from typing import Protocol

from webmcp.graph.graph import Graph


class Client(Protocol):
    """A connected protocol session, as a reload sees it (protocol/session.py)."""

    def notify_list_changed(self, what: str) -> None: ...

    def cancel_calls_on(self, graph: Graph) -> int: ...


class GraphHolder:
    __slots__ = ("current", "sessions")

    def __init__(self, graph: Graph) -> None:
        self.current = graph
        # Connected protocol sessions, told when a reload changes the catalog (weak: a dropped
        # session disappears by itself).
        self.sessions: weakref.WeakSet[Client] = weakref.WeakSet()

    def lease(self) -> Graph:
        graph = self.current
        graph.leases += 1
        return graph

    def swap(self, graph: Graph) -> Graph:
        old, self.current = self.current, graph
        return old

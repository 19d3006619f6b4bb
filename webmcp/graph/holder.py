"""GraphHolder: the one place that knows the current Graph.

Contract: `current` is replaced by a single assignment (`swap`); calls take a lease on the Graph they
started with (`lease`) and finish on it even if a newer Graph is swapped in meanwhile.
"""

from __future__ import annotations

from webmcp.graph.graph import Graph


class GraphHolder:
    __slots__ = ("current",)

    def __init__(self, graph: Graph) -> None:
        self.current = graph

    def lease(self) -> Graph:
        graph = self.current
        graph.leases += 1
        return graph

    def swap(self, graph: Graph) -> Graph:
        old, self.current = self.current, graph
        return old

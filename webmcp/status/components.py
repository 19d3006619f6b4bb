"""The running components telemetry reports on, found in a Graph's shared components by name."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from webmcp.executor.admission import Admission
    from webmcp.executor.memory import MemoryGuard
    from webmcp.executor.threads import WorkerThreads
    from webmcp.graph.graph import Graph
    from webmcp.graph.holder import GraphHolder
    from webmcp.telemetry.targets import Target, Window


@dataclass(frozen=True, slots=True)
class Components:
    admission: Admission | None
    memory: MemoryGuard | None
    window: Window | None
    threads: WorkerThreads | None = None

    def targets(self) -> list[Target]:
        """Every configured target with its current value (max_memory: violated while shedding)."""
        from webmcp.telemetry.targets import Target

        out = self.window.targets() if self.window is not None else []
        if self.memory is not None:
            out.append(Target("max_memory", float(self.memory.limit), float(self.memory.rss), self.memory.shedding))
        return out


def components(graph: Graph) -> Components:
    by_name = {key[0]: shared.value for key, shared in graph.shared.items()}
    return Components(by_name.get("admission"), by_name.get("memory_guard"), by_name.get("call_window"),
                      by_name.get("threads"))


class State:
    """The holder of the serving process, for the /metrics collector (set once by `serve`)."""

    holder: GraphHolder | None = None


def serve_state_of(holder: GraphHolder) -> None:
    State.holder = holder

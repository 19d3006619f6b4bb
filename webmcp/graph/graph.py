"""The immutable runtime graph and its tools/list catalog.

Contract: nothing in a Graph changes after build except its lease count. Requests read
`holder.current` once and keep that snapshot; a reload builds a new Graph and swaps it in.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import AsyncExitStack, suppress
from dataclasses import dataclass
from typing import Any

from webmcp.catalog.prompts import Prompts
from webmcp.catalog.resources import Resources
from webmcp.config.spec import ConfigSpec
from webmcp.errors import Problem
from webmcp.graph.invocable import Invocable
from webmcp.graph.shared import Key, Shared
from webmcp.graph.views import View

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Unchecked:
    """What a build that does not connect (`webmcp validate` without --connect) left unchecked, each
    located: tool entries not checked against their upstream MCP servers, required Redis pools not reached."""

    tools: tuple[Problem, ...] = ()
    pools: tuple[Problem, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.tools or self.pools)


class Graph:
    __slots__ = ("__weakref__", "_idle", "_stack", "default", "generation", "leases", "prompts",
                 "resources", "shared", "spec", "tools", "unchecked", "views")

    def __init__(
        self,
        generation: int,
        spec: ConfigSpec,
        tools: dict[str, Any],
        stack: AsyncExitStack,
        resources: Resources,
        prompts: Prompts,
        shared: dict[Key, Shared] | None = None,
        unchecked: Unchecked | None = None,
        views: dict[str, View] | None = None,
    ) -> None:
        self.unchecked = unchecked or Unchecked()  # empty unless built without connecting
        self.resources = resources
        self.prompts = prompts
        self.shared = shared or {}  # components a reload may hand to the next Graph
        self.generation = generation
        self.spec = spec
        self.tools: dict[str, Invocable] = tools
        self.default = View(None, tools, tools, spec.server.page_size)  # the default endpoint's
        self.views: dict[str, View] = views or {}  # toolsets by name
        self.leases = 0
        self._stack = stack
        self._idle: asyncio.Event | None = None

    @property
    def catalog(self) -> tuple[dict[str, Any], ...]:
        """The default endpoint's tools/list entries (today's: sunset tools are left out)."""
        return self.default.catalog

    def view(self, toolset: str | None) -> View | None:
        """The default view (None), a toolset's, or None for a toolset this config does not have."""
        return self.default if toolset is None else self.views.get(toolset)

    def page(self, cursor: str | None) -> dict[str, Any] | None:
        """One tools/list result of the default view; None when the cursor is not one of ours."""
        return self.default.page(cursor)

    def release(self) -> None:
        self.leases -= 1
        if self.leases == 0 and self._idle is not None:
            self._idle.set()

    async def wait_idle(self, timeout: float | None) -> bool:
        """Until no call holds a lease (True), or `timeout` seconds pass (False)."""
        if self.leases:
            self._idle = self._idle or asyncio.Event()
            with suppress(TimeoutError):
                await asyncio.wait_for(self._idle.wait(), timeout)
        return self.leases == 0

    async def close(self, timeout: float | None = None) -> None:
        """Close once running calls holding leases are done (or after `timeout` seconds)."""
        await self.wait_idle(timeout)
        await close_stack(self._stack)


async def close_stack(stack: AsyncExitStack) -> None:
    """Unwind a stack, logging a teardown error instead of raising it into the caller's shutdown."""
    try:
        await stack.aclose()
    except Exception:
        log.exception("error while closing components")

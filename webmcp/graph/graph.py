"""The immutable runtime graph and its tools/list catalog.

Contract: nothing in a Graph changes after build except its lease count. Requests read
`holder.current` once and keep that snapshot; a reload builds a new Graph and swaps it in.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from contextlib import AsyncExitStack, suppress
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from webmcp.catalog.prompts import Prompts
from webmcp.catalog.resources import Resources
from webmcp.config.spec import ConfigSpec
from webmcp.errors import Problem
from webmcp.graph.shared import Key, Shared

if TYPE_CHECKING:
    from webmcp.call.context import Context

log = logging.getLogger(__name__)


class Invocable(Protocol):
    name: str
    definition: dict[str, Any]

    async def call(self, arguments: dict[str, Any], ctx: Context) -> dict[str, Any]: ...


@dataclass(frozen=True, slots=True)
class Unchecked:
    """What a build that does not connect (`webmcp validate` without --connect) left unchecked, each
    located: tool entries not checked against their upstream MCP servers, required Redis pools not reached."""

    tools: tuple[Problem, ...] = ()
    pools: tuple[Problem, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.tools or self.pools)


class Graph:
    __slots__ = ("__weakref__", "_idle", "_pages", "_stack", "catalog", "generation", "leases", "prompts",
                 "resources", "shared", "spec", "tools", "unchecked")

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
    ) -> None:
        self.unchecked = unchecked or Unchecked()  # empty unless built without connecting
        self.resources = resources
        self.prompts = prompts
        self.shared = shared or {}  # components a reload may hand to the next Graph
        self.generation = generation
        self.spec = spec
        self.tools: dict[str, Invocable] = tools
        self.catalog: tuple[dict[str, Any], ...] = tuple(t.definition for t in tools.values())
        self.leases = 0
        self._stack = stack
        self._idle: asyncio.Event | None = None
        self._pages: dict[int, dict[str, Any]] = {}

    def page(self, cursor: str | None) -> dict[str, Any] | None:
        """One tools/list result; None when the cursor is not one of ours."""
        offset = 0
        if cursor is not None:
            try:
                offset = int(base64.urlsafe_b64decode(cursor.encode()).decode())
            except (ValueError, UnicodeDecodeError):
                return None
            if offset < 0 or offset > len(self.catalog):
                return None
        cached = self._pages.get(offset)
        if cached is None:
            size = self.spec.server.page_size
            cached = {"tools": list(self.catalog[offset : offset + size])}
            if offset + size < len(self.catalog):
                cached["nextCursor"] = base64.urlsafe_b64encode(str(offset + size).encode()).decode()
            self._pages[offset] = cached
        return cached

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

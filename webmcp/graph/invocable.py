"""`Invocable`: what tools/call reaches by name (a Tool, a MasterTool, a toolset's find_tools or call_tool)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from webmcp.call.context import Context


class Invocable(Protocol):
    name: str
    definition: dict[str, Any]

    async def call(self, arguments: dict[str, Any], ctx: Context) -> dict[str, Any]: ...

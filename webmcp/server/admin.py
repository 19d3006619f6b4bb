"""What the HTTP admin endpoints do (transports/http_admin.py authenticates and answers): reload the config,
clear caches."""

from __future__ import annotations

from typing import Any

from webmcp.graph.holder import GraphHolder
from webmcp.server.cache_clear import ClearRequest, apply
from webmcp.server.reload import Reloader


class ServerAdmin:
    """transports.http_admin.Admin for the serving process."""

    def __init__(self, holder: GraphHolder, reloader: Reloader) -> None:
        self._holder = holder
        self._reloader = reloader

    async def reload(self) -> tuple[bool, dict[str, Any]]:
        report = await self._reloader.reload_now()
        return report.ok, report.as_dict()

    async def clear_caches(self, request: Any) -> dict[str, Any]:
        return await apply(self._holder.current, ClearRequest.from_json(request))

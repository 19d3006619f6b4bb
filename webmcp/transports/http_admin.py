"""The admin endpoints of the HTTP listener, behind the admin token (`server.http.admin_token_env`):
POST /admin/reload and POST /admin/cache/clear. What they do is the serving process's (`Admin`,
server/admin.py); this module authenticates and answers."""

from __future__ import annotations

from typing import Any, Protocol

import orjson
from aiohttp import web

from webmcp.transports.http_access import StaticToken, bearer_ok, unauthorized


class Admin(Protocol):
    """What the admin endpoints do; the serving process provides it (server/admin.py)."""

    async def reload(self) -> tuple[bool, dict[str, Any]]:
        """Reload the config as SIGHUP does: (it took, the reload report)."""

    async def clear_caches(self, request: Any) -> dict[str, Any]:
        """Invalidate as the JSON `request` says; ValueError or KeyError for a request that is wrong."""


def add_admin_routes(app: web.Application, admin: Admin, token: StaticToken) -> None:
    async def reload(request: web.Request) -> web.StreamResponse:
        """POST /admin/reload: the same reload as SIGHUP; answers with its report."""
        if not bearer_ok(request, token):
            return unauthorized()
        ok, report = await admin.reload()
        return web.Response(body=orjson.dumps(report), content_type="application/json", status=200 if ok else 422)

    async def clear_caches(request: web.Request) -> web.StreamResponse:
        """POST /admin/cache/clear: {"tags": [...], "keys": [...], "all": true, "cache": NAME}."""
        if not bearer_ok(request, token):
            return unauthorized()
        try:
            answer = await admin.clear_caches(orjson.loads(await request.read()))
        except (orjson.JSONDecodeError, ValueError, KeyError) as exc:
            message = exc.args[0] if isinstance(exc, KeyError) else str(exc)
            return web.json_response({"error": message}, status=400)
        return web.json_response(answer)

    app.router.add_post("/admin/reload", reload)
    app.router.add_post("/admin/cache/clear", clear_caches)

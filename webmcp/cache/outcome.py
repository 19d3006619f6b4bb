"""What the cache did for a call, and whether its result is degraded: ContextVars read by the stages
around the cache (callpath/tool.py for spans, callpath/guard.py sets DEGRADED). A module of its own so
that tools without a cache never import the cache machinery (nor redis)."""

from __future__ import annotations

import contextvars

# Right after a cached call returns, in the caller's task: "hit", "miss", "shared", "bypass" or "stale".
OUTCOME: contextvars.ContextVar[str | None] = contextvars.ContextVar("webmcp_cache_outcome", default=None)
# Set by a tool's guard when it answered with a fallback ("stale" or "fallback"): never stored as a result.
DEGRADED: contextvars.ContextVar[str | None] = contextvars.ContextVar("webmcp_degraded", default=None)

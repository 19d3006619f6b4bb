"""The runtime state of one endpoint of an upstream.

Contract: touched from the event loop only (no locks). `inflight` counts attempts under way;
`healthy` is set by active health checks, `ejected` by passive outlier ejection; an endpoint takes
calls only when healthy, not ejected and its breaker (if any) allows.
"""

from __future__ import annotations

import os
import urllib.parse
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from webmcp.upstreams.breaker import Breaker

EWMA_ALPHA = 0.3  # weight of the newest latency sample in the moving average


class Endpoint:
    __slots__ = ("address", "breaker", "calls", "current_weight", "ejected", "ewma", "failed", "failures", "healthy",
                 "inflight", "name", "ok", "weight")

    def __init__(self, name: str, address: str, weight: int, breaker: Breaker | None) -> None:
        self.name = name
        self.address = address
        self.weight = weight
        self.breaker = breaker
        self.inflight = 0
        self.calls = 0  # attempts sent here, for tests and metrics
        self.ewma = 0.0  # seconds; 0 until the first sample
        self.failures = 0  # consecutive
        self.healthy = True
        self.ejected = False
        self.current_weight = 0  # smooth weighted round robin
        self.ok: Any = None  # bound prometheus counters of attempt outcomes (set by the Upstream)
        self.failed: Any = None

    def observe(self, seconds: float) -> None:
        self.ewma = seconds if self.ewma == 0.0 else self.ewma + EWMA_ALPHA * (seconds - self.ewma)


def url_name(url: str) -> str:
    """How an endpoint at `url` is named in messages, logs and metric labels: host, port and path,
    never the credentials or the query (either may carry secrets). "" for a URL that does not parse
    (`url_problem` says why)."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return ""
    return parts.netloc.rpartition("@")[2] + parts.path.rstrip("/")


def url_problem(url: str) -> str | None:
    """Why `url` cannot be used as an endpoint's URL (it passed the schema's `^https?://`); None when it can."""
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 -- raises for a port that is not a number from 0 to 65535
    except ValueError as exc:
        return f"is not a URL that can be used: {exc}"
    return None if parts.hostname else "names no host"


def command_name(argv: tuple[str, ...]) -> str:
    """How a command endpoint is named: its program's file name (arguments may carry tokens)."""
    return os.path.basename(argv[0]) if argv else "command"

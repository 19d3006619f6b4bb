"""`--soak DURATION`: is the server's memory stable under a long, steady load?

The run is an ordinary one of DURATION; its per-second RSS readings after the warm-up are fitted with
a least-squares line, and the slope, in MB per hour, is gated (`--soak-max-growth`). The warm-up is
left out because caches, pools and the allocator fill up first; a leak shows as a slope that stays.
"""

from __future__ import annotations

import re
from typing import Any

from webmcp.loadtest.errors import BenchUsageError

_GROWTH = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*MB\s*/\s*h\s*$")


def parse_growth(text: str) -> float:
    m = _GROWTH.match(text)
    if m is None:
        raise BenchUsageError(f"--soak-max-growth {text!r}: write MB per hour, e.g. 10MB/h")
    return float(m.group(1))


def slope_per_hour(points: list[tuple[float, float]]) -> float:
    """The least-squares slope of (seconds, MB) points, in MB per hour."""
    n = len(points)
    mean_t = sum(t for t, _ in points) / n
    mean_m = sum(m for _, m in points) / n
    spread = sum((t - mean_t) ** 2 for t, _ in points)
    if spread == 0:
        return 0.0
    return sum((t - mean_t) * (m - mean_m) for t, m in points) / spread * 3600


def judge(report: dict[str, Any], warmup: float, max_growth: float) -> dict[str, Any]:
    """The soak verdict of a run's timeline."""
    points = [(float(row["t"]), float(row["rss_mb"])) for row in report["timeline"]
              if "rss_mb" in row and row["t"] >= warmup]
    if len(points) < 3:
        return {"warmup_s": warmup, "samples": len(points), "slope_mb_per_hour": None,
                "max_growth_mb_per_hour": max_growth, "ok": False,
                "reason": "fewer than 3 memory readings after the warm-up: soak longer, or warm up less"}
    slope = slope_per_hour(points)
    return {"warmup_s": warmup, "samples": len(points), "slope_mb_per_hour": round(slope, 2),
            "rss_mb": {"after_warmup": points[0][1], "last": points[-1][1], "max": max(m for _, m in points)},
            "max_growth_mb_per_hour": max_growth, "ok": slope <= max_growth,
            "reason": None if slope <= max_growth else f"memory grows {slope:,.1f} MB/h > {max_growth:g} MB/h"}


def render(soak: dict[str, Any]) -> str:
    if soak["slope_mb_per_hour"] is None:
        return f"soak: FAILED ({soak['reason']})"
    verdict = "ok" if soak["ok"] else f"FAILED ({soak['reason']})"
    return (f"soak: RSS after {soak['warmup_s']:g}s warm-up {soak['rss_mb']['after_warmup']:g} MB → last "
            f"{soak['rss_mb']['last']:g} MB, trend {soak['slope_mb_per_hour']:+,.1f} MB/h over {soak['samples']} "
            f"readings (limit {soak['max_growth_mb_per_hour']:g} MB/h): {verdict}")

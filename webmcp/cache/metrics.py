"""Cache metrics on prometheus-client's default REGISTRY, labelled by cache name (an inline cache is
named after its tool). Hit ratio = hits / (hits + misses); `shared` calls joined a running fill."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

HITS = Counter("webmcp_cache_hits_total", "Calls answered from the cache.", ["cache", "tier"])
MISSES = Counter("webmcp_cache_misses_total", "Calls that ran the tool and filled the cache.", ["cache"])
SHARED = Counter("webmcp_cache_shared_total",
                 "Calls that joined an identical call already running (single-flight).", ["cache"])
BYPASSES = Counter("webmcp_cache_bypasses_total",
                   "Calls that went around the cache (Redis unavailable with fallback: none).", ["cache"])
EVICTIONS = Counter("webmcp_cache_evictions_total", "Entries evicted to stay within the size bounds.", ["cache"])
INVALIDATIONS = Counter("webmcp_cache_invalidations_total",
                        "Invalidations applied (by tag, key or all), local or received from other instances.",
                        ["cache", "by"])
FALLBACKS = Counter("webmcp_cache_fallbacks_total",
                    "Times a Redis cache lost Redis (error or timeout) and fell back.", ["cache"])
DEGRADED = Gauge("webmcp_cache_degraded", "1 while a Redis cache is running on its fallback.", ["cache"])
BYTES = Gauge("webmcp_cache_bytes", "Bytes held in memory (JSON size of the cached results).", ["cache"])
ENTRIES = Gauge("webmcp_cache_entries", "Entries held in memory.", ["cache"])
STALE = Counter("webmcp_cache_stale_served_total",
                "Failed calls answered with the last known good result (fallback: {cached: true}).", ["cache"])

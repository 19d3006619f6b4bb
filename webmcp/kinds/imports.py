"""Every kind and the module that implements it, written out in one place.

A kind's module is imported when a config first names the kind (config/registry.py), so a start
pays only for the kinds it uses; bundlers see every module through this table (build/webmcp.spec
collects webmcp's submodules). `load` is the config loader for callers that have not imported this
table otherwise (the commands): config/ reads each kind's Spec through the registry.
"""

from __future__ import annotations

from webmcp.config.load import load
from webmcp.config.registry import declare

KINDS = {
    "tools": ("command", "embedding", "http", "mcp", "python", "semantic_search", "static"),
    "pools": ("http", "redis"),
    "upstreams": ("http", "mcp"),
    "balancers": ("consistent_hash", "least_connections", "response_time", "round_robin", "weighted"),
}

for _section, _names in KINDS.items():
    for _name in _names:
        declare(_section, _name, f"webmcp.kinds.{_section}.{_name}")

__all__ = ["KINDS", "load"]

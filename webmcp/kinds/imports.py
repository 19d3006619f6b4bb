"""Every kind module, imported explicitly so that registration happens and bundlers see them all.

`load` is the config loader for callers that have not imported the kinds otherwise (the commands):
config/ reads each kind's Spec through the registry that these imports fill."""

from webmcp.config.load import load
from webmcp.kinds.balancers import (  # noqa: F401
    consistent_hash,
    least_connections,
    response_time,
    round_robin,
    weighted,
)
from webmcp.kinds.pools import http as http_pool  # noqa: F401
from webmcp.kinds.pools import redis as redis_pool  # noqa: F401
from webmcp.kinds.tools import command, http, mcp, python, static  # noqa: F401
from webmcp.kinds.upstreams import http as http_upstream  # noqa: F401
from webmcp.kinds.upstreams import mcp as mcp_upstream  # noqa: F401

__all__ = ["load"]

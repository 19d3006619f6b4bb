"""Every kind module, imported explicitly so that registration happens and bundlers see them all."""

from webmcp.kinds.pools import http as http_pool  # noqa: F401
from webmcp.kinds.pools import redis as redis_pool  # noqa: F401
from webmcp.kinds.tools import command, http, mcp, python, static  # noqa: F401
from webmcp.kinds.upstreams import http as http_upstream  # noqa: F401
from webmcp.kinds.upstreams import mcp as mcp_upstream  # noqa: F401

"""webmcp: a declarative MCP server. One YAML file in, a validated runtime graph out, served over stdio."""

from __future__ import annotations

from webmcp.errors import ToolError
from webmcp.protocol.context import Context

__version__ = "0.1.0"
__all__ = ["Context", "ToolError", "__version__"]

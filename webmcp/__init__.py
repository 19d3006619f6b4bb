"""webmcp: a declarative MCP server. One YAML file in, a validated runtime graph out, served over stdio."""

from __future__ import annotations

from webmcp.call.context import Context
from webmcp.errors import ToolError

__version__ = "0.1.0"
__all__ = ["Context", "ToolError", "__version__"]

"""Upstream kinds: `http` (base URLs) and `mcp` (upstream MCP servers)."""

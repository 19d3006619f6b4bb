"""The MCP protocol core: JSON-RPC 2.0 framing, methods, sessions. Transport-agnostic."""

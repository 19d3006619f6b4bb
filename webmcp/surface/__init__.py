"""The MCP server surface beyond tools: resources, prompts, completions."""

"""Tool kinds: python, command, http, mcp, static (one module each; kinds/imports.py lists them)."""

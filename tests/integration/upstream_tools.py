"""Tools of the upstream MCP server in the mcp-upstream tests (served by `webmcp serve` itself)."""

from __future__ import annotations

import os


def whoami() -> dict[str, object]:
    """The upstream's process id and name."""
    return {"pid": os.getpid(), "name": os.environ.get("UPSTREAM_NAME", "?")}


def shout(text: str) -> str:
    """Upper-case the text.

    Args:
        text: What to shout.
    """
    return text.upper()


def secret() -> str:
    """Never imported."""
    return "hidden"


def fail() -> str:
    """Always fails."""
    raise RuntimeError("upstream tool failed")

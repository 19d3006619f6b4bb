"""Protocol revisions this server speaks, and how one is chosen for a client."""

from __future__ import annotations

SUPPORTED = ("2025-11-25", "2025-06-18")
LATEST = SUPPORTED[0]


def negotiate(requested: object) -> str:
    """The client's revision when we speak it, else our latest (the client then decides)."""
    return requested if isinstance(requested, str) and requested in SUPPORTED else LATEST

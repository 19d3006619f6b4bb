"""Python functions used by the example webmcp.yaml."""

from __future__ import annotations

import asyncio
from typing import Literal

from webmcp import Context, ToolError


def word_count(text: str) -> dict[str, int]:
    """Count the words, lines and characters in a text.

    Args:
        text: The text to measure.
    """
    return {"words": len(text.split()), "lines": text.count("\n") + 1 if text else 0, "characters": len(text)}


def change_case(text: str, to: Literal["upper", "lower", "title"] = "upper") -> str:
    """Change the case of a text."""
    return {"upper": text.upper, "lower": text.lower, "title": text.title}[to]()


def reverse(text: str) -> str:
    """Reverse a text."""
    return text[::-1]


async def countdown(seconds: int, ctx: Context) -> str:
    """Count down, reporting progress every second.

    Args:
        seconds: How long to count, 1 to 30.
    """
    if not 1 <= seconds <= 30:
        raise ToolError("seconds must be between 1 and 30")
    for done in range(seconds):
        ctx.report_progress(done, seconds, f"{seconds - done} seconds left")
        await asyncio.sleep(1)
    ctx.report_progress(seconds, seconds, "done")
    return f"counted down from {seconds}"

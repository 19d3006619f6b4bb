"""Python tools of the conformance config: the fixtures that talk back to the client while they run."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from webmcp import Context, ToolError


async def with_logging(ctx: Context) -> str:
    """Send three log messages while running."""
    for message in ("Tool execution started", "Tool processing data", "Tool execution completed"):
        ctx.info(message)
        await asyncio.sleep(0.05)
    return "Logged three messages"


async def with_progress(ctx: Context) -> str:
    """Report progress 0, 50 and 100 of 100."""
    for done in (0, 50, 100):
        ctx.report_progress(done, 100, f"{done}%")
        await asyncio.sleep(0.05)
    return "Progress reported"


def error_handling() -> str:
    """Always fails, as a tool result with isError: true."""
    raise ToolError("This tool intentionally returns an error for testing")


async def sampling(prompt: str, ctx: Context) -> str:
    """Ask the client's model (sampling/createMessage).

    Args:
        prompt: Prompt to send.
    """
    result = await ctx.sample(prompt, max_tokens=100)
    content = result.get("content")
    reply = content.get("text") if isinstance(content, dict) else None
    return f"LLM response: {reply or '<non-text response>'}"


async def elicitation(message: str, ctx: Context) -> str:
    """Ask the user for a username and an email (elicitation/create).

    Args:
        message: What to ask the user.
    """
    schema = {
        "type": "object",
        "properties": {
            "username": {"type": "string", "description": "User's response"},
            "email": {"type": "string", "description": "User's email address"},
        },
        "required": ["username", "email"],
    }
    return _answer(await ctx.elicit(message, schema))


SEP1034 = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "description": "User name", "default": "John Doe"},
        "age": {"type": "integer", "description": "User age", "default": 30},
        "score": {"type": "number", "description": "User score", "default": 95.5},
        "status": {"type": "string", "description": "User status", "enum": ["active", "inactive", "pending"],
                   "default": "active"},
        "verified": {"type": "boolean", "description": "Verification status", "default": True},
    },
}

SEP1330 = {
    "type": "object",
    "properties": {
        "untitledSingle": {"type": "string", "enum": ["option1", "option2", "option3"]},
        "titledSingle": {"type": "string", "oneOf": [{"const": "value1", "title": "First Option"},
                                                     {"const": "value2", "title": "Second Option"},
                                                     {"const": "value3", "title": "Third Option"}]},
        "legacyEnum": {"type": "string", "enum": ["opt1", "opt2", "opt3"],
                       "enumNames": ["Option One", "Option Two", "Option Three"]},
        "untitledMulti": {"type": "array", "items": {"type": "string", "enum": ["option1", "option2", "option3"]}},
        "titledMulti": {"type": "array", "items": {"anyOf": [{"const": "value1", "title": "First Choice"},
                                                             {"const": "value2", "title": "Second Choice"},
                                                             {"const": "value3", "title": "Third Choice"}]}},
    },
}


async def elicitation_defaults(ctx: Context) -> str:
    """Elicitation whose schema carries a default for every primitive type (SEP-1034)."""
    return _answer(await ctx.elicit("Please review these values (defaults supplied)", SEP1034))


async def elicitation_enums(ctx: Context) -> str:
    """Elicitation whose schema uses all five enum forms (SEP-1330)."""
    return _answer(await ctx.elicit("Please pick values for each enum style", SEP1330))


def template_data(id: str) -> dict[str, Any]:
    """The body of test://template/{id}/data."""
    return {"id": id, "templateTest": True, "data": f"Data for ID: {id}"}


def _answer(result: dict[str, Any]) -> str:
    return f"User response: action={result.get('action')}, content={json.dumps(result.get('content') or {})}"

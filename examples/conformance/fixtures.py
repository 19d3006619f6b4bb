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


# -- protocol revision 2026-07-28: questions answered through input_required results ------------------
# The same Context calls serve both revisions: on 2025 sessions they are requests to the client, on
# 2026-07-28 they end the round with an input_required result and are answered on the next call.

NAME = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}
CONFIRM = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}


def _accepted(result: dict[str, Any], field: str) -> str:
    content = result.get("content") if result.get("action") == "accept" else None
    return str(content.get(field)) if isinstance(content, dict) else f"<{result.get('action')}>"


def _sampled(result: dict[str, Any]) -> str:
    content = result.get("content")
    content = content[0] if isinstance(content, list) and content else content
    return str(content.get("text")) if isinstance(content, dict) else "<non-text response>"


async def needs_sampling(ctx: Context) -> str:
    """Asks the client's model; a client that did not declare sampling gets error -32021."""
    return "Sampling said: " + _sampled(await ctx.sample("Say hello", max_tokens=20, key="probe"))


async def ask_name(ctx: Context) -> str:
    """Asks the user's name (elicitation) and greets them."""
    return f"Hello, {_accepted(await ctx.elicit('What is your name?', NAME, key='user_name'), 'name')}!"


async def log_once(ctx: Context) -> str:
    """Sends one log message (delivered only when the request asks for a log level)."""
    ctx.info("test_logging_tool ran")
    return "logging tool done"


async def ask_capital(ctx: Context) -> str:
    """Asks the client's model a question (sampling)."""
    answer = await ctx.sample("What is the capital of France?", max_tokens=100, key="capital_question")
    return f"Sampling said: {_sampled(answer)}"


async def ask_roots(ctx: Context) -> str:
    """Lists the client's roots."""
    roots = await ctx.list_roots(key="client_roots")
    return "Client roots: " + (", ".join(str(r.get("uri")) for r in roots) or "(none)")


async def ask_confirmation(ctx: Context) -> str:
    """Asks for a confirmation; the answer comes back with the sealed requestState."""
    await ctx.elicit("Please confirm", CONFIRM, key="confirm")
    return "state-ok: confirmation received"


async def ask_everything(ctx: Context) -> str:
    """Asks three questions at once: they all go to the client in one input_required result."""
    name, greeting, roots = await asyncio.gather(
        ctx.elicit("What is your name?", NAME, key="user_name"),
        ctx.sample("Generate a greeting", max_tokens=50, key="greeting"),
        ctx.list_roots(key="client_roots"),
    )
    uris = ", ".join(str(r.get("uri")) for r in roots)
    return f"{_sampled(greeting)} {_accepted(name, 'name')} (roots: {uris})"


async def ask_in_two_rounds(ctx: Context) -> str:
    """Asks a name, then a favourite colour: two rounds of input_required."""
    name = _accepted(await ctx.elicit("Step 1: What is your name?", NAME, key="step1"), "name")
    color_schema = {"type": "object", "properties": {"color": {"type": "string"}}, "required": ["color"]}
    color = _accepted(await ctx.elicit("Step 2: What is your favorite color?", color_schema, key="step2"), "color")
    return f"{name} likes {color}"


async def ask_what_client_can(ctx: Context) -> str:
    """Asks only through the capabilities the client declared."""
    can = ctx.client_capabilities
    asks = []
    if "elicitation" in can:
        asks.append(ctx.elicit("What is your name?", NAME, key="user_name"))
    if "sampling" in can:
        asks.append(ctx.sample("Generate a greeting", max_tokens=50, key="greeting"))
    if "roots" in can:
        asks.append(ctx.list_roots(key="client_roots"))
    await asyncio.gather(*asks)
    return f"asked only for what the client declared: {sorted(can)}"


async def prompt_with_context(ctx: Context) -> str:
    """A prompt that asks the user for the context to use."""
    schema = {"type": "object", "properties": {"context": {"type": "string"}}, "required": ["context"]}
    answer = await ctx.elicit("What context should the prompt use?", schema, key="user_context")
    return f"Use this context: {_accepted(answer, 'context')}"

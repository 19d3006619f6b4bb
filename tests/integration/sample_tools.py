"""Python tools used by the integration tests (copied next to each test config)."""

from __future__ import annotations

import asyncio
import os
import time
from typing import Literal

from webmcp import Context, ToolError


def greet(name: str, punctuation: Literal["!", "."] = "!") -> str:
    """Greet someone by name."""
    return f"Hello, {name}{punctuation}"


async def add(a: int, b: int) -> dict[str, int]:
    """Add two whole numbers."""
    return {"sum": a + b}


def blocks() -> list[dict[str, str]]:
    """Return MCP content blocks as they are."""
    return [{"type": "text", "text": "one"}, {"type": "text", "text": "two"}]


def noisy(text: str) -> str:
    """Print to stdout (which must not corrupt the protocol) and return the text."""
    print("stray print from a tool", text)
    os.write(1, b"raw write to fd 1\n")
    return text


def fails(kind: Literal["tool_error", "crash"]) -> str:
    """Fail in one of two ways."""
    if kind == "tool_error":
        raise ToolError("the widget is out of stock")
    raise ValueError("unexpected state 42")


async def slow(seconds: float, marker: str, ctx: Context) -> str:
    """Sleep, reporting progress; on cancellation write `marker` so a test can see it happened."""
    ctx.info(f"sleeping {seconds}s")
    try:
        steps = 4
        for i in range(steps):
            ctx.report_progress(i, steps, f"step {i}")
            await asyncio.sleep(seconds / steps)
    except asyncio.CancelledError:
        with open(marker, "w") as f:
            f.write("cancelled")
        raise
    ctx.report_progress(steps, steps, "done")
    return "slept"


def blocking_sleep(seconds: float) -> str:
    """A sync function that blocks; it must run off the event loop."""
    time.sleep(seconds)
    return "woke"


async def raises_cancel() -> str:
    """Raise CancelledError without being cancelled (as a cancelled inner task would)."""
    raise asyncio.CancelledError()


async def swallows_cancel(seconds: float) -> str:
    """Ignore cancellation and return anyway."""
    try:
        await asyncio.sleep(seconds)
    except asyncio.CancelledError:
        return "ignored the cancellation"
    return "slept"


def not_json() -> dict[str, object]:
    """Return a value JSON cannot carry."""
    return {"numbers": {1, 2}}


def logs_not_json(ctx: Context) -> str:
    """Log a value JSON cannot carry, then answer."""
    ctx.info({"numbers": {1, 2}})
    return "answered"


def keeps_reporting(ctx: Context) -> str:
    """A sync tool that outlives its timeout and keeps reporting progress from its thread."""
    for i in range(10):
        ctx.report_progress(i, 10)
        time.sleep(0.1)
    return "done"


def text_only() -> str:
    """Return text where structured content is expected."""
    return "no structure"


def structured(ok: bool) -> dict[str, object]:
    """Return structured content that does or does not match the declared output schema."""
    return {"count": 3} if ok else {"count": "three"}


def item_body(id: str) -> dict[str, str]:
    """The data behind items://{id}."""
    return {"id": id, "kind": "item"}


def review_prompt(topic: str) -> list[dict[str, object]]:
    """A prompt built by a function."""
    return [{"role": "user", "content": {"type": "text", "text": f"Review {topic}."}},
            {"role": "assistant", "content": "Sure."}]


async def ask_model(question: str, ctx: Context) -> str:
    """Ask the client's model."""
    result = await ctx.sample(question, max_tokens=50, system_prompt="be brief")
    return f"model said: {result['content']['text']} ({result.get('model')})"


async def ask_user(ctx: Context) -> str:
    """Ask the user for a name."""
    result = await ctx.elicit("Your name?", {"type": "object", "properties": {"name": {"type": "string"}}})
    return f"{result['action']}: {result.get('content')}"


async def record(label: str, log: str, seconds: float = 0.2) -> str:
    """Append `label` to the file `log` when the call starts running, then sleep."""
    with open(log, "a") as f:
        f.write(label + "\n")
    await asyncio.sleep(seconds)
    return label


async def trip(destination: str, ctx: Context) -> str:
    """Ask a question per round, then two at once: the traveller's name, then the dates and an idea."""
    name = await ctx.elicit("Who travels?", {"type": "object", "properties": {"name": {"type": "string"}}},
                            key="traveller")
    dates, idea = await asyncio.gather(
        ctx.elicit("When?", {"type": "object", "properties": {"dates": {"type": "string"}}}, key="dates"),
        ctx.sample(f"One thing to do in {destination}", max_tokens=30, key="idea"),
    )
    roots = await ctx.list_roots() if "roots" in ctx.client_capabilities else []
    return (f"{name['content']['name']} goes to {destination} on {dates['content']['dates']}: "
            f"{idea['content']['text']} (roots: {len(roots)})")


async def interview(topic: str, ctx: Context) -> str:
    """A prompt that asks the user which angle to take."""
    schema = {"type": "object", "properties": {"angle": {"type": "string"}}}
    answer = await ctx.elicit(f"Which angle on {topic}?", schema, key="angle")
    return f"Discuss {topic} from the {answer['content']['angle']} angle."


async def progress_then_log(ctx: Context) -> str:
    """Report progress and log once."""
    ctx.report_progress(1, 2)
    ctx.info("half way")
    await asyncio.sleep(0.05)
    ctx.report_progress(2, 2)
    return "done"


async def counted(key: str, log: str, seconds: float = 0.0, user_id: str = "", fail: bool = False) -> dict[str, object]:
    """Append `key` to the file `log` (one line per run, so a test can count backend runs) and return
    it with the run's number."""
    await asyncio.sleep(seconds)
    with open(log, "a") as f:
        f.write(key + "\n")
    with open(log) as f:
        runs = len(f.read().split())
    if fail:
        raise ToolError(f"failed run {runs}")
    return {"key": key, "run": runs}


def mutate(log: str, user_id: str = "") -> str:
    """A mutating call (writes `changed` to `log`)."""
    with open(log, "a") as f:
        f.write("changed\n")
    return "changed"


def read_value(path: str, user_id: str = "") -> str:
    """The content of the file `path` (what a cached read returns)."""
    with open(path) as f:
        return f.read()


def write_value(path: str, value: str, user_id: str = "") -> str:
    """Replace the content of the file `path` (a mutating call)."""
    with open(path, "w") as f:
        f.write(value)
    return "written"


async def block_loop(seconds: float) -> str:
    """Block the whole event loop (a badly written async tool)."""
    time.sleep(seconds)
    return "unblocked"


async def ask_after(seconds: float, ctx: Context) -> str:
    """Think for a while, then ask the user one question."""
    await asyncio.sleep(seconds)
    answer = await ctx.elicit("Go on?", {"type": "object", "properties": {"go": {"type": "boolean"}}}, key="go")
    return f"went: {answer['action']}"


_HELD: list[bytes] = []


def hog(megabytes: int) -> str:
    """Hold `megabytes` of memory (every page touched) until release() is called."""
    _HELD.append(b"\x01" * (megabytes * 1_000_000))
    return f"holding {sum(map(len, _HELD)) // 1_000_000}MB"


def release() -> str:
    """Let go of what hog() holds."""
    _HELD.clear()
    return "released"


def crunch(n: int) -> dict[str, int]:
    """CPU work: the sum of the first n squares, and the process that computed it."""
    return {"sum": sum(i * i for i in range(n)), "pid": os.getpid()}


def spin(seconds: float) -> str:
    """Burn CPU in Python code for `seconds`."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass
    return "spun"


def deaf(n: int) -> str:
    """Burn CPU inside one C call that never lets a signal handler run."""
    return str(sum(range(n)))


def unpicklable() -> object:
    """Return a value pickle cannot carry."""
    return lambda: None


def sync_with_context(ctx: Context) -> str:
    """A sync tool that takes the call context."""
    return ctx.tool


async def pid_after(seconds: float = 0.0) -> str:
    """Sleep, then name the process that served the call (tells worker processes apart)."""
    await asyncio.sleep(seconds)
    return str(os.getpid())

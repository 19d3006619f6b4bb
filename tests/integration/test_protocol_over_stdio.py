"""Master tools, cancellation, progress, logging and pagination through the official MCP client."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp.shared.exceptions import MCPDeprecationWarning, MCPError

from tests.integration.conftest import connect, write_config

pytestmark = pytest.mark.anyio

CONFIG = """
version: 1
server: {page_size: PAGE}
tools:
  greet: {kind: python, function: "sample_tools:greet", description: "Greet someone.\\nSecond line."}
  add: {kind: python, function: "sample_tools:add", expose: true}
  slow: {kind: python, function: "sample_tools:slow"}
  hang: {kind: command, argv: [sleep, "30"], timeout: 200ms}
master_tools:
  toolbox:
    description: Everyday helpers.
    operations:
      hello: greet
      sum: add
      stamp: {kind: static, content: "stamped", description: "Return a stamp."}
  strict:
    description: Same operations, one branch per operation.
    schema_style: one_of
    operations: {hello: greet, sum: add}
"""


def config_for(workdir: Path, page_size: int = 500) -> Path:
    return write_config(workdir, CONFIG.replace("PAGE", str(page_size)))


async def test_master_tool_hides_its_tools_unless_exposed(workdir: Path) -> None:
    """Tools used by a master tool are not listed on their own; `expose: true` lists them anyway."""
    async with connect(config_for(workdir)) as s:
        names = [t.name for t in (await s.list_tools()).tools]
    assert sorted(names) == ["add", "hang", "slow", "strict", "toolbox"]


async def test_master_tool_advertises_every_operation(workdir: Path) -> None:
    """The flat schema has an operation enum plus every operation's fields; the description lists operations."""
    async with connect(config_for(workdir)) as s:
        tools = {t.name: t for t in (await s.list_tools()).tools}
    box = tools["toolbox"]
    props = box.input_schema["properties"]
    assert props["operation"]["enum"] == ["hello", "sum", "stamp"]
    assert box.input_schema["required"] == ["operation"]
    assert set(props) == {"operation", "name", "punctuation", "a", "b"}
    assert props["a"]["description"] == "(operations: sum)"
    assert box.description == (
        "Everyday helpers.\n\nOperations (pass `operation` and that operation's fields):\n"
        "- hello: Greet someone. (fields: name, punctuation?)\n"
        "- sum: Add two whole numbers. (fields: a, b)\n"
        "- stamp: Return a stamp."
    )
    branches = tools["strict"].input_schema["oneOf"]
    assert [b["properties"]["operation"]["const"] for b in branches] == ["hello", "sum"]
    assert branches[1]["required"] == ["operation", "a", "b"]


async def test_master_tool_dispatches_operations(workdir: Path) -> None:
    """Arguments sit flat beside `operation`; each operation keeps its own schema check."""
    async with connect(config_for(workdir)) as s:
        r = await s.call_tool("toolbox", {"operation": "hello", "name": "Lin"})
        assert r.content[0].text == "Hello, Lin!"
        r = await s.call_tool("toolbox", {"operation": "sum", "a": 1, "b": 2})
        assert r.structured_content == {"sum": 3}
        r = await s.call_tool("toolbox", {"operation": "stamp"})
        assert r.content[0].text == "stamped"
        r = await s.call_tool("toolbox", {"operation": "sum", "a": 1})
        assert r.is_error
        assert r.content[0].text == "Invalid arguments for 'toolbox' operation 'sum':\n- 'b' is a required property"


async def test_unknown_operation_is_a_json_rpc_error_naming_the_valid_ones(workdir: Path) -> None:
    """An unknown or missing operation is -32602 listing the valid operations."""
    async with connect(config_for(workdir)) as s:
        with pytest.raises(MCPError) as info:
            await s.call_tool("toolbox", {"operation": "explode"})
        assert info.value.code == -32602
        expected = "unknown operation 'explode' for tool 'toolbox'; valid operations: hello, sum, stamp"
        assert info.value.message == expected
        with pytest.raises(MCPError) as info:
            await s.call_tool("toolbox", {"name": "x"})
        assert info.value.code == -32602 and info.value.message.startswith("missing operation")


async def test_unknown_tool_is_a_json_rpc_error(workdir: Path) -> None:
    """Calling a tool that does not exist (or is hidden behind a master tool) is -32602."""
    async with connect(config_for(workdir)) as s:
        with pytest.raises(MCPError) as info:
            await s.call_tool("greet", {"name": "x"})
    assert info.value.code == -32602 and info.value.message == "Unknown tool: greet"


async def test_cancellation_really_stops_the_running_call(workdir: Path) -> None:
    """An abandoned call sends notifications/cancelled; the tool sees CancelledError; serving goes on."""
    marker = workdir / "cancelled.txt"
    async with connect(config_for(workdir)) as s:
        with pytest.raises(MCPError):
            await s.call_tool("slow", {"seconds": 20, "marker": str(marker)}, read_timeout_seconds=0.5)
        with anyio.fail_after(5):
            while not marker.exists():
                await anyio.sleep(0.05)
        assert marker.read_text() == "cancelled"
        assert (await s.call_tool("add", {"a": 1, "b": 1})).structured_content == {"sum": 2}


async def test_progress_and_log_messages_reach_the_client(workdir: Path) -> None:
    """ctx.report_progress sends notifications/progress; ctx.info sends notifications/message."""
    progress: list[tuple[float, float | None, str | None]] = []
    logs: list[Any] = []

    async def on_progress(p: float, total: float | None, message: str | None) -> None:
        progress.append((p, total, message))

    async def on_log(params: Any) -> None:
        logs.append(params)

    async with connect(config_for(workdir), logging_callback=on_log) as s:
        r = await s.call_tool("slow", {"seconds": 0.2, "marker": str(workdir / "m")}, progress_callback=on_progress)
        assert r.content[0].text == "slept"
        with pytest.warns(MCPDeprecationWarning):  # the client's note: logging is gone in 2026-07-28
            await s.set_logging_level("error")
        await s.call_tool("slow", {"seconds": 0.05, "marker": str(workdir / "m")})
    assert progress == [(0, 4, "step 0"), (1, 4, "step 1"), (2, 4, "step 2"), (3, 4, "step 3"), (4, 4, "done")]
    assert [(m.level, m.data) for m in logs] == [("info", "sleeping 0.2s")]


async def test_a_hanging_tool_times_out_and_the_server_keeps_serving(workdir: Path) -> None:
    """A tool past its timeout gives an isError result; the next call works."""
    async with connect(config_for(workdir)) as s:
        r = await s.call_tool("hang", {})
        assert r.is_error and r.content[0].text == "Tool 'hang' timed out after 0.2s"
        assert (await s.call_tool("add", {"a": 2, "b": 2})).structured_content == {"sum": 4}


async def test_tools_list_is_paginated_with_cursors(workdir: Path) -> None:
    """With page_size 2 the catalog comes in pages linked by nextCursor; a bad cursor is -32602."""
    from mcp import types

    async with connect(config_for(workdir, page_size=2)) as s:
        pages = []
        cursor = None
        while True:
            params = types.PaginatedRequestParams(cursor=cursor) if cursor else None
            page = await s.list_tools(params=params)
            pages.append([t.name for t in page.tools])
            cursor = page.next_cursor
            if not cursor:
                break
        with pytest.raises(MCPError) as info:
            await s.list_tools(params=types.PaginatedRequestParams(cursor="bogus!"))
    assert pages == [["add", "slow"], ["hang", "toolbox"], ["strict"]]
    assert info.value.code == -32602

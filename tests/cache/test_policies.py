"""Cache policies through the library API (load -> build -> Tool.call): eviction order of each
strategy, expiry, size bounds, what is cached, and single-flight."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import write_config
from webmcp.cache.outcome import OUTCOME
from webmcp.config.load import load
from webmcp.graph.build import build
from webmcp.graph.graph import Graph

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def graph(workdir: Path, request: pytest.FixtureRequest) -> AsyncIterator[Graph]:
    g = await build(load(write_config(workdir, request.param)))
    try:
        yield g
    finally:
        await g.close()


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path


def config(cache: str, tool_cache: str = "{use: c, key: [key]}") -> str:
    return f"""
version: 1
caches:
  c: {cache}
tools:
  get: {{kind: python, function: "sample_tools:counted", cache: {tool_cache}}}
"""


async def get(graph: Graph, workdir: Path, key: str, **more: Any) -> tuple[int, str | None]:
    """(the backend run that produced the answer, hit/miss/shared)."""
    result = await graph.tools["get"].call({"key": key, "log": str(workdir / "runs.log"), **more}, None)  # type: ignore[arg-type]
    assert not result.get("isError"), result
    return result["structuredContent"]["run"], OUTCOME.get()


async def runs(graph: Graph, workdir: Path, keys: str) -> list[str | None]:
    return [(await get(graph, workdir, k))[1] for k in keys]


@pytest.mark.parametrize("graph", [config("{strategy: lru, max_entries: 2}")], indirect=True)
async def test_lru_evicts_the_least_recently_used(graph: Graph, workdir: Path) -> None:
    """lru: after a, b, a, c the victim is b (a was used more recently)."""
    assert await runs(graph, workdir, "abac") == ["miss", "miss", "hit", "miss"]
    assert await runs(graph, workdir, "ab") == ["hit", "miss"]


@pytest.mark.parametrize("graph", [config("{strategy: lfu, max_entries: 2}")], indirect=True)
async def test_lfu_evicts_the_least_frequently_used(graph: Graph, workdir: Path) -> None:
    """lfu: a used three times outlives b used once, even though b was used last."""
    assert await runs(graph, workdir, "aaab") == ["miss", "hit", "hit", "miss"]
    assert await runs(graph, workdir, "c") == ["miss"]  # evicts b, not a
    assert await runs(graph, workdir, "ab") == ["hit", "miss"]


@pytest.mark.parametrize("graph", [config("{strategy: ttl, ttl: 300ms, max_entries: 2}")], indirect=True)
async def test_ttl_expires_entries_and_evicts_expired_ones_first(graph: Graph, workdir: Path) -> None:
    """ttl: an entry is gone after its ttl; when full, expired entries go before live ones."""
    assert await runs(graph, workdir, "aa") == ["miss", "hit"]
    await asyncio.sleep(0.35)
    assert await runs(graph, workdir, "a") == ["miss"]
    assert await runs(graph, workdir, "b") == ["miss"]
    assert await runs(graph, workdir, "ab") == ["hit", "hit"]


@pytest.mark.parametrize("graph", [config("{strategy: lru, ttl: 1h}", "{use: c, key: [key], ttl: 200ms}")],
                         indirect=True)
async def test_a_tools_ttl_overrides_the_caches(graph: Graph, workdir: Path) -> None:
    """The tool's cache.ttl wins over the cache's ttl."""
    assert graph.tools["get"].caching.ttl == 0.2  # type: ignore[attr-defined,union-attr]
    assert await runs(graph, workdir, "aa") == ["miss", "hit"]
    await asyncio.sleep(0.25)
    assert await runs(graph, workdir, "a") == ["miss"]


@pytest.mark.parametrize("graph", [config("{strategy: lru, max_bytes: 400B}")], indirect=True)
async def test_max_bytes_bounds_the_json_size(graph: Graph, workdir: Path) -> None:
    """Results of about 120 bytes: 400B holds three; the fourth evicts the least recently used."""
    assert await runs(graph, workdir, "abcd") == ["miss"] * 4
    assert await runs(graph, workdir, "dcb") == ["hit"] * 3
    assert await runs(graph, workdir, "a") == ["miss"]


@pytest.mark.parametrize("graph", [config("{strategy: lru}", "{use: c, key: [key]}")], indirect=True)
async def test_the_key_is_made_of_the_chosen_arguments_only(graph: Graph, workdir: Path) -> None:
    """Arguments outside `key` do not split entries; arguments in it do."""
    assert (await get(graph, workdir, "a", user_id="x"))[1] == "miss"
    assert (await get(graph, workdir, "a", user_id="y"))[1] == "hit"
    assert (await get(graph, workdir, "b", user_id="x"))[1] == "miss"


@pytest.mark.parametrize("graph", [config("{strategy: lru}", "{use: c}")], indirect=True)
async def test_without_key_every_argument_counts_in_canonical_order(graph: Graph, workdir: Path) -> None:
    """The default key is every argument, in canonical JSON (order of arguments does not matter)."""
    tool = graph.tools["get"]
    log = str(workdir / "runs.log")
    await tool.call({"key": "a", "log": log, "user_id": "x"}, None)  # type: ignore[arg-type]
    await tool.call({"user_id": "x", "log": log, "key": "a"}, None)  # type: ignore[arg-type]
    assert OUTCOME.get() == "hit"
    await tool.call({"key": "a", "log": log, "user_id": "y"}, None)  # type: ignore[arg-type]
    assert OUTCOME.get() == "miss"


@pytest.mark.parametrize("graph", [config("{strategy: lru}", "{use: c, key: [key]}"),
                                   config("{strategy: lru, cache_errors: true}", "{use: c, key: [key]}")],
                         indirect=True, ids=["errors-not-cached", "cache_errors"])
async def test_only_successful_results_are_cached_unless_configured(graph: Graph, workdir: Path) -> None:
    """An isError result runs again next time, unless cache_errors is set."""
    tool = graph.tools["get"]
    args = {"key": "a", "log": str(workdir / "runs.log"), "fail": True}
    first = await tool.call(args, None)  # type: ignore[arg-type]
    second = await tool.call(args, None)  # type: ignore[arg-type]
    assert first["isError"] and second["isError"]
    cached = graph.spec.caches["c"].cache_errors
    assert second["content"][0]["text"] == ("failed run 1" if cached else "failed run 2")


@pytest.mark.parametrize("graph", [config("{strategy: none}")], indirect=True)
async def test_strategy_none_caches_nothing(graph: Graph, workdir: Path) -> None:
    """strategy: none: every call runs, and the tool has no cache at all."""
    assert graph.tools["get"].caching is None  # type: ignore[attr-defined]
    assert [(await get(graph, workdir, "a"))[0] for _ in range(2)] == [1, 2]


@pytest.mark.parametrize("graph", [config("{strategy: lru}")], indirect=True)
async def test_identical_concurrent_calls_run_once(graph: Graph, workdir: Path) -> None:
    """Ten identical calls arriving together run the backend once and all get its result."""
    tool = graph.tools["get"]
    args = {"key": "a", "log": str(workdir / "runs.log"), "seconds": 0.2}

    async def one() -> tuple[int, str | None]:
        result = await tool.call(dict(args), None)  # type: ignore[arg-type]
        return result["structuredContent"]["run"], OUTCOME.get()

    results = await asyncio.gather(*(one() for _ in range(10)))
    assert [r[0] for r in results] == [1] * 10
    assert sorted(r[1] or "" for r in results) == ["miss"] + ["shared"] * 9
    assert (workdir / "runs.log").read_text().split() == ["a"]


@pytest.mark.parametrize("graph", [config("{strategy: lru}")], indirect=True)
async def test_a_cancelled_waiter_does_not_cancel_the_shared_run(graph: Graph, workdir: Path) -> None:
    """The first caller is cancelled mid-run; the second still gets the one run's result."""
    tool = graph.tools["get"]
    args = {"key": "a", "log": str(workdir / "runs.log"), "seconds": 0.3}
    first = asyncio.ensure_future(tool.call(dict(args), None))  # type: ignore[arg-type]
    await asyncio.sleep(0.05)
    second = asyncio.ensure_future(tool.call(dict(args), None))  # type: ignore[arg-type]
    await asyncio.sleep(0.05)
    first.cancel()
    result = await second
    assert first.cancelled()
    assert result["structuredContent"]["run"] == 1
    assert (await get(graph, workdir, "a"))[1] == "hit"  # and the run was cached


@pytest.mark.parametrize("graph", [config("{strategy: lru}")], indirect=True)
async def test_a_call_arriving_as_the_last_waiter_leaves_starts_a_new_run(graph: Graph, workdir: Path) -> None:
    """The only caller of a run is cancelled; an identical call arriving right then does not join the
    dying run (it would get a CancelledError it never asked for): it gets a run of its own."""
    tool = graph.tools["get"]
    args = {"key": "a", "log": str(workdir / "runs.log"), "seconds": 0.2}
    first = asyncio.ensure_future(tool.call(dict(args), None))  # type: ignore[arg-type]
    await asyncio.sleep(0.05)
    first.cancel()
    await asyncio.sleep(0)  # the first caller leaves and cancels its run, which has not ended yet
    result = await tool.call(dict(args), None)  # type: ignore[arg-type]
    assert first.cancelled()
    assert result["structuredContent"]["key"] == "a"

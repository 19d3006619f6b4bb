"""Pools and the metrics of pools, upstreams and breakers, built in-process from a config file and driven
against real aiohttp replicas on loopback (the metrics live in prometheus-client's default registry)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY

from tests.integration.replicas import Replicas, run_replicas
from webmcp.config.load import load
from webmcp.graph.build import build


@pytest.fixture
def replicas() -> Iterator[Replicas]:
    with run_replicas("p1", "p2") as r:
        yield r


def metric(metric_name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(metric_name, labels) or 0.0


def config(tmp_path: Path, replicas: Replicas, pool: str = "{kind: http, max_connections: 4}") -> Path:
    path = tmp_path / "webmcp.yaml"
    name = pool_name(tmp_path)
    path.write_text(f"""
version: 1
pools:
  {name}: {pool}
breakers:
  b: {{failure_threshold: 2, recovery_timeout: 30s}}
upstreams:
  pooled:
    kind: http
    pool: {name}
    endpoints: ["{replicas['p1'].url}", "{replicas['p2'].url}"]
    breaker: b
tools:
  direct: {{kind: http, pool: {name}, request: {{url: "{replicas['p1'].url}/who"}}}}
  balanced: {{kind: http, upstream: pooled, request: {{path: /who}}}}
""")
    return path


def pool_name(tmp_path: Path) -> str:
    return f"shared_{tmp_path.name[-6:].replace('-', '_')}"




async def _calls(graph: Any, tool: str, n: int) -> list[dict[str, Any]]:
    return [await graph.tools[tool].call({}, None) for _ in range(n)]


def test_one_pool_is_shared_and_reuses_its_connections(tmp_path: Path, replicas: Replicas) -> None:
    """Two tools naming one pool share its session; sequential calls reuse kept-alive connections (> 90%)."""
    name = pool_name(tmp_path)

    async def main() -> None:
        graph = await build(load(config(tmp_path, replicas)))
        try:
            sessions = [v.value for k, v in graph.shared.items() if k[0] == f"pool {name}"]
            assert len(sessions) == 1
            results = await _calls(graph, "direct", 50) + await _calls(graph, "balanced", 50)
            assert not any(r["isError"] for r in results)
            created = metric("webmcp_pool_connections_created_total", pool=name)
            reused = metric("webmcp_pool_connections_reused_total", pool=name)
            assert created <= 3 and reused / (created + reused) > 0.9, (created, reused)
            assert metric("webmcp_pool_connections", pool=name, state="open") >= 1
            p2 = f"127.0.0.1:{replicas['p2'].port}"
            assert metric("webmcp_upstream_attempts_total", upstream="pooled", endpoint=p2, outcome="ok") == 25
        finally:
            await graph.close()

    asyncio.run(main())


def test_breaker_state_metric_and_pool_kept_across_a_reload(tmp_path: Path, replicas: Replicas) -> None:
    """webmcp_breaker_state follows an endpoint's breaker; a reload with the same settings keeps the pool
    (same session) and the open breaker; a reload that changes the pool makes a new one and closes the old."""
    path = config(tmp_path, replicas)
    p1 = f"127.0.0.1:{replicas['p1'].port}"

    async def main() -> None:
        graph = await build(load(path))
        replicas["p1"].status = 503
        await _calls(graph, "balanced", 4)  # two failures on p1: its breaker opens
        assert metric("webmcp_breaker_state", scope="upstream", name="pooled", endpoint=p1) == 1
        key = next(k for k in graph.shared if k[0] == f"pool {pool_name(tmp_path)}")
        session = graph.shared[key].value
        again = await build(load(path), 2, graph)
        await graph.close()
        assert again.shared[key].value is session and not session.closed
        replicas["p1"].status = 200
        results = await _calls(again, "balanced", 4)
        assert [r["structuredContent"]["replica"] for r in results] == ["p2"] * 4  # p1's circuit is still open
        path.write_text(path.read_text().replace("max_connections: 4", "max_connections: 8"))
        third = await build(load(path), 3, again)
        await again.close()
        assert session.closed
        await third.close()

    asyncio.run(main())


def test_waits_for_a_free_connection_are_measured(tmp_path: Path, replicas: Replicas) -> None:
    """With max_connections: 1, concurrent calls queue for the one connection; the wait histogram counts them."""
    name = pool_name(tmp_path)
    replicas["p1"].delay = 0.05

    async def main() -> None:
        graph = await build(load(config(tmp_path, replicas, "{kind: http, max_connections: 1}")))
        try:
            before = metric("webmcp_pool_wait_seconds_count", pool=name)
            results = await asyncio.gather(*(graph.tools["direct"].call({}, None) for _ in range(4)))
            assert not any(r["isError"] for r in results)
            assert metric("webmcp_pool_wait_seconds_count", pool=name) - before >= 3
            assert metric("webmcp_pool_wait_seconds_sum", pool=name) >= 0.1
        finally:
            await graph.close()

    asyncio.run(main())

"""A/B splits through a real `webmcp serve`: the declared share goes to a variant upstream or tool (real
aiohttp replicas on loopback), sticky arguments always go the same way, per-variant metrics on /metrics,
and the config errors."""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from tests.integration.conftest import connect, write_config
from tests.integration.replicas import Replicas, run_replicas
from tests.integration.test_http import free_port
from tests.integration.test_telemetry import sample, scrape
from tests.integration.test_upstreams import replica_of

pytestmark = pytest.mark.anyio


@pytest.fixture
def replicas() -> Iterator[Replicas]:
    with run_replicas("a", "b") as r:
        yield r


def config_text(replicas: Replicas, port: int) -> str:
    return f"""
version: 1
telemetry: {{metrics: true, listen: "127.0.0.1:{port}"}}
upstreams:
  api: {{kind: http, endpoints: ["{replicas['a'].url}"]}}
  api_b: {{kind: http, endpoints: ["{replicas['b'].url}"]}}
tools:
  who:
    kind: http
    upstream: api
    request: {{path: /who}}
    split: {{upstream: api_b, percent: 10}}
  who_key:
    kind: http
    upstream: api
    request: {{path: "/who/{{key}}"}}
    split: {{tool: who_key_b, percent: 30, sticky_on: [key]}}
  who_key_b: {{kind: http, upstream: api_b, request: {{path: "/who/{{key}}"}}}}
"""


async def test_a_declared_share_goes_to_the_variant_upstream_with_metrics(workdir: Path, replicas: Replicas) -> None:
    """1000 calls with percent: 10 send about 100 to the variant upstream; /metrics counts each variant."""
    port = free_port()
    async with connect(write_config(workdir, config_text(replicas, port))) as s:
        got: Counter[str] = Counter()
        for _ in range(1000):
            got[replica_of(await s.call_tool("who", {}))] += 1
        text = await scrape(f"http://127.0.0.1:{port}/metrics")
    assert sum(got.values()) == 1000 and 60 <= got["b"] <= 140, got  # 10% ± 4 standard deviations
    assert replicas.hits() == {"a": got["a"], "b": got["b"]}
    assert sample(text, "webmcp_split_calls_total", tool="who", variant="variant", target="upstream api_b",
                  outcome="ok") == got["b"]
    assert sample(text, "webmcp_split_calls_total", tool="who", variant="primary", target="upstream api",
                  outcome="ok") == got["a"]
    assert sample(text, "webmcp_split_call_seconds_count", tool="who", variant="variant",
                  target="upstream api_b") == got["b"]


async def test_sticky_arguments_always_go_the_same_way(workdir: Path, replicas: Replicas) -> None:
    """With sticky_on, each key is served by one variant every time, about percent of the keys by the
    variant tool; when the variant's backend fails, its calls fail (counted as failures), the others not."""
    port = free_port()
    async with connect(write_config(workdir, config_text(replicas, port))) as s:
        keys = [f"user-{i}" for i in range(300)]
        first = {k: replica_of(await s.call_tool("who_key", {"key": k})) for k in keys}
        again = {k: replica_of(await s.call_tool("who_key", {"key": k})) for k in keys}
        assert first == again
        share = sum(1 for v in first.values() if v == "b")
        assert 60 <= share <= 120, share  # 30% of 300 ± 4 standard deviations
        replicas.kill("b")
        on_b = next(k for k in keys if first[k] == "b")
        on_a = next(k for k in keys if first[k] == "a")
        r = await s.call_tool("who_key", {"key": on_b})
        assert r.is_error and "failed: ClientConnectorError" in r.content[0].text
        assert replica_of(await s.call_tool("who_key", {"key": on_a})) == "a"
        text = await scrape(f"http://127.0.0.1:{port}/metrics")
    assert sample(text, "webmcp_split_calls_total", tool="who_key", variant="variant", target="who_key_b",
                  outcome="ok") == 2 * share
    assert sample(text, "webmcp_split_calls_total", tool="who_key", variant="variant", target="who_key_b",
                  outcome="failure") == 1
    assert sample(text, "webmcp_split_calls_total", tool="who_key", variant="primary", target="upstream api",
                  outcome="ok") == 2 * (300 - share) + 1


async def validate(config: Path) -> list[str]:
    proc = await anyio.run_process([sys.executable, "-m", "webmcp", "validate", "-c", str(config)], check=False)
    return proc.stdout.decode().splitlines()


async def test_bad_splits_are_located_config_errors(workdir: Path) -> None:
    """Unknown variants, a percent out of range, two variants, an upstream variant for a tool without an
    upstream; then, at build: a sticky argument the tool lacks and a variant that needs more arguments."""
    config = write_config(workdir, """
version: 1
upstreams:
  api: {kind: http, endpoints: ["http://127.0.0.1:1"]}
tools:
  a: {kind: http, upstream: api, request: {path: /a}, split: {tool: bb, percent: 10}}
  b: {kind: http, upstream: api, request: {path: /b}, split: {upstream: apj, percent: 150}}
  c: {kind: static, content: x, split: {tool: a, upstream: api, percent: -1}}
  d: {kind: static, content: x, split: {upstream: api, percent: 5}}
  e: {kind: static, content: x, split: {tool: e, percent: 5}}
""")
    where = str(config)
    assert await validate(config) == [
        f"{where}:7:78: tools.b.split.percent: must be at most 100 (got 150)",
        f"{where}:8:33: tools.c.split: must name exactly one variant: {{tool: NAME, percent: N}} or "
        "{upstream: NAME, percent: N}",
        f"{where}:8:65: tools.c.split.percent: must be at least 0 (got -1)",
    ]
    config.write_text(config.read_text().replace("150", "15").replace("  c: {", "#"))
    assert await validate(config) == [
        f"{where}:6:63: tools.a.split.tool: no such entry in tools: (got \"bb\"); did you mean 'b'?",
        f"{where}:7:63: tools.b.split.upstream: no such entry in upstreams: (got \"apj\"); did you mean 'api'?",
        f"{where}:9:41: tools.d.split.upstream: a variant upstream replaces the tool's upstream, and this tool has "
        "none (got \"api\"); give the tool upstream: NAME, or split to a variant tool: {tool: NAME}",
        f"{where}:10:41: tools.e.split.tool: a tool cannot be its own variant (got \"e\")",
    ]
    config.write_text("""
version: 1
tools:
  greet: {kind: python, function: "sample_tools:greet", split: {tool: add, percent: 5}}
  greet2: {kind: python, function: "sample_tools:greet", split: {tool: greet3, percent: 5, sticky_on: [nam]}}
  greet3: {kind: python, function: "sample_tools:greet"}
  add: {kind: python, function: "sample_tools:add"}
""")
    assert await validate(config) == [
        f"{where}:4:57: tools.greet.split: the variant tool 'add' requires the argument 'a', which 'greet' does "
        "not; a variant must accept every call of the tool",
        f"{where}:5:58: tools.greet2.split: sticky_on names 'nam', which is not an argument of the tool; "
        "arguments: name, punctuation",
    ]

"""http upstreams through a real `webmcp serve`: balancing, health checks, ejection, breakers, retries,
fallbacks, against real replicas on loopback that the tests slow down, fail and kill."""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import ClientSession

from tests.integration.conftest import connect, write_config
from tests.integration.replicas import Replicas, run_replicas

pytestmark = pytest.mark.anyio

VALIDATE = [sys.executable, "-m", "webmcp", "validate", "-c"]


@pytest.fixture
def replicas() -> Iterator[Replicas]:
    with run_replicas("a", "b", "c") as r:
        yield r


def upstream(replicas: Replicas, body: str, names: tuple[str, ...] = ("a", "b", "c"), tools: str = "") -> str:
    endpoints = ", ".join(f'{{url: "{replicas[n].url}", name: {n}}}' for n in names)
    return f"""
version: 1
breakers:
  quick: {{failure_threshold: 2, recovery_timeout: 1s}}
upstreams:
  api:
    kind: http
    endpoints: [{endpoints}]
{body}
tools:
  who: {{kind: http, upstream: api, request: {{path: /who}}}}
  who_key: {{kind: http, upstream: api, request: {{path: "/who/{{key}}"}}}}
  post: {{kind: http, upstream: api, request: {{method: POST, path: /who, body: {{}}}}}}
{tools}"""


def replica_of(result: Any) -> str:
    assert not result.is_error, result.content[0].text
    name: str = result.structured_content["replica"]
    return name


async def calls(session: ClientSession, n: int, tool: str = "who", args: dict[str, Any] | None = None) -> Counter[str]:
    got: Counter[str] = Counter()
    for _ in range(n):
        got[replica_of(await session.call_tool(tool, args or {}))] += 1
    return got


async def test_round_robin_and_weighted_distribution(workdir: Path, replicas: Replicas) -> None:
    """round_robin sends each replica the same share; weighted follows the weights exactly."""
    config = write_config(workdir, upstream(replicas, "    balance: round_robin"))
    async with connect(config) as s:
        assert await calls(s, 30) == {"a": 10, "b": 10, "c": 10}
    text = upstream(replicas, "    balance: weighted").replace("name: a}", "name: a, weight: 3}")
    async with connect(write_config(workdir, text)) as s:
        assert await calls(s, 25) == {"a": 15, "b": 5, "c": 5}


@pytest.mark.parametrize("balance", ["least_connections", "response_time"])
async def test_load_aware_strategies_avoid_a_slow_replica(workdir: Path, replicas: Replicas, balance: str) -> None:
    """Under concurrent load, least_connections and response_time send a slow replica few calls."""
    replicas["a"].delay = 0.2
    config = write_config(workdir, upstream(replicas, f"    balance: {balance}"))
    async with connect(config) as s:
        got: Counter[str] = Counter()

        async def worker() -> None:
            got.update(await calls(s, 10))

        async with anyio.create_task_group() as tg:
            for _ in range(4):
                tg.start_soon(worker)
    assert sum(got.values()) == 40
    assert got["a"] <= 6 and got["b"] + got["c"] >= 34, got


async def test_consistent_hash_keeps_keys_on_their_replica(workdir: Path, replicas: Replicas) -> None:
    """Equal keys go to one replica; killing a replica moves only the keys that were on it."""
    body = "    balance: consistent_hash\n    hash_on: [key]\n    retry: {attempts: 3, backoff: 10ms}"
    config = write_config(workdir, upstream(replicas, body))
    keys = [f"user-{i}" for i in range(30)]
    async with connect(config) as s:
        before = {k: replica_of(await s.call_tool("who_key", {"key": k})) for k in keys}
        again = {k: replica_of(await s.call_tool("who_key", {"key": k})) for k in keys}
        assert before == again
        assert len(set(before.values())) == 3  # 30 keys spread over all three
        replicas.kill("a")
        after = {k: replica_of(await s.call_tool("who_key", {"key": k})) for k in keys}
    assert all(after[k] == before[k] for k in keys if before[k] != "a")
    assert all(after[k] != "a" for k in keys)


async def test_health_checks_take_a_replica_out_and_put_it_back(workdir: Path, replicas: Replicas) -> None:
    """A replica failing its health checks gets no calls; once healthy again it is back in the rotation."""
    body = "    health_check: {path: /healthz, interval: 100ms, unhealthy_threshold: 2, healthy_threshold: 2}"
    config = write_config(workdir, upstream(replicas, body))
    async with connect(config) as s:
        replicas["b"].healthy = False
        await anyio.sleep(0.6)
        assert set(await calls(s, 12)) == {"a", "c"}
        replicas["b"].healthy = True
        await anyio.sleep(0.6)
        assert await calls(s, 12) == {"a": 4, "b": 4, "c": 4}
    assert replicas["b"].hits["healthz"] >= 6


async def test_passive_ejection_and_return(workdir: Path, replicas: Replicas) -> None:
    """Consecutive 500s eject a replica for ejection_time; the other replicas answer meanwhile."""
    body = "    outlier: {consecutive_failures: 2, ejection_time: 1s}"
    config = write_config(workdir, upstream(replicas, body))
    replicas["c"].status = 500
    async with connect(config) as s:
        results = [await s.call_tool("who", {}) for _ in range(6)]
        failed = [r.content[0].text for r in results if r.is_error]
        assert failed == [f"HTTP 500 Internal Server Error from GET {replicas['c'].url}/who"] * 2
        assert set(await calls(s, 10)) == {"a", "b"}  # c is ejected
        replicas["c"].status = 200
        await anyio.sleep(1.2)
        assert await calls(s, 9) == {"a": 3, "b": 3, "c": 3}


async def test_breaker_opens_answers_at_once_then_half_opens_and_closes(workdir: Path, replicas: Replicas) -> None:
    """closed -> open after failure_threshold failures; open answers at once saying when to retry;
    after recovery_timeout one probe goes through and its success closes the circuit."""
    config = write_config(workdir, upstream(replicas, "    breaker: quick", names=("a",)))
    replicas["a"].status = 503
    async with connect(config) as s:
        for _ in range(2):
            r = await s.call_tool("who", {})
            assert r.content[0].text.startswith("HTTP 503 Service Unavailable")
        hits = replicas["a"].hits["GET /who"]
        started = time.monotonic()
        r = await s.call_tool("who", {})
        assert r.is_error and r.content[0].text == "circuit open for upstream 'api' endpoint 'a'; retry in 1s"
        assert time.monotonic() - started < 0.5
        assert replicas["a"].hits["GET /who"] == hits  # the open circuit sent nothing
        replicas["a"].status = 200
        await anyio.sleep(1.1)
        assert await calls(s, 3) == {"a": 3}  # half-open probe succeeded: closed again


async def test_retries_hide_a_failing_replica_only_when_safe(workdir: Path, replicas: Replicas) -> None:
    """503 and connect errors are tried again on another replica; a 500 on a POST is not (not idempotent)."""
    config = write_config(workdir, upstream(replicas, "    retry: {attempts: 3, backoff: 10ms}"))
    replicas["a"].status = 503
    replicas.kill("b")
    async with connect(config) as s:
        assert await calls(s, 12) == {"c": 12}
        assert replicas["a"].hits["GET /who"] >= 1
        replicas["a"].status = 500
        replicas["c"].status = 500
        r = await s.call_tool("post", {})
        assert r.is_error and "HTTP 500" in r.content[0].text
    assert replicas["a"].hits["POST /who"] + replicas["c"].hits["POST /who"] == 1


async def test_no_failed_call_while_one_of_three_replicas_is_killed(workdir: Path, replicas: Replicas) -> None:
    """Calls under way while a replica dies all succeed: retries take them to the others."""
    body = "    retry: {attempts: 3, backoff: 10ms}\n    outlier: {consecutive_failures: 1, ejection_time: 5s}"
    config = write_config(workdir, upstream(replicas, body))
    for r in ("a", "b", "c"):
        replicas[r].delay = 0.01
    async with connect(config) as s:
        results: list[Any] = []

        async def worker() -> None:
            for _ in range(25):
                results.append(await s.call_tool("who", {}))

        async with anyio.create_task_group() as tg:
            for _ in range(4):
                tg.start_soon(worker)
            await anyio.sleep(0.2)
            await anyio.to_thread.run_sync(replicas.kill, "b")
    assert [r.content[0].text for r in results if r.is_error] == []
    assert len(results) == 100


async def test_fallback_message_and_fallback_tool(workdir: Path, replicas: Replicas) -> None:
    """When the upstream fails, a tool answers with its fallback message, or its fallback tool's result."""
    tools = """  degraded: {kind: http, upstream: api, request: {path: /who}, fallback: {message: "search is down"}}
  rerouted: {kind: http, upstream: api, request: {path: /who}, fallback: {tool: backup}}
  backup: {kind: static, content: "from the backup"}
  plain: {kind: http, upstream: api, request: {path: /who}, breaker: quick}
"""
    config = write_config(workdir, upstream(replicas, "", names=("a",), tools=tools))
    replicas.kill("a")
    async with connect(config) as s:
        r = await s.call_tool("degraded", {})
        assert (r.is_error, r.content[0].text) == (False, "search is down")
        assert (await s.call_tool("rerouted", {})).content[0].text == "from the backup"
        texts = [(await s.call_tool("plain", {})).content[0].text for _ in range(3)]
        assert texts[0].startswith("HTTP GET http://127.0.0.1:") and "failed: ClientConnectorError" in texts[0]
        assert texts[2] == "circuit open for tool 'plain'; retry in 1s"


async def test_bad_upstream_config_is_refused_with_clear_errors(workdir: Path) -> None:
    """Unknown references and misplaced keys are located errors from `webmcp validate`."""
    config = write_config(workdir, """
version: 1
breakers:
  quick: {failure_threshold: 2}
upstreams:
  api: {kind: http, endpoints: ["http://127.0.0.1:1"], breaker: quik, balance: consistent_hash}
tools:
  a: {kind: http, upstream: apii, request: {path: /x}}
  b: {kind: http, request: {path: /x}}
  c: {kind: static, content: x, fallback: {tool: d}}
  d: {kind: static, content: x, fallback: {tool: c}}
""")
    proc = await anyio.run_process([*VALIDATE, str(config)], check=False)
    lines = proc.stdout.decode().splitlines()
    where = str(config)
    assert lines == [
        f"{where}:6:56: upstreams.api.breaker: no such entry in breakers: (got \"quik\"); did you mean 'quick'?",
        f"{where}:6:71: upstreams.api.balance: consistent_hash needs the arguments to hash; "
        "add hash_on: [argument, ...]",
        f"{where}:8:19: tools.a.upstream: no such entry in upstreams: (got \"apii\"); did you mean 'api'?",
        f"{where}:9:19: tools.b.request: request.path needs an upstream; add upstream: NAME, or give url:",
        f"{where}:10:44: tools.c.fallback.tool: fallbacks go round in a circle (got c -> d -> c); end the chain with "
        "a tool without fallback, or a fallback message",
        f"{where}:11:44: tools.d.fallback.tool: fallbacks go round in a circle (got d -> c -> d); end the chain with "
        "a tool without fallback, or a fallback message",
    ]






async def test_upstream_state_survives_an_unrelated_reload(workdir: Path, replicas: Replicas, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """An open breaker and an ejected endpoint stay so across a reload that leaves the upstream alone;
    the reload report says the upstream and its pool were kept."""
    from tests.integration.test_reload import cli_reload, wait_for_run_file

    runtime_dir = tmp_path / "run"
    runtime_dir.mkdir()
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime_dir))
    body = "    breaker: slow\n    outlier: {consecutive_failures: 1, ejection_time: 30s}"
    text = upstream(replicas, body, names=("a", "b"))
    text = text.replace("breakers:\n", "breakers:\n  slow: {failure_threshold: 1}\n")
    config = write_config(workdir, text)
    replicas["a"].status = 503
    async with connect(config, env={"XDG_RUNTIME_DIR": str(runtime_dir)}) as s:
        while (await s.call_tool("who", {})).is_error is False:
            pass  # until a has failed once: its breaker is open and it is ejected
        wait_for_run_file(runtime_dir)
        config.write_text(config.read_text() + '  about: {kind: static, content: "added"}\n')
        done = await anyio.to_thread.run_sync(cli_reload, config)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "components: kept admission, pool default, upstream api" in done.stdout
        replicas["a"].status = 200
        assert await calls(s, 6) == {"b": 6}  # a is still out
        assert (await s.call_tool("about", {})).content[0].text == "added"


async def test_a_hanging_endpoint_counts_as_failing(workdir: Path, replicas: Replicas) -> None:
    """Calls cut by the tool's timeout count against the endpoint: its breaker opens, and the next call
    is refused at once instead of hanging again."""
    config = write_config(workdir, upstream(replicas, "    breaker: quick", names=("a",)).replace(
        "request: {path: /who}}", "request: {path: /who}, timeout: 300ms}", 1))
    replicas["a"].delay = 5
    async with connect(config) as s:
        for _ in range(2):
            r = await s.call_tool("who", {})
            assert r.is_error and "timed out after 0.3s" in r.content[0].text
        started = time.monotonic()
        r = await s.call_tool("who", {})
        assert r.is_error and r.content[0].text.startswith("circuit open for upstream 'api' endpoint 'a'")
        assert time.monotonic() - started < 0.2


async def test_credentials_in_endpoint_urls_stay_out_of_messages(workdir: Path) -> None:
    """An endpoint URL with a user and password is named by host and port in what a client sees."""
    config = write_config(workdir, """
version: 1
upstreams:
  api: {kind: http, endpoints: ["http://bob:s3cret@127.0.0.1:9"]}
tools:
  who: {kind: http, upstream: api, request: {path: "/who?token=abc"}}
""")
    async with connect(config) as s:
        r = await s.call_tool("who", {})
    assert r.is_error and "127.0.0.1:9" in r.content[0].text
    assert "s3cret" not in r.content[0].text and "bob" not in r.content[0].text

"""Hot reload with real processes: SIGHUP and `webmcp reload` swap the graph without dropping a call."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from tests.integration.conftest import connect, write_config
from tests.integration.rawstdio import RawServer
from tests.integration.redis_server import prefix, redis_url  # noqa: F401  (fixtures)

BASE = """
version: 1
server: {graceful_timeout: 5s}
tools:
  greet: {kind: python, function: "sample_tools:greet"}
  slow: {kind: python, function: "sample_tools:slow"}
"""
EXTRA = """  about: {kind: static, content: "added by a reload"}
"""


def cli_reload(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "webmcp", "reload", "-c", str(config), "--timeout", "10"],
                          capture_output=True, text=True, timeout=60, cwd=config.parent)


def wait_for_run_file(runtime_dir: Path) -> None:
    deadline = time.monotonic() + 10
    while not list(runtime_dir.glob("webmcp/*/*.pid")):
        assert time.monotonic() < deadline, "the server wrote no run file"
        time.sleep(0.05)


pytestmark = pytest.mark.anyio


async def test_added_tool_appears_with_list_changed(workdir: Path, runtime_dir: Path) -> None:
    """A tool added to the file shows up after `webmcp reload`; the client is told list_changed."""
    config = write_config(workdir, BASE)
    methods: list[str] = []

    async def on_message(message: Any) -> None:
        root = getattr(message, "root", message)
        methods.append(str(getattr(root, "method", "")))

    async with connect(config, message_handler=on_message, env={"XDG_RUNTIME_DIR": str(runtime_dir)}) as s:
        assert sorted(t.name for t in (await s.list_tools()).tools) == ["greet", "slow"]
        wait_for_run_file(runtime_dir)
        config.write_text(config.read_text() + EXTRA)
        done = await anyio.to_thread.run_sync(cli_reload, config)
        assert done.returncode == 0, done.stdout + done.stderr
        assert done.stdout.split(": ", 1)[1].startswith("reloaded to generation 2 in ")
        assert ": tools: added about; components: kept admission, threads" in done.stdout
        with anyio.fail_after(5):
            while "notifications/tools/list_changed" not in methods:
                await anyio.sleep(0.05)
        assert sorted(t.name for t in (await s.list_tools()).tools) == ["about", "greet", "slow"]
        assert (await s.call_tool("about", {})).content[0].text == "added by a reload"


async def test_edited_tool_code_takes_effect(workdir: Path, runtime_dir: Path) -> None:
    """Python modules next to the config are imported afresh on reload."""
    config = write_config(workdir, BASE)
    async with connect(config, env={"XDG_RUNTIME_DIR": str(runtime_dir)}) as s:
        assert (await s.call_tool("greet", {"name": "A"})).content[0].text == "Hello, A!"
        module = workdir / "sample_tools.py"
        module.write_text(module.read_text().replace('f"Hello, {name}{punctuation}"', 'f"Hi, {name}{punctuation}"'))
        wait_for_run_file(runtime_dir)
        assert (await anyio.to_thread.run_sync(cli_reload, config)).returncode == 0
        assert (await s.call_tool("greet", {"name": "A"})).content[0].text == "Hi, A!"


@pytest.fixture
def raw(workdir: Path, runtime_dir: Path) -> Iterator[RawServer]:
    server = RawServer(write_config(workdir, BASE))
    yield server
    server.stop()


def test_calls_running_during_a_reload_finish_on_the_old_graph(raw: RawServer, workdir: Path) -> None:
    """A call in flight when SIGHUP arrives completes normally; new calls see the new graph."""
    raw.call(1, "slow", {"seconds": 1.0, "marker": str(workdir / "m")})
    time.sleep(0.3)
    config = workdir / "webmcp.yaml"
    config.write_text(config.read_text().replace("  slow:", "  renamed_slow:") + EXTRA)
    raw.proc.send_signal(signal.SIGHUP)
    seen = raw.until(lambda m: m.get("id") == 1)
    assert seen[-1]["result"]["content"][0]["text"] == "slept"
    assert any(m.get("method") == "notifications/tools/list_changed" for m in seen)
    raw.send({"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
    names = sorted(t["name"] for t in raw.until(lambda m: m.get("id") == 2)[-1]["result"]["tools"])
    assert names == ["about", "greet", "renamed_slow"]


@pytest.mark.parametrize(
    ("breakage", "expected_log"),
    [
        pytest.param("tools: [unclosed\n", "YAML syntax error", id="broken-yaml"),
        pytest.param("  bad: {kind: python, function: nowhere:fn}\n", "cannot import nowhere:fn", id="build-error"),
        pytest.param("  bad: {kind: static, content: x, timeout: fast}\n", "must be a duration", id="schema-error"),
        pytest.param('  cached: {kind: python, function: "sample_tools:greet", cache: {use: r}}\n'
                     'pools: {r: {kind: redis, url: "redis://127.0.0.1:1/0", connect_timeout: 200ms}}\n'
                     "caches: {r: {backend: redis, pool: r}}\n",
                     "cannot reach Redis at redis://127.0.0.1:1/0", id="unreachable-redis"),
    ],
)
def test_a_bad_file_keeps_the_old_graph(raw: RawServer, workdir: Path, breakage: str, expected_log: str) -> None:
    """Broken YAML, a schema error or a build error: the old tools keep serving; the process lives."""
    config = workdir / "webmcp.yaml"
    text = config.read_text()
    config.write_text(breakage if breakage.startswith("tools:") else text + breakage)
    raw.proc.send_signal(signal.SIGHUP)
    time.sleep(0.8)
    raw.call(3, "greet", {"name": "still"})
    assert raw.until(lambda m: m.get("id") == 3)[-1]["result"]["content"][0]["text"] == "Hello, still!"
    assert raw.proc.poll() is None
    raw.close_input()
    raw.proc.wait(10)
    assert raw.proc.stderr is not None
    assert expected_log in raw.proc.stderr.read().decode()


def test_reload_command_refuses_an_invalid_file_and_signals_nobody(raw: RawServer, workdir: Path,
                                                                   runtime_dir: Path) -> None:
    """`webmcp reload` checks the file first: problems are printed, exit 3, the server is untouched."""
    wait_for_run_file(runtime_dir)
    config = workdir / "webmcp.yaml"
    config.write_text(config.read_text() + "  bad: {kind: statik}\n")
    done = cli_reload(config)
    assert done.returncode == 3
    assert "tools.bad.kind" in done.stderr
    status = next(runtime_dir.glob("webmcp/*/*.status.json")).read_text()
    assert '"reloads":0' in status


def test_every_instance_of_a_config_is_reloaded(workdir: Path, runtime_dir: Path) -> None:
    """Two stdio servers of one config: `webmcp reload` signals both and reports each."""
    config = write_config(workdir, BASE)
    servers = [RawServer(config), RawServer(config)]
    try:
        deadline = time.monotonic() + 10
        while len(list(runtime_dir.glob("webmcp/*/*.pid"))) < 2:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        config.write_text(config.read_text() + EXTRA)
        done = cli_reload(config)
        assert done.returncode == 0, done.stdout + done.stderr
        assert sorted(line.split(":")[0] for line in done.stdout.splitlines()) == sorted(
            f"pid {s.proc.pid}" for s in servers)
    finally:
        for s in servers:
            s.stop()


def test_many_reloads_leak_no_file_descriptors(raw: RawServer, workdir: Path, runtime_dir: Path) -> None:
    """30 reloads in a row (each with an http tool and its session) leave the fd count where it was."""
    config = workdir / "webmcp.yaml"
    config.write_text(config.read_text() + '  web: {kind: http, request: {url: "http://127.0.0.1:9/x"}}\n')
    wait_for_run_file(runtime_dir)
    assert cli_reload(config).returncode == 0
    time.sleep(0.3)
    before = len(os.listdir(f"/proc/{raw.proc.pid}/fd"))
    for _ in range(30):
        raw.proc.send_signal(signal.SIGHUP)
        time.sleep(0.05)
    time.sleep(1.0)
    status = next(runtime_dir.glob("webmcp/*/*.status.json")).read_text()
    after = len(os.listdir(f"/proc/{raw.proc.pid}/fd"))
    assert after <= before, (before, after, status)
    assert json.loads(status)["generation"] >= 3  # HUPs during a reload collapse into one more: not 31

    raw.send({"jsonrpc": "2.0", "id": 9, "method": "ping"})
    assert raw.until(lambda m: m.get("id") == 9)[-1]["result"] == {}


def test_sighup_under_200_concurrent_stdio_calls_drops_none(raw: RawServer, workdir: Path) -> None:
    """200 calls in flight over stdio, a reload that changes the tools mid-way: all 200 succeed."""
    assert raw.proc.stdin is not None
    lines = b"".join(
        json.dumps({"jsonrpc": "2.0", "id": 1000 + i, "method": "tools/call",
                    "params": {"name": "slow", "arguments": {"seconds": 0.6, "marker": str(workdir / "m")}}}).encode()
        + b"\n" for i in range(200))
    raw.proc.stdin.write(lines)
    raw.proc.stdin.flush()
    time.sleep(0.2)
    config = workdir / "webmcp.yaml"
    config.write_text(config.read_text() + EXTRA)
    raw.proc.send_signal(signal.SIGHUP)
    replies: dict[int, Any] = {}
    deadline = time.monotonic() + 20
    while len(replies) < 200 and time.monotonic() < deadline:
        for message in raw.collect(0.2):
            if isinstance(message.get("id"), int) and message["id"] >= 1000:
                replies[message["id"]] = message
    assert len(replies) == 200
    failed = [m for m in replies.values() if "error" in m or m["result"].get("isError")]
    assert failed == []
    raw.send({"jsonrpc": "2.0", "id": 3, "method": "tools/list"})
    names = {t["name"] for t in raw.until(lambda m: m.get("id") == 3)[-1]["result"]["tools"]}
    assert "about" in names


async def test_sighup_under_200_concurrent_http_calls_drops_none(workdir: Path) -> None:
    """200 concurrent POSTs in one HTTP session, a reload mid-way: every call answers 200 with its result."""
    import aiohttp

    from tests.integration.test_http import INIT, post

    write_config(workdir, BASE)
    with http_server_pid(workdir) as (url, pid):
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
            _, headers, _ = await post(http, url, INIT)
            session = {"Mcp-Session-Id": headers["Mcp-Session-Id"], "Accept": "application/json"}

            async def one(i: int) -> tuple[int, Any]:
                call = {"jsonrpc": "2.0", "id": i, "method": "tools/call",
                        "params": {"name": "slow", "arguments": {"seconds": 0.6, "marker": str(workdir / "m")}}}
                status, _, body = await post(http, url, call, session)
                return status, body

            calls = [asyncio.ensure_future(one(i)) for i in range(200)]
            await asyncio.sleep(0.2)
            config = workdir / "webmcp.yaml"
            config.write_text(config.read_text() + EXTRA)
            os.kill(pid, signal.SIGHUP)
            results = await asyncio.gather(*calls)
    bad = [r for r in results if r[0] != 200 or "error" in r[1] or r[1]["result"].get("isError")]
    assert bad == []


@contextlib.contextmanager
def http_server_pid(workdir: Path) -> Iterator[tuple[str, int]]:
    """`webmcp serve --transport http` on the config already in `workdir`; yields (URL, pid)."""
    from tests.integration.test_http import free_port, wait_for_port

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "webmcp", "serve", "-c", str(workdir / "webmcp.yaml"),
                             "--transport", "http", "--port", str(port)], cwd=workdir, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(proc, port)
        yield f"http://127.0.0.1:{port}/mcp", proc.pid
    finally:
        proc.terminate()
        proc.wait(15)


def test_prompt_and_resource_changes_are_announced(workdir: Path, runtime_dir: Path) -> None:
    """Changed prompts and resources send prompts/ and resources/list_changed (not tools/) to a session
    told about those capabilities at initialize."""
    surface = ('prompts:\n  hi: {description: a, messages: [{content: "hi"}]}\n'
               'resources:\n  r: {uri: "x://r", text: "r"}\n')
    config = write_config(workdir, BASE + surface)
    raw = RawServer(config)
    try:
        config.write_text(config.read_text().replace("description: a", "description: b").replace('"x://r"', '"x://s"'))
        raw.proc.send_signal(signal.SIGHUP)
        time.sleep(0.8)
        raw.send({"jsonrpc": "2.0", "id": 4, "method": "ping"})
        seen = [m.get("method") for m in raw.until(lambda m: m.get("id") == 4)]
        assert "notifications/prompts/list_changed" in seen and "notifications/resources/list_changed" in seen
        assert "notifications/tools/list_changed" not in seen
    finally:
        raw.stop()


def test_a_tool_whose_backend_alone_changed_is_reported_but_not_relisted(workdir: Path, runtime_dir: Path) -> None:
    """A reload that changes only a tool's backend reports the tool changed and serves the new backend, without
    telling clients tools/list_changed (the list they would fetch is the same)."""
    config = write_config(workdir, BASE + '  about: {kind: static, content: "one"}\n')
    raw = RawServer(config)
    try:
        wait_for_run_file(runtime_dir)
        config.write_text(config.read_text().replace('"one"', '"two"'))
        done = cli_reload(config)
        assert done.returncode == 0, done.stdout + done.stderr
        assert ": tools: changed about; components: " in done.stdout
        raw.call(4, "about")
        seen = raw.until(lambda m: m.get("id") == 4)
        assert seen[-1]["result"]["content"][0]["text"] == "two"
        assert "notifications/tools/list_changed" not in [m.get("method") for m in seen]
    finally:
        raw.stop()


def test_validate_diff_against_the_running_server(raw: RawServer, workdir: Path, runtime_dir: Path) -> None:
    """`webmcp validate --diff` compares the edited file with what the running server serves."""
    wait_for_run_file(runtime_dir)
    config = workdir / "webmcp.yaml"
    config.write_text(config.read_text().replace("  slow:", "  renamed:") + EXTRA)
    done = subprocess.run([sys.executable, "-m", "webmcp", "validate", "-c", str(config), "--diff"],
                          capture_output=True, text=True, timeout=60, cwd=workdir)
    assert done.returncode == 0, done.stderr
    assert "  tools: added about, renamed; removed slow" in done.stdout.splitlines()


def test_unchanged_components_are_kept_across_a_reload(workdir: Path, runtime_dir: Path) -> None:
    """The pooled HTTP session survives an unrelated reload: the backend sees the same keep-alive connection."""
    from tests.integration.backend import run_backend

    with run_backend() as (base, _):
        config = write_config(workdir, BASE + f'  peer: {{kind: http, request: {{url: "{base}/peer"}}}}\n')
        server = RawServer(config)
        try:
            server.call(1, "peer")
            first = server.until(lambda m: m.get("id") == 1)[-1]["result"]["structuredContent"]["port"]
            config.write_text(config.read_text() + EXTRA)
            server.proc.send_signal(signal.SIGHUP)
            time.sleep(0.8)
            server.call(2, "peer")
            second = server.until(lambda m: m.get("id") == 2)[-1]["result"]["structuredContent"]["port"]
            assert second == first
            status = json.loads(next(runtime_dir.glob("webmcp/*/*.status.json")).read_text())
            assert "components: kept admission, pool default, threads" in status["last"]["message"]
        finally:
            server.stop()


def test_a_call_outliving_graceful_timeout_after_a_reload_gets_an_error_reply(workdir: Path, runtime_dir: Path) -> None:
    """Past graceful_timeout the old generation's calls are cancelled, and each gets an isError reply saying why."""
    config = write_config(workdir, BASE.replace("graceful_timeout: 5s", "graceful_timeout: 300ms"))
    raw = RawServer(config)
    try:
        raw.call(1, "slow", {"seconds": 5, "marker": str(workdir / "m")})
        time.sleep(0.2)
        config.write_text(config.read_text() + EXTRA)
        raw.proc.send_signal(signal.SIGHUP)
        reply = raw.until(lambda m: m.get("id") == 1, seconds=5)[-1]
        assert reply["result"]["isError"] is True
        assert "the server reloaded and it outlived graceful_timeout" in reply["result"]["content"][0]["text"]
    finally:
        raw.stop()


def test_a_stale_pid_file_is_never_signalled(workdir: Path, runtime_dir: Path) -> None:
    """A pid file left by a killed server names a pid now used by another process: reload must not signal it."""
    config = write_config(workdir, BASE)
    server = RawServer(config)
    wait_for_run_file(runtime_dir)
    server.proc.kill()  # no cleanup: its pid file stays
    server.stop()
    bystander = subprocess.Popen(["sleep", "30"])
    try:
        (pid_file,) = runtime_dir.glob("webmcp/*/*.pid")
        pid_file.write_text(f"{bystander.pid}\n")  # as if the pid had been reused
        done = cli_reload(config)
        assert done.returncode == 1 and "no running webmcp server" in done.stderr
        assert bystander.poll() is None
        assert not pid_file.exists()  # the stale file is gone
    finally:
        bystander.kill()
        bystander.wait()


def test_run_files_are_private(workdir: Path, runtime_dir: Path) -> None:
    """Run-file folders are 0700 and files 0600; a symlinked run folder is refused."""
    server = RawServer(write_config(workdir, BASE))
    try:
        wait_for_run_file(runtime_dir)
        (pid_file,) = runtime_dir.glob("webmcp/*/*.pid")
        assert oct(pid_file.stat().st_mode & 0o777) == "0o600"
        assert oct(pid_file.parent.stat().st_mode & 0o777) == "0o700"
        assert oct((runtime_dir / "webmcp").stat().st_mode & 0o777) == "0o700"
    finally:
        server.stop()
    elsewhere = workdir / "elsewhere"
    elsewhere.mkdir()
    (runtime_dir / "webmcp").rename(workdir / "old")
    (runtime_dir / "webmcp").symlink_to(elsewhere)
    done = subprocess.run([sys.executable, "-m", "webmcp", "serve", "-c", str(workdir / "webmcp.yaml")],
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30, cwd=workdir)
    assert done.returncode == 2 and "unsafe run-file folder" in done.stderr


def test_reload_command_reports_the_reload_that_answers_its_own_signal(raw: RawServer, workdir: Path,
                                                                      runtime_dir: Path) -> None:
    """A reload already running (a tool module slow to import) does not count as the answer to `webmcp reload`."""
    wait_for_run_file(runtime_dir)
    (workdir / "slow_import.py").write_text("import time\ntime.sleep(1.0)\n\ndef f() -> str:\n    return 'x'\n")
    config = workdir / "webmcp.yaml"
    config.write_text(config.read_text() + '  slowmod: {kind: python, function: "slow_import:f"}\n')
    raw.proc.send_signal(signal.SIGHUP)  # a first reload, busy importing for a second
    time.sleep(0.2)
    config.write_text(config.read_text() + EXTRA)
    done = cli_reload(config)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "reloaded to generation 3" in done.stdout and "added about" in done.stdout


def test_a_slow_tool_import_during_reload_does_not_stall_the_server(raw: RawServer, workdir: Path) -> None:
    """Tool modules are imported off the event loop: a ping sent mid-reload answers at once."""
    (workdir / "slow_import2.py").write_text("import time\ntime.sleep(1.5)\n\ndef f() -> str:\n    return 'x'\n")
    config = workdir / "webmcp.yaml"
    config.write_text(config.read_text() + '  slowmod: {kind: python, function: "slow_import2:f"}\n')
    raw.proc.send_signal(signal.SIGHUP)
    time.sleep(0.3)
    started = time.monotonic()
    raw.send({"jsonrpc": "2.0", "id": 5, "method": "ping"})
    raw.until(lambda m: m.get("id") == 5)
    assert time.monotonic() - started < 0.5


LEAK_CONFIG = """
version: 1
server: {http: {admin_token_env: ADMIN}}
pools: {p: {kind: http, max_connections: MAXCONN}, r: {kind: redis, url: "REDIS"}}
caches: {c: {strategy: lru, max_entries: ENTRIES}, shared: {backend: redis, pool: r, prefix: PREFIX}}
telemetry: {metrics: true, spans: {path: spans.jsonl}}
scaling: {targets: {p95_latency: 1s}}
tools:
  greet: {kind: python, function: "sample_tools:greet", cache: c, rate_limit: RATE}
  web: {kind: http, request: {url: "http://127.0.0.1:9/x"}, pool: p}
  slow: {kind: python, function: "sample_tools:slow", concurrency: 4}
  shared: {kind: python, function: "sample_tools:greet", cache: shared}
"""


async def test_100_reloads_leak_no_descriptors_tasks_or_memory(workdir: Path, runtime_dir: Path, redis_url: str,  # noqa: F811
                                                              prefix: str) -> None:  # noqa: F811
    """100 reloads through the admin endpoint, alternating two configs whose pool, cache and rate limit
    differ (so components are rebuilt and closed each time) while a Redis cache is kept, with calls in
    between: the process's descriptors and tasks end where they started, and its memory grows by less
    than 8 MB."""
    import aiohttp

    from tests.integration.test_http import HEADERS, INIT, http_server

    def text(i: int) -> str:
        return (LEAK_CONFIG.replace("MAXCONN", str(10 + i % 2)).replace("ENTRIES", str(100 + i % 2))
                .replace("RATE", f"{1000 + i % 2}/s").replace("REDIS", redis_url).replace("PREFIX", prefix))

    def live() -> dict[str, Any]:
        time.sleep(1.3)  # the snapshot is refreshed every second
        status = json.loads(next(runtime_dir.glob("webmcp/*/*.status.json")).read_text())
        return status["live"]  # type: ignore[no-any-return]

    config = workdir / "webmcp.yaml"
    with http_server(workdir, config=text(0), env={"ADMIN": "a", "XDG_RUNTIME_DIR": str(runtime_dir)}) as url:
        admin = url.replace("/mcp", "/admin/reload")
        call = {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                "params": {"name": "greet", "arguments": {"name": "x"}}}
        async with aiohttp.ClientSession() as http:
            async def reloads(first: int, count: int) -> None:
                for i in range(first, first + count):
                    config.write_text(text(i))
                    async with http.post(admin, headers={"Authorization": "Bearer a"}) as resp:
                        assert (await resp.json())["ok"] is True
                    async with http.post(url, json=INIT, headers=HEADERS) as resp:
                        sid = resp.headers["Mcp-Session-Id"]
                    async with http.post(url, json=call, headers={**HEADERS, "Mcp-Session-Id": sid}) as resp:
                        assert (await resp.json())["result"]["content"][0]["text"] == "Hello, x!"
                    async with http.delete(url, headers={"Mcp-Session-Id": sid}):
                        pass

            await reloads(1, 10)  # warm up: imports, caches of the interpreter, first components
            before = live()
            await reloads(11, 100)
            after = live()
    assert after["generation"] == before["generation"] + 100
    assert after["fds"] <= before["fds"], (before, after)
    assert after["tasks"] <= before["tasks"], (before, after)
    assert after["memory"]["rss"] - before["memory"]["rss"] < 8_000_000, (before, after)
    print(f"100 reloads: fds {before['fds']} -> {after['fds']}, tasks {before['tasks']} -> {after['tasks']}, "
          f"rss {before['memory']['rss'] / 1e6:.1f} -> {after['memory']['rss'] / 1e6:.1f} MB")

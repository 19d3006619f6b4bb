"""mcp upstreams through a real `webmcp serve`: the upstream MCP server is another `webmcp serve`,
over stdio (spawned by the proxy) and over Streamable HTTP; it is killed and restarted under the proxy."""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import psutil
import pytest
from mcp import ClientSession

from tests.integration.backend import basic_gate, run_backend
from tests.integration.conftest import connect, write_config
from tests.integration.test_http import free_port, wait_for_port

pytestmark = pytest.mark.anyio

UPSTREAM = """
version: 1
tools:
  whoami: {kind: python, function: "upstream_tools:whoami"}
  shout: {kind: python, function: "upstream_tools:shout"}
  secret: {kind: python, function: "upstream_tools:secret"}
  fail: {kind: python, function: "upstream_tools:fail"}
"""


def upstream_config(workdir: Path) -> Path:
    shutil.copy(Path(__file__).with_name("upstream_tools.py"), workdir / "upstream_tools.py")
    path = workdir / "upstream.yaml"
    path.write_text(UPSTREAM)
    return path


def proxy(workdir: Path, where: str, extra: str = "") -> Path:
    upstream_config(workdir)
    return write_config(workdir, f"""
version: 1
upstreams:
  up:
    kind: mcp
    {where}
    max_backoff: 500ms
    ping_interval: 500ms
    retry: {{attempts: 4, backoff: 200ms}}
{extra}
tools:
  who: {{kind: mcp, upstream: up, tool: whoami, idempotent: true}}
  shout: {{kind: mcp, upstream: up}}
  all: {{kind: mcp, upstream: up, import: {{prefix: "u_", deny: [secret]}}}}
""")


STDIO = f'command: ["{sys.executable}", -m, webmcp, serve, -c, upstream.yaml]\n    env: {{UPSTREAM_NAME: stdio}}'


async def pid_of(session: ClientSession) -> int:
    r = await session.call_tool("who", {})
    assert not r.is_error, r.content[0].text
    pid: int = r.structured_content["pid"]
    return pid


def is_gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


async def test_single_tool_and_import_over_stdio(workdir: Path) -> None:
    """One upstream tool under its own or another name, and an import with prefix and deny list; the
    upstream's definitions (description, schema) and results (structured content, isError) come through."""
    async with connect(proxy(workdir, STDIO)) as s:
        tools = {t.name: t for t in (await s.list_tools()).tools}
        assert sorted(tools) == ["shout", "u_fail", "u_shout", "u_whoami", "who"]
        assert tools["shout"].description == "Upper-case the text."
        assert tools["shout"].input_schema["required"] == ["text"]
        assert (await s.call_tool("shout", {"text": "hi"})).content[0].text == "HI"
        assert (await s.call_tool("u_shout", {"text": "yo"})).content[0].text == "YO"
        r = await s.call_tool("who", {})
        assert r.structured_content["name"] == "stdio"
        r = await s.call_tool("u_fail", {})
        assert r.is_error and "upstream tool failed" in r.content[0].text
        r = await s.call_tool("shout", {})
        assert r.is_error and "text" in r.content[0].text  # checked by the proxy before any upstream call


async def test_a_killed_stdio_upstream_is_respawned_and_nothing_leaks(workdir: Path) -> None:
    """Killing the upstream process: it is respawned with back-off, calls recover (idempotent ones are
    retried), the dead process is reaped, and the proxy's exit ends the upstream process too."""
    async with connect(proxy(workdir, STDIO)) as s:
        first = await pid_of(s)
        os.kill(first, signal.SIGKILL)
        with anyio.fail_after(15):
            while True:
                r = await s.call_tool("who", {})
                if not r.is_error and r.structured_content["pid"] != first:
                    break
                await anyio.sleep(0.1)
        second = r.structured_content["pid"]
        assert is_gone(first)
        assert (await s.call_tool("shout", {"text": "back"})).content[0].text == "BACK"
    deadline = time.monotonic() + 10
    while not is_gone(second):
        assert time.monotonic() < deadline, "the upstream process outlived the proxy"
        await anyio.sleep(0.1)


@pytest.fixture
def http_upstream(workdir: Path) -> Iterator[dict[str, Any]]:
    """A `webmcp serve --transport http` upstream that the test can restart on the same port."""
    config = upstream_config(workdir)
    port = free_port()
    state: dict[str, Any] = {"url": f"http://127.0.0.1:{port}/mcp"}

    def start() -> None:
        proc = subprocess.Popen([sys.executable, "-m", "webmcp", "serve", "-c", str(config), "--transport", "http",
                                 "--port", str(port)], cwd=workdir, env={**os.environ, "UPSTREAM_NAME": "http"},
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wait_for_port(proc, port)
        state["proc"] = proc

    def stop() -> None:
        proc = state["proc"]
        proc.kill()
        proc.wait(10)
        if proc.stderr:
            proc.stderr.close()

    state["start"], state["stop"] = start, stop
    start()
    yield state
    stop()


async def test_http_upstream_survives_a_restart(workdir: Path, http_upstream: dict[str, Any]) -> None:
    """Over Streamable HTTP: after the upstream restarts (its session is gone), the proxy reconnects."""
    config = proxy(workdir, f'url: "{http_upstream["url"]}"')
    async with connect(config) as s:
        first = await pid_of(s)
        await anyio.to_thread.run_sync(http_upstream["stop"])
        await anyio.to_thread.run_sync(http_upstream["start"])
        with anyio.fail_after(15):
            while True:
                r = await s.call_tool("who", {})
                if not r.is_error:
                    break
                await anyio.sleep(0.1)
        assert r.structured_content["pid"] != first
        assert r.structured_content["name"] == "http"


async def test_an_unknown_upstream_tool_is_a_build_error(workdir: Path) -> None:
    """Naming a tool the upstream does not have fails `validate --connect` with the upstream's tool list."""
    upstream_config(workdir)
    config = write_config(workdir, f"""
version: 1
upstreams:
  up:
    kind: mcp
    {STDIO}
tools:
  nope: {{kind: mcp, upstream: up, tool: shuot}}
""")
    proc = await anyio.run_process([sys.executable, "-m", "webmcp", "validate", "-c", str(config), "--connect"],
                                   check=False)
    assert proc.returncode == 4
    assert proc.stdout.decode().strip() == (f"{config}:9:3: tools.nope: upstream 'up' has no tool 'shuot'; "
                                            "it has: fail, secret, shout, whoami")


async def test_replicas_of_an_mcp_upstream_share_the_calls(workdir: Path) -> None:
    """An mcp upstream with two stdio endpoints: round robin alternates between the two processes."""
    command = f'["{sys.executable}", -m, webmcp, serve, -c, upstream.yaml]'
    config = proxy(workdir, f"endpoints: [{{command: {command}, name: one}}, {{command: {command}, name: two}}]")
    async with connect(config) as s:
        pids = [await pid_of(s) for _ in range(4)]
    assert len(set(pids)) == 2 and pids[0] == pids[2] and pids[1] == pids[3]


def test_an_upstream_that_exits_leaves_each_warning_on_a_line_of_its_own(workdir: Path) -> None:
    """An upstream command that writes to stderr without a newline and exits: `webmcp validate --connect` shows
    what it wrote on a line of its own, and every connection warning starts at the beginning of a line."""
    config = write_config(workdir, f"""
version: 1
upstreams:
  up:
    kind: mcp
    command: ["{sys.executable}", -c, "import sys; sys.stderr.write('no such thing'); sys.exit(1)"]
    connect_timeout: 1s
tools:
  t: {{kind: mcp, upstream: up}}
""")
    done = subprocess.run([sys.executable, "-m", "webmcp", "validate", "-c", str(config), "--connect"],
                          capture_output=True, text=True, timeout=60, cwd=workdir)
    assert done.returncode == 4, done.stdout + done.stderr
    lines = done.stderr.splitlines()
    assert "no such thing" in lines
    warnings = [line for line in lines if "connection failed" in line]
    assert warnings and all(line.startswith("upstream 'up' endpoint ") for line in warnings), done.stderr


def test_validate_starts_no_upstream_unless_told_to_connect(workdir: Path) -> None:
    """Without --connect, `webmcp validate` passes a config whose upstream command does not exist, saying which
    mcp tools it did not check; with --connect it fails (exit 4) on the connection; `webmcp tools` connects."""
    write_config(workdir, """
version: 1
profile: none
upstreams:
  up: {kind: mcp, command: [./no-such-mcp-server], connect_timeout: 500ms}
tools:
  search: {kind: mcp, upstream: up}
  typed: {kind: mcp, upstream: up, tool: find, input: {type: object, properties: {q: {type: string}}}}
  all: {kind: mcp, upstream: up, import: {prefix: u_}}
  local: {kind: static, content: hi}
""")

    def webmcp(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "webmcp", *args, "-c", "webmcp.yaml"], capture_output=True,
                              text=True, timeout=60, cwd=workdir)

    done = webmcp("validate")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines() == [
        "webmcp.yaml: ok (2 tools listed, 4 declared)",
        "not connected: 3 mcp tools not checked against their upstreams; webmcp validate --connect checks them:",
        "  webmcp.yaml:7:3: tools.search: not checked against upstream 'up' (not started): that it has the tool "
        "'search'",
        "  webmcp.yaml:8:3: tools.typed: not checked against upstream 'up' (not started): that it has the tool 'find'",
        "  webmcp.yaml:9:3: tools.all: not checked against upstream 'up' (not started): the tools it imports",
    ]
    assert "no-such-mcp-server" not in done.stderr  # nothing tried to start it
    report = json.loads(webmcp("validate", "--format", "json").stdout)
    assert report["valid"] is True and report["connected"] is False and report["unchecked"]["pools"] == []
    assert [p["path"] for p in report["unchecked"]["tools"]] == ["tools.search", "tools.typed", "tools.all"]
    done = webmcp("validate", "--connect")
    assert done.returncode == 4, done.stdout + done.stderr
    assert done.stdout.splitlines()[0] == ("webmcp.yaml:5:3: upstreams.up: cannot connect to the upstream MCP server "
                                           "within 0.5s; check its command or url; the server's stderr is in this "
                                           "process's log")
    assert "not connected" not in done.stdout
    done = webmcp("tools")
    assert done.returncode == 4 and "cannot connect to the upstream MCP server" in done.stderr


async def test_credentials_in_an_upstream_url_travel_as_a_header_and_are_never_logged(workdir: Path) -> None:
    """`http://user:pass@host/mcp`: every request carries `Authorization: Basic`, its URL has no credentials,
    and the password is in no log line, at debug level (httpx, httpcore, webmcp) or info."""
    config = upstream_config(workdir)
    config.write_text(UPSTREAM + "server: {http: {stateless: true}}\n")
    port = free_port()
    upstream = subprocess.Popen([sys.executable, "-m", "webmcp", "serve", "-c", str(config), "--transport", "http",
                                 "--port", str(port)], cwd=workdir, env={**os.environ, "UPSTREAM_NAME": "gated"},
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    basic = "Basic " + base64.b64encode(b"robot:pa55-W0rd").decode()
    try:
        wait_for_port(upstream, port)
        with run_backend(basic_gate(f"http://127.0.0.1:{port}/mcp", basic)) as (gate, seen):
            url = gate.replace("http://", "http://robot:pa55-W0rd@") + "/mcp"
            for level in ("debug", "info"):
                log = workdir / f"{level}.log"
                with log.open("w") as errlog:
                    async with connect(proxy(workdir, f'url: "{url}"'), "--log-level", level, stderr=errlog) as s:
                        r = await s.call_tool("who", {})
                        assert not r.is_error and r.structured_content["name"] == "gated"
                logged = log.read_text()
                assert "HTTP Request: POST" in logged and "pa55-W0rd" not in logged
    finally:
        upstream.kill()
        upstream.wait(10)
    assert seen and all(r["authorization"] == basic and "pa55" not in r["url"] for r in seen)

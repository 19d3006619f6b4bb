"""Secrets stay secret (issue #17, item 4): values that came from `${VAR}` in headers, URLs and env, and the
credentials inside URLs, appear in none of what a server shows: its log (at debug level), error results,
`webmcp validate`, `webmcp tools --json`, `webmcp profile`, spans, `webmcp status`, /metrics."""

from __future__ import annotations

import asyncio
import base64
import os
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from tests.integration.backend import basic_gate, run_backend
from tests.integration.conftest import connect, write_config
from tests.integration.test_http import free_port, wait_for_port
from tests.integration.test_mcp_upstreams import UPSTREAM, upstream_config

pytestmark = pytest.mark.anyio

SECRETS = {"T_KEY": "key-0f9e8d7c", "T_QUERY": "query-1a2b3c4d", "T_PASS": "pass-5e6f7a8b", "T_ENV": "env-9c0d1e2f"}
LEAKY = """
import os


def leak() -> str:
    raise RuntimeError("the backend refused key " + os.environ["T_KEY"])
"""

CONFIG = """
version: 1
server: {log_level: debug, instructions: "Use key ${T_KEY} with care."}
telemetry: {metrics: true, listen: "127.0.0.1:METRICS", spans: {path: spans.jsonl, flush_interval: 100ms}}
upstreams:
  up: {kind: mcp, url: "http://robot:${T_PASS}@GATE/mcp"}
tools:
  missing:
    kind: http
    request: {url: "BACKEND/missing", query: {api_key: "${T_QUERY}"}, headers: {X-Api-Key: "${T_KEY}"}}
  looping:
    kind: http
    request: {url: "BACKEND/loop", query: {api_key: "${T_QUERY}"}, headers: {Authorization: "Bearer ${T_KEY}"}}
  refused:
    kind: http
    request: {url: "http://user:${T_PASS}@127.0.0.1:CLOSED/x", query: {k: "${T_QUERY}"}}
  env_fails:
    kind: command
    argv: [python3, -c, "import sys; sys.exit(3)", "--token=${T_ENV}"]
    env: {TOKEN: "${T_ENV}"}
  leaky: {kind: python, function: "leaky:leak"}
  who: {kind: mcp, upstream: up, tool: whoami}
"""


def test_no_secret_shows_anywhere(workdir: Path, runtime_dir: Path) -> None:
    """Every place a server shows something is grepped for every secret value, and none is there."""
    asyncio.run(_run(workdir))


async def _run(workdir: Path) -> None:
    env = {**os.environ, **SECRETS}
    shown: dict[str, str] = {}
    upstream_port = free_port()
    upstream_cfg = upstream_config(workdir)
    upstream_cfg.write_text(UPSTREAM + "server: {http: {stateless: true}}\n")
    upstream = subprocess.Popen([sys.executable, "-m", "webmcp", "serve", "-c", str(upstream_cfg), "--transport",
                                 "http", "--port", str(upstream_port)], cwd=workdir, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
    basic = "Basic " + base64.b64encode(f"robot:{SECRETS['T_PASS']}".encode()).decode()
    metrics_port = free_port()
    try:
        wait_for_port(upstream, upstream_port)
        with run_backend() as (backend, _), \
                run_backend(basic_gate(f"http://127.0.0.1:{upstream_port}/mcp", basic)) as (gate, _):
            text = (CONFIG.replace("METRICS", str(metrics_port)).replace("GATE", gate.removeprefix("http://"))
                    .replace("BACKEND", backend).replace("CLOSED", str(free_port())))
            config = write_config(workdir, text)
            (workdir / "leaky.py").write_text(LEAKY)
            log = workdir / "stderr.log"
            with log.open("w") as errlog:
                async with connect(config, stderr=errlog, env=env) as s:
                    for name in ("missing", "looping", "refused", "env_fails", "leaky", "who"):
                        result = await s.call_tool(name, {})
                        shown[f"result of {name}"] = result.model_dump_json()
                    assert not result.is_error  # the upstream answered through the gate, credentials as a header
                    async with aiohttp.ClientSession() as http, \
                            http.get(f"http://127.0.0.1:{metrics_port}/metrics") as resp:
                        shown["/metrics"] = await resp.text()
                    await asyncio.sleep(1.2)  # a status snapshot and a span flush
                    for command in (["status", "--json"], ["tools", "--json"], ["validate", "--connect"],
                                    ["profile", "--format", "json"]):
                        done = subprocess.run([sys.executable, "-m", "webmcp", *command, "-c", str(config)],
                                              capture_output=True, text=True, env=env, timeout=60, cwd=workdir)
                        shown[" ".join(command)] = done.stdout + done.stderr
            shown["log"] = log.read_text()
            shown["spans"] = (workdir / "spans.jsonl").read_text()
            broken = workdir / "broken.yaml"
            broken.write_text(text.replace("kind: command", "kind: command\n    timeout: soon")
                              .replace('url: "http://robot', 'url: "htp://robot'))
            done = subprocess.run([sys.executable, "-m", "webmcp", "validate", "-c", str(broken)],
                                  capture_output=True, text=True, env=env, timeout=60, cwd=workdir)
            assert done.returncode == 3
            shown["validate of a broken file"] = done.stdout + done.stderr
    finally:
        upstream.kill()
        upstream.wait(10)
    assert "HTTP Request: POST" in shown["log"] and "webmcp_tool_calls_total" in shown["/metrics"]
    assert "the backend refused key ${T_KEY}" in shown["result of leaky"] and "${T_KEY}" in shown["log"]
    assert '"generation"' in shown["status --json"] and '"looping"' in shown["tools --json"]
    assert "${T_KEY}" in shown["profile --format json"] and "leaky" in shown["spans"]
    leaks = [(where, name) for where, text in shown.items() for name, value in SECRETS.items() if value in text]
    assert leaks == [], leaks

"""Start-up pays only for what the config uses: which libraries a fresh process imports to serve a config."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("redis", "prometheus_client", "mcp", "aiohttp", "jsonschema", "multiprocessing", "psutil")

# Loads and builds the config as `serve` does, then reports which heavy libraries got imported.
PROBE = """
import asyncio, json, sys
import webmcp.kinds.imports
from webmcp.config.load import load
from webmcp.graph.build import build
graph = asyncio.run(build(load(sys.argv[1])))
print(json.dumps(sorted(m for m in sys.modules if m in {heavy!r})))
"""


def _imported(config: Path, cache_dir: Path | str) -> list[str]:
    env = {**os.environ, "WEBMCP_CACHE_DIR": str(cache_dir)}
    out = subprocess.run([sys.executable, "-c", PROBE.format(heavy=HEAVY), str(config)], env=env,
                         capture_output=True, text=True, timeout=60, check=True).stdout
    found: list[str] = json.loads(out.splitlines()[-1])
    return found


def test_the_example_imports_no_redis_metrics_mcp_or_http_client(tmp_path: Path) -> None:
    """The README's example (python and static tools, stdio) loads none of the libraries it does not use."""
    assert set(_imported(ROOT / "webmcp.yaml", tmp_path)) <= {"jsonschema"}


def test_an_unchanged_file_is_not_schema_checked_again(tmp_path: Path) -> None:
    """The second start of an unchanged config skips jsonschema: the memo remembers what passed."""
    assert "jsonschema" in _imported(ROOT / "webmcp.yaml", tmp_path)
    assert "jsonschema" not in _imported(ROOT / "webmcp.yaml", tmp_path)


def test_without_the_memo_every_start_checks() -> None:
    """WEBMCP_CACHE_DIR=off: each start checks the file with jsonschema."""
    for _ in range(2):
        assert "jsonschema" in _imported(ROOT / "webmcp.yaml", "off")


def test_a_redis_cache_brings_redis_and_its_metrics(tmp_path: Path) -> None:
    """A config with a Redis cache does import redis and prometheus_client (its cache metrics)."""
    config = tmp_path / "webmcp.yaml"
    config.write_text(
        "version: 1\nprofile: none\n"
        "pools: {r: {kind: redis, url: 'redis://127.0.0.1:6379/0'}}\n"
        "caches: {shared: {strategy: ttl, ttl: 1m, backend: redis, pool: r}}\n"
        "tools:\n  hello: {kind: static, content: hi, cache: {use: shared}}\n"
    )
    found = _imported(config, tmp_path / "memo")
    assert {"redis", "prometheus_client"} <= set(found)
    assert "mcp" not in found and "aiohttp" not in found


def test_importing_webmcp_loads_no_transport_config_or_schema_library() -> None:
    """`from webmcp import Context` (what tool code does) loads the call vocabulary only."""
    code = ("import sys; from webmcp import Context, ToolError; "
            "print(sorted(m for m in sys.modules if m.startswith('webmcp.') or m.split('.')[0] in "
            "('jsonschema', 'yaml', 'aiohttp', 'redis', 'prometheus_client', 'mcp', 'click')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True).stdout
    assert out.strip() == "['webmcp.call', 'webmcp.call.context', 'webmcp.call.jsonrpc', 'webmcp.errors']"

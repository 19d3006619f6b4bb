"""webmcp driven by the official TypeScript SDK client (../shared/conformance/mcp-client.mjs)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.integration.test_http import http_server

REPO = Path(__file__).resolve().parents[2]
KIT = REPO.parent / "shared" / "conformance"
CONFIG = REPO / "examples" / "conformance" / "webmcp.yaml"


@pytest.fixture(scope="module")
def node() -> str:
    """Node 22 and the pinned TypeScript SDK, installed by the kit's own script on first use."""
    if not (KIT / "run-conformance.sh").is_file():
        pytest.skip("the shared conformance kit is not next to the checkout")
    done = subprocess.run([str(KIT / "run-conformance.sh"), "--install-only"], capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    base = os.environ.get("MCP_CONFORMANCE_DIR") or str(
        Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "mcp-conformance")
    return str(Path(base) / "node_modules" / ".bin" / "node")


def ts_client(node: str, *args: str) -> dict[str, Any]:
    done = subprocess.run([node, str(KIT / "mcp-client.mjs"), "--compact", *args], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def stdio_server() -> list[str]:
    return ["--", sys.executable, "-m", "webmcp", "serve", "-c", str(CONFIG), "--log-level", "warning"]


def test_typescript_client_over_stdio(node: str) -> None:
    """The TS client lists tools, resources and prompts, and gets progress and a sampling round trip."""
    out = ts_client(node, "--list-resources", "--list-prompts", "--progress", "--call", "test_tool_with_progress",
                    *stdio_server())
    assert out["server"]["protocolVersion"] == "2025-11-25"
    assert {"tools", "resources", "prompts", "completions", "logging"} <= set(out["server"]["capabilities"])
    assert len(out["tools"]) == 24
    assert [p["progress"] for p in out["call"]["progress"]] == [0, 50, 100]
    out = ts_client(node, "--no-list", "--sampling-response", "forty-two", "--call", "test_sampling",
                    "--args", '{"prompt": "q"}', *stdio_server())
    assert out["call"]["result"]["content"][0]["text"] == "LLM response: forty-two"


def test_typescript_client_over_http(node: str, tmp_path: Path) -> None:
    """The same client over Streamable HTTP: elicitation travels on the call's SSE stream."""
    (tmp_path / "fixtures.py").write_text((CONFIG.parent / "fixtures.py").read_text())
    with http_server(tmp_path, config=CONFIG.read_text()) as url:
        out = ts_client(node, "--url", url, "--no-list", "--elicit-response", '{"username": "ada", "email": "a@b"}',
                        "--call", "test_elicitation", "--args", '{"message": "who?"}')
    assert out["call"]["result"]["content"][0]["text"] == (
        'User response: action=accept, content={"username": "ada", "email": "a@b"}')

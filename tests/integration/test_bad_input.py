"""Malformed and hostile input on the raw stdio wire: precise errors, and the server keeps serving."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import write_config

CONFIG = """
version: 1
server: {max_message_size: 64KB}
tools:
  greet: {kind: python, function: "sample_tools:greet"}
  slow: {kind: python, function: "sample_tools:slow"}
"""

INIT = {"jsonrpc": "2.0", "id": 0, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}}}


def exchange(config: Path, lines: list[bytes]) -> list[dict[str, Any]]:
    """Write the lines to a fresh server's stdin, close it, and return every reply it wrote."""
    payload = b"".join(line + b"\n" for line in lines)
    done = subprocess.run([sys.executable, "-m", "webmcp", "serve", "-c", str(config)], input=payload,
                          capture_output=True, timeout=30, cwd=config.parent)
    assert done.returncode == 0, done.stderr.decode()
    return [json.loads(line) for line in done.stdout.splitlines()]


def msg(**fields: Any) -> bytes:
    return json.dumps({"jsonrpc": "2.0", **fields}).encode()


@pytest.fixture
def config(workdir: Path) -> Path:
    return write_config(workdir, CONFIG)


def test_each_kind_of_bad_message_gets_its_json_rpc_error(config: Path) -> None:
    """Parse errors, invalid requests, unknown methods and bad params each get the right code."""
    replies = exchange(config, [
        json.dumps(INIT).encode(),
        b'{"jsonrpc": "2.0", "id": 1, "method": ',  # truncated JSON
        b'[{"jsonrpc": "2.0", "id": 2, "method": "ping"}]',  # batch
        b'"just a string"',
        msg(id=3, method="resources/list"),
        json.dumps({"jsonrpc": "1.0", "id": 4, "method": "ping"}).encode(),
        msg(id=5.5, method="ping"),
        msg(id=6, method="tools/call", params={"name": 42}),
        msg(id=7, method="tools/call", params={"name": "greet", "arguments": [1, 2]}),
        msg(id=8, method="tools/call", params=[1]),
        msg(id=9, method="logging/setLevel", params={"level": "loud"}),
        msg(id=10, method="initialize", params={}),
        msg(id=11, method=7),
        msg(id=12, method="tools/call", params={"name": "greet", "arguments": {"name": "ok"}}),
    ])
    codes = {r.get("id"): r["error"]["code"] for r in replies if "error" in r}
    nulls = sorted(r["error"]["code"] for r in replies if "error" in r and r["id"] is None)
    assert nulls == [-32700, -32600, -32600, -32600]  # parse error, batch, string, float id
    assert codes[3] == -32601 and codes[4] == -32600 and codes[11] == -32600
    assert codes[6] == codes[7] == codes[8] == codes[9] == codes[10] == -32602
    ok = next(r for r in replies if r.get("id") == 12)
    assert ok["result"]["content"][0]["text"] == "Hello, ok!"


def test_oversized_message_is_refused_and_the_next_one_served(config: Path) -> None:
    """A line over max_message_size gets -32600 and is skipped; later messages are answered."""
    big = msg(id=1, method="tools/call", params={"name": "greet", "arguments": {"name": "x" * 200_000}})
    replies = exchange(config, [json.dumps(INIT).encode(), big, msg(id=2, method="ping")])
    errors = [r for r in replies if "error" in r]
    assert len(errors) == 1 and errors[0]["error"]["code"] == -32600
    assert "message too large" in errors[0]["error"]["message"]
    assert any(r.get("id") == 2 and r["result"] == {} for r in replies)


def test_calls_running_at_end_of_input_still_get_their_replies(config: Path, workdir: Path) -> None:
    """Closing stdin lets running calls finish and write their replies before exit."""
    call = msg(id=1, method="tools/call", params={"name": "slow", "arguments": {"seconds": 0.3, "marker": "m"}})
    replies = exchange(config, [json.dumps(INIT).encode(), call])
    assert any(r.get("id") == 1 and r["result"]["content"][0]["text"] == "slept" for r in replies)


def test_duplicate_request_id_in_flight_is_refused(config: Path) -> None:
    """A second request reusing the id of a call still running gets -32600; the first completes."""
    call = msg(id=1, method="tools/call", params={"name": "slow", "arguments": {"seconds": 0.3, "marker": "m"}})
    replies = exchange(config, [json.dumps(INIT).encode(), call, call])
    ones = [r for r in replies if r.get("id") == 1]
    assert sorted("error" in r for r in ones) == [False, True]
    assert next(r for r in ones if "error" in r)["error"]["code"] == -32600


def test_version_negotiation(config: Path) -> None:
    """A supported revision is echoed; an unknown one gets our latest."""
    for asked, expected in (("2025-06-18", "2025-06-18"), ("2025-11-25", "2025-11-25"), ("1999-01-01", "2025-11-25")):
        init = {**INIT, "params": {**INIT["params"], "protocolVersion": asked}}
        (reply,) = exchange(config, [json.dumps(init).encode()])
        assert reply["result"]["protocolVersion"] == expected

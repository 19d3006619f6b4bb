"""JSON-RPC over stdio and over HTTP against arbitrary messages (hypothesis, seeded and bounded), one real
`webmcp serve` process per transport: every message gets a JSON-RPC result or error (or nothing, for a
notification), never an internal error, a 500 or a logged traceback; the server answers a ping after each;
and replaying the corpus many times does not grow its threads, descriptors or memory without bound."""

from __future__ import annotations

import http.client
import json
import os
import random
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.integration.conftest import write_config
from tests.integration.rawstdio import RawServer
from tests.integration.test_http import free_port, wait_for_port

pytestmark = pytest.mark.slow

CONFIG = """
version: 1
server:
  max_message_size: 64KB
  http: {max_sessions: 100000}
executor: {threads: 2}
tools:
  greet: {kind: python, function: "sample_tools:greet", expose: true}
  about: {kind: static, content: hi}
resources:
  readme: {uri: "docs://readme", text: hello}
prompts:
  review:
    description: Review a change.
    arguments: [{name: diff, required: true}]
    messages: [{role: user, content: "Review {diff}"}]
master_tools:
  box: {description: Helpers., operations: {hello: greet}}
"""
FUZZ = settings(derandomize=True, database=None, max_examples=150, deadline=5000,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
METHODS = ["initialize", "ping", "tools/list", "tools/call", "resources/list", "resources/read",
           "resources/templates/list", "resources/subscribe", "resources/unsubscribe", "prompts/list", "prompts/get",
           "completion/complete", "logging/setLevel", "notifications/cancelled", "notifications/initialized",
           "subscriptions/listen", "server/discover", "sampling/createMessage"]

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)
PARAMS = st.fixed_dictionaries({}, optional={
    "name": st.sampled_from(["greet", "about", "box", "review", "nope"]) | st.text(max_size=8) | JSON,
    "arguments": st.dictionaries(st.sampled_from(["name", "punctuation", "operation", "diff", "x"]),
                                 JSON | st.sampled_from(["!", ".", "hello", "Ada"]), max_size=3) | JSON,
    "uri": st.sampled_from(["docs://readme", "docs://none", "file:///etc/passwd"]) | JSON,
    "cursor": st.sampled_from(["MA==", "LTE=", "!!", "OTk5"]) | JSON,
    "level": st.sampled_from(["debug", "info", "emergency", "loud"]) | JSON,
    "protocolVersion": st.sampled_from(["2025-11-25", "2025-06-18", "2024-11-05", "1999-01-01"]) | JSON,
    "capabilities": JSON, "requestId": JSON, "ref": JSON, "argument": JSON,
    "_meta": st.fixed_dictionaries({}, optional={"progressToken": JSON}) | JSON,
})
MESSAGES = st.one_of(
    JSON,
    st.fixed_dictionaries({"jsonrpc": st.just("2.0") | JSON, "method": st.sampled_from(METHODS) | JSON},
                          optional={"id": st.integers(-5, 10**6) | st.text(max_size=10) | JSON,
                                    "params": PARAMS | JSON}),
    st.fixed_dictionaries({"jsonrpc": st.just("2.0"), "id": st.integers(0, 50) | JSON},
                          optional={"result": JSON, "error": JSON}),
)


def check_message(message: Any) -> None:
    """A well-formed JSON-RPC message from the server, and no internal error."""
    assert isinstance(message, dict) and message.get("jsonrpc") == "2.0", message
    if "error" in message:
        error = message["error"]
        assert isinstance(error.get("code"), int) and isinstance(error.get("message"), str), message
        assert error["code"] != -32603, message  # an internal error is a bug: the input was only hostile
    elif "method" not in message:
        assert "result" in message, message


# -- stdio --------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def stdio_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RawServer]:
    server = RawServer(write_config(tmp_path_factory.mktemp("stdio"), CONFIG))
    yield server
    server.stop()


PROBES = iter(range(10**9))


def stdio_round(server: RawServer, line: bytes) -> None:
    """Send one line, then a ping; every message up to the ping's answer must be well-formed."""
    assert server.proc.stdin is not None
    server.proc.stdin.write(line.replace(b"\n", b" ") + b"\n")
    probe = f"probe-{next(PROBES)}"
    server.send({"jsonrpc": "2.0", "id": probe, "method": "ping"})
    for message in server.until(lambda m: m.get("id") == probe, seconds=10):
        check_message(message)


@FUZZ
@given(message=MESSAGES)
def test_stdio_answers_every_message_and_keeps_going(stdio_server: RawServer, message: Any) -> None:
    """Arbitrary JSON and JSON-RPC-shaped messages over stdio: only well-formed answers, and a ping after each."""
    stdio_round(stdio_server, json.dumps(message).encode())


@FUZZ
@given(line=st.binary(max_size=200) | st.sampled_from([b"[" * 5000, b'{"a":' * 2000, b"1e999999", b"\xff\xfe",
                                                         b'{"jsonrpc":"2.0","id":1,"method":"ping"}' * 3]))
def test_stdio_survives_lines_that_are_not_json(stdio_server: RawServer, line: bytes) -> None:
    """Bytes, deep nesting, huge numbers, invalid UTF-8, several messages on one line: a parse error at most."""
    stdio_round(stdio_server, line)


def corpus(count: int) -> list[bytes]:
    """A fixed, seeded set of hostile lines (for the growth check, independent of hypothesis's choices)."""
    rng = random.Random(17)
    lines = []
    for i in range(count):
        method = rng.choice(METHODS)
        params = {"name": rng.choice(["greet", "about", "box", "nope"]), "uri": rng.choice(["docs://readme", "x"]),
                  "arguments": {"name": "n" * rng.randint(0, 300), "operation": rng.choice(["hello", "zap"])},
                  "cursor": rng.choice(["MA==", "!!"]), "level": rng.choice(["debug", "info"]),
                  "protocolVersion": "2025-11-25", "requestId": rng.randint(0, 50)}
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "params": params}
        if rng.random() < 0.8:
            message["id"] = i
        lines.append(json.dumps(message).encode() if rng.random() < 0.9 else bytes(rng.randbytes(40)))
    return lines


def footprint(pid: int) -> tuple[int, int, int]:
    """(threads, open descriptors, resident memory in bytes)."""
    process = psutil.Process(pid)
    return process.num_threads(), process.num_fds(), process.memory_info().rss


def test_stdio_replaying_hostile_input_does_not_grow_the_server(stdio_server: RawServer) -> None:
    """Five passes of 400 hostile lines: threads and descriptors as after the first pass, memory within 16 MiB."""
    lines = corpus(400)
    for line in lines:
        stdio_round(stdio_server, line)
    threads, fds, rss = footprint(stdio_server.proc.pid)
    for _ in range(4):
        for line in lines:
            stdio_round(stdio_server, line)
    threads_after, fds_after, rss_after = footprint(stdio_server.proc.pid)
    assert threads_after <= threads + 1 and fds_after <= fds + 2, (threads, threads_after, fds, fds_after)
    assert rss_after - rss < 16 << 20, (rss, rss_after)
    assert stdio_server.proc.poll() is None


# -- HTTP ---------------------------------------------------------------------------------------------------
class HttpPeer:
    HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
        status, headers, _ = self.post(b'{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":'
                                       b'"2025-11-25","capabilities":{},"clientInfo":{"name":"f","version":"1"}}}')
        assert status == 200
        self.session = headers["mcp-session-id"]

    def post(self, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        for attempt in range(2):
            try:
                self.conn.request("POST", "/mcp", body=body, headers={**self.HEADERS, **(headers or {})})
                response = self.conn.getresponse()
                return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
            except (http.client.HTTPException, ConnectionError):
                self.conn.close()  # the server closed the connection after its answer (413, 408): a new one
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=15)
                if attempt:
                    raise
        raise AssertionError("unreachable")


@pytest.fixture(scope="module")
def http_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[HttpPeer, subprocess.Popen[bytes], Path]]:
    folder = tmp_path_factory.mktemp("http")
    config = write_config(folder, CONFIG)
    port = free_port()
    log = folder / "stderr.log"
    with log.open("wb") as stderr:
        proc = subprocess.Popen([sys.executable, "-m", "webmcp", "serve", "-c", str(config), "--transport", "http",
                                 "--port", str(port)], cwd=folder, stdout=subprocess.DEVNULL, stderr=stderr,
                                env=dict(os.environ))
        peer = None
        try:
            wait_for_port(proc, port)
            peer = HttpPeer(port)
            yield peer, proc, log
        finally:
            if peer is not None:
                peer.conn.close()
            proc.terminate()
            proc.wait(15)
    assert "Traceback" not in log.read_text()


ANSWERS = {200, 202, 400, 404, 406, 409, 413, 415}


def http_round(peer: HttpPeer, body: bytes, with_session: bool, version: str | None = None) -> None:
    """POST one body (in the session or without one, naming a protocol revision or not), then a ping in the
    session: well-formed answers only."""
    headers = {"Mcp-Session-Id": peer.session} if with_session else {}
    if version is not None:
        headers["MCP-Protocol-Version"] = version
    status, headers, answer = peer.post(body, headers)
    assert status in ANSWERS, (status, answer)
    if answer:
        assert headers.get("content-type", "").startswith("application/json"), (status, headers, answer)
        check_message(json.loads(answer))
    status, _, answer = peer.post(b'{"jsonrpc":"2.0","id":"probe","method":"ping"}',
                                  {"Mcp-Session-Id": peer.session})
    assert status == 200 and json.loads(answer) == {"jsonrpc": "2.0", "id": "probe", "result": {}}


@FUZZ
@given(message=MESSAGES, with_session=st.booleans(),
       version=st.sampled_from([None, "2025-11-25", "2025-06-18", "2026-07-28", "2099-01-01", "x"]))
def test_http_answers_every_message_and_keeps_going(http_server: tuple[HttpPeer, Any, Path], message: Any,
                                                    with_session: bool, version: str | None) -> None:
    """Arbitrary JSON and JSON-RPC-shaped POSTs, in the session or not, on any revision: a known status, a
    JSON-RPC body, and the session still answers."""
    http_round(http_server[0], json.dumps(message).encode(), with_session, version)


@FUZZ
@given(body=st.binary(max_size=200) | st.sampled_from([b"[" * 5000, b"1e999999", b"\xff\xfe", b"", b"x" * 70000]))
def test_http_survives_bodies_that_are_not_json(http_server: tuple[HttpPeer, Any, Path], body: bytes) -> None:
    """Bytes, deep nesting, invalid UTF-8, an empty body, one over max_message_size: 400 or 413, never 500."""
    http_round(http_server[0], body, True)


def test_http_replaying_hostile_input_does_not_grow_the_server(http_server: tuple[HttpPeer, Any, Path]) -> None:
    """Five passes of 300 hostile POSTs: threads and descriptors as after the first pass, memory within 24 MiB
    (sessions opened by the corpus's initialize requests included)."""
    peer, proc, _ = http_server
    lines = corpus(300)
    for line in lines:
        http_round(peer, line, True)
    threads, fds, rss = footprint(proc.pid)
    for _ in range(4):
        for line in lines:
            http_round(peer, line, True)
    threads_after, fds_after, rss_after = footprint(proc.pid)
    assert threads_after <= threads + 1 and fds_after <= fds + 2, (threads, threads_after, fds, fds_after)
    assert rss_after - rss < 24 << 20, (rss, rss_after)

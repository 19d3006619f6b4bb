"""Edge cases of a call's life: odd cancellations, unencodable values, late progress, shutdown."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import write_config
from tests.integration.rawstdio import RawServer

CONFIG = """
version: 1
server: {graceful_timeout: 2s}
tools:
  raises_cancel: {kind: python, function: "sample_tools:raises_cancel"}
  swallows_cancel: {kind: python, function: "sample_tools:swallows_cancel"}
  not_json: {kind: python, function: "sample_tools:not_json"}
  logs_not_json: {kind: python, function: "sample_tools:logs_not_json"}
  keeps_reporting: {kind: python, function: "sample_tools:keeps_reporting", timeout: 250ms}
  blocking_sleep: {kind: python, function: "sample_tools:blocking_sleep", timeout: 200ms}
  sleeper: {kind: command, argv: [sleep, "{seconds}"]}
"""


@pytest.fixture
def server(workdir: Path) -> Iterator[RawServer]:
    raw = RawServer(write_config(workdir, CONFIG))
    yield raw
    raw.stop()


def test_a_cancelled_error_raised_by_the_tool_itself_is_a_tool_failure(server: RawServer) -> None:
    """CancelledError that did not come from a cancellation gets an isError reply, not silence."""
    server.call(1, "raises_cancel")
    (reply,) = [m for m in server.until(lambda m: m.get("id") == 1)]
    assert reply["result"]["isError"] is True
    assert "cancelled internally" in reply["result"]["content"][0]["text"]


def test_no_reply_after_notifications_cancelled_even_if_the_tool_returns(server: RawServer) -> None:
    """A tool that swallows its cancellation still gets no reply sent; the server goes on."""
    server.call(2, "swallows_cancel", {"seconds": 5})
    time.sleep(0.3)
    server.send({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 2}})
    server.send({"jsonrpc": "2.0", "id": 3, "method": "ping"})
    seen = server.until(lambda m: m.get("id") == 3) + server.collect(0.5)
    assert [m for m in seen if m.get("id") == 2] == []


def test_values_json_cannot_carry(server: RawServer) -> None:
    """An unencodable result becomes an isError result; an unencodable log message is dropped."""
    server.call(4, "not_json")
    reply = server.until(lambda m: m.get("id") == 4)[-1]
    assert reply["result"]["isError"] is True
    assert "not JSON" in reply["result"]["content"][0]["text"]
    server.call(5, "logs_not_json")
    messages = server.until(lambda m: m.get("id") == 5)
    assert messages[-1]["result"]["content"][0]["text"] == "answered"
    assert [m for m in messages if m.get("method") == "notifications/message"] == []


def test_no_progress_after_the_reply(server: RawServer) -> None:
    """A sync tool that outlives its timeout keeps running in its thread, but its progress is dropped."""
    server.call(6, "keeps_reporting", _meta={"progressToken": "p6"})
    before = server.until(lambda m: m.get("id") == 6)
    assert "timed out after 0.25s" in before[-1]["result"]["content"][0]["text"]
    assert any(m.get("method") == "notifications/progress" for m in before)
    assert [m for m in server.collect(1.2) if m.get("method") == "notifications/progress"] == []


def test_exits_at_end_of_input_despite_a_stuck_sync_call(server: RawServer) -> None:
    """A timed-out sync call's thread cannot be interrupted, and does not keep the process alive."""
    server.call(7, "blocking_sleep", {"seconds": 30})
    server.until(lambda m: m.get("id") == 7)
    server.close_input()
    assert server.proc.wait(5) == 0


def test_sighup_does_not_kill_the_server(server: RawServer) -> None:
    """SIGHUP is logged and ignored until reload exists; the server keeps answering."""
    server.proc.send_signal(signal.SIGHUP)
    server.send({"jsonrpc": "2.0", "id": 8, "method": "ping"})
    assert server.until(lambda m: m.get("id") == 8)[-1]["result"] == {}


def test_second_sigterm_cancels_running_calls_and_kills_their_processes(server: RawServer, workdir: Path) -> None:
    """SIGTERM lets calls finish; a second one cancels them at once, and command children die with them."""
    server.call(9, "sleeper", {"seconds": "300"})
    time.sleep(0.5)
    children = _children(server.proc.pid)
    assert children, "the command tool's child should be running"
    server.proc.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    assert server.proc.poll() is None  # still draining
    server.proc.send_signal(signal.SIGTERM)
    assert server.proc.wait(5) == 0
    time.sleep(0.2)
    assert [pid for pid in children if _alive(pid)] == []


def _children(pid: int) -> list[int]:
    import psutil

    return [c.pid for c in psutil.Process(pid).children(recursive=True)]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    import psutil

    return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE


def test_cancel_arriving_with_its_request_is_clean(server: RawServer) -> None:
    """A call cancelled in the same read as its request (before it starts) gets no reply; serving goes on."""
    assert server.proc.stdin is not None
    call = b'{"jsonrpc":"2.0","id":10,"method":"tools/call","params":{"name":"swallows_cancel","arguments":{}}}'
    cancel = b'{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":10}}'
    server.proc.stdin.write(call + b"\n" + cancel + b"\n")
    server.proc.stdin.flush()
    server.call(11, "swallows_cancel", {"seconds": 0.01})
    replies = server.until(lambda m: m.get("id") == 11) + server.collect(0.3)
    assert [m["id"] for m in replies if "id" in m] == [11]
    assert replies[0]["result"] == {"content": [{"type": "text", "text": "slept"}], "isError": False}

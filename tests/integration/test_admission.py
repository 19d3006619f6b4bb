"""Admission through a real server: concurrency limits, priorities, queue limits and timeouts."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import write_config
from tests.integration.rawstdio import RawServer

CONFIG = """
version: 1
executor: {max_concurrency: 1, queue_limit: 6, queue_timeout: 2s}
tools:
  low: {kind: python, function: "sample_tools:record", priority: low}
  normal: {kind: python, function: "sample_tools:record"}
  high: {kind: python, function: "sample_tools:record", priority: high}
  critical: {kind: python, function: "sample_tools:record", priority: critical}
"""


@pytest.fixture
def server(workdir: Path) -> Iterator[RawServer]:
    raw = RawServer(write_config(workdir, CONFIG))
    yield raw
    raw.stop()


def call(raw: RawServer, mid: int, tool: str, log: Path, seconds: float = 0.2) -> None:
    raw.call(mid, tool, {"label": f"{tool}{mid}", "log": str(log), "seconds": seconds})


def texts(raw: RawServer, ids: set[int], seconds: float = 15) -> dict[int, str]:
    out: dict[int, str] = {}
    deadline = time.monotonic() + seconds
    while ids - out.keys() and time.monotonic() < deadline:
        for m in raw.collect(0.1):
            if m.get("id") in ids:
                out[m["id"]] = m["result"]["content"][0]["text"]
    return out


def test_waiting_calls_go_by_priority_and_lower_classes_are_not_starved(server: RawServer, workdir: Path) -> None:
    """With one slot busy, queued calls start higher classes first, in proportion, and every class runs."""
    log = workdir / "order.log"
    call(server, 1, "normal", log, 0.5)  # takes the only slot
    time.sleep(0.2)
    for mid, tool in enumerate(["low", "low", "normal", "high", "high", "critical"], start=2):
        call(server, mid, tool, log, 0.05)
    assert len(texts(server, set(range(1, 8)))) == 7
    order = log.read_text().split()
    assert order[0] == "normal1"
    assert order[1] == "critical7"  # the heaviest class goes first
    assert order.index("high5") < order.index("low2") and order.index("high6") < order.index("low3")
    assert sorted(order) == sorted(["normal1", "low2", "low3", "normal4", "high5", "high6", "critical7"])


def test_a_full_queue_refuses_at_once_and_a_long_wait_times_out(workdir: Path) -> None:
    """Past queue_limit a call is refused immediately; a call waiting past queue_timeout gives up."""
    config = write_config(workdir, CONFIG.replace("queue_limit: 6", "queue_limit: 1").replace("2s", "500ms"))
    raw = RawServer(config)
    try:
        log = workdir / "q.log"
        call(raw, 1, "normal", log, 1.5)
        time.sleep(0.2)
        call(raw, 2, "normal", log)  # waits
        call(raw, 3, "normal", log)  # the queue is full
        out = texts(raw, {2, 3}, seconds=5)
        assert out[3] == ("server overloaded: 1 calls already waiting (executor.queue_limit); try again later")
        assert out[2].startswith("waited 0.5s for a free slot (executor.max_concurrency 1, executor.queue_timeout)")
        assert texts(raw, {1}) == {1: "normal1"}
    finally:
        raw.stop()


def test_a_tool_concurrency_cap_serialises_that_tool_only(workdir: Path) -> None:
    """A tool with concurrency: 1 runs one call at a time, while other tools still run beside it."""
    config = write_config(workdir, """
version: 1
tools:
  single: {kind: python, function: "sample_tools:record", concurrency: 1}
  free: {kind: python, function: "sample_tools:record"}
""")
    raw = RawServer(config)
    try:
        log = workdir / "c.log"
        started = time.monotonic()
        for mid in (1, 2, 3):
            raw.call(mid, "single", {"label": f"s{mid}", "log": str(log), "seconds": 0.3})
        raw.call(4, "free", {"label": "f4", "log": str(log), "seconds": 0.3})
        got = texts(raw, {1, 2, 3, 4})
        elapsed = time.monotonic() - started
        assert len(got) == 4
        assert 0.85 < elapsed < 2.0  # three single calls one after another; free ran alongside
        assert log.read_text().split().index("f4") <= 1
    finally:
        raw.stop()


def test_a_queued_call_can_be_cancelled(server: RawServer, workdir: Path) -> None:
    """notifications/cancelled removes a waiting call from the queue: it never runs, and gets no reply."""
    log = workdir / "x.log"
    call(server, 1, "normal", log, 0.6)
    time.sleep(0.2)
    call(server, 2, "normal", log, 0.05)
    server.send({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 2}})
    call(server, 3, "normal", log, 0.05)
    got = texts(server, {1, 2, 3}, seconds=3)
    assert sorted(got) == [1, 3]
    assert "normal2" not in log.read_text().split()

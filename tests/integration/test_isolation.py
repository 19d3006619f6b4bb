"""isolation: process — python tools in worker processes: results, errors, timeouts, runaway workers."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from tests.integration.conftest import connect, write_config
from tests.integration.rawstdio import RawServer

pytestmark = pytest.mark.anyio

CONFIG = """
version: 1
executor: {processes: 1}
tools:
  crunch: {kind: python, function: "sample_tools:crunch", isolation: process}
  crunch_here: {kind: python, function: "sample_tools:crunch"}
  spin: {kind: python, function: "sample_tools:spin", isolation: process, timeout: 300ms}
  deaf: {kind: python, function: "sample_tools:deaf", isolation: process, timeout: 200ms}
  fails: {kind: python, function: "sample_tools:fails", isolation: process}
  unpicklable: {kind: python, function: "sample_tools:unpicklable", isolation: process}
"""


async def test_results_and_errors_come_back_from_a_worker_process(workdir: Path) -> None:
    """The function runs in another process; its result, ToolError and other exceptions come back as usual."""
    async with connect(write_config(workdir, CONFIG)) as s:
        here = (await s.call_tool("crunch_here", {"n": 10})).structured_content
        there = (await s.call_tool("crunch", {"n": 10})).structured_content
        assert here is not None and there is not None
        assert there["sum"] == here["sum"] == 285 and there["pid"] != here["pid"]
        r = await s.call_tool("fails", {"kind": "tool_error"})
        assert r.is_error and r.content[0].text == "the widget is out of stock"
        r = await s.call_tool("fails", {"kind": "crash"})
        assert r.is_error and r.content[0].text == "Tool 'fails' failed: ValueError: unexpected state 42"
        r = await s.call_tool("unpicklable", {})
        assert r.is_error and "pickle" in r.content[0].text.lower()


async def test_a_timed_out_worker_is_interrupted_and_a_runaway_one_is_killed(workdir: Path) -> None:
    """Python code is interrupted at the timeout (the one worker is free again at once); C code deaf to
    signals is killed by its CPU limit and the pool starts afresh."""
    async with connect(write_config(workdir, CONFIG)) as s:
        first = (await s.call_tool("crunch", {"n": 1})).structured_content
        started = time.monotonic()
        r = await s.call_tool("spin", {"seconds": 30})
        assert r.is_error and r.content[0].text == "Tool 'spin' timed out after 0.3s"
        assert (await s.call_tool("crunch", {"n": 1})).structured_content == first  # same worker, free again
        assert time.monotonic() - started < 3
        r = await s.call_tool("deaf", {"n": 10**12})
        assert r.is_error and r.content[0].text == "Tool 'deaf' timed out after 0.2s"
        deadline = time.monotonic() + 20
        while True:  # the stuck worker dies past timeout + 2 CPU seconds; then a new one answers
            r = await s.call_tool("crunch", {"n": 1})
            if not r.is_error and r.structured_content != first:
                break
            assert time.monotonic() < deadline, r
            time.sleep(0.5)
        with contextlib.suppress(psutil.NoSuchProcess):
            assert psutil.Process(first["pid"]).status() == psutil.STATUS_ZOMBIE


@pytest.mark.parametrize(("function", "message"), [
    ("sync_with_context", "sample_tools:sync_with_context takes a Context (parameter 'ctx'), which cannot reach a "
                          "worker process; drop the parameter, or drop isolation: process"),
    ("slow", "sample_tools:slow is an async function; isolation: process runs sync functions only; make it a "
             "plain def, or drop isolation: process"),
])
def test_functions_that_cannot_run_in_a_process_are_build_errors(workdir: Path, function: str, message: str) -> None:
    """A context-taking or async function with isolation: process is refused, naming the tool."""
    config = write_config(workdir, f"""
version: 1
tools:
  bad: {{kind: python, function: "sample_tools:{function}", isolation: process}}
""")
    done = subprocess.run([sys.executable, "-m", "webmcp", "validate", "-c", str(config)], capture_output=True,
                          text=True, cwd=workdir)
    assert done.returncode == 4
    assert done.stdout == f"{config}:4:3: tools.bad: {message}\n"


def test_workers_are_kept_across_a_reload_and_see_edited_code(workdir: Path) -> None:
    """An unrelated reload keeps the worker processes; an edited tool module is imported afresh in them."""
    config = write_config(workdir, CONFIG)
    raw = RawServer(config)
    try:
        def crunch(mid: int) -> dict[str, int]:
            raw.call(mid, "crunch", {"n": 10})
            reply = raw.until(lambda m: m.get("id") == mid)[-1]
            return reply["result"]["structuredContent"]  # type: ignore[no-any-return]

        def reload() -> None:
            raw.proc.send_signal(signal.SIGHUP)
            raw.until(lambda m: m.get("method") == "notifications/tools/list_changed")

        before = crunch(1)
        config.write_text(CONFIG + '  about: {kind: static, content: "new"}\n')
        reload()
        assert crunch(2) == before  # same worker process, same answer
        module = workdir / "sample_tools.py"
        module.write_text(module.read_text().replace('return {"sum": sum(i * i for i in range(n)),',
                                                     'return {"sum": -1,'))
        config.write_text(CONFIG)
        reload()
        after = crunch(3)
        assert after == {"sum": -1, "pid": before["pid"]}  # the worker imported the edited module
    finally:
        raw.stop()

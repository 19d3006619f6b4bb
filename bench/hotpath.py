"""In-process cost of webmcp's tools/call hot path, without pipes or a client (for profiling work).

    .venv/bin/python bench/hotpath.py                                # uses bench/echo.yaml
    .venv/bin/python bench/hotpath.py --config bench/echo-observed.yaml   # every telemetry feature on

Prints µs per call for the whole Session path (request bytes in -> reply bytes out, as the stdio
transport does it, one at a time and 64 at a time) and for its parts: argument validation
(jsonschema), the per-call asyncio.timeout, the Context, the task per call, the result mapping.
If the peerbench harness is next to the repo, its minimal server's `handle_bytes` (the same work
done inline) is timed too, as the floor. Numbers are best-of-5 means; absolute values depend on the
machine, compare them within one run.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path
from typing import Any

import orjson

HERE = Path(__file__).resolve().parent
N = int(os.environ.get("HOTPATH_CALLS", "20000"))  # tests run it with a few hundred, as a smoke test
_NL = orjson.OPT_APPEND_NEWLINE


def best(fn: Any, n: int = N, rounds: int = 5) -> float:
    """µs per call of a sync callable."""
    out = []
    for _ in range(rounds):
        t = time.perf_counter()
        for _ in range(n):
            fn()
        out.append((time.perf_counter() - t) / n * 1e6)
    return min(out)


async def abest(make: Any, n: int = N, rounds: int = 5) -> float:
    """µs per call of an awaitable factory, awaited inline (no task)."""
    out = []
    for _ in range(rounds):
        t = time.perf_counter()
        for _ in range(n):
            await make()
        out.append((time.perf_counter() - t) / n * 1e6)
    return min(out)


def request(i: int) -> bytes:
    return orjson.dumps({"jsonrpc": "2.0", "id": i, "method": "tools/call",
                         "params": {"name": "echo", "arguments": {"text": f"t{i:014d}"}}})


async def _with_timeout() -> None:
    async with asyncio.timeout(60):
        pass


async def _nothing() -> None:
    pass


async def main(config: Path) -> None:
    from webmcp.call.context import Context
    from webmcp.call.results import from_value
    from webmcp.config.load import load
    from webmcp.graph.build import build
    from webmcp.graph.holder import GraphHolder
    from webmcp.protocol.session import Session

    graph = await build(load(str(config)))
    holder = GraphHolder(graph)
    tool: Any = graph.tools["echo"]
    args = {"text": "x" * 16}
    rows: list[tuple[str, float]] = []

    # -- the whole Session path, like the stdio transport: loads -> receive -> task -> emit(dumps)
    waiters: dict[Any, asyncio.Future[bytes]] = {}

    def emit(msg: dict[str, Any]) -> None:
        data = orjson.dumps(msg, option=_NL)
        fut = waiters.pop(msg.get("id"), None)
        if fut is not None:
            fut.set_result(data)

    session = Session(holder, emit)
    loop = asyncio.get_running_loop()
    reqs = [request(i) for i in range(N)]

    async def seq_round() -> float:
        t = time.perf_counter()
        for i, raw in enumerate(reqs):
            fut = waiters[i] = loop.create_future()
            session.receive(orjson.loads(raw))
            await fut
        return (time.perf_counter() - t) / N * 1e6

    async def pipe_round(window: int = 64) -> float:
        t = time.perf_counter()
        for start in range(0, N, window):
            futs = []
            for i in range(start, min(start + window, N)):
                fut = waiters[i] = loop.create_future()
                futs.append(fut)
                session.receive(orjson.loads(reqs[i]))
            await asyncio.gather(*futs)
        return (time.perf_counter() - t) / N * 1e6

    rows.append(("Session path, 1 in flight (loads+receive+task+tool+dumps)",
                 min([await seq_round() for _ in range(5)])))
    rows.append(("Session path, 64 in flight", min([await pipe_round() for _ in range(5)])))

    # -- parts
    rows.append(("  Tool.call awaited inline (check+timer+backend+result)",
                 await abest(lambda: tool.call(args, Context(session, "echo", None)))))
    is_valid = getattr(tool, "_is_valid", None)
    validator = getattr(tool, "_validator", None)
    if is_valid is not None:
        rows.append(("    compiled argument check (what the call uses)", best(lambda: is_valid(args))))
    if validator is not None:
        rows.append(("    (for scale: jsonschema Draft202012Validator.is_valid)",
                     best(lambda: validator.compiled().is_valid(args))))
    loop = asyncio.get_running_loop()
    rows.append(("    per-call timer (call_later + cancel)", best(lambda: loop.call_later(60, lambda: None).cancel())))
    rows.append(("    (for scale: asyncio.timeout(60) enter+exit)", await abest(_with_timeout) - await abest(_nothing)))
    rows.append(("    Context(...)", best(lambda: Context(session, "echo", None))))
    rows.append(("    from_value(str)", best(lambda: from_value("x" * 16))))

    async def task_round() -> float:
        t = time.perf_counter()
        for _ in range(N):
            task = loop.create_task(_nothing())
            task.add_done_callback(lambda _t: None)
            await task
        return (time.perf_counter() - t) / N * 1e6

    rows.append(("  create_task + done callback + await (empty coroutine)",
                 min([await task_round() for _ in range(5)])))
    raw = reqs[0]
    reply = {"jsonrpc": "2.0", "id": 1, "result": {"content": [{"type": "text", "text": "x" * 16}], "isError": False}}
    rows.append(("  orjson.loads(request) + orjson.dumps(reply)",
                 best(lambda: (orjson.loads(raw), orjson.dumps(reply, option=_NL)))))

    peerbench = HERE.parent.parent / "shared" / "peerbench" / "servers"
    if (peerbench / "_minimal_core.py").exists():
        sys.dont_write_bytecode = True  # leave the shared harness folder untouched
        sys.path.insert(0, str(peerbench))
        from _minimal_core import handle_bytes  # type: ignore[import-not-found]

        rows.append(("peerbench minimal: handle_bytes(request), inline", best(lambda: handle_bytes(raw))))

    await graph.close()
    width = max(len(r[0]) for r in rows)
    print(f"{'µs per call (best of 5, ' + str(N) + ' calls each)':{width}}   µs")
    for name, us in rows:
        print(f"{name:{width}} {us:6.2f}")


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, default=HERE / "echo.yaml", help="a config with an `echo` tool")
    asyncio.run(main(parser.parse_args().config))

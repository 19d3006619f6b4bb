"""One bench, end to end: reach the server, check the scenario against its tools, drive the load
(`--repeat` times, a fresh stdio server each time), and return the report.

Everything that can be wrong with the input is found before the first timed call: the server does
not start or answer, `initialize` fails, a tool is unknown, generated arguments do not fit a tool's
input schema. Ctrl-C (SIGINT) only records the request; the workload stops dispatching and the
report of what was measured is still returned (a second Ctrl-C stops waiting for calls in flight).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import difflib
import random
import signal
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from webmcp.loadtest import report as reports
from webmcp.loadtest.errors import BenchUsageError, ServerUnavailable
from webmcp.loadtest.probe import Probe
from webmcp.loadtest.record import Recorder
from webmcp.loadtest.scenario import Scenario
from webmcp.loadtest.stress import StressPlan, stress
from webmcp.loadtest.wire import HttpTarget, Session, StdioTarget, Target, TransportFailure
from webmcp.loadtest.workload import Stopper, Tick, Workload

SAMPLES = 20  # generated arguments checked against each tool's schema before the run


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where the server is: a URL (Streamable HTTP) or a command to start (stdio)."""

    url: str | None
    command: tuple[str, ...]
    protocol: str
    pid: int | None = None

    def describe(self) -> dict[str, Any]:
        if self.url is not None:
            return {"transport": "http", "endpoint": self.url, "protocol": self.protocol}
        return {"transport": "stdio", "endpoint": " ".join(self.command), "protocol": "2025-11-25"}

    async def open(self) -> Target:
        if self.url is not None:
            return HttpTarget(self.url, self.protocol, self.pid)
        return await StdioTarget.start(self.command)


async def list_tools(session: Session) -> dict[str, dict[str, Any]]:
    """The server's tools by name (every page of tools/list)."""
    tools: dict[str, dict[str, Any]] = {}
    cursor = None
    for _ in range(1000):
        params: dict[str, Any] = {"cursor": cursor} if cursor else {}
        try:
            reply = await session.request("tools/list", params, 30.0)
        except (TimeoutError, TransportFailure) as exc:
            raise ServerUnavailable(f"tools/list failed: {exc or 'no reply within 30s'}") from None
        if "result" not in reply:
            raise ServerUnavailable(f"tools/list failed: {orjson.dumps(reply.get('error')).decode()}")
        for tool in reply["result"].get("tools", []):
            tools[tool["name"]] = tool
        cursor = reply["result"].get("nextCursor")
        if not cursor:
            break
    return tools


def check_calls(scenario: Scenario, tools: dict[str, dict[str, Any]]) -> None:
    """Every tool of the scenario exists, and sample arguments fit its input schema; all problems at once."""
    import jsonschema

    problems = []
    for plan in scenario.tools:
        tool = tools.get(plan.name)
        if tool is None:
            close = difflib.get_close_matches(plan.name, list(tools), n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            problems.append(f"unknown tool {plan.name!r}: {hint}the server has {', '.join(sorted(tools)) or 'none'}")
            continue
        try:
            validator = jsonschema.Draft202012Validator(tool.get("inputSchema") or {})
            rng, generate = random.Random(scenario.seed), plan.arguments()
            for _ in range(SAMPLES):
                arguments = generate(rng)
                error = jsonschema.exceptions.best_match(validator.iter_errors(arguments))
                if error is not None:
                    where = "/".join(str(p) for p in error.absolute_path)
                    problems.append(f"tool {plan.name!r}: arguments do not fit its input schema: "
                                    f"{f'{where}: ' if where else ''}{error.message} "
                                    f"(arguments {orjson.dumps(arguments).decode()[:200]})")
                    break
        except jsonschema.exceptions.SchemaError:
            continue  # the server's schema is its own problem; the calls will say what it accepts
    if problems:
        raise BenchUsageError("\n".join(problems))


async def prepare(scenario: Scenario, endpoint: Endpoint) -> tuple[Target, dict[str, Any]]:
    """The target, opened and checked against the scenario, and what it says of itself."""
    target = await endpoint.open()
    try:
        session = await target.session()
        check_calls(scenario, await list_tools(session))
        await session.close()
    except BaseException:
        await target.close()
        raise
    return target, {**endpoint.describe(), "server": session.server_info.get("serverInfo")}


async def measure(scenario: Scenario, target: Target, info: dict[str, Any], stopper: Stopper,
                  on_tick: Callable[[Tick], None]) -> dict[str, Any]:
    """One run of the scenario on an open target: its report."""
    probe = Probe(target.pid)
    recorder = Recorder([plan.name for plan in scenario.tools], len(scenario.stages))
    workload = Workload(scenario, target, recorder, probe, stopper, on_tick)
    started = datetime.datetime.now(datetime.UTC)
    elapsed = await workload.run()
    return reports.build(scenario=scenario, target=info, recorder=recorder, probe=probe, elapsed=elapsed,
                         interrupted=stopper.interrupted, loop_lag_ms=workload.loop_lag_ms,
                         session_failures=workload.session_failures, started=started,
                         server_gone=workload.server_gone)


async def bench(scenario: Scenario, endpoint: Endpoint, repeat: int, on_tick: Callable[[Tick], None],
                say: Callable[[str], None], stress_plan: StressPlan | None = None) -> dict[str, Any]:
    """`repeat` runs of the scenario (a fresh target each), merged into one report (each run's figures
    under `runs`); or, with a stress plan, its steps on one target."""
    stopper = Stopper()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGINT, stopper.interrupt)
    try:
        if stress_plan is not None:
            target, info = await prepare(scenario, endpoint)
            try:
                return await stress(scenario, stress_plan, lambda step: measure(step, target, info, stopper, on_tick),
                                    stopper, say)
            finally:
                await target.close()
        runs = []
        for index in range(repeat):
            if repeat > 1:
                say(f"bench: run {index + 1} of {repeat}")
            target, info = await prepare(scenario, endpoint)
            try:
                runs.append(await measure(scenario, target, info, stopper, on_tick))
            finally:
                await target.close()
            if stopper.interrupted or runs[-1]["stopped_early"]:
                break
        return reports.merge(runs)
    finally:
        with contextlib.suppress(Exception):
            loop.remove_signal_handler(signal.SIGINT)

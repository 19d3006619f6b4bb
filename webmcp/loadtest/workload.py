"""The two workload models, driven through the stages of a scenario.

- Closed: N virtual clients, each with its own session, each calling again as soon as its reply
  came. The server's slowness lowers the rate it is offered, so latency is measured from the send.
- Open: calls leave on a fixed schedule (evenly spaced at the stage's rate, ramping with it),
  whatever the server does. Latency is measured from the *scheduled* time, so when the driver or
  the server falls behind, the wait counts (coordinated omission, as wrk2 corrects it). How late each
  call actually left is recorded as the driver's lag.

Contract: one event loop, one task per call in flight (open) or per virtual client (closed); a
ticker closes a one-second window every second, reading the probe and refreshing the live view. A
stop (the end of the stages, or Ctrl-C) ends the dispatching; calls in flight then get up to the call
timeout to finish, and are counted; a second stop cancels them (they are not counted).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import math
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from webmcp.loadtest.probe import Probe
from webmcp.loadtest.record import Outcome, Recorder
from webmcp.loadtest.scenario import Scenario, Stage, ToolPlan
from webmcp.loadtest.wire import Session, Target, TransportFailure

MAX_IN_FLIGHT = 10_000  # open model: beyond it calls wait in the driver (their latency still counts from schedule)


@dataclass(frozen=True, slots=True)
class Tick:
    """What the live view is told each second."""

    elapsed: float
    duration: float
    stage: int
    stages: int
    target: float
    row: dict[str, Any]
    recorder: Recorder


class Stopper:
    """Ctrl-C and the end of the run: the first request stops dispatching, a second cancels calls in flight."""

    def __init__(self) -> None:
        self.soft = asyncio.Event()
        self.hard = asyncio.Event()
        self.interrupted = False

    def interrupt(self) -> None:
        self.interrupted = True
        (self.hard if self.soft.is_set() else self.soft).set()


def arrivals(stages: tuple[Stage, ...]) -> Iterator[float]:
    """Seconds from the start at which open-model calls are due: evenly spaced at each moment's rate.

    In a stage whose rate goes linearly from r0 to r1 over D seconds, n calls are due by time t when
    r0·t + a·t²/2 = n (a = (r1 - r0)/D); each due time solves that for the next whole n.
    """
    offset, done = 0.0, 0.0
    n = 0
    for stage in stages:
        r0, duration = stage.start, stage.duration
        a = (stage.end - r0) / duration if duration > 0 else 0.0
        total = r0 * duration + a * duration * duration / 2
        while n - done < total - 1e-9:
            k = n - done
            tau = k / r0 if abs(a) < 1e-12 else (-r0 + math.sqrt(max(0.0, r0 * r0 + 2 * a * k))) / a
            yield offset + min(tau, duration)
            n += 1
        done += total
        offset += duration


class Workload:
    def __init__(self, scenario: Scenario, target: Target, recorder: Recorder, probe: Probe, stopper: Stopper,
                 on_tick: Callable[[Tick], None] = lambda tick: None) -> None:
        self.scenario, self.target, self.recorder, self.probe = scenario, target, recorder, probe
        self.stopper, self.on_tick = stopper, on_tick
        self.clock = time.perf_counter
        self.start = 0.0
        self.bounds = list(itertools.accumulate(stage.duration for stage in scenario.stages))
        self.pick = scenario.picker()
        self.generators = {plan.name: plan.arguments() for plan in scenario.tools}
        self.session_failures = 0
        self.server_gone: str | None = None
        self.loop_lag_ms = 0.0

    def stage_at(self, t: float) -> int:
        for index, bound in enumerate(self.bounds):
            if t < bound:
                return index
        return len(self.bounds) - 1

    def target_at(self, t: float) -> float:
        index = self.stage_at(t)
        return self.scenario.stages[index].target(t - (self.bounds[index] - self.scenario.stages[index].duration))

    async def run(self) -> float:
        """Drive the scenario to its end (or a stop); the seconds from the first call to the last reply."""
        sessions = []
        if self.scenario.model == "open":
            sessions = [await self.target.session() for _ in range(max(1, self.scenario.sessions))]
        self.start = self.clock()
        ticker = asyncio.ensure_future(self._tick())
        try:
            if self.scenario.model == "open":
                await self._open(sessions)
            else:
                await self._closed()
        finally:
            ticker.cancel()
            await asyncio.gather(ticker, return_exceptions=True)
            for session in sessions:
                await session.close()
        elapsed = self.clock() - self.start
        if self.recorder.second.calls:
            self._close_window(self.probe.read())
        return elapsed

    async def _call(self, session: Session, plan: ToolPlan, rng: random.Random, started: float) -> None:
        stage = self.stage_at(started - self.start)
        arguments = self.generators[plan.name](rng)
        self.recorder.in_flight += 1
        outcome: Outcome = "ok"
        detail = None
        try:
            reply = await session.request("tools/call", {"name": plan.name, "arguments": arguments},
                                          self.scenario.timeout)
        except TimeoutError:
            outcome, detail = "timeout", f"no reply within {self.scenario.timeout:g}s"
        except TransportFailure as exc:
            outcome, detail = "transport_error", str(exc)
            await asyncio.sleep(0)  # a dead connection fails without waiting: let the loop run anyway
            if self.target.ended is not None and not self.stopper.soft.is_set():
                self.server_gone = self.target.ended
                self.stopper.soft.set()  # no server left to measure: stop rather than count failures
        else:
            if "error" in reply:
                outcome, detail = "jsonrpc_error", str(reply["error"])
            elif isinstance(reply.get("result"), dict) and reply["result"].get("isError"):
                outcome, detail = "is_error", str(reply["result"].get("content"))
        finally:
            self.recorder.in_flight -= 1
        self.recorder.record(plan.name, stage, self.clock() - started, outcome, detail)

    # -- closed model --------------------------------------------------------------------------

    async def _closed(self) -> None:
        clients: list[tuple[asyncio.Task[None], list[bool]]] = []
        seeds = itertools.count(self.scenario.seed)
        duration = self.scenario.duration
        while not self.stopper.soft.is_set():
            t = self.clock() - self.start
            if t >= duration:
                break
            clients = [(task, flag) for task, flag in clients if not task.done()]
            live = [(task, flag) for task, flag in clients if not flag[0]]
            wanted = max(0, round(self.target_at(t)))
            for _ in range(wanted - len(live)):
                flag = [False]
                clients.append((asyncio.ensure_future(self._client(flag, next(seeds))), flag))
            for _, flag in live[wanted:]:
                flag[0] = True  # finishes its call in flight, then leaves
            await self._sleep(min(0.1, duration - t))
        for _, flag in clients:
            flag[0] = True
        await self._drain([task for task, _ in clients])

    async def _client(self, stopping: list[bool], seed: int) -> None:
        rng = random.Random(seed)
        try:
            session = await self.target.session()
        except Exception:  # a server refusing sessions under load: counted, retried by the controller
            self.session_failures += 1
            await asyncio.sleep(1)
            return
        try:
            while not stopping[0] and not self.stopper.soft.is_set():
                await self._call(session, self.pick(rng), rng, self.clock())
        finally:
            await session.close()

    # -- open model ----------------------------------------------------------------------------

    async def _open(self, sessions: list[Session]) -> None:
        rng = random.Random(self.scenario.seed)
        calls: set[asyncio.Task[None]] = set()
        room = asyncio.Semaphore(MAX_IN_FLIGHT)
        for index, due_at in enumerate(arrivals(self.scenario.stages)):
            due = self.start + due_at
            while (wait := due - self.clock()) > 0:
                if self.stopper.soft.is_set():
                    break
                await self._sleep(min(wait, 0.1))
            if self.stopper.soft.is_set():
                break
            await room.acquire()
            self.recorder.record_lag(self.clock() - due)
            task = asyncio.ensure_future(self._call(sessions[index % len(sessions)], self.pick(rng), rng, due))
            calls.add(task)
            task.add_done_callback(calls.discard)
            task.add_done_callback(lambda _: room.release())
            if index % 64 == 63:
                await asyncio.sleep(0)  # let replies in when every call is already late
        await self._drain(list(calls))

    # -- both ----------------------------------------------------------------------------------

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stopper.soft.wait(), max(seconds, 0.0))

    async def _drain(self, tasks: list[asyncio.Task[None]]) -> None:
        """Let calls in flight finish (each has its own timeout); a second stop cancels them."""
        if not tasks:
            return
        hard: asyncio.Future[Any] = asyncio.ensure_future(self.stopper.hard.wait())
        pending: set[asyncio.Future[Any]] = set(tasks)
        while pending and not hard.done():
            _, pending = await asyncio.wait(pending | {hard}, return_when=asyncio.FIRST_COMPLETED)
            pending.discard(hard)
        hard.cancel()
        for task in pending:
            task.cancel()
        await asyncio.gather(*tasks, hard, return_exceptions=True)

    async def _tick(self) -> None:
        next_at = self.start + 1
        while True:
            await asyncio.sleep(max(0.0, next_at - self.clock()))
            late = self.clock() - next_at
            self.loop_lag_ms = max(self.loop_lag_ms, late * 1000)
            readings = await asyncio.to_thread(self.probe.read)  # psutil reads /proc: milliseconds, off the loop
            self._close_window(readings, loop_lag_ms=round(late * 1000, 2))
            next_at += 1

    def _close_window(self, readings: dict[str, Any], **extra: Any) -> None:
        t = self.clock() - self.start
        stage = self.stage_at(t)
        target = self.target_at(t)
        row = self.recorder.close_second(t, stage, target, {**readings, **extra})
        self.on_tick(Tick(t, self.scenario.duration, stage, len(self.scenario.stages), target, row, self.recorder))

"""The autoscaling policy (server/autoscale.py) as the supervisor drives it: figures in, a worker count out."""

from __future__ import annotations

import socket

import pytest

from webmcp.config.spec import WorkersSpec
from webmcp.server.autoscale import Autoscaler, accept_backlog, desired_by


@pytest.mark.parametrize(
    ("current", "value", "target", "expected"),
    [
        (2, 10.0, 10.0, 2),  # on target
        (2, 10.9, 10.0, 2),  # within the 10% tolerance
        (2, 9.1, 10.0, 2),
        (2, 11.5, 10.0, 3),  # ceil(2 * 1.15)
        (4, 2.0, 10.0, 1),  # ceil(4 * 0.2)
        (3, 0.0, 10.0, 0),  # no load
    ],
)
def test_the_hpa_formula_with_its_tolerance(current: int, value: float, target: float, expected: int) -> None:
    """desired = ceil(current * value / target), unchanged within 10% of the target."""
    assert desired_by(current, value, target) == expected


def scaler(p95: float | None = None, **workers: float) -> Autoscaler:
    spec = WorkersSpec(int(workers.get("min", 1)), int(workers.get("max", 8)), workers.get("cooldown", 10.0),
                       int(workers.get("in_flight", 4)))
    return Autoscaler(spec, p95, 60.0)


def test_up_at_once_within_max_and_the_step() -> None:
    """40 calls in flight for a target of 4: 10 wanted; from 1 at most max(4, 1) more: 5; then to max 8."""
    s = scaler()
    assert s.decide(0.0, 1, 0, 40, 0, None) == 5
    assert "at most 4 more at once" in s.decisions[-1].reason
    assert s.decide(1.0, 5, 0, 40, 0, None) == 8
    assert [(d.before, d.after) for d in s.decisions] == [(1, 5), (5, 8)]


def test_no_second_step_while_workers_start() -> None:
    """Workers still coming up: no more are started on the same figures."""
    s = scaler()
    assert s.decide(0.0, 5, 4, 40, 0, None) == 5
    assert "waiting for 4 starting worker(s)" in s.note


def test_the_accept_queue_counts_as_load() -> None:
    """Connections waiting to be accepted are calls waiting too."""
    assert scaler().decide(0.0, 1, 0, 0, 12, None) == 3


def test_p95_over_its_target_scales_up_and_the_largest_wins() -> None:
    """p95 of 900ms for a target of 300ms wants ceil(2 * 3) = 6 while in_flight wants fewer."""
    s = scaler(p95=0.3)
    assert s.decide(0.0, 2, 0, 2, 0, 0.9) == 6
    assert s.decisions[-1].reason.startswith("p95_latency wants 6: ")


def test_down_only_after_a_whole_cooldown_of_lower_counts() -> None:
    """A burst, then quiet: the count stays until no more than fewer workers were wanted for the whole
    cooldown (10s), then goes straight to the highest count wanted in it."""
    s = scaler()
    assert s.decide(0.0, 1, 0, 16, 0, None) == 4
    assert s.decide(1.0, 4, 0, 8, 0, None) == 4  # 2 wanted
    for t in range(2, 11):
        assert s.decide(float(t), 4, 0, 0, 0, None) == 4, t
    assert "kept until" in s.note
    assert s.decide(11.0, 4, 0, 0, 0, None) == 2  # the 2 of t=1 is still in the window
    assert s.decide(12.0, 2, 0, 0, 0, None) == 1
    assert [(d.before, d.after) for d in s.decisions] == [(1, 4), (4, 2), (2, 1)]
    assert "no more than 1 wanted for the last 10s (cooldown)" in s.decisions[-1].reason


def test_an_idle_server_returns_to_min_and_stays_within_bounds() -> None:
    """No calls at all is no load: min (here 2), never below it."""
    s = scaler(min=2, cooldown=1.0)
    assert s.decide(0.0, 4, 0, 0, None, None) == 4  # a full cooldown has not been observed yet
    assert s.decide(1.0, 4, 0, 0, None, None) == 2
    assert s.decide(2.0, 2, 0, 0, None, None) == 2


def test_the_accept_queue_of_a_listening_socket() -> None:
    """TCP_INFO on a listening socket gives the connections not yet accepted (Linux)."""
    listener = socket.create_server(("127.0.0.1", 0), backlog=16)
    clients = [socket.create_connection(listener.getsockname()) for _ in range(3)]
    try:
        found = accept_backlog(listener)
        if found is None:
            pytest.skip("no TCP_INFO accept queue on this system")
        assert found == 3
        listener.accept()[0].close()
        assert accept_backlog(listener) == 2
    finally:
        for c in clients:
            c.close()
        listener.close()


def test_cpu_per_worker_over_its_target_scales_up() -> None:
    """Two workers at 100% of a core each, for a target of 80%: ceil(2 * 1.25) = 3, even with few calls
    in flight (a loop busy with HTTP parsing shows in CPU, not in the executor)."""
    s = scaler()
    assert s.decide(0.0, 2, 0, 1, 0, None, cpu=1.0) == 3
    assert s.decisions[-1].reason.startswith("cpu wants 3: cpu 100% of a core per worker (target 80%)")

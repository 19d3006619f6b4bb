"""Worker threads: a job abandoned by its caller while it runs has its worker replaced, within a bound."""

from __future__ import annotations

import threading
import time

from webmcp.executor.threads import WorkerThreads


def _wait(predicate: object, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_abandoned_jobs_are_replaced_up_to_the_bound_and_replacements_withdrawn() -> None:
    """size 1: the first abandoned job's worker is replaced, the second is not (max_lost 1); once the hung
    jobs end, the pool is back to one worker and serves."""
    pool = WorkerThreads(1, name="test-threads")
    release = threading.Event()
    hung = [pool.submit(release.wait) for _ in range(2)]
    _wait(lambda: hung[0].running())
    pool.abandon(hung[0])
    assert pool.lost == 1 and pool.replaced == 1
    _wait(lambda: hung[1].running())  # the replacement took the queued job
    pool.abandon(hung[1])
    assert pool.lost == 2 and pool.replaced == 1  # past max_lost: not replaced
    stuck = pool.submit(lambda: "late")
    time.sleep(0.1)
    assert not stuck.done()  # every worker is held: the bound holds
    release.set()
    assert stuck.result(5) == "late"
    _wait(lambda: pool.lost == 0 and len([t for t in threading.enumerate() if t.name.startswith("test-threads")]) == 1)
    assert pool.submit(lambda: 42).result(5) == 42
    pool.shutdown()

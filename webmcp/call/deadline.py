"""A call's deadline: the one timer per call that cancels the call's task when its timeout ends.

The running call's deadline is also in a ContextVar, so that code below the tool (a breaker, an
upstream's attempt) can tell its own timeout from a cancellation by the client (`timed_out()`).
"""

from __future__ import annotations

import asyncio
import contextvars
from typing import Any


class Deadline:
    __slots__ = ("expired", "task")

    def __init__(self, task: asyncio.Task[Any]) -> None:
        self.task = task
        self.expired = False

    def expire(self) -> None:
        self.expired = True
        self.task.cancel()


CURRENT: contextvars.ContextVar[Deadline | None] = contextvars.ContextVar("webmcp_deadline", default=None)


def timed_out() -> bool:
    """Was the running call just cut by its own timeout (rather than cancelled by its client)?"""
    deadline = CURRENT.get()
    return deadline is not None and deadline.expired

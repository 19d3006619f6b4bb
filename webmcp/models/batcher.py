"""The micro-batcher of one embedding model: the queue of inputs, how batches are formed from it, the
worker thread that runs the model, and the delivery of vectors back to the calls.

Batching follows TEI and Triton (the embeddings research notes, §5 and §6.4): when the model is free it takes
what is queued, without waiting (`max_wait` opts in to waiting); a batch is bounded by inputs and by
*padded* tokens (longest input x inputs), inputs are counted one by one (a call may carry many), a full
queue refuses at once, and inputs of cancelled calls are dropped before the model sees them.

Which inputs form a batch: the oldest queued input always goes in, so no input waits forever (each batch
removes the oldest, so an input runs within as many batches as there were older inputs queued ahead of
it). The rest of the batch is filled from the whole queue: inputs no longer than the oldest add no padding,
so they are taken in arrival order; longer ones are taken shortest first, while the limits hold. A long
input therefore does not drag many short ones into a padded batch, and short ones behind a long one are
not held up by it. Inside the batch inputs are sorted by length (backends that split a batch pad less).
"""

# Concurrency contract:
# - All queue state (`_queue`, `_running`, every call's future and vectors) is read and written on the
#   event loop only: by `embed` (submit, cancel), by the scheduler task and by `close`.
# - The worker thread runs `encoder.encode` and nothing else; it hands the outcome back with
#   `loop.call_soon_threadsafe`, and the loop side ignores it if the batch was abandoned (close).
# - One batch runs at a time per model: the scheduler awaits each batch before forming the next.
# - `encoder.token_lengths` runs on the event loop, at submit time.

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from webmcp.errors import ToolError
from webmcp.models.encoder import Encoder

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Embedded:
    """The result of one `embed` call."""

    vectors: list[list[float]]  # one per input, in input order
    truncated: tuple[int, ...]  # indices of inputs longer than the model's max_seq_length (truncated by it)


class Overloaded(ToolError):
    """The model's queue is full: the call is refused at once instead of queueing without bound."""

    def __init__(self, model: str, limit: int, queued: int, inputs: int) -> None:
        super().__init__(
            f"embedding model {model!r} is overloaded: {queued} inputs queued, this call's {inputs} would pass "
            f"max_queue ({limit} inputs); retry later"
        )
        self.model = model
        self.limit = limit


@dataclass(eq=False, slots=True)
class _Call:
    future: asyncio.Future[Embedded]
    vectors: list[list[float]]  # filled by input index as batches finish
    remaining: int  # inputs not yet embedded
    truncated: tuple[int, ...]


@dataclass(frozen=True, eq=False, slots=True)
class _Input:
    call: _Call
    index: int  # position in the call's texts
    text: str
    length: int  # tokens, not truncated
    cost: int  # tokens the model pads it to: length capped at max_seq_length, rounded up to pad_to_multiple_of
    seq: int  # arrival order
    arrived: float = field(repr=False)  # loop time


_Outcome = tuple[list[list[float]], float]  # vectors, model seconds


class Batcher:
    """Micro-batches the `embed` calls of one model onto one worker thread."""

    def __init__(self, name: str, encoder: Encoder, *, max_batch_size: int = 32, max_batch_tokens: int = 2048,
                 max_wait: float = 0.0, max_queue: int = 1024, pad_to_multiple_of: int = 1) -> None:
        if min(max_batch_size, max_batch_tokens, max_queue, pad_to_multiple_of) < 1 or max_wait < 0:
            raise ValueError("max_batch_size, max_batch_tokens, max_queue and pad_to_multiple_of must be >= 1, "
                             "max_wait >= 0")
        from webmcp.models import metrics  # prometheus-client: imported only by configs with models

        self.name = name
        self._encoder = encoder
        self._max_seq_length = encoder.max_seq_length
        self._max_batch_size = max_batch_size
        self._max_batch_tokens = max_batch_tokens
        self._max_wait = max_wait
        self._max_queue = max_queue
        self._pad_to = pad_to_multiple_of
        self._queue: list[_Input] = []  # arrival order
        self._running: list[_Input] = []  # the batch the model has now
        self._arrived = asyncio.Event()
        self._seq = itertools.count()
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self._worker = _Worker(name, encoder.encode)
        self._m_size = metrics.BATCH_SIZE.labels(name)
        self._m_tokens = metrics.BATCH_TOKENS.labels(name)
        self._m_seconds = metrics.BATCH_SECONDS.labels(name)
        self._m_queue = metrics.QUEUE_INPUTS.labels(name)
        self._m_inputs = metrics.INPUTS.labels(name)

    async def embed(self, texts: Sequence[str]) -> Embedded:
        """Embed `texts` (one vector each, in order) in whatever batches the model is given next.

        Raises Overloaded if the queue cannot take them, ToolError if the model fails or is closing.
        Cancelling the call drops its inputs that have not reached the model yet."""
        if self._closed:
            raise self._closing()
        if not texts:
            return Embedded([], ())
        if len(self._queue) + len(texts) > self._max_queue:
            raise Overloaded(self.name, self._max_queue, len(self._queue), len(texts))
        lengths = self._encoder.token_lengths(texts)
        if len(lengths) != len(texts):
            raise ToolError(f"embedding model {self.name!r} failed: {len(lengths)} lengths for {len(texts)} texts")
        loop = asyncio.get_running_loop()
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._schedule(), name=f"webmcp-model-{self.name}")
        cap = self._max_seq_length
        call = _Call(loop.create_future(), [[]] * len(texts), len(texts),
                     tuple(i for i, n in enumerate(lengths) if n > cap))
        now = loop.time()
        pad = self._pad_to
        self._queue.extend(_Input(call, i, text, n, -(-min(n, cap) // pad) * pad, next(self._seq), now)
                           for i, (text, n) in enumerate(zip(texts, lengths, strict=True)))
        self._m_queue.set(len(self._queue))
        self._arrived.set()
        try:
            return await call.future
        except asyncio.CancelledError:
            self._forget(call)
            raise

    async def close(self) -> None:
        """Fail every waiting call (ToolError: the model is closing) and stop the worker thread.

        A batch the model is running is abandoned: the thread finishes it and its vectors are dropped."""
        if self._closed:
            return
        self._closed = True
        calls = dict.fromkeys(item.call for item in [*self._running, *self._queue])
        self._queue = []
        self._m_queue.set(0)
        for call in calls:
            if not call.future.done():
                call.future.set_exception(self._closing())
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait({self._task})
        self._worker.stop()

    def _closing(self) -> ToolError:
        return ToolError(f"embedding model {self.name!r} is closing")

    def _forget(self, call: _Call) -> None:
        """Drop the queued inputs of a call that ended (cancelled or failed)."""
        if any(item.call is call for item in self._queue):
            self._queue = [item for item in self._queue if item.call is not call]
            self._m_queue.set(len(self._queue))

    def _fail(self, call: _Call, error: ToolError) -> None:
        if not call.future.done():
            call.future.set_exception(error)
        self._forget(call)

    async def _schedule(self) -> None:
        """The scheduler task: forms a batch whenever the model is free and inputs are queued."""
        try:
            while True:
                while not self._queue:
                    self._arrived.clear()
                    await self._arrived.wait()
                if self._max_wait > 0:
                    await self._gather()
                    if not self._queue:
                        continue
                await self._run(self._take())
        except Exception as exc:  # a bug here would leave calls waiting forever: fail them, restart on next call
            log.exception("embedding model %r: the batcher failed", self.name)
            for item in [*self._running, *self._queue]:
                self._fail(item.call, ToolError(f"embedding model {self.name!r} failed: {exc}"))
            self._running = []

    async def _gather(self) -> None:
        """With max_wait > 0: wait until the oldest input has waited max_wait or a full batch is queued."""
        loop = asyncio.get_running_loop()
        while self._queue and len(self._queue) < self._max_batch_size:
            left = self._queue[0].arrived + self._max_wait - loop.time()
            if left <= 0:
                return
            self._arrived.clear()
            try:
                async with asyncio.timeout(left):
                    await self._arrived.wait()
            except TimeoutError:
                return

    def _take(self) -> list[_Input]:
        """Remove the next batch from the queue (see the module docstring for the rule)."""
        head, limit = self._queue[0], self._max_batch_tokens
        batch, longest = [head], head.cost
        # Sorted by the padded length each input would give the batch, then by arrival: the first that
        # does not fit ends the scan, as every later one would pad at least as much.
        rest = heapq.nsmallest(self._max_batch_size - 1, itertools.islice(self._queue, 1, None),
                               key=lambda item: (max(item.cost, head.cost), item.seq))
        for item in rest:
            padded_to = max(longest, item.cost)
            if padded_to * (len(batch) + 1) > limit:
                break
            batch.append(item)
            longest = padded_to
        taken = set(batch)
        self._queue = [item for item in self._queue if item not in taken]
        self._m_queue.set(len(self._queue))
        batch.sort(key=lambda item: (item.length, item.seq))
        return batch

    async def _run(self, batch: list[_Input]) -> None:
        """Give one batch to the model and deliver its vectors (or its error) to the calls."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[_Outcome] = loop.create_future()
        self._running = batch
        try:
            self._worker.submit([item.text for item in batch], loop, done)
            vectors, seconds = await done
            if len(vectors) != len(batch):
                raise RuntimeError(f"{len(vectors)} vectors for {len(batch)} texts")
        except Exception as exc:
            log.warning("embedding model %r failed on a batch of %d: %s", self.name, len(batch), exc)
            for call in dict.fromkeys(item.call for item in batch):
                self._fail(call, ToolError(f"embedding model {self.name!r} failed: {exc}"))
            return
        finally:
            self._running = []
        self._m_size.observe(len(batch))
        self._m_tokens.observe(max(item.cost for item in batch) * len(batch))
        self._m_seconds.observe(seconds)
        self._m_inputs.inc(len(batch))
        for item, vector in zip(batch, vectors, strict=True):
            call = item.call
            if call.future.done():  # cancelled or failed while the batch ran: the vector is dropped
                continue
            call.vectors[item.index] = vector
            call.remaining -= 1
            if call.remaining == 0:
                call.future.set_result(Embedded(call.vectors, call.truncated))


_Job = tuple[list[str], asyncio.AbstractEventLoop, "asyncio.Future[_Outcome]"]


class _Worker:
    """One daemon thread running `encode` for one model, one batch at a time, started on first use.

    Not a ThreadPoolExecutor: the interpreter joins those at exit, so a model call still running then
    would hold the process (see webmcp/executor/threads.py)."""

    def __init__(self, name: str, encode: Callable[[Sequence[str]], list[list[float]]]) -> None:
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._work, args=(self._jobs, encode), name=f"webmcp-model-{name}",
                                        daemon=True)
        self._started = False

    def submit(self, texts: list[str], loop: asyncio.AbstractEventLoop, done: asyncio.Future[_Outcome]) -> None:
        if not self._started:
            self._thread.start()
            self._started = True
        self._jobs.put((texts, loop, done))

    def stop(self) -> None:
        """Let the thread end after the batch it is running, if any (not waited for)."""
        if self._started:
            self._jobs.put(None)

    @staticmethod
    def _work(jobs: queue.SimpleQueue[_Job | None], encode: Callable[[Sequence[str]], list[list[float]]]) -> None:
        while (job := jobs.get()) is not None:
            texts, loop, done = job
            start = time.perf_counter()
            vectors: list[list[float]] | None = None
            error: BaseException | None = None
            try:
                vectors = encode(texts)
            except BaseException as exc:  # anything the model raises fails its batch, not the thread
                error = exc
            seconds = time.perf_counter() - start
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is waiting any more
                loop.call_soon_threadsafe(_settle, done, vectors, error, seconds)
            del job, texts, done, vectors, error  # drop references before waiting for the next batch


def _settle(done: asyncio.Future[_Outcome], vectors: list[list[float]] | None, error: BaseException | None,
            seconds: float) -> None:
    """On the loop: hand a batch's outcome to the scheduler, unless it stopped waiting (close)."""
    if done.done():
        return
    if error is not None:
        done.set_exception(error if isinstance(error, Exception) else RuntimeError(repr(error)))
    else:
        done.set_result((vectors or [], seconds))


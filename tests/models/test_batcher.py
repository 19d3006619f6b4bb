"""The micro-batcher with a fake encoder: batch formation, token budget, length sorting, queue cap,
cancellation, encoder errors, max_wait and close."""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import pytest
from prometheus_client import REGISTRY

from webmcp.errors import ToolError
from webmcp.models.batcher import Batcher, Embedded, Overloaded

pytestmark = pytest.mark.anyio

_names = itertools.count()


class FakeEncoder:
    """Tokens = words + 2; a vector is derived from its text; records every batch. With `gated`, each
    batch waits in the worker thread until the test calls `step()`; a text starting "boom" fails its batch."""

    def __init__(self, *, gated: bool = False, max_seq_length: int = 16) -> None:
        self.batches: list[list[str]] = []
        self._gated = gated
        self._permits = threading.Semaphore(0)
        self._max_seq_length = max_seq_length

    @property
    def max_seq_length(self) -> int:
        return self._max_seq_length

    def token_lengths(self, texts: Sequence[str]) -> list[int]:
        return [len(text.split()) + 2 for text in texts]

    def encode(self, texts: Sequence[str]) -> list[list[float]]:
        self.batches.append(list(texts))
        if self._gated:
            self._permits.acquire(timeout=2)
        if any(text.startswith("boom") for text in texts):
            raise RuntimeError("boom: the model fell over")
        return [vector(text) for text in texts]

    def step(self, batches: int = 1) -> None:
        """Let `batches` more batches finish."""
        for _ in range(batches):
            self._permits.release()

    def open(self) -> None:
        self._gated = False
        self.step(100)


Make = Callable[..., tuple[Batcher, FakeEncoder]]


def vector(text: str) -> list[float]:
    return [float(len(text)), float(sum(map(ord, text)))]


def words(n: int, word: str = "w") -> str:
    return " ".join([word] * n)


async def until(predicate: Callable[[], bool]) -> None:
    for _ in range(1000):
        if predicate():
            return
        await asyncio.sleep(0.001)
    raise AssertionError("condition not reached within 1 s")


@pytest.fixture
async def make() -> AsyncIterator[Make]:
    made: list[tuple[Batcher, FakeEncoder]] = []

    def _make(*, gated: bool = False, max_seq_length: int = 16, **options: Any) -> tuple[Batcher, FakeEncoder]:
        encoder = FakeEncoder(gated=gated, max_seq_length=max_seq_length)
        batcher = Batcher(f"test-{next(_names)}", encoder, **options)
        made.append((batcher, encoder))
        return batcher, encoder

    yield _make
    for batcher, encoder in made:
        encoder.open()
        await batcher.close()


async def started(encoder: FakeEncoder, batches: int) -> None:
    await until(lambda: len(encoder.batches) >= batches)


async def queue(batcher: Batcher, *calls: list[str]) -> list[asyncio.Task[Embedded]]:
    tasks = [asyncio.create_task(batcher.embed(texts)) for texts in calls]
    await asyncio.sleep(0)  # each task runs up to its wait: its inputs are queued
    return tasks


async def test_a_lone_call_runs_at_once(make: Make) -> None:
    """With the model free and no max_wait, a call is a batch of its own straight away."""
    batcher, encoder = make()
    result = await asyncio.wait_for(batcher.embed(["hello world"]), 0.5)
    assert result == Embedded([vector("hello world")], ())
    assert encoder.batches == [["hello world"]]


async def test_calls_arriving_while_a_batch_runs_share_the_next(make: Make) -> None:
    """Calls queued while the model is busy are coalesced into one batch when it is free."""
    batcher, encoder = make(gated=True)
    first = asyncio.create_task(batcher.embed(["a"]))
    await started(encoder, 1)
    tasks = await queue(batcher, ["b"], ["c", "d"], ["e"])
    encoder.step(2)
    results = await asyncio.gather(first, *tasks)
    assert encoder.batches == [["a"], ["b", "c", "d", "e"]]
    assert [r.vectors for r in results] == [[vector("a")], [vector("b")], [vector("c"), vector("d")], [vector("e")]]


async def test_max_batch_size_bounds_inputs_per_batch(make: Make) -> None:
    """No batch holds more than max_batch_size inputs; a call larger than that spans batches, in order."""
    batcher, encoder = make(gated=True, max_batch_size=2)
    first = asyncio.create_task(batcher.embed(["a"]))
    await started(encoder, 1)
    (big,) = await queue(batcher, ["b", "c", "d", "e", "f"])
    encoder.step(4)
    await first
    assert (await big).vectors == [vector(t) for t in "bcdef"]
    assert [len(b) for b in encoder.batches] == [1, 2, 2, 1]


async def test_short_inputs_do_not_wait_behind_a_long_one(make: Make) -> None:
    """Padded tokens (longest x count) stay within max_batch_tokens: short inputs batch together and the
    long one that would pad them runs apart."""
    batcher, encoder = make(gated=True, max_batch_tokens=20)
    first = asyncio.create_task(batcher.embed(["x"]))
    await started(encoder, 1)
    long = words(12)  # 14 tokens: 14 x 2 > 20
    tasks = await queue(batcher, ["s1", "s2"], [long], ["s3", "s4", "s5", "s6"])
    encoder.step(3)
    await asyncio.gather(first, *tasks)
    assert encoder.batches == [["x"], ["s1", "s2", "s3", "s4", "s5", "s6"], [long]]


async def test_the_token_budget_counts_padding_to_a_multiple(make: Make) -> None:
    """With pad_to_multiple_of 8, a 3-token input costs 8 padded tokens: a budget of 24 takes three, not eight."""
    batcher, encoder = make(gated=True, max_batch_tokens=24, pad_to_multiple_of=8)
    first = asyncio.create_task(batcher.embed(["x"]))
    await started(encoder, 1)
    tasks = await queue(batcher, [f"s{i}" for i in range(6)])
    encoder.step(3)
    await asyncio.gather(first, *tasks)
    assert [len(b) for b in encoder.batches] == [1, 3, 3]


async def test_a_long_oldest_input_does_not_pull_short_ones_in(make: Make) -> None:
    """The oldest input leads the next batch; short ones join it only while long x count fits the budget."""
    batcher, encoder = make(gated=True, max_batch_tokens=30)
    first = asyncio.create_task(batcher.embed(["x"]))
    await started(encoder, 1)
    long = words(12)  # 14 tokens: room for 2 inputs padded to 14, not 3
    tasks = await queue(batcher, [long], ["s1", "s2", "s3", "s4"])
    encoder.step(3)
    await asyncio.gather(first, *tasks)
    assert encoder.batches == [["x"], ["s1", long], ["s2", "s3", "s4"]]


async def test_a_skipped_long_input_runs_before_newer_short_ones(make: Make) -> None:
    """A long input left out of a batch becomes the oldest and leads the next one: it never starves."""
    batcher, encoder = make(gated=True, max_batch_tokens=20)
    first = asyncio.create_task(batcher.embed(["x"]))
    await started(encoder, 1)
    long = words(12)
    early = await queue(batcher, ["s1"], [long], ["s2"])
    encoder.step()
    await started(encoder, 2)
    late = await queue(batcher, ["s3"], ["s4"])
    encoder.step(3)
    await asyncio.gather(first, *early, *late)
    assert encoder.batches == [["x"], ["s1", "s2"], [long], ["s3", "s4"]]


async def test_inputs_are_sorted_by_length_in_a_batch(make: Make) -> None:
    """The model gets a batch sorted by token length; each call gets its vectors in its own input order."""
    batcher, encoder = make(gated=True)
    first = asyncio.create_task(batcher.embed(["x"]))
    await started(encoder, 1)
    texts = [words(3, "c"), words(1, "a"), words(2, "b")]
    tasks = await queue(batcher, texts, [words(2, "d"), words(1, "e")])
    encoder.step(2)
    await first
    one, two = await asyncio.gather(*tasks)
    assert encoder.batches[1] == ["a", "e", "b b", "d d", "c c c"]
    assert one.vectors == [vector(t) for t in texts]
    assert two.vectors == [vector("d d"), vector("e")]


async def test_a_single_input_over_the_token_budget_runs_alone(make: Make) -> None:
    """An input whose padded length alone passes max_batch_tokens still runs, by itself, and is reported
    as truncated when it is longer than max_seq_length."""
    batcher, encoder = make(gated=True, max_batch_tokens=8, max_seq_length=16)
    first = asyncio.create_task(batcher.embed(["x"]))
    await started(encoder, 1)
    huge = words(30)  # 32 tokens, capped at 16: still over the budget of 8
    (call,) = await queue(batcher, ["a", huge, "b"])
    encoder.step(3)
    await first
    result = await call
    assert result.truncated == (1,)
    assert result.vectors == [vector("a"), vector(huge), vector("b")]
    assert encoder.batches == [["x"], ["a", "b"], [huge]]


async def test_a_full_queue_refuses_at_once(make: Make) -> None:
    """Inputs (not calls) are counted against max_queue; a call that would pass it fails at once with
    Overloaded, a ToolError naming the model and the limit; the model never sees it."""
    batcher, encoder = make(gated=True, max_queue=3)
    first = asyncio.create_task(batcher.embed(["running"]))  # in the model, not in the queue
    await started(encoder, 1)
    (queued,) = await queue(batcher, ["a", "b"])
    with pytest.raises(Overloaded) as refused:
        await batcher.embed(["c", "d"])
    assert isinstance(refused.value, ToolError)
    assert batcher.name in str(refused.value)
    assert "max_queue (3 inputs)" in str(refused.value)
    (fits,) = await queue(batcher, ["c"])
    encoder.step(2)
    await asyncio.gather(first, queued, fits)
    assert encoder.batches == [["running"], ["a", "b", "c"]]


async def test_a_cancelled_call_leaves_the_queue(make: Make) -> None:
    """Cancelling a queued call removes its inputs: the model never sees them, the others still run."""
    batcher, encoder = make(gated=True)
    first = asyncio.create_task(batcher.embed(["x"]))
    await started(encoder, 1)
    gone, kept = await queue(batcher, ["gone", "gone too"], ["kept"])
    gone.cancel()
    with pytest.raises(asyncio.CancelledError):
        await gone
    depth = REGISTRY.get_sample_value("webmcp_model_queue_inputs", {"model": batcher.name})
    assert depth == 1
    encoder.step(2)
    await first
    assert (await kept).vectors == [vector("kept")]
    assert encoder.batches == [["x"], ["kept"]]


async def test_a_timed_out_call_leaves_the_queue(make: Make) -> None:
    """A call ended by asyncio.wait_for's timeout is dropped from the queue like a cancelled one."""
    batcher, encoder = make(gated=True)
    first = asyncio.create_task(batcher.embed(["x"]))
    await started(encoder, 1)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(batcher.embed(["late"]), 0.01)
    encoder.step(2)
    await first
    assert (await batcher.embed(["next"])).vectors == [vector("next")]
    assert encoder.batches == [["x"], ["next"]]


async def test_a_call_cancelled_inside_a_running_batch_does_not_disturb_it(make: Make) -> None:
    """Inputs already given to the model finish; the cancelled call's vectors are dropped, the others delivered."""
    batcher, encoder = make(gated=True)
    first = asyncio.create_task(batcher.embed(["x"]))
    await started(encoder, 1)
    gone, kept = await queue(batcher, ["gone"], ["kept"])
    encoder.step()
    await started(encoder, 2)
    gone.cancel()
    encoder.step()
    await first
    assert (await kept).vectors == [vector("kept")]
    assert gone.cancelled()
    assert encoder.batches == [["x"], ["gone", "kept"]]


async def test_an_encoder_error_fails_only_its_batch(make: Make) -> None:
    """encode raising fails every call of that batch with a ToolError carrying the message; the next
    batches run as usual."""
    batcher, encoder = make(gated=True, max_batch_size=2)
    first = asyncio.create_task(batcher.embed(["x"]))
    await started(encoder, 1)
    bad, also_bad, fine = await queue(batcher, ["boom"], ["victim"], ["fine"])
    encoder.step(3)
    await first
    for call in (bad, also_bad):
        with pytest.raises(ToolError, match="boom: the model fell over"):
            await call
    assert (await fine).vectors == [vector("fine")]
    encoder.open()
    assert (await batcher.embed(["after"])).vectors == [vector("after")]


async def test_max_wait_holds_the_first_input_for_more(make: Make) -> None:
    """With max_wait > 0 the model waits after the first input for others to join its batch."""
    batcher, encoder = make(max_wait=0.05)
    one = asyncio.create_task(batcher.embed(["a"]))
    await asyncio.sleep(0.005)
    two = asyncio.create_task(batcher.embed(["b"]))
    await asyncio.gather(one, two)
    assert encoder.batches == [["a", "b"]]


async def test_max_wait_ends_early_with_a_full_batch(make: Make) -> None:
    """Waiting stops as soon as max_batch_size inputs are queued."""
    batcher, encoder = make(max_wait=5.0, max_batch_size=2)
    await asyncio.wait_for(asyncio.gather(batcher.embed(["a"]), batcher.embed(["b"])), 0.5)
    assert encoder.batches == [["a", "b"]]


async def test_close_fails_waiting_calls(make: Make) -> None:
    """close() fails the running and queued calls with a ToolError saying the model is closing; later
    calls fail the same way."""
    batcher, encoder = make(gated=True)
    running = asyncio.create_task(batcher.embed(["x"]))
    await started(encoder, 1)
    (queued,) = await queue(batcher, ["y"])
    await batcher.close()
    for call in (running, queued):
        with pytest.raises(ToolError, match="is closing"):
            await call
    with pytest.raises(ToolError, match="is closing"):
        await batcher.embed(["z"])
    assert encoder.batches == [["x"]]


async def test_metrics_count_batches_tokens_and_inputs(make: Make) -> None:
    """Batch size, padded tokens and embedded inputs are recorded per model."""
    batcher, _ = make()
    await batcher.embed(["a", words(3)])  # 3 and 5 tokens: padded 5 x 2

    def sample(metric: str) -> float | None:
        return REGISTRY.get_sample_value(metric, {"model": batcher.name})

    assert sample("webmcp_model_batch_size_sum") == 2
    assert sample("webmcp_model_batch_padded_tokens_sum") == 10
    assert sample("webmcp_model_inputs_embedded_total") == 2
    assert sample("webmcp_model_batch_seconds_count") == 1
    assert sample("webmcp_model_queue_inputs") == 0


async def test_no_texts_need_no_model(make: Make) -> None:
    """An empty call returns an empty result without a batch."""
    batcher, encoder = make()
    assert await batcher.embed([]) == Embedded([], ())
    assert encoder.batches == []

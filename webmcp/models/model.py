"""`Model`: one `models:` entry at run time: its backend, loaded once (at start with `preload`, else at
the first call), and its micro-batcher. Every tool naming the model shares this one instance; a reload
that leaves the entry unchanged keeps it, loaded, with its queue.

Contract: loading runs in a thread of its own (importing torch and reading the weights take seconds, and
a reload must not stall the calls being served); concurrent first calls wait for the same load; a load
that fails is raised to each of them and tried again by the next call.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import sys
import time
from collections.abc import Sequence

from webmcp.config.models import ModelSpec
from webmcp.errors import ToolError
from webmcp.models.batcher import Batcher, Embedded
from webmcp.models.encoder import Encoder
from webmcp.models.environment import set_environment

log = logging.getLogger(__name__)


class ModelUnavailable(ToolError):
    """The model could not be loaded (its message says why)."""


def load_encoder(spec: ModelSpec) -> Encoder:
    """The backend of `spec`, loaded (blocking)."""
    set_environment(spec)  # before the backend's libraries are imported: they read it once
    if spec.backend == "onnx":
        from webmcp.models.onnx_backend import OnnxEncoder  # ONNX Runtime: no torch imported

        return OnnxEncoder(spec)
    from webmcp.models.torch_backend import TorchEncoder

    return TorchEncoder(spec)


class Model:
    __slots__ = ("_batcher", "_dimensions", "_loading", "spec")

    def __init__(self, spec: ModelSpec) -> None:
        self.spec = spec
        self._batcher: Batcher | None = None
        self._dimensions = 0
        self._loading: asyncio.Future[Batcher] | None = None

    @property
    def dimensions(self) -> int:
        return self._dimensions

    @property
    def is_loaded(self) -> bool:
        return self._batcher is not None

    async def load(self) -> Batcher:
        """The model's batcher, loading the model first if needed."""
        if self._batcher is not None:
            return self._batcher
        if self._loading is None:
            self._loading = asyncio.ensure_future(self._load())
        loading = self._loading
        try:
            return await asyncio.shield(loading)
        except Exception:
            if self._loading is loading:
                self._loading = None  # the next call tries again
            raise

    async def _load(self) -> Batcher:
        spec = self.spec
        started = time.perf_counter()
        before = _peak_rss_mb()
        try:
            encoder = await asyncio.to_thread(load_encoder, spec)
        except Exception as exc:
            log.error("model %r (%s) failed to load: %s: %s", spec.name, spec.path, type(exc).__name__, exc)
            raise ModelUnavailable(f"model {spec.name!r} failed to load: {type(exc).__name__}: {exc}") from exc
        seconds = time.perf_counter() - started
        grown = _peak_rss_mb() - before
        log.info("model %r loaded from %s in %.2f s (peak RSS +%.0f MB)", spec.name, spec.path, seconds, grown)
        from webmcp.models import metrics

        metrics.LOAD_SECONDS.labels(spec.name).set(seconds)
        metrics.LOAD_MEMORY.labels(spec.name).set(grown * 1024 * 1024)
        batch = spec.batch
        self._dimensions = int(getattr(encoder, "dimensions", 0))
        self._batcher = Batcher(spec.name, encoder, max_batch_size=batch.max_batch_size,
                                max_batch_tokens=batch.max_batch_tokens, max_wait=batch.max_wait,
                                max_queue=batch.max_queue, pad_to_multiple_of=spec.pad_to_multiple_of)
        return self._batcher

    async def embed(self, texts: Sequence[str]) -> Embedded:
        batcher = self._batcher or await self.load()
        return await batcher.embed(texts)

    async def close(self) -> None:
        if self._loading is not None and not self._loading.done():
            self._loading.cancel()
        if self._batcher is not None:
            await self._batcher.close()


def _peak_rss_mb() -> float:
    """The process's peak resident memory so far (ru_maxrss: KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


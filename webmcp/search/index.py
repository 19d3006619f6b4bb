"""The index of one semantic_search tool: built or refreshed from its corpus, searched by exact cosine.

`refresh` reads every file of the corpus (a worker thread), keeps the vectors of each file whose content
hash is the one stored under the same key (the model's identity and the chunking settings), chunks and
embeds the others through the model's micro-batcher, and writes the result as a new generation
(store.py). When every file is unchanged it writes nothing and never calls the model, so the model is
not loaded. `SearchIndex.top` is an exact search: one matrix-vector product over the memory-mapped
float32 matrix of L2-normalised rows, then a partial sort.
"""

# Concurrency contract:
# - `refresh` runs on the event loop; file reads, chunking, the store's reads and writes run in worker
#   threads, the model's encoding in the batcher's thread. The folder's lock (store.locked) is held
#   throughout, across processes.
# - A SearchIndex is immutable once built; `top` may run in any thread.

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from webmcp.errors import count
from webmcp.models.batcher import Overloaded
from webmcp.search import corpus, store
from webmcp.search.chunking import chunk

if TYPE_CHECKING:
    from webmcp.config.models import ModelSpec
    from webmcp.models.model import Model

log = logging.getLogger(__name__)

EMBED_SLICE = 64  # chunks sent to the model per call: progress is reported between them
Progress = Callable[[int, int], None]  # (chunks embedded so far, chunks to embed)


@dataclass(frozen=True, slots=True)
class Settings:
    """What one index is built from."""

    owner: str  # "tool 'notes'", for logs
    base_dir: Path
    files: tuple[str, ...]  # globs relative to base_dir
    folder: Path  # where the index lives
    max_chars: int
    overlap: int


@dataclass(frozen=True, slots=True)
class Summary:
    files: int
    chunks: int
    embedded_files: int
    embedded_chunks: int
    reused_files: int
    reused_chunks: int
    skipped: tuple[tuple[str, str], ...]
    seconds: float
    wrote: bool  # a new generation was written

    def line(self) -> str:
        return (f"{count(self.files, 'file')}, {count(self.chunks, 'chunk')}; embedded now "
                f"{count(self.embedded_chunks, 'chunk')} of {count(self.embedded_files, 'file')}, reused "
                f"{count(self.reused_chunks, 'chunk')} of {count(self.reused_files, 'file')}; "
                f"{len(self.skipped)} skipped; {self.seconds:.2f} s")


@dataclass(frozen=True, slots=True)
class Hit:
    file: str
    line: int
    text: str
    score: float


@dataclass(frozen=True, slots=True)
class SearchIndex:
    vectors: store.Vectors  # (rows, dimensions), memory-mapped
    chunks: list[tuple[int, str]]
    row_files: list[str] = field(repr=False)  # the file of each row

    @classmethod
    def of(cls, stored: store.Stored) -> SearchIndex:
        row_files = [path for path, rows in stored.files.items() for _ in range(rows.count)]
        return cls(stored.vectors, stored.chunks, row_files)

    @property
    def rows(self) -> int:
        return len(self.chunks)

    def top(self, query: Sequence[float], k: int) -> list[Hit]:
        """The k rows most similar to `query` (any length-`dimensions` vector), best first."""
        return [Hit(self.row_files[row], self.chunks[row][0], self.chunks[row][1], score)
                for row, score in top_rows(self.vectors, query, k)]


def top_rows(vectors: store.Vectors, query: Sequence[float], k: int) -> list[tuple[int, float]]:
    """Exact cosine top-k over L2-normalised rows: (row, score) best first, ties by row."""
    rows = vectors.shape[0]
    k = min(k, rows)
    if k <= 0:
        return []
    q = np.asarray(query, dtype=np.float32)
    norm = float(np.linalg.norm(q))
    if norm > 0:
        q = q / norm
    scores = vectors @ q
    best = np.argpartition(-scores, k - 1)[:k] if k < rows else np.arange(rows)
    ordered = sorted(best.tolist(), key=lambda r: (-float(scores[r]), r))
    return [(r, float(scores[r])) for r in ordered]


def model_identity(spec: ModelSpec) -> dict[str, Any]:
    """What decides a model's vectors: its folder (and the size and time of each file in it), backend and
    dtype. Device, threads and batching do not change the vectors (beyond float noise)."""
    files = []
    for root, dirs, names in os.walk(spec.path):
        dirs.sort()
        for name in sorted(names):
            path = os.path.join(root, name)
            try:
                st = os.stat(path)
            except OSError:
                continue
            files.append([os.path.relpath(path, spec.path), st.st_size, st.st_mtime_ns])
    return {"path": spec.path, "backend": spec.backend, "dtype": spec.dtype, "files": files}


async def refresh(settings: Settings, model: Model, progress: Progress | None = None) -> tuple[SearchIndex, Summary]:
    """Bring the index up to date with the corpus; see the module docstring."""
    started = time.perf_counter()
    key = {"model": await asyncio.to_thread(model_identity, model.spec),
           "chunking": {"max_chars": settings.max_chars, "overlap": settings.overlap}}
    async with store.locked(settings.folder):
        old = await asyncio.to_thread(_open_old, settings, key)
        found = await asyncio.to_thread(corpus.read, settings.base_dir, settings.files, settings.owner)
        kept = {f.path: old.files[f.path] for f in found.files
                if old is not None and f.path in old.files and old.files[f.path].sha256 == f.sha256}
        if old is not None and len(kept) == len(found.files) == len(old.files) and list(kept) == list(old.files):
            rows = sum(r.count for r in kept.values())
            return SearchIndex.of(old), Summary(len(kept), rows, 0, 0, len(kept), rows, tuple(found.skipped),
                                                time.perf_counter() - started, False)
        changed = [f for f in found.files if f.path not in kept]
        fresh = await asyncio.to_thread(
            lambda: {f.path: chunk(f.text, settings.max_chars, settings.overlap, corpus.is_markdown(f.path))
                     for f in changed})
        texts = [c.text for f in changed for c in fresh[f.path]]
        vectors = await _embed(model, texts, progress)
        stored = await asyncio.to_thread(_assemble_and_write, settings, key, found, old, kept, fresh, vectors)
    reused = sum(r.count for r in kept.values())
    return SearchIndex.of(stored), Summary(len(found.files), stored.vectors.shape[0], len(changed), len(texts),
                                           len(kept), reused, tuple(found.skipped), time.perf_counter() - started,
                                           True)


def _open_old(settings: Settings, key: dict[str, Any]) -> store.Stored | None:
    try:
        old = store.open_stored(settings.folder)
    except store.Corrupt as exc:
        log.warning("%s: the index in %s is corrupt (%s); rebuilding it", settings.owner, settings.folder, exc)
        return None
    if old is not None and old.key != key:
        what = "model" if old.key.get("model") != key["model"] else "chunking"
        log.info("%s: the %s changed since the index was built; embedding every file again", settings.owner, what)
        return None
    return old


async def _embed(model: Model, texts: list[str], progress: Progress | None) -> store.Vectors:
    """L2-normalised float32 rows of `texts`, through the model's batcher, a slice at a time (the batcher
    refuses more than its queue holds; calls being served share it meanwhile)."""
    size = max(1, min(EMBED_SLICE, model.spec.batch.max_queue // 2))
    rows: list[list[float]] = []
    if progress is not None:
        progress(0, len(texts))
    for i in range(0, len(texts), size):
        part = texts[i:i + size]
        for attempt in range(200):  # a full queue (live calls during a reload): wait for room, up to ~20 s
            try:
                rows.extend((await model.embed(part)).vectors)
                break
            except Overloaded:
                if attempt == 199:
                    raise
                await asyncio.sleep(0.1)
        if progress is not None:
            progress(len(rows), len(texts))
    if not rows:
        return np.zeros((0, model.dimensions), dtype=np.float32)
    matrix = np.asarray(rows, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    normalized: store.Vectors = (matrix / np.where(norms > 0, norms, 1)).astype(np.float32)
    return normalized


def _assemble_and_write(settings: Settings, key: dict[str, Any], found: corpus.Corpus, old: store.Stored | None,
                        kept: dict[str, store.FileRows], fresh: dict[str, list[Any]],
                        vectors: store.Vectors) -> store.Stored:
    """The new matrix, files and chunks in corpus order (kept rows copied from the old matrix), written."""
    dimensions = vectors.shape[1] if vectors.shape[0] else (old.vectors.shape[1] if old is not None else 0)
    parts: list[store.Vectors] = []
    files: dict[str, store.FileRows] = {}
    chunks: list[tuple[int, str]] = []
    at = new_at = 0
    for f in found.files:
        if f.path in kept:
            assert old is not None
            rows = kept[f.path]
            parts.append(np.asarray(old.vectors[rows.first:rows.first + rows.count]))
            chunks.extend(old.chunks[rows.first:rows.first + rows.count])
            count = rows.count
        else:
            count = len(fresh[f.path])
            parts.append(vectors[new_at:new_at + count])
            chunks.extend((c.line, c.text) for c in fresh[f.path])
            new_at += count
        files[f.path] = store.FileRows(f.sha256, at, count)
        at += count
    matrix = np.concatenate(parts) if parts and dimensions else np.zeros((at, dimensions), dtype=np.float32)
    return store.write(settings.folder, key, files, matrix.reshape(at, dimensions), chunks)

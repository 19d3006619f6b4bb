"""bench/startup.py, the start-up benchmark against peerbench's minimal server, still runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PEERBENCH = Path(os.environ.get("PEERBENCH", REPO.parent / "shared" / "peerbench"))


@pytest.mark.skipif(not (PEERBENCH / "servers" / "minimal_stdio.py").exists(), reason="no peerbench next to the repo")
def test_startup_benchmark_measures_webmcp_and_minimal() -> None:
    """One rep with --json: webmcp and the minimal server both answer, with positive times and peak RSS."""
    done = subprocess.run([sys.executable, str(REPO / "bench" / "startup.py"), "--reps", "1", "--json"],
                          capture_output=True, text=True, timeout=120, cwd=REPO)
    assert done.returncode == 0, done.stdout + done.stderr
    targets = json.loads(done.stdout)["targets"]
    for name in ("webmcp", "minimal"):
        row = targets[name]
        assert row["min_ms"] > 0 and row["median_ms"] > 0 and row["max_ms"] >= row["median_ms"], row
        assert row["peak_rss_mb"] > 0, row
    assert targets["webmcp"]["x_minimal_ms"] > 0 and targets["webmcp"]["x_minimal_rss"] > 0

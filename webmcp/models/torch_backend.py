"""The `torch` backend: a sentence-transformers model on PyTorch (cpu, mps or cuda), from a local folder.

Imported only when a config's model uses it: torch and sentence-transformers take seconds to import.
Hub access is off (`HF_HUB_OFFLINE`, `local_files_only`): nothing is downloaded at run time. `encode`
runs in the batcher's worker thread and truncates every input at the model's `max_seq_length`, as
`token_lengths` (called on the event loop, untruncated) lets the batcher know beforehand.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Any

from webmcp.config.models import ModelSpec

log = logging.getLogger(__name__)


class TorchEncoder:
    __slots__ = ("_model", "_tokenizer", "dimensions", "max_seq_length", "name")

    def __init__(self, spec: ModelSpec) -> None:
        """Load the model (blocking: seconds; call it off the event loop)."""
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        import torch
        import transformers
        from sentence_transformers import SentenceTransformer

        hf_logging: Any = transformers.logging
        hf_logging.set_verbosity_error()  # no per-call "sequence longer than" warnings: we truncate
        hf_logging.disable_progress_bar()
        if spec.threads is not None:
            torch.set_num_threads(spec.threads)
        device = None if spec.device == "auto" else spec.device  # auto: cuda, else mps, else cpu
        self._model: Any = SentenceTransformer(spec.path, device=device, local_files_only=True)
        if spec.dtype != "float32":
            self._model.to(getattr(torch, spec.dtype))
        # A tokenizer of its own for counting on the event loop: the model's is used by `encode` in the worker
        # thread, and a Hugging Face tokenizer call sets truncation and padding state on it while it runs.
        from tokenizers import Tokenizer

        self._tokenizer: Any = Tokenizer.from_str(self._model.tokenizer.backend_tokenizer.to_str())
        self._tokenizer.no_truncation()
        self._tokenizer.no_padding()
        self.name = spec.name
        self.max_seq_length: int = int(self._model.max_seq_length or 512)
        dimension_of = getattr(self._model, "get_embedding_dimension", None) or \
            self._model.get_sentence_embedding_dimension  # renamed in sentence-transformers 6
        dimensions = dimension_of()
        self.dimensions: int = int(dimensions) if dimensions is not None else 0
        log.info("model %r on %s (%s), %d dimensions, max %d tokens", spec.name, self._model.device, spec.dtype,
                 self.dimensions, self.max_seq_length)

    def token_lengths(self, texts: Sequence[str]) -> list[int]:
        return [len(encoding.ids) for encoding in self._tokenizer.encode_batch(list(texts), add_special_tokens=True)]

    def encode(self, texts: Sequence[str]) -> list[list[float]]:
        vectors = self._model.encode(list(texts), batch_size=max(1, len(texts)), convert_to_numpy=True,
                                     normalize_embeddings=False, show_progress_bar=False)
        rows: list[list[float]] = vectors.astype("float32").tolist()
        return rows

"""The `torch` backend: a sentence-transformers model on PyTorch (cpu, mps or cuda), from a local folder.

Imported only when a config's model uses it: torch and sentence-transformers take seconds to import.
Hub access is off (`HF_HUB_OFFLINE`, `local_files_only`): nothing is downloaded at run time. `encode`
runs in the batcher's worker thread and truncates every input at the model's `max_seq_length`, as
`token_lengths` (called on the event loop, untruncated) lets the batcher know beforehand.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Sequence
from typing import Any

from webmcp.config.models import ModelSpec

log = logging.getLogger(__name__)


class TorchEncoder:
    __slots__ = ("_model", "_tokenizer", "dimensions", "dtype", "max_seq_length", "name")

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
        torch.set_num_threads(spec.threads)
        device = None if spec.device == "auto" else spec.device  # auto: cuda, else mps, else cpu
        self._model: Any = SentenceTransformer(spec.path, device=device, local_files_only=True)
        if spec.pad_to_multiple_of > 1:
            _pad_to_multiple_of(self._model, spec.pad_to_multiple_of)
        self.dtype = _dtype(spec, self._model.device.type)
        if self.dtype != "float32":
            self._to_half_precision(spec, getattr(torch, self.dtype))
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
        log.info("model %r on %s (%s), %d dimensions, max %d tokens, torch threads %d", spec.name,
                 self._model.device, self.dtype, self.dimensions, self.max_seq_length, torch.get_num_threads())

    def token_lengths(self, texts: Sequence[str]) -> list[int]:
        return [len(encoding.ids) for encoding in self._tokenizer.encode_batch(list(texts), add_special_tokens=True)]

    def encode(self, texts: Sequence[str]) -> list[list[float]]:
        vectors = self._model.encode(list(texts), batch_size=max(1, len(texts)), convert_to_numpy=True,
                                     normalize_embeddings=False, show_progress_bar=False)
        rows: list[list[float]] = vectors.astype("float32").tolist()
        return rows

    def _to_half_precision(self, spec: ModelSpec, dtype: Any) -> None:
        """Cast to half precision, unless its vectors drift from float32's on fixed texts (min cosine below
        `half_precision_check`): then the model is read again in float32, with a warning."""
        check = spec.half_precision_check
        reference = self.encode(PARITY_TEXTS) if check is not None else []
        self._model.to(dtype)
        if check is None:
            return
        worst = min(_cosine(a, b) for a, b in zip(reference, self.encode(PARITY_TEXTS), strict=True))
        if worst >= check:
            log.info("model %r: %s on %s matches float32 (min cosine %.6f >= %s)", spec.name, self.dtype,
                     self._model.device, worst, check)
            return
        log.warning("model %r: %s on %s drifts from float32 (min cosine %.6f < half_precision_check %s); "
                    "running float32", spec.name, self.dtype, self._model.device, worst, check)
        from sentence_transformers import SentenceTransformer

        device = self._model.device
        self._model = SentenceTransformer(spec.path, device=str(device), local_files_only=True)
        if spec.pad_to_multiple_of > 1:
            _pad_to_multiple_of(self._model, spec.pad_to_multiple_of)
        self.dtype = "float32"


# The parity check's texts: short and long, several languages, code, and one past any model's token limit.
PARITY_TEXTS = [
    "A man is eating food.", "A man is eating a piece of bread.", "The girl is carrying a baby.",
    "A monkey is playing drums.", "Der schnelle braune Fuchs springt über den faulen Hund.",
    "Le chat dort sur le canapé depuis ce matin.", "def add(a, b):\n    return a + b",
    "SELECT name, count(*) FROM users GROUP BY name ORDER BY 2 DESC;", "42", "?",
    "Embedding models map text to vectors whose cosine similarity reflects meaning. " * 3,
    " ".join(f"token{i}" for i in range(600)),
]


def _dtype(spec: ModelSpec, device: str) -> str:
    """`auto`: half precision on a GPU, float32 on a CPU (half precision is several times slower there)."""
    if spec.dtype != "auto":
        return spec.dtype
    return "float16" if device in ("cuda", "mps") else "float32"


def _pad_to_multiple_of(model: Any, multiple: int) -> None:
    """Pad every batch's length up to a multiple (sentence-transformers' text processing arguments)."""
    first = model[0]
    kwargs = dict(getattr(first, "processing_kwargs", None) or {})
    kwargs["text"] = {**(kwargs.get("text") or {}), "pad_to_multiple_of": multiple}
    first.processing_kwargs = kwargs


def _cosine(a: Sequence[float], b: Sequence[float]) -> float:
    dot = math.fsum(x * y for x, y in zip(a, b, strict=True))
    norms = math.sqrt(math.fsum(x * x for x in a)) * math.sqrt(math.fsum(y * y for y in b))
    return dot / norms if norms else 0.0

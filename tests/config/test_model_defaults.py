"""`model_defaults:` and the hardware profiles that set it: what each `models:` entry ends up with, and where
each setting came from (injected machine readings pick the profile)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.config.test_machine import M4_PRO
from webmcp.config.effective import environment, model_settings
from webmcp.config.machine import from_readings
from webmcp.config.spec import ConfigSpec
from webmcp.errors import ConfigError
from webmcp.kinds.imports import load

LINUX = from_readings({"system": "Linux", "machine": "x86_64", "usable_cpus": 3, "cuda_devices": 0}, "test")
CUDA = from_readings({"system": "Linux", "machine": "x86_64", "usable_cpus": 16, "cuda_devices": 1}, "test")
MAC = from_readings(M4_PRO, "test")


def load_text(tmp_path: Path, text: str, machine: object = LINUX) -> ConfigSpec:
    (tmp_path / "model").mkdir(exist_ok=True)
    path = tmp_path / "webmcp.yaml"
    path.write_text(text)
    return load(path, machine=machine)  # type: ignore[arg-type]


ONE_MODEL = "version: 1\nmodels:\n  m: {path: model}\n"


def test_apple_silicon_profile_tunes_a_model_for_mps(tmp_path: Path) -> None:
    spec = load_text(tmp_path, ONE_MODEL, MAC)
    m = spec.models["m"]
    assert spec.profile == "apple-silicon"
    assert (m.device, m.dtype, m.threads, m.pad_to_multiple_of, m.half_precision_check) == ("auto", "auto", 10, 8,
                                                                                          0.999)
    assert (m.batch.max_batch_size, m.batch.max_batch_tokens, m.batch.max_wait) == (64, 8192, 0.0)
    env = dict(m.env)
    assert env["PYTORCH_ENABLE_MPS_FALLBACK"] == "1" and env["TOKENIZERS_PARALLELISM"] == "false"
    assert float(env["PYTORCH_MPS_LOW_WATERMARK_RATIO"]) < float(env["PYTORCH_MPS_HIGH_WATERMARK_RATIO"])


def test_linux_cpu_profile_keeps_float32_and_small_batches(tmp_path: Path) -> None:
    m = load_text(tmp_path, ONE_MODEL).models["m"]
    assert (m.device, m.dtype, m.threads, m.pad_to_multiple_of) == ("cpu", "float32", 3, 1)
    assert (m.batch.max_batch_size, m.batch.max_batch_tokens) == (32, 2048)
    assert dict(m.env) == {"TOKENIZERS_PARALLELISM": "false"}


def test_cuda_profile_uses_half_precision_and_a_large_token_budget(tmp_path: Path) -> None:
    spec = load_text(tmp_path, ONE_MODEL, CUDA)
    m = spec.models["m"]
    assert spec.profile == "cuda"
    assert (m.dtype, m.batch.max_batch_size, m.batch.max_batch_tokens, m.batch.max_queue) == ("auto", 128, 16384,
                                                                                              4096)


def test_the_entry_beats_the_file_defaults_which_beat_the_profile(tmp_path: Path) -> None:
    """Each setting says which layer it came from."""
    spec = load_text(tmp_path, """version: 1
model_defaults:
  batch: {max_batch_tokens: 4096}
  env: {PYTORCH_ENABLE_MPS_FALLBACK: "0"}
models:
  m: {path: model, threads: 2, batch: {max_batch_size: 8}}
""", MAC)
    m = spec.models["m"]
    assert (m.threads, m.batch.max_batch_size, m.batch.max_batch_tokens) == (2, 8, 4096)
    assert spec.origins is not None
    rows = {r.key: r for r in model_settings(m, spec.origins, spec)}
    assert (rows["models.m.threads"].layer, rows["models.m.threads"].source) == ("file", f"{tmp_path}/webmcp.yaml:6")
    assert rows["models.m.batch.max_batch_size"].layer == "file"
    assert rows["models.m.batch.max_batch_tokens"].source == f"{tmp_path}/webmcp.yaml:3"
    assert rows["models.m.batch.max_wait"].source.startswith("profile apple-silicon:")
    assert (rows["models.m.backend"].layer, rows["models.m.backend"].value) == ("default", "torch")
    variables = {v.name: v for v in environment(spec, {"TOKENIZERS_PARALLELISM": "true"})}
    assert variables["PYTORCH_ENABLE_MPS_FALLBACK"].value == "0"
    assert variables["PYTORCH_ENABLE_MPS_FALLBACK"].layer == "file"
    assert variables["TOKENIZERS_PARALLELISM"].status == "kept from the environment: true"


def test_a_profiles_half_precision_does_not_apply_to_onnx_but_an_entrys_is_an_error(tmp_path: Path) -> None:
    m = load_text(tmp_path, "version: 1\nmodels:\n  m: {path: model, backend: onnx}\n", MAC).models["m"]
    assert m.dtype == "float32"
    with pytest.raises(ConfigError) as caught:
        load_text(tmp_path, "version: 1\nmodels:\n  m: {path: model, backend: onnx, dtype: float16}\n", MAC)
    assert "models.m.dtype: the onnx backend runs float32 only" in str(caught.value)


def test_bad_model_defaults_are_located_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_text(tmp_path, ONE_MODEL + "model_defaults:\n  pad_to_multiple_of: 0\n  path: x\n")
    text = str(caught.value)
    assert "webmcp.yaml:5:3: model_defaults.pad_to_multiple_of" in text
    assert "model_defaults.path: unknown key" in text

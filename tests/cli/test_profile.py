"""`webmcp profile`: the machine, the chosen profile, every effective setting and its layer. Machines other than
this one come from injected readings (--machine, WEBMCP_MACHINE)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.config.test_machine import M4_PRO
from webmcp.cli import main


@pytest.fixture
def config(tmp_path: Path) -> Path:
    (tmp_path / "model").mkdir()
    path = tmp_path / "webmcp.yaml"
    path.write_text("version: 1\nexecutor:\n  max_concurrency: 64\nmodels:\n  m: {path: model, preload: true}\n")
    return path


@pytest.fixture
def mac(tmp_path: Path) -> Path:
    readings = tmp_path / "mac.json"
    readings.write_text(json.dumps(M4_PRO))
    return readings


def report(config: Path, *args: str, env: dict[str, str] | None = None) -> dict:
    result = CliRunner().invoke(main, ["profile", "-c", str(config), "--format", "json", *args], env=env)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_json_report_on_an_injected_mac(config: Path, mac: Path) -> None:
    out = report(config, "--machine", str(mac), env={"PYTORCH_ENABLE_MPS_FALLBACK": "0"})
    assert out["machine"]["performance_cores"] == 10 and out["machine"]["source"] == str(mac)
    assert out["profile"] == {"name": "apple-silicon", "reason": "macOS on Apple Silicon, native arm64"}
    rows = {r["key"]: r for r in out["settings"]}
    assert rows["models.m.threads"]["value"] == 10
    assert rows["models.m.threads"]["note"] == "auto: the 10 performance cores"
    assert rows["models.m.dtype"]["layer"] == "profile" and rows["models.m.dtype"]["value"] == "auto"
    assert rows["models.m.preload"] == {"key": "models.m.preload", "value": True, "layer": "file",
                                        "source": f"{config}:5"}
    assert rows["executor.max_concurrency"]["layer"] == "file"
    assert rows["executor.queue_limit"] == {"key": "executor.queue_limit", "value": 1000, "layer": "default",
                                            "source": "default"}
    assert rows["executor.threads"]["source"].startswith("profile apple-silicon:")
    env = {v["name"]: v for v in out["environment"]}
    assert env["PYTORCH_ENABLE_MPS_FALLBACK"]["status"] == "kept from the environment: 0"
    assert env["PYTORCH_MPS_HIGH_WATERMARK_RATIO"]["status"] == "set at model load"


def test_the_profile_from_a_flag_and_from_the_environment(config: Path, mac: Path) -> None:
    """--profile and WEBMCP_PROFILE are layers of their own; WEBMCP_MACHINE injects readings too."""
    flagged = report(config, "--profile", "cuda", env={"WEBMCP_MACHINE": str(mac)})
    assert flagged["profile"] == {"name": "cuda", "reason": "named by --profile"}
    assert {r["key"]: r for r in flagged["settings"]}["models.m.batch.max_batch_tokens"]["value"] == 16384
    from_env = report(config, env={"WEBMCP_PROFILE": "none", "WEBMCP_MACHINE": str(mac)})
    assert from_env["profile"]["reason"] == "named by env WEBMCP_PROFILE"
    rows = {r["key"]: r for r in from_env["settings"]}
    assert rows["models.m.batch.max_batch_tokens"] == {"key": "models.m.batch.max_batch_tokens", "value": 2048,
                                                       "layer": "default", "source": "default"}


def test_text_report(config: Path, mac: Path) -> None:
    result = CliRunner().invoke(main, ["profile", "-c", str(config), "--machine", str(mac)],
                                env={"TOKENIZERS_PARALLELISM": None})
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == (f"machine ({mac}): Darwin arm64, Apple Silicon, 14 logical CPUs, 14 usable, "
                        "10 performance + 4 efficiency cores, 48.0 GiB memory, no NVIDIA GPU")
    assert lines[1] == "profile: apple-silicon (macOS on Apple Silicon, native arm64)"
    threads = next(line for line in lines if line.startswith("models.m.threads "))
    assert threads.split()[1:5] == ["10", "profile", threads.split()[3], "auto:"]
    assert any(line.startswith("models.m.preload ") and f"file {config}:5" in line for line in lines)
    assert any(line.startswith("TOKENIZERS_PARALLELISM ") and line.endswith("set at model load") for line in lines)


def test_rosetta_is_reported(config: Path, tmp_path: Path) -> None:
    readings = tmp_path / "rosetta.json"
    readings.write_text(json.dumps({**M4_PRO, "machine": "x86_64", "rosetta": True}))
    out = report(config, "--machine", str(readings))
    assert out["profile"]["name"] == "none" and "Rosetta" in out["profile"]["reason"]


def test_bad_readings_exit_with_a_config_error(config: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("[1]")
    result = CliRunner().invoke(main, ["profile", "-c", str(config), "--machine", str(bad)])
    assert result.exit_code == 3
    assert "--machine: not machine readings" in result.output

"""Machine detection and the profile `auto` picks, with injected machine readings: the Apple Silicon (native and
under Rosetta), Intel Mac and CUDA paths run here on a Linux CPU machine."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from webmcp.config import machine as machine_module
from webmcp.config.machine import Machine, choose_profile, current, from_readings

M4_PRO = {"system": "Darwin", "machine": "arm64", "logical_cpus": 14, "usable_cpus": 14,
          "memory_bytes": 48 * 2**30, "apple_silicon": True, "rosetta": False, "performance_cores": 10,
          "efficiency_cores": 4, "cuda_devices": 0}


def mac(**changes: object) -> Machine:
    return from_readings({**M4_PRO, **changes}, "test")


def test_native_apple_silicon_gets_its_profile_and_threads_from_the_performance_cores() -> None:
    m = mac()
    assert choose_profile(m) == ("apple-silicon", "macOS on Apple Silicon, native arm64")
    assert m.model_threads == 10


def test_rosetta_gets_no_profile_and_a_reason_that_says_so() -> None:
    """An x86-64 Python on an M-series Mac: no MPS there; the reason tells the user what to do."""
    m = mac(machine="x86_64", rosetta=True)
    name, reason = choose_profile(m)
    assert name == "none"
    assert "Rosetta" in reason and "arm64 Python" in reason
    assert m.model_threads == 14  # not the performance cores: this process is not native


def test_an_intel_mac_gets_no_profile() -> None:
    m = mac(machine="x86_64", apple_silicon=False, performance_cores=None, efficiency_cores=None)
    assert choose_profile(m)[0] == "none"


@pytest.mark.parametrize(("gpus", "expected"), [(0, "linux-cpu"), (2, "cuda")])
def test_linux_gets_the_cpu_or_the_cuda_profile(gpus: int, expected: str) -> None:
    m = from_readings({"system": "Linux", "machine": "x86_64", "usable_cpus": 6, "cuda_devices": gpus}, "test")
    assert choose_profile(m)[0] == expected
    assert m.model_threads == 6


def test_the_macos_probe_reads_the_sysctls(monkeypatch: pytest.MonkeyPatch) -> None:
    """The Darwin branch of the probe, with sysctl answers injected (there is no Mac here)."""
    answers = {"hw.optional.arm64": 1, "sysctl.proc_translated": 0, "hw.perflevel0.physicalcpu": 8,
               "hw.perflevel1.physicalcpu": 4, "hw.memsize": 24 * 2**30}
    monkeypatch.setattr(machine_module.platform, "system", lambda: "Darwin")
    monkeypatch.setattr(machine_module.platform, "machine", lambda: "arm64")
    monkeypatch.setattr(machine_module, "_sysctl_int", answers.get)
    m = machine_module.probe()
    assert (m.apple_silicon, m.rosetta, m.performance_cores, m.efficiency_cores) == (True, False, 8, 4)
    assert m.memory_bytes == 24 * 2**30
    assert choose_profile(m)[0] == "apple-silicon" and m.model_threads == 8
    answers["sysctl.proc_translated"] = 1
    monkeypatch.setattr(machine_module.platform, "machine", lambda: "x86_64")
    assert choose_profile(machine_module.probe())[0] == "none"


def test_the_linux_probe_reads_this_machine(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    m = machine_module.probe()
    assert m.usable_cpus == len(os.sched_getaffinity(0))
    assert m.memory_bytes and m.memory_bytes > 2**28
    (tmp_path / "0000:01:00.0").mkdir()
    (tmp_path / "0000:02:00.0").mkdir()
    monkeypatch.setattr(machine_module, "NVIDIA_GPUS", tmp_path)
    assert machine_module.probe().cuda_devices == 2


def test_readings_come_from_the_file_webmcp_machine_names(tmp_path: Path) -> None:
    readings = tmp_path / "mac.json"
    readings.write_text(json.dumps(M4_PRO))
    m = current({"WEBMCP_MACHINE": str(readings)})
    assert m.native_apple_silicon and m.source == str(readings)
    assert current({}).source == "probed"


def test_bad_readings_are_a_clear_error(tmp_path: Path) -> None:
    from webmcp.errors import ConfigError

    bad = tmp_path / "bad.json"
    bad.write_text('{"cores": 4}')
    with pytest.raises(ConfigError) as caught:
        current({"WEBMCP_MACHINE": str(bad)})
    assert "not machine readings (got cores)" in str(caught.value)
    with pytest.raises(ConfigError) as caught:
        current({"WEBMCP_MACHINE": str(tmp_path / "missing.json")})
    assert "cannot read the machine readings" in str(caught.value)

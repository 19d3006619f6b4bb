"""The machine webmcp runs on, as `profile: auto` and the `auto` model settings read it.

Probed with the standard library only, in microseconds, without a subprocess and without importing torch:
- macOS: `sysctlbyname` through ctypes: `hw.optional.arm64` (1 on Apple Silicon, even for a process under
  Rosetta), `sysctl.proc_translated` (1 when this x86-64 process is translated by Rosetta), the
  performance and efficiency core counts (`hw.perflevel0/1.physicalcpu`), `hw.memsize`;
- Linux: the cores this process may use (`sched_getaffinity`), memory from `sysconf`, and an NVIDIA GPU
  from its kernel driver (`/proc/driver/nvidia/gpus/`).

`WEBMCP_MACHINE` names a JSON file of readings to use instead (the keys of `Machine`): to preview what a
config does on another machine (`webmcp profile --machine mac.json`), and how the tests drive the Apple
Silicon and CUDA paths on a Linux CPU machine.
"""

from __future__ import annotations

import os
import platform
import sys
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import orjson

from webmcp.errors import ConfigError, Problem

NVIDIA_GPUS = Path("/proc/driver/nvidia/gpus")


@dataclass(frozen=True, slots=True)
class Machine:
    system: str  # platform.system(): Darwin, Linux, Windows
    machine: str  # platform.machine() of this process: arm64, x86_64
    logical_cpus: int
    usable_cpus: int  # the cores this process may run on
    memory_bytes: int | None = None
    apple_silicon: bool = False  # the hardware, whatever this process's architecture
    rosetta: bool = False  # an x86-64 process translated on Apple Silicon: no MPS, slow
    performance_cores: int | None = None
    efficiency_cores: int | None = None
    cuda_devices: int = 0
    source: str = "probed"  # or the readings file

    @property
    def native_apple_silicon(self) -> bool:
        return self.apple_silicon and not self.rosetta and self.machine == "arm64"

    @property
    def model_threads(self) -> int:
        """What `threads: auto` means for a model: the performance cores on Apple Silicon (efficiency cores
        would be stragglers in evenly split work), else every core this process may use."""
        if self.native_apple_silicon and self.performance_cores:
            return self.performance_cores
        return max(1, self.usable_cpus)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def current(env: Mapping[str, str] | None = None) -> Machine:
    """This machine, or the readings in the file `WEBMCP_MACHINE` names."""
    env = os.environ if env is None else env
    readings = env.get("WEBMCP_MACHINE")
    return from_file(readings, "env WEBMCP_MACHINE") if readings else probe()


def from_file(path: str, label: str) -> Machine:
    try:
        data = orjson.loads(Path(path).read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise ConfigError([Problem(label, None, None, "", "cannot read the machine readings", f'"{path}"',
                                   f"a JSON object with some of: {', '.join(_keys())}; {exc}")]) from None
    return from_readings(data, path, label)


def from_readings(data: Any, source: str, label: str = "machine readings") -> Machine:
    """A Machine from a mapping of readings; what is not given is taken from this machine."""
    unknown = sorted(set(data) - set(_keys())) if isinstance(data, dict) else []
    if not isinstance(data, dict) or unknown:
        raise ConfigError([Problem(label, None, None, "", "not machine readings", ", ".join(unknown) or None,
                                   f"a JSON object with some of: {', '.join(_keys())}")])
    probed = probe().as_dict()
    return Machine(**{**probed, **data, "source": source})


def _keys() -> list[str]:
    return [f.name for f in fields(Machine) if f.name != "source"]


def probe() -> Machine:
    system, arch = platform.system(), platform.machine()
    logical = os.cpu_count() or 1
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else logical
    if system == "Darwin":
        return Machine(
            system, arch, logical, usable,
            memory_bytes=_sysctl_int("hw.memsize"),
            apple_silicon=_sysctl_int("hw.optional.arm64") == 1,
            rosetta=_sysctl_int("sysctl.proc_translated") == 1,
            performance_cores=_sysctl_int("hw.perflevel0.physicalcpu"),
            efficiency_cores=_sysctl_int("hw.perflevel1.physicalcpu"),
        )
    return Machine(system, arch, logical, usable, memory_bytes=_physical_memory(), cuda_devices=_nvidia_gpus())


def _physical_memory() -> int | None:
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def _nvidia_gpus() -> int:
    """GPUs the NVIDIA kernel driver lists (the driver is there before any CUDA library is loaded)."""
    try:
        return sum(1 for _ in NVIDIA_GPUS.iterdir())
    except OSError:
        return 0


def _sysctl_int(name: str) -> int | None:
    """An integer sysctl on macOS; None where it does not exist (hw.perflevel* on Intel Macs)."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        value = ctypes.c_int64(0)
        size = ctypes.c_size_t(ctypes.sizeof(value))
        if libc.sysctlbyname(name.encode(), ctypes.byref(value), ctypes.byref(size), None, ctypes.c_size_t(0)) != 0:
            return None
        return int.from_bytes(ctypes.string_at(ctypes.byref(value), size.value), sys.byteorder, signed=True)
    except (OSError, AttributeError):
        return None


def choose_profile(machine: Machine) -> tuple[str, str]:
    """What `profile: auto` picks on `machine`, and why."""
    if machine.system == "Darwin" and machine.apple_silicon:
        if machine.rosetta or machine.machine != "arm64":
            return "none", ("Apple Silicon, but this Python is x86-64 under Rosetta: no MPS, and slow; "
                            "install an arm64 Python to get the apple-silicon profile")
        return "apple-silicon", "macOS on Apple Silicon, native arm64"
    if machine.system == "Linux" and machine.cuda_devices:
        return "cuda", f"Linux with {machine.cuda_devices} NVIDIA GPU(s)"
    if machine.system == "Linux":
        return "linux-cpu", "Linux, no NVIDIA GPU"
    return "none", f"no profile for {machine.system} {machine.machine}"

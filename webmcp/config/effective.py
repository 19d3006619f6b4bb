"""What `webmcp profile` reports: every effective setting of a loaded config and the layer it came from
(default, profile, file, environment, flag), with the `auto` values resolved for the machine.

Settings are the server's and executor's (each field of their Specs, default or not), every value written
under `scaling`, `telemetry` and `model_defaults`, everything the profile or a flag set, and each model's
settings as its entry, `model_defaults` and the built-in defaults make them. The environment lists the
variables set before a model backend is imported, and whether the process's own value wins.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields, is_dataclass, replace
from typing import Any

from webmcp.config.interpolate import conceal_text
from webmcp.config.layers import Origins
from webmcp.config.marked_yaml import Path, dotted
from webmcp.config.models import ModelSpec
from webmcp.config.spec import ConfigSpec, RateLimitSpec

WRITTEN_SECTIONS = ("scaling", "telemetry", "model_defaults")
MODEL_KEYS = ("backend", "device", "dtype", "half_precision_check", "threads", "pad_to_multiple_of", "preload")
BATCH_KEYS = ("max_batch_size", "max_batch_tokens", "max_wait", "max_queue")


@dataclass(frozen=True, slots=True)
class Setting:
    key: str
    value: Any
    layer: str  # default, profile, file, environment, flag
    source: str  # "webmcp.yaml:12", "profile linux-cpu:7", "--port", "env WEBMCP_PORT", "default"
    note: str = ""  # how an `auto` was resolved

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "value": self.value, "layer": self.layer, "source": self.source,
                **({"note": self.note} if self.note else {})}


@dataclass(frozen=True, slots=True)
class Variable:
    name: str
    value: str  # what the config asks for
    layer: str
    source: str
    current: str | None  # the process environment's own value, which wins

    @property
    def status(self) -> str:
        if self.current is None:
            return "set at model load"
        return "already set, kept" if self.current == self.value else f"kept from the environment: {self.current}"

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "value": self.value, "layer": self.layer, "source": self.source,
                "environment": self.current, "status": self.status}


def settings(spec: ConfigSpec) -> list[Setting]:
    origins = spec.origins
    if origins is None:
        return []
    out: dict[str, Setting] = {}
    for section, value in (("server", spec.server), ("executor", spec.executor)):
        for path, leaf in _fields(value, (section,)):
            out[dotted(path)] = _setting(path, leaf, origins)
    auto_notes = _auto_notes(spec)
    written = [p for p in _leaves(spec.document) if p[0] in WRITTEN_SECTIONS or origins.layer(p)[0] != "file"]
    for path in written:
        if path[0] in ("models", "profile") or dotted(path) in out:
            continue
        out[dotted(path)] = _setting(path, _at(spec.document, path), origins)
    for key, note in auto_notes.items():
        if key in out and _at_or_none(spec.document, tuple(key.split("."))) in (None, "auto"):
            row = out[key]
            out[key] = Setting(key, row.value, row.layer, row.source, note)
    rows = list(out.values())
    for model in spec.models.values():
        rows += model_settings(model, origins, spec)
    return [replace(row, value=_hidden(row.value, spec.secrets)) for row in rows]


def model_settings(model: ModelSpec, origins: Origins, spec: ConfigSpec) -> list[Setting]:
    """Each setting of one model, from its entry, else model_defaults (file or profile), else the default."""
    values: dict[str, Any] = {key: getattr(model, key) for key in MODEL_KEYS}
    values.update({f"batch.{key}": getattr(model.batch, key) for key in BATCH_KEYS})
    rows = []
    for key, value in values.items():
        rel = tuple(key.split("."))
        path = ("models", model.name, *rel)
        layer, source = origins.layer(path)
        if layer == "default" or not _written(spec.document, path):
            layer, source = origins.layer(("model_defaults", *rel))
            if not _written(spec.document, ("model_defaults", *rel)):
                layer, source = "default", "default"
        rows.append(Setting(f"models.{model.name}.{key}", value, layer, source, _model_note(model, key, spec)))
    return rows


def environment(spec: ConfigSpec, env: Mapping[str, str] | None = None) -> list[Variable]:
    env = os.environ if env is None else env
    origins = spec.origins
    seen: dict[str, Variable] = {}
    for model in spec.models.values():
        for name, value in model.env:
            if name in seen or origins is None:
                continue
            path: Path = ("models", model.name, "env", name)
            if not _written(spec.document, path):
                path = ("model_defaults", "env", name)
            layer, source = origins.layer(path)
            current = env.get(name)
            seen[name] = Variable(name, _hidden(value, spec.secrets), layer, source,
                                  None if current is None else _hidden(current, spec.secrets))
    return list(seen.values())


def _hidden(value: Any, secrets: Mapping[str, str]) -> Any:
    """`value` with what came from the environment through `${VAR}` shown as that reference."""
    if isinstance(value, str):
        return conceal_text(value, secrets, whole=True)
    if isinstance(value, (list, tuple)):
        return type(value)(_hidden(v, secrets) for v in value)
    if isinstance(value, Mapping):
        return {k: _hidden(v, secrets) for k, v in value.items()}
    return value


def _setting(path: Path, value: Any, origins: Origins) -> Setting:
    layer, source = origins.layer(path)
    return Setting(dotted(path), value, layer, source)


def _fields(value: Any, path: Path) -> Iterator[tuple[Path, Any]]:
    for f in fields(value):
        leaf = getattr(value, f.name)
        if isinstance(leaf, RateLimitSpec):
            yield (*path, f.name), leaf.text
        elif is_dataclass(leaf):
            yield from _fields(leaf, (*path, f.name))
        elif f.name == "priorities":
            yield (*path, f.name), dict(leaf)
        else:
            yield (*path, f.name), list(leaf) if isinstance(leaf, tuple) else leaf


def _leaves(node: Any, path: Path = ()) -> Iterator[Path]:
    if isinstance(node, dict) and node and not (path and path[-1] == "priorities"):
        for key, child in node.items():
            yield from _leaves(child, (*path, str(key)))
    elif path:
        yield path


def _at(node: Any, path: Path) -> Any:
    for key in path:
        node = node[key]
    return node


def _written(document: Mapping[str, Any], path: Path) -> bool:
    node: Any = document
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return False
        node = node[key]
    return True


def _auto_notes(spec: ConfigSpec) -> dict[str, str]:
    cpus = os.cpu_count() or 1
    return {
        "executor.threads": f"auto: min(32, CPUs + 4) = {spec.executor.threads} ({cpus} CPUs)",
        "executor.processes": f"auto: one per CPU = {spec.executor.processes}",
        "model_defaults.threads": _threads_note(spec),
        "model_defaults.device": "auto: torch picks cuda, else mps, else cpu; onnx the CUDA, else CoreML, "
                                 "else CPU provider",
        "model_defaults.dtype": "auto: float16 on cuda or mps (after the parity check), float32 on cpu",
    }


def _threads_note(spec: ConfigSpec) -> str:
    machine = spec.machine
    if machine is None:
        return ""
    if machine.native_apple_silicon and machine.performance_cores:
        return f"auto: the {machine.performance_cores} performance cores"
    return f"auto: the {machine.usable_cpus} cores this process may use"


def _model_note(model: ModelSpec, key: str, spec: ConfigSpec) -> str:
    written = _at_or_none(spec.document, ("models", model.name, key))
    if written is None:
        written = _at_or_none(spec.document, ("model_defaults", key))
    if key == "threads" and written in (None, "auto"):
        return _threads_note(spec)
    if written == "auto" or (key in ("device", "dtype") and getattr(model, key) == "auto"):
        return _auto_notes(spec)[f"model_defaults.{key}"]
    return ""


def _at_or_none(document: Mapping[str, Any], path: Path) -> Any:
    return _at(document, path) if _written(document, path) else None

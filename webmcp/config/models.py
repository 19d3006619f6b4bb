"""Specs of embedding models (`models:` entries): where the model is, how to run it, how to batch it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from webmcp.config.marked_yaml import Path
from webmcp.config.spec import SpecContext, Where
from webmcp.config.units import parse_duration

if TYPE_CHECKING:
    from webmcp.config.machine import Machine

Backend = Literal["torch", "onnx"]
Device = Literal["auto", "cpu", "mps", "cuda"]
Dtype = Literal["auto", "float32", "float16", "bfloat16"]


@dataclass(frozen=True, slots=True)
class BatchSpec:
    """The model's micro-batcher: at most `max_batch_size` inputs and `max_batch_tokens` padded tokens a
    batch, no waiting unless `max_wait`, at most `max_queue` inputs waiting."""

    max_batch_size: int = 32
    max_batch_tokens: int = 2048
    max_wait: float = 0.0
    max_queue: int = 1024

    @classmethod
    def from_config(cls, node: Mapping[str, Any]) -> BatchSpec:
        return cls(node.get("max_batch_size", 32), node.get("max_batch_tokens", 2048),
                   parse_duration(node.get("max_wait", "0ms")), node.get("max_queue", 1024))


@dataclass(frozen=True, slots=True)
class ModelSpec:
    name: str
    path: str  # absolute: a sentence-transformers directory (with onnx/model.onnx for the onnx backend)
    backend: Backend
    device: Device
    dtype: Dtype  # auto: float16 on a GPU (after the parity check), float32 on a CPU
    threads: int  # the backend's intra-op threads (`auto` resolved from the machine)
    preload: bool
    batch: BatchSpec
    pad_to_multiple_of: int  # 1: pad a batch to its longest input; 8: to a multiple of 8 (fewer shapes)
    half_precision_check: float | None  # half precision only if its min cosine to float32 reaches this
    env: tuple[tuple[str, str], ...]  # set before the backend is imported, where not set already
    where: Where = field(compare=False)  # an entry that only moved in the file is the same model
    path_where: Where = field(compare=False)  # its `path` key, where a folder that is no model is reported

    @classmethod
    def from_config(cls, name: str, node: Mapping[str, Any], path: Path, ctx: SpecContext,
                    defaults: Mapping[str, Any], machine: Machine) -> ModelSpec:
        """`node` is the `models:` entry; a key it leaves out comes from `defaults` (`model_defaults:`, which
        hardware profiles set), else from the built-in default."""

        def setting(key: str, default: Any) -> Any:
            return node.get(key, defaults.get(key, default))

        threads = setting("threads", "auto")
        if threads == "auto":
            threads = machine.model_threads
        backend = node.get("backend", defaults.get("backend", "torch"))
        dtype = setting("dtype", "float32")
        if backend == "onnx" and dtype != "float32":
            if node.get("dtype", "auto") != "auto":
                ctx.problem((*path, "dtype"), "the onnx backend runs float32 only", f'"{dtype}"',
                            "leave dtype out, or use backend: torch for half precision")
            dtype = "float32"  # auto, or a profile's half precision, which is for the torch backend
        check = setting("half_precision_check", 0.999)
        batch = {**(defaults.get("batch") or {}), **(node.get("batch") or {})}
        env = {**(defaults.get("env") or {}), **(node.get("env") or {})}
        return cls(
            name=name,
            path=str((ctx.base_dir / node["path"]).resolve()),
            backend=backend,
            device=setting("device", "auto"),
            dtype=dtype,
            threads=threads,
            preload=setting("preload", False),
            batch=BatchSpec.from_config(batch),
            pad_to_multiple_of=setting("pad_to_multiple_of", 1),
            half_precision_check=None if check is False else float(check),
            env=tuple(sorted((k, str(v)) for k, v in env.items())),
            where=ctx.where(path),
            path_where=ctx.where((*path, "path")),
        )


def model_specs(nodes: Mapping[str, Any], defaults: Mapping[str, Any], machine: Machine,
                ctx: SpecContext) -> dict[str, ModelSpec]:
    return {name: ModelSpec.from_config(name, node, ("models", name), ctx, defaults, machine)
            for name, node in nodes.items()}

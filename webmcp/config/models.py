"""Specs of embedding models (`models:` entries): where the model is, how to run it, how to batch it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from webmcp.config.marked_yaml import Path
from webmcp.config.spec import SpecContext, Where
from webmcp.config.units import parse_duration

Backend = Literal["torch", "onnx"]
Device = Literal["auto", "cpu", "mps", "cuda"]
Dtype = Literal["float32", "float16", "bfloat16"]


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
    dtype: Dtype
    threads: int | None  # the backend's intra-op threads; None: its default
    preload: bool
    batch: BatchSpec
    where: Where = field(compare=False)  # an entry that only moved in the file is the same model
    path_where: Where = field(compare=False)  # its `path` key, where a folder that is no model is reported

    @classmethod
    def from_config(cls, name: str, node: Mapping[str, Any], path: Path, ctx: SpecContext) -> ModelSpec:
        threads = node.get("threads", "auto")
        backend = node.get("backend", "torch")
        dtype = node.get("dtype", "float32")
        if backend == "onnx" and dtype != "float32":
            ctx.problem((*path, "dtype"), "the onnx backend runs float32 only", f'"{dtype}"',
                        "leave dtype out, or use backend: torch for half precision")
        return cls(
            name=name,
            path=str((ctx.base_dir / node["path"]).resolve()),
            backend=backend,
            device=node.get("device", "auto"),
            dtype=dtype,
            threads=None if threads == "auto" else threads,
            preload=node.get("preload", False),
            batch=BatchSpec.from_config(node.get("batch") or {}),
            where=ctx.where(path),
            path_where=ctx.where((*path, "path")),
        )


def model_specs(nodes: Mapping[str, Any], ctx: SpecContext) -> dict[str, ModelSpec]:
    return {name: ModelSpec.from_config(name, node, ("models", name), ctx) for name, node in nodes.items()}

"""embedding tool: texts in, one vector per text out, from a `models:` entry through its micro-batcher.

Arguments: `texts` (a list of at most `max_inputs` strings) or `text` (one string). The result's
structuredContent is `{"model": NAME, "dimensions": D, "embeddings": [[...], ...]}`, one row per input
in input order, L2-normalised unless `normalize: false`. Inputs longer than the model's token limit
are truncated, and `_meta["webmcp/truncated"]` lists their indices.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from webmcp.callpath.tool import Tool
from webmcp.config.marked_yaml import Path
from webmcp.config.registry import Kind, register
from webmcp.config.spec import SpecContext
from webmcp.config.tools import ToolSpec

if TYPE_CHECKING:
    from webmcp.call.context import Context
    from webmcp.kinds.contract import BuildContext
    from webmcp.models.model import Model

TRUNCATED = "webmcp/truncated"


@dataclass(frozen=True, slots=True)
class EmbeddingToolSpec(ToolSpec):
    model: str
    max_inputs: int
    normalize: bool

    @classmethod
    def from_config(cls, name: str, node: Mapping[str, Any], path: Path, ctx: SpecContext) -> EmbeddingToolSpec:
        return cls(**ToolSpec.common(name, node, path, ctx), model=node["model"],
                   max_inputs=node.get("max_inputs", 32), normalize=node.get("normalize", True))


def input_schema(max_inputs: int) -> dict[str, Any]:
    """`texts` or `text`, exactly one of them: an empty list, too many texts or a non-string are each named."""
    return {
        "type": "object",
        "properties": {
            "texts": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": max_inputs,
                      "description": f"The texts to embed (1 to {max_inputs})."},
            "text": {"type": "string", "description": "One text to embed."},
        },
        "minProperties": 1,
        "maxProperties": 1,
        "additionalProperties": False,
    }


def _normalized(vector: list[float]) -> list[float]:
    norm = math.sqrt(math.fsum(x * x for x in vector))
    return [x / norm for x in vector] if norm > 0 else vector


class EmbeddingBackend:
    __slots__ = ("_model", "_name", "_normalize")

    def __init__(self, spec: EmbeddingToolSpec, model: Model) -> None:
        self._model = model
        self._name = spec.model
        self._normalize = spec.normalize

    async def invoke(self, arguments: dict[str, Any], ctx: Context) -> dict[str, Any]:
        texts = arguments["texts"] if "texts" in arguments else [arguments["text"]]
        embedded = await self._model.embed(texts)
        vectors = [_normalized(v) for v in embedded.vectors] if self._normalize else embedded.vectors
        structured = {"model": self._name, "dimensions": len(vectors[0]) if vectors else self._model.dimensions,
                      "embeddings": vectors}
        result: dict[str, Any] = {
            "content": [{"type": "text", "text": orjson.dumps(structured).decode()}],
            "structuredContent": structured,
            "isError": False,
        }
        if embedded.truncated:
            result["_meta"] = {TRUNCATED: list(embedded.truncated)}
        return result


async def build(spec: EmbeddingToolSpec, ctx: BuildContext) -> Tool:
    model = await ctx.model(spec.model)
    description = (f"Embeds texts with the model {spec.model!r}: one vector per text, in order"
                   f"{', L2-normalised' if spec.normalize else ''}.")
    return Tool(spec, EmbeddingBackend(spec, model), spec.input_schema or input_schema(spec.max_inputs), description,
                ctx.error_details)


KIND = register(Kind("tools", "embedding", EmbeddingToolSpec, build))

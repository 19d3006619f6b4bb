"""semantic_search tool: a query in, the most similar chunks of a declared corpus out, best first.

The corpus is `files:` (globs relative to the config file), chunked by markdown heading and paragraph
(search/chunking.py), embedded by a `models:` entry and kept in an on-disk index (search/store.py) that a
restart reuses and a reload refreshes for the files that changed. The index is built when the Graph is
built, except by a static check (`webmcp validate` without --connect). Arguments: `query` and optionally
`top_k`; the result's structuredContent is `{"results": [{"file", "line", "text", "score"}, ...]}`.

numpy is imported only when a config uses this kind (it comes with the `embed` and `embed-onnx` extras).
"""

from __future__ import annotations

import asyncio
import atexit
import hashlib
import importlib.util
import logging
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path as FsPath
from typing import TYPE_CHECKING, Any

from webmcp.callpath.tool import Tool
from webmcp.config.marked_yaml import Path
from webmcp.config.memo import cache_dir
from webmcp.config.registry import Kind, register
from webmcp.config.spec import SpecContext
from webmcp.config.tools import ToolSpec
from webmcp.errors import BuildFailure, ToolError

if TYPE_CHECKING:
    from webmcp.call.context import Context
    from webmcp.kinds.contract import BuildContext
    from webmcp.models.model import Model
    from webmcp.search.index import Progress, SearchIndex, Settings, Summary

log = logging.getLogger(__name__)

MAX_TOP_K = 100
OFF_LOOP_CELLS = 2_000_000  # matrix cells (rows x dimensions) from which a search runs in a worker thread
EXTRA = "pip install 'webmcp[embed]' or 'webmcp[embed-onnx]' (numpy comes with either)"
OUTPUT_SCHEMA = {
    "type": "object",
    "properties": {"results": {"type": "array", "items": {
        "type": "object",
        "properties": {"file": {"type": "string"}, "line": {"type": "integer"}, "text": {"type": "string"},
                       "score": {"type": "number"}},
        "required": ["file", "line", "text", "score"]}}},
    "required": ["results"],
}
_scratch: dict[str, FsPath] = {}  # the index folder of this process when there is no cache folder


@dataclass(frozen=True, slots=True)
class SemanticSearchToolSpec(ToolSpec):
    model: str
    files: tuple[str, ...]
    top_k: int
    max_chars: int
    overlap: int
    index_dir: str | None  # absolute; None: the cache folder
    config_file: str  # absolute: the default index folder is keyed by it and the tool's name
    base_dir: str

    @classmethod
    def from_config(cls, name: str, node: Mapping[str, Any], path: Path, ctx: SpecContext) -> SemanticSearchToolSpec:
        common = ToolSpec.common(name, node, path, ctx)
        common["output_schema"] = common["output_schema"] or OUTPUT_SCHEMA
        chunking = node.get("chunk") or {}
        max_chars, overlap = chunking.get("max_chars", 1000), chunking.get("overlap", 100)
        if 2 * overlap >= max_chars:
            ctx.problem((*path, "chunk", "overlap"), "must be less than half of chunk.max_chars", str(overlap),
                        f"at most {(max_chars - 1) // 2} for max_chars {max_chars}")
        for i, pattern in enumerate(node["files"]):
            if FsPath(pattern).is_absolute():
                ctx.problem((*path, "files", i), "must be a glob relative to the config file's folder",
                            f'"{pattern}"', "write it relative to the folder of the config file")
        index_dir = node.get("index_dir")
        source = ctx.where(path).source
        return cls(**common, model=node["model"], files=tuple(node["files"]), top_k=node.get("top_k", 5),
                   max_chars=max_chars, overlap=overlap,
                   index_dir=str((ctx.base_dir / index_dir).resolve()) if index_dir else None,
                   config_file=str((ctx.base_dir / FsPath(source).name).resolve()), base_dir=str(ctx.base_dir))


def index_folder(spec: SemanticSearchToolSpec) -> FsPath:
    """`index_dir/<tool>`, else `<cache folder>/search/<tool>-<digest of the config file's path>`, else (no
    cache folder: WEBMCP_CACHE_DIR=off) a temporary folder of this process."""
    if spec.index_dir is not None:
        return FsPath(spec.index_dir) / spec.name
    digest = hashlib.sha256(f"{spec.config_file}\0{spec.name}".encode()).hexdigest()[:16]
    root = cache_dir()
    if root is None:
        if "root" not in _scratch:
            _scratch["root"] = FsPath(tempfile.mkdtemp(prefix="webmcp-index-"))
            atexit.register(shutil.rmtree, _scratch["root"], True)
            log.warning("no cache folder (WEBMCP_CACHE_DIR=off): search indexes are kept in %s for this process "
                        "only", _scratch["root"])
        root = _scratch["root"]
    return root / "search" / f"{spec.name}-{digest}"


def settings(spec: SemanticSearchToolSpec) -> Settings:
    from webmcp.search.index import Settings

    return Settings(f"tool {spec.name!r}", FsPath(spec.base_dir), spec.files, index_folder(spec), spec.max_chars,
                    spec.overlap)


def input_schema(top_k: int) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "query": {"type": "string", "minLength": 1, "description": "What to look for, in plain words."},
            "top_k": {"type": "integer", "minimum": 1, "maximum": MAX_TOP_K,
                      "description": f"How many results, best first (default {top_k})."},
        },
        "required": ["query"],
        "additionalProperties": False,
    }


def rendered(hits: list[dict[str, Any]]) -> str:
    if not hits:
        return "No results."
    return "\n\n".join(f"{i}. {h['file']}:{h['line']} (score {h['score']:.3f})\n{h['text']}"
                       for i, h in enumerate(hits, 1))


class SemanticSearchBackend:
    __slots__ = ("_index", "_model", "_top_k")

    def __init__(self, spec: SemanticSearchToolSpec, model: Model, index: SearchIndex | None) -> None:
        self._model = model
        self._index = index
        self._top_k = spec.top_k

    async def invoke(self, arguments: dict[str, Any], ctx: Context) -> dict[str, Any]:
        query = arguments["query"]
        if not query.strip():
            raise ToolError("Invalid arguments: query: must not be blank (got only whitespace)")
        index = self._index
        if index is None:  # a Graph of a static check is never served
            raise ToolError("this tool's index was not built")
        vector = (await self._model.embed([query])).vectors[0]
        k = arguments.get("top_k", self._top_k)
        if index.vectors.size >= OFF_LOOP_CELLS:
            hits = await asyncio.to_thread(index.top, vector, k)
        else:
            hits = index.top(vector, k)
        results = [{"file": h.file, "line": h.line, "text": h.text, "score": h.score} for h in hits]
        return {"content": [{"type": "text", "text": rendered(results)}],
                "structuredContent": {"results": results}, "isError": False}


def check_numpy(spec: SemanticSearchToolSpec) -> None:
    if importlib.util.find_spec("numpy") is None:
        raise BuildFailure(spec.where.problem("kind semantic_search needs numpy, which is not installed", hint=EXTRA))


async def refresh_index(spec: SemanticSearchToolSpec, model: Model,
                        progress: Progress | None = None) -> tuple[SearchIndex, Summary]:
    """The tool's index brought up to date with its corpus; a BuildFailure at the tool when it cannot be."""
    from webmcp.search.index import refresh

    where = settings(spec)
    try:
        return await refresh(where, model, progress)
    except OSError as exc:
        raise BuildFailure(spec.where.problem(f"cannot build its index in {where.folder}: {exc.strerror or exc}",
                                              hint="set index_dir: to a folder it may write")) from None
    except ToolError as exc:  # the model failed to load or to embed
        raise BuildFailure(spec.where.problem(f"cannot build its index: {exc}")) from None


async def build(spec: SemanticSearchToolSpec, ctx: BuildContext) -> Tool:
    check_numpy(spec)
    model = await ctx.model(spec.model)
    index = None
    if ctx.connects:
        index, summary = await refresh_index(spec, model)
        log.info("semantic_search %r: %s", spec.name, summary.line())
    description = (f"Searches {', '.join(spec.files)} by meaning with the model {spec.model!r}: the passages "
                   f"closest to the query, best first, each with its file and line.")
    return Tool(spec, SemanticSearchBackend(spec, model, index), spec.input_schema or input_schema(spec.top_k),
                description, ctx.error_details)


KIND = register(Kind("tools", "semantic_search", SemanticSearchToolSpec, build))

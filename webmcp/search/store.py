"""A semantic_search index on disk: one folder per tool, written so that a crash never leaves it broken.

Layout of the folder:
- `manifest.json`: the format, the key (the model's identity and the chunking settings), the vectors'
  dimensions, the current generation, and each file's path, content hash and rows (first, count).
- `g-<id>/vectors.npy`: float32, one L2-normalised row per chunk, files' rows contiguous, in manifest order;
  opened memory-mapped. `g-<id>/chunks.json`: one `[line, text]` per row.
- `lock`: held (flock) while an index is read or refreshed, so two processes do not write at once.

Writing: the new generation is written to `tmp-<id>/` (files fsynced), renamed to `g-<id>/`, then
`manifest.json` is replaced by a fsynced temporary file through one rename; only then are older generations
removed. A reader therefore sees the old index or the new one, never a mix. On POSIX a generation still
memory-mapped by a running Graph stays readable after its removal. A manifest or generation that cannot be
read back as written is reported as corrupt by `open_stored` (the index is then rebuilt), never trusted.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

log = logging.getLogger(__name__)

FORMAT = 1
MANIFEST = "manifest.json"
Vectors = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class FileRows:
    sha256: str
    first: int
    count: int


@dataclass(frozen=True, slots=True)
class Stored:
    """An index read from disk (or just written): its vectors memory-mapped, its chunks in memory."""

    key: Mapping[str, Any]
    files: dict[str, FileRows]  # in row order
    vectors: Vectors  # (rows, dimensions)
    chunks: list[tuple[int, str]]  # (line, text) per row


class Corrupt(Exception):
    """The folder's index cannot be read back as it was written (its message says what is wrong)."""


@contextlib.asynccontextmanager
async def locked(folder: Path) -> AsyncIterator[None]:
    """Hold the folder's lock (created, with the folder, if needed), polling without blocking the loop."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(folder / "lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        waited = 0.0
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if waited == 0.0:
                    log.info("index %s is being written by another process; waiting", folder)
                await asyncio.sleep(0.1)
                waited += 0.1
        yield
    finally:
        os.close(fd)  # releases the lock


def open_stored(folder: Path) -> Stored | None:
    """The folder's index, None when there is none yet; raises Corrupt when it cannot be read back."""
    try:
        raw = (folder / MANIFEST).read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise Corrupt(f"{MANIFEST} cannot be read: {exc.strerror or exc}") from None
    try:
        manifest = orjson.loads(raw)
        if manifest.get("format") != FORMAT:
            raise Corrupt(f"{MANIFEST} is format {manifest.get('format')!r}, not {FORMAT}")
        generation = folder / f"g-{manifest['generation']}"
        files = {f["path"]: FileRows(str(f["sha256"]), int(f["first"]), int(f["count"])) for f in manifest["files"]}
        rows, dimensions = int(manifest["rows"]), int(manifest["dimensions"])
        key = manifest["key"]
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise Corrupt(f"{MANIFEST} is malformed ({type(exc).__name__}: {exc})") from None
    expected = 0
    for path, f in files.items():
        if f.first != expected or f.count < 0:
            raise Corrupt(f"{MANIFEST}: the rows of {path} do not follow the previous file's")
        expected += f.count
    if expected != rows:
        raise Corrupt(f"{MANIFEST}: the files' rows add up to {expected}, not {rows}")
    try:
        vectors = np.load(generation / "vectors.npy", mmap_mode="r", allow_pickle=False)
        chunks = orjson.loads((generation / "chunks.json").read_bytes())
    except (OSError, ValueError, orjson.JSONDecodeError) as exc:
        raise Corrupt(f"{generation.name} cannot be read ({type(exc).__name__}: {exc})") from None
    if vectors.dtype != np.float32 or vectors.shape != (rows, dimensions):
        raise Corrupt(f"{generation.name}/vectors.npy is {vectors.dtype} {vectors.shape}, not float32 "
                      f"({rows}, {dimensions})")
    if not isinstance(chunks, list) or len(chunks) != rows or \
            not all(isinstance(c, list) and len(c) == 2 for c in chunks):
        raise Corrupt(f"{generation.name}/chunks.json does not hold {rows} [line, text] rows")
    return Stored(key, files, vectors, [(int(line), str(text)) for line, text in chunks])


def write(folder: Path, key: Mapping[str, Any], files: dict[str, FileRows], vectors: Vectors,
          chunks: list[tuple[int, str]]) -> Stored:
    """Write a new generation and switch the manifest to it (see the module docstring); the index as written."""
    name = uuid.uuid4().hex[:12]
    temporary, generation = folder / f"tmp-{name}", folder / f"g-{name}"
    temporary.mkdir(mode=0o700)
    try:
        with (temporary / "vectors.npy").open("wb") as f:
            np.save(f, np.ascontiguousarray(vectors, dtype=np.float32), allow_pickle=False)
            _sync(f.fileno())
        with (temporary / "chunks.json").open("wb") as f:
            f.write(orjson.dumps([[line, text] for line, text in chunks]))
            _sync(f.fileno())
        os.rename(temporary, generation)
        manifest = {"format": FORMAT, "key": key, "generation": name, "rows": int(vectors.shape[0]),
                    "dimensions": int(vectors.shape[1]),
                    "files": [{"path": p, "sha256": f.sha256, "first": f.first, "count": f.count}
                              for p, f in files.items()]}
        staged = folder / f"{MANIFEST}.{name}.tmp"
        with staged.open("wb") as f:
            f.write(orjson.dumps(manifest, option=orjson.OPT_INDENT_2))
            _sync(f.fileno())
        os.replace(staged, folder / MANIFEST)
        _sync_folder(folder)
    except BaseException:  # the manifest still names the previous generation: drop what was written
        for folder_written in (temporary, generation):
            shutil.rmtree(folder_written, ignore_errors=True)
        raise
    for entry in os.scandir(folder):  # older generations and leftovers of interrupted writes
        if entry.name != generation.name and entry.name.startswith(("g-", "tmp-", f"{MANIFEST}.")):
            with contextlib.suppress(OSError):
                shutil.rmtree(entry.path) if entry.is_dir() else os.unlink(entry.path)
    stored = open_stored(folder)
    assert stored is not None
    return stored


def _sync(fd: int) -> None:
    with contextlib.suppress(OSError):
        os.fsync(fd)


def _sync_folder(folder: Path) -> None:
    """Make the renames durable (a directory fsync; not possible everywhere, so best effort)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

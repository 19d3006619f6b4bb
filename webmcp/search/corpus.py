"""The files of a semantic_search corpus: found by glob under the config's folder, read, hashed.

Blocking (file reads): called in a worker thread by the index. A file that cannot be read, or that is not
UTF-8 text (a NUL byte in its first 8 KiB, or invalid UTF-8), is skipped with a warning naming it; a glob
that matches no file is a warning too. Neither stops the index from being built.
"""

from __future__ import annotations

import glob
import hashlib
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

MARKDOWN = (".md", ".markdown", ".mdx")


@dataclass(frozen=True, slots=True)
class SourceFile:
    path: str  # relative to the config's folder, with forward slashes
    sha256: str
    text: str


@dataclass(frozen=True, slots=True)
class Corpus:
    files: list[SourceFile]  # sorted by path
    skipped: list[tuple[str, str]]  # (path, why)


def paths(base_dir: Path, patterns: Sequence[str], owner: str) -> list[str]:
    """The files the globs match, relative to base_dir, sorted, each once."""
    found: set[str] = set()
    for pattern in patterns:
        matched = [p for p in glob.glob(pattern, root_dir=base_dir, recursive=True) if (base_dir / p).is_file()]
        if not matched:
            log.warning("%s: files: %r matches no file under %s", owner, pattern, base_dir)
        found.update(Path(os.path.normpath(p)).as_posix() for p in matched)
    return sorted(found)


def read(base_dir: Path, patterns: Sequence[str], owner: str) -> Corpus:
    files: list[SourceFile] = []
    skipped: list[tuple[str, str]] = []
    for path in paths(base_dir, patterns, owner):
        try:
            raw = (base_dir / path).read_bytes()
        except OSError as exc:
            skipped.append((path, f"cannot be read: {exc.strerror or exc}"))
            continue
        if b"\0" in raw[:8192]:
            skipped.append((path, "is binary (a NUL byte), not text"))
            continue
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            skipped.append((path, f"is not UTF-8 text ({exc.reason} at byte {exc.start})"))
            continue
        files.append(SourceFile(path, hashlib.sha256(raw).hexdigest(), text))
    for path, why in skipped:
        log.warning("%s: skipped %s: it %s", owner, path, why)
    return Corpus(files, skipped)


def is_markdown(path: str) -> bool:
    return path.lower().endswith(MARKDOWN)

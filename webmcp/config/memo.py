"""A memo of what passed JSON Schema validation before: config documents and tool schemas, by digest.

jsonschema costs about 60 ms to import and a few ms per check, on every start of a server whose
file has not changed. Validation is a pure function of (the document, our schemas, the kinds, the
validating code), so a digest of all of them that passed once passes again: `serve` and reloads skip
the check (and the import) for such a digest; `webmcp validate` always checks, and records.

The memo is a folder of empty files named by digest: `$WEBMCP_CACHE_DIR`, else
`$XDG_CACHE_HOME/webmcp`, else `~/.cache/webmcp`, private to the user. Nothing secret is written
(a digest of an interpolated document does not reveal it); an unwritable folder only means checking
every time. `WEBMCP_CACHE_DIR=off` turns the memo off.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
from pathlib import Path

from webmcp.config.registry import registered


@functools.cache
def _folder() -> Path | None:
    chosen = os.environ.get("WEBMCP_CACHE_DIR")
    if chosen == "off":
        return None
    if chosen:
        return Path(chosen) / "validated"
    try:
        return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "webmcp" / "validated"
    except (RuntimeError, KeyError):  # no home folder: check every time
        return None


@functools.cache
def _validators() -> bytes:
    """What decides a verdict besides the document: webmcp's version, the schema files, the kinds, and
    the validating modules (by size and mtime, for a working copy; absent from a bundled binary)."""
    from webmcp import __version__
    from webmcp.config import schemas, validate

    h = hashlib.sha256(__version__.encode())
    for sid, raw in sorted(schemas.raw_schemas().items()):
        h.update(sid.encode() + raw)
    h.update(repr(registered()).encode())
    for module in (schemas, validate):
        with contextlib.suppress(OSError, TypeError):
            st = os.stat(module.__file__)  # type: ignore[arg-type]
            h.update(f"{st.st_size}:{st.st_mtime_ns}".encode())
    return h.digest()


def digest(namespace: str, content: bytes) -> str:
    return hashlib.sha256(_validators() + namespace.encode() + b"\0" + content).hexdigest()


def passed(key: str) -> bool:
    folder = _folder()
    return folder is not None and (folder / key).exists()


def record(key: str) -> None:
    folder = _folder()
    if folder is None:
        return
    with contextlib.suppress(OSError):
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        (folder / key).touch()

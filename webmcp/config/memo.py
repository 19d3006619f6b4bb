"""A memo of what passed JSON Schema validation before: config documents and tool schemas, by digest.

jsonschema costs about 60 ms to import and a few ms per check, on every start of a server whose
file has not changed. Validation is a pure function of (the document, our schemas, the kinds, the
validating code and libraries), so a digest of all of them that passed once passes again: `serve`
and reloads skip the check (and the import) for such a digest. `webmcp validate` checks everything
(`check_everything()`), and records.

Only a document that JSON represents exactly is memoized (`key_of`): YAML can write values JSON
cannot (dates, integer keys, NaN, sets, binary), which would share a digest with the string they
print as. The memo is a folder of empty files named by digest: `$WEBMCP_CACHE_DIR/validated`, else
`$XDG_CACHE_HOME/webmcp/validated`, else `~/.cache/webmcp/validated`; it is used only while it is
the user's own and writable by nobody else, and it keeps the newest `MAX_ENTRIES`. Nothing secret is
written (a digest of an interpolated document does not reveal it); an unusable folder only means
checking every time. `WEBMCP_CACHE_DIR=off` turns the memo off.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.util
import os
import stat
import sys
from pathlib import Path
from typing import Any

import orjson

from webmcp.config.registry import registered

MAX_ENTRIES = 1000
_state = {"trusted": True}


def check_everything() -> None:
    """From now on in this process, nothing is taken from the memo (it is still recorded)."""
    _state["trusted"] = False


def key_of(namespace: str, document: Any) -> str | None:
    """The digest of `document`, or None when JSON does not represent it exactly."""
    try:
        raw = orjson.dumps(document, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # a non-string key, a set, bytes...
        return None
    if orjson.loads(raw) != document:  # a date or a non-finite float, written as something else
        return None
    return digest(namespace, raw)


def digest(namespace: str, content: bytes) -> str:
    return hashlib.sha256(_validators() + namespace.encode() + b"\0" + content).hexdigest()


def passed(key: str) -> bool:
    folder = _folder()
    return _state["trusted"] and folder is not None and _is_private(folder) and (folder / key).exists()


def record(key: str) -> None:
    folder = _folder()
    if folder is None:
        return
    with contextlib.suppress(OSError):
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        if _is_private(folder):
            (folder / key).touch()
            _prune(folder)


def cache_dir() -> Path | None:
    """webmcp's cache folder: `$WEBMCP_CACHE_DIR`, else `$XDG_CACHE_HOME/webmcp`, else `~/.cache/webmcp`;
    None when `WEBMCP_CACHE_DIR=off` or there is no home folder. The memo and the search indexes live in it."""
    chosen = os.environ.get("WEBMCP_CACHE_DIR")
    if chosen == "off":
        return None
    if chosen:
        return Path(chosen)
    try:
        return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "webmcp"
    except (RuntimeError, KeyError):  # no home folder
        return None


@functools.cache
def _folder() -> Path | None:
    folder = cache_dir()
    return None if folder is None else folder / "validated"  # None: check every time


def _is_private(folder: Path) -> bool:
    """Ours, a real folder, and writable by nobody else: another user could plant verdicts otherwise."""
    try:
        st = os.lstat(folder)
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode) and st.st_uid == os.geteuid() and not st.st_mode & 0o022


def _prune(folder: Path) -> None:
    """Keep the newest MAX_ENTRIES verdicts (every edit or new ${VAR} value adds one)."""
    entries = list(os.scandir(folder))
    if len(entries) > MAX_ENTRIES:
        entries.sort(key=lambda e: e.stat().st_mtime)
        for entry in entries[: len(entries) - MAX_ENTRIES // 2]:
            with contextlib.suppress(OSError):
                os.unlink(entry.path)


@functools.cache
def _validators() -> bytes:
    """What decides a verdict besides the document: webmcp's version and Python's, the schema files, the
    kinds, and the validating code: our modules and the jsonschema/referencing packages, by size and
    mtime (found without importing them; a bundled binary has no such files, its version says it)."""
    from webmcp import __version__
    from webmcp.config import schemas

    h = hashlib.sha256(f"{__version__} {sys.version}".encode())
    for sid, raw in sorted(schemas.raw_schemas().items()):
        h.update(sid.encode() + raw)
    h.update(repr(registered()).encode())
    # Top-level packages only for the libraries: finding a submodule would import its package.
    for module in ("webmcp.config.schemas", "webmcp.config.validate", "webmcp.callpath.schema_check",
                   "jsonschema", "referencing"):
        with contextlib.suppress(OSError, ImportError, ValueError, AttributeError):
            spec = importlib.util.find_spec(module)
            st = os.stat(spec.origin)  # type: ignore[union-attr,arg-type]
            h.update(f"{module} {st.st_size}:{st.st_mtime_ns}".encode())
    return h.digest()

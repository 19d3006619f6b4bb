"""Run files: each serving process leaves its pid and the outcome of its last reload where
`webmcp reload` can find them.

Default place: one folder per config file under the user's runtime directory
($XDG_RUNTIME_DIR/webmcp/<hash of the config's path>/, else /tmp/webmcp-<uid>/webmcp/...), one
`<pid>.pid` per process, so several stdio instances of one config are all found. With
`server.pid_file` set, the process writes exactly that file (one instance per file).

Contract:
- A live server holds an exclusive flock on its pid file for its whole life. A pid file nobody holds
  is stale (its server was killed), whatever process may now have that pid: it is never signalled.
- Every folder is created 0700 and must be a real folder owned by this user (one of ours that is too
  open is tightened to 0700); files are created 0600 without following symlinks. Anything else is
  refused.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import stat
import tempfile
from pathlib import Path
from typing import Any

import orjson

from webmcp.errors import WebmcpError


class RunFileError(WebmcpError):
    exit_code = 2


def _root() -> Path:
    """webmcp's own folder of run files: every folder from here down must be private."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    return Path(runtime) / "webmcp" if runtime else Path(tempfile.gettempdir()) / f"webmcp-{os.getuid()}"


def run_dir(config: str | os.PathLike[str]) -> Path:
    digest = hashlib.sha256(str(Path(config).resolve()).encode()).hexdigest()[:16]
    return _root() / digest


def _private_dir(path: Path) -> None:
    """Make the folder for run files. Under `_root()` (the default place), each level is created 0700
    and checked: a real folder, owned by this user, with no group or other access. A folder the user
    chose with server.pid_file is only created if missing."""
    root = _root()
    try:
        parts = path.relative_to(root).parts
    except ValueError:
        path.mkdir(parents=True, exist_ok=True)
        return
    folder = root
    for part in ("", *parts):
        folder = folder / part if part else folder
        with contextlib.suppress(FileExistsError):
            folder.mkdir(mode=0o700)
        info = os.lstat(folder)
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
            raise RunFileError(f"unsafe run-file folder {folder}: it must be a real folder owned by you "
                               "(not a symlink, not another user's)")
        if info.st_mode & 0o077:
            os.chmod(folder, 0o700)  # ours, but too open (made by an older webmcp, or by hand): tighten it


def _write(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


class RunFile:
    def __init__(self, pid_path: Path) -> None:
        self.pid_path = pid_path
        self._lock: int | None = None  # the fd holding our flock, while we serve

    @property
    def status_path(self) -> Path:
        return self.pid_path.with_name(self.pid_path.name + ".status.json")

    @classmethod
    def for_process(cls, config: str, pid_file: str | None) -> RunFile:
        return cls(Path(pid_file) if pid_file else run_dir(config) / f"{os.getpid()}.pid")

    def create(self, status: dict[str, Any]) -> None:
        """Claim the pid file (flock) and write it; RunFileError when another live server holds it."""
        try:
            _private_dir(self.pid_path.parent)
            fd = os.open(self.pid_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        except OSError as exc:
            raise RunFileError(f"cannot write the run file {self.pid_path}: {exc.strerror or exc}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise RunFileError(f"{self.pid_path} belongs to another running server; give each instance its "
                               "own server.pid_file, or leave it unset") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._lock = fd
        self.write_status(status)

    def write_status(self, status: dict[str, Any]) -> None:
        tmp = self.status_path.with_suffix(".tmp")
        _write(tmp, orjson.dumps(status))
        tmp.replace(self.status_path)  # readers never see half a file

    def read_status(self) -> dict[str, Any] | None:
        try:
            value = orjson.loads(self.status_path.read_bytes())
        except (OSError, orjson.JSONDecodeError):
            return None
        return value if isinstance(value, dict) else None

    def pid(self) -> int | None:
        try:
            return int(self.pid_path.read_text().strip())
        except (OSError, ValueError):
            return None

    def is_held(self) -> bool:
        """Does a live server hold this pid file? (If we can lock it, nobody does.)"""
        try:
            fd = os.open(self.pid_path, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)
        return False

    def remove(self) -> None:
        """At exit: delete the files, only if they are ours (we hold the lock)."""
        if self._lock is None:
            return
        for path in (self.pid_path, self.status_path):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        os.close(self._lock)
        self._lock = None


def running(config: str, pid_file: str | None) -> list[tuple[int, RunFile]]:
    """(pid, run file) of every live server of this config; stale files are removed."""
    candidates = [RunFile(Path(pid_file))] if pid_file else [RunFile(p) for p in sorted(run_dir(config).glob("*.pid"))]
    found = []
    for run in candidates:
        pid = run.pid()
        if pid is None:
            continue
        if not run.is_held():
            for path in (run.pid_path, run.status_path):
                with contextlib.suppress(OSError):
                    path.unlink()
            continue
        found.append((pid, run))
    return found

"""Run files: each serving process leaves its pid and the outcome of its last reload where
`webmcp reload` can find them.

Default place: one folder per config file under the user's runtime directory
($XDG_RUNTIME_DIR/webmcp/<hash of the config's path>/, else /tmp/webmcp-<uid>/...), one `<pid>.pid`
per process, so several stdio instances of one config are all found. With `server.pid_file` set,
the process writes exactly that file (and `<pid_file>.status.json` beside it).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson


def run_dir(config: str | os.PathLike[str]) -> Path:
    base = os.environ.get("XDG_RUNTIME_DIR") or str(Path(tempfile.gettempdir()) / f"webmcp-{os.getuid()}")
    digest = hashlib.sha256(str(Path(config).resolve()).encode()).hexdigest()[:16]
    return Path(base) / "webmcp" / digest


@dataclass(frozen=True, slots=True)
class RunFile:
    pid_path: Path

    @property
    def status_path(self) -> Path:
        return self.pid_path.with_name(self.pid_path.name + ".status.json")

    @classmethod
    def for_process(cls, config: str, pid_file: str | None) -> RunFile:
        path = Path(pid_file) if pid_file else run_dir(config) / f"{os.getpid()}.pid"
        return cls(path)

    def create(self, status: dict[str, Any]) -> None:
        self.pid_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.pid_path.write_text(f"{os.getpid()}\n")
        self.write_status(status)

    def write_status(self, status: dict[str, Any]) -> None:
        tmp = self.status_path.with_suffix(".tmp")
        tmp.write_bytes(orjson.dumps(status))
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

    def remove(self) -> None:
        for path in (self.pid_path, self.status_path):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()


def running(config: str, pid_file: str | None) -> list[tuple[int, RunFile]]:
    """(pid, run file) of every live server of this config; stale files are removed."""
    candidates = [RunFile(Path(pid_file))] if pid_file else [RunFile(p) for p in sorted(run_dir(config).glob("*.pid"))]
    found = []
    for run in candidates:
        pid = run.pid()
        if pid is None:
            continue
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            run.remove()
            continue
        except PermissionError:
            pass  # alive, someone else's
        found.append((pid, run))
    return found

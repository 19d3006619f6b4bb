"""A raw stdio peer for tests that need exact timing or messages the SDK client will not send."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

INIT = {"jsonrpc": "2.0", "id": 0, "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}}}


class RawServer:
    """`webmcp serve -c config` with pipes; send() lines, collect() replies with a deadline."""

    def __init__(self, config: Path, *args: str) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "webmcp", "serve", "-c", str(config), *args],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     cwd=config.parent)
        self._buffer = b""
        self.send(INIT)
        self.until(lambda m: m.get("id") == 0)

    def send(self, message: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(message).encode() + b"\n")
        self.proc.stdin.flush()

    def call(self, mid: int, name: str, arguments: dict[str, Any] | None = None, **params: Any) -> None:
        self.send({"jsonrpc": "2.0", "id": mid, "method": "tools/call",
                   "params": {"name": name, "arguments": arguments or {}, **params}})

    def collect(self, seconds: float) -> list[dict[str, Any]]:
        """Every message that arrives within `seconds`."""
        out: list[dict[str, Any]] = []
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            out += self._read(left)
        return out

    def until(self, match: Any, seconds: float = 10) -> list[dict[str, Any]]:
        """Messages up to and including the first one `match` accepts; fails after `seconds`."""
        out: list[dict[str, Any]] = []
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            for message in self._read(left):
                out.append(message)
                if match(message):
                    return out
        raise AssertionError(f"no matching message within {seconds}s; got {out}")

    def _read(self, timeout: float) -> list[dict[str, Any]]:
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        ready, _, _ = select.select([fd], [], [], timeout)
        if not ready:
            return []
        chunk = os.read(fd, 65536)
        if not chunk:
            time.sleep(timeout)
            return []
        self._buffer += chunk
        *lines, self._buffer = self._buffer.split(b"\n")
        return [json.loads(line) for line in lines if line.strip()]

    def close_input(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if stream is not None and not stream.closed:
                stream.close()

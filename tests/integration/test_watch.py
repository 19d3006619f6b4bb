"""`server.watch: true`: a real server reloads when its config file changes, within 2 s of the write that
completes a valid file; a half-written or invalid file keeps the old config; a Kubernetes ConfigMap swap
(a new `..data` symlink) is seen; under a supervisor every worker reloads."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.integration.conftest import TOOLS_MODULE, write_config
from tests.integration.test_http import free_port, post, wait_for_port
from tests.integration.test_workers import all_ready, fresh_connections, supervisor

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

CONFIG = """
version: 1
server:
  watch: true
  http: {stateless: true}
tools:
  greet: {kind: python, function: "sample_tools:greet"}
"""
ADDED = CONFIG + '  about: {kind: static, content: "added"}\n'


async def tool_names(http: aiohttp.ClientSession, url: str) -> list[str]:
    status, _, answer = await post(http, url, {"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
    assert status == 200, answer
    return sorted(t["name"] for t in answer["result"]["tools"])


async def until_tools(http: aiohttp.ClientSession, url: str, want: list[str], timeout: float) -> float:
    """Seconds until tools/list answers `want` (polled every 20 ms); fails past `timeout`."""
    started = time.monotonic()
    while True:
        got = await tool_names(http, url)
        if got == want:
            return time.monotonic() - started
        assert time.monotonic() - started < timeout, f"still {got} after {timeout}s"
        await asyncio.sleep(0.02)


@contextlib.contextmanager
def serving(config: Path) -> Iterator[str]:
    """`webmcp serve -c config --transport http` on a free port; yields the endpoint URL."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "webmcp", "serve", "-c", str(config), "--transport", "http",
                             "--port", str(port)], cwd=config.parent, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for_port(proc, port)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        proc.terminate()
        proc.wait(15)
        assert proc.stderr is not None
        proc.stderr.close()


async def test_a_saved_file_is_reloaded_and_a_half_written_one_is_not(workdir: Path) -> None:
    """A half-written save (invalid YAML), then an invalid one (unknown key): the old tools stay served; the
    write that completes a valid file is serving within 2 s."""
    config = write_config(workdir, CONFIG)
    with serving(config) as url:
        async with aiohttp.ClientSession() as http:
            assert await tool_names(http, url) == ["greet"]
            config.write_text(ADDED[: ADDED.index("content:")])  # cut mid-entry: `{kind: static,` never closed
            time.sleep(1.5)
            assert await tool_names(http, url) == ["greet"]
            config.write_text(ADDED.replace("tools:", "tolls:"))
            time.sleep(1.5)
            assert await tool_names(http, url) == ["greet"]
            config.write_text(ADDED)
            assert await until_tools(http, url, ["about", "greet"], timeout=2.0) < 2.0


async def test_an_unchanged_save_and_other_files_cause_no_reload(workdir: Path) -> None:
    """Touching the file with the same bytes, or writing a log file beside it, reloads nothing."""
    config = write_config(workdir, CONFIG)
    with serving(config) as url:
        async with aiohttp.ClientSession() as http:
            config.write_text(config.read_text())
            (workdir / "serve.log").write_text("noise\n" * 100)
            time.sleep(1.5)
            ready = await (await http.get(url.replace("/mcp", "/readyz"))).json()
            assert ready["generation"] == 1, ready


def configmap(folder: Path, version: int, text: str) -> None:
    """Lay out `folder` as the kubelet does for a ConfigMap volume: files in `..<version>`, `..data` a symlink
    to it, each key a symlink through `..data`; a new version swaps `..data` by an atomic rename."""
    data = folder / f"..v{version}"
    data.mkdir()
    (data / "webmcp.yaml").write_text(text)
    (data / "sample_tools.py").write_text(TOOLS_MODULE.read_text())
    tmp = folder / "..data_tmp"
    tmp.symlink_to(data.name)
    os.replace(tmp, folder / "..data")
    for key in ("webmcp.yaml", "sample_tools.py"):
        if not (folder / key).is_symlink():
            (folder / key).symlink_to(f"..data/{key}")


async def test_a_configmap_swap_is_reloaded(workdir: Path) -> None:
    """The file is a symlink through `..data`; a new ConfigMap version swaps the symlink and removes the
    old folder; the new tools serve within 2 s."""
    mount = workdir / "config"
    mount.mkdir()
    configmap(mount, 1, CONFIG)
    with serving(mount / "webmcp.yaml") as url:
        async with aiohttp.ClientSession() as http:
            assert await tool_names(http, url) == ["greet"]
            configmap(mount, 2, ADDED)
            for old in mount.glob("..v1/*"):
                old.unlink()
            (mount / "..v1").rmdir()
            assert await until_tools(http, url, ["about", "greet"], timeout=2.0) < 2.0


async def test_every_worker_reloads_when_the_file_changes(workdir: Path, runtime_dir: Path) -> None:
    """Under a supervisor the change reloads every worker (as SIGHUP to it does)."""
    with supervisor(workdir, runtime_dir, CONFIG, workers=2) as sup:
        sup.config.write_text(ADDED)
        started = time.monotonic()
        sup.wait(lambda ws: all_ready(2)(ws) and {w["generation"] for w in ws} == {2}, "the workers did not reload",
                 timeout=5)
        assert time.monotonic() - started < 2.0
        async with fresh_connections() as http:
            seen: list[Any] = [await tool_names(http, sup.url) for _ in range(6)]
        assert all(names == ["about", "greet"] for names in seen)

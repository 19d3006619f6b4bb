"""Explicit invalidation: `webmcp cache clear` (memory caches of stdio servers through SIGUSR1, Redis
caches in Redis for every instance) and the authenticated POST /admin/cache/clear over HTTP."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from tests.integration.conftest import write_config
from tests.integration.redis_server import prefix, redis_url  # noqa: F401  (fixtures)
from tests.integration.test_cache_redis import Client, shared_config
from tests.integration.test_http import client, http_server

MEMORY = """
version: 1
caches:
  hot: {strategy: lru}
tools:
  profile:
    kind: python
    function: "sample_tools:read_value"
    cache: {use: hot, key: [path], tags: ["user:{user_id}"]}
"""


def cache_clear(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "webmcp", "cache", "clear", "-c", str(config), *args],
                          capture_output=True, text=True, timeout=60, cwd=config.parent)


def test_cache_clear_reaches_the_memory_cache_of_a_stdio_server(workdir: Path, runtime_dir: Path) -> None:
    """By tag, then by key: each running server drops the entries and says how many."""
    config = write_config(workdir, MEMORY)
    one, two = workdir / "one.txt", workdir / "two.txt"
    one.write_text("1")
    two.write_text("2")
    server = Client(config)
    try:
        assert server.text("profile", {"path": str(one), "user_id": "a"}) == "1"
        assert server.text("profile", {"path": str(two), "user_id": "b"}) == "2"
        one.write_text("1 new")
        two.write_text("2 new")
        done = cache_clear(config, "--tag", "user:a")
        assert done.returncode == 0, done
        assert "dropped 1 entry from hot" in done.stdout
        assert server.text("profile", {"path": str(one), "user_id": "a"}) == "1 new"
        assert server.text("profile", {"path": str(two), "user_id": "b"}) == "2"
        done = cache_clear(config, "--key", f'profile {{"path":"{two}"}}')
        assert done.returncode == 0 and "dropped 1 entry" in done.stdout, done
        assert server.text("profile", {"path": str(two), "user_id": "b"}) == "2 new"
    finally:
        server.stop()


def test_cache_clear_needs_something_to_clear_and_a_known_cache(workdir: Path, runtime_dir: Path) -> None:
    """No --tag/--key/--all is a usage error; an unknown --cache is named."""
    config = write_config(workdir, MEMORY)
    done = cache_clear(config)
    assert done.returncode == 2 and "say what to clear" in done.stderr
    done = cache_clear(config, "--all", "--cache", "nope")
    assert done.returncode == 2 and "no cache named 'nope'; caches: hot" in done.stderr


def test_cache_clear_of_a_redis_cache_reaches_every_instance(workdir: Path, redis_url: str,  # noqa: F811
                                                             prefix: str) -> None:  # noqa: F811
    """The command invalidates in Redis and waits for both instances' acknowledgements."""
    config = write_config(workdir, shared_config(redis_url, prefix))
    data = workdir / "v.txt"
    data.write_text("old")
    a, b = Client(config), Client(config)
    try:
        args = {"path": str(data), "user_id": "1"}
        assert a.text("profile", args) == "old" and b.text("profile", args) == "old"
        data.write_text("new")
        done = cache_clear(config, "--tag", "user:1")
        assert done.returncode == 0, done
        assert "cache shared: invalidated in Redis; 2 instances acknowledged" in done.stdout
        assert a.text("profile", args) == "new" and b.text("profile", args) == "new"
    finally:
        a.stop()
        b.stop()


@pytest.mark.anyio
async def test_admin_cache_clear_endpoint(workdir: Path) -> None:
    """POST /admin/cache/clear with the admin token drops entries; without it 401; a bad body 400."""
    config = MEMORY.replace("version: 1", "version: 1\nserver: {http: {admin_token_env: TEST_ADMIN_TOKEN}}")
    data = workdir / "v.txt"
    data.write_text("old")
    with http_server(workdir, config=config, env={"TEST_ADMIN_TOKEN": "adm1n"}) as url:
        admin = url.replace("/mcp", "/admin/cache/clear")
        auth = {"Authorization": "Bearer adm1n"}
        async with client(url) as session, aiohttp.ClientSession() as http:
            args = {"path": str(data), "user_id": "1"}
            assert (await session.call_tool("profile", args)).content[0].text == "old"  # type: ignore[union-attr]
            data.write_text("new")
            async with http.post(admin, json={"tags": ["user:1"]}) as resp:
                assert resp.status == 401
            async with http.post(admin, json={"tag": "user:1"}, headers=auth) as resp:
                assert resp.status == 400
            async with http.post(admin, json={"cache": "nope", "all": True}, headers=auth) as resp:
                assert resp.status == 400 and "no cache named 'nope'" in (await resp.json())["error"]
            async with http.post(admin, json={"tags": ["user:1"]}, headers=auth) as resp:
                assert resp.status == 200 and await resp.json() == {"dropped": 1, "caches": ["hot"]}
            assert (await session.call_tool("profile", args)).content[0].text == "new"  # type: ignore[union-attr]

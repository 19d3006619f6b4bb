"""The SSRF guard of http tools whose URL takes its host or port from the arguments: a real backend on
loopback, a real `webmcp serve`, the official client calling the tools."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.backend import run_backend
from tests.integration.conftest import connect, write_config

pytestmark = pytest.mark.anyio

CONFIG = """
version: 1
tools:
  fetch:          # the host comes from the caller: guarded
    kind: http
    request: {url: "http://{host}:{port}/search", query: {q: "{id}"}}
  fetch_private:
    kind: http
    request: {url: "http://{host}:{port}/search", query: {q: "{id}"}}
    allow_private: true
  fetch_named:
    kind: http
    request: {url: "http://{host}:{port}/search", query: {q: "{id}"}}
    allow_hosts: [localhost]
  hop:            # follows ?to= redirects; only localhost is allowed
    kind: http
    request: {url: "http://{host}:{port}/redirect", query: {to: "{to}"}}
    allow_hosts: [localhost]
  fixed:          # written by the operator: trusted, as before
    kind: http
    request: {url: "BASE/search", query: {q: "{id}"}}
"""


def text_of(result: object) -> str:
    return str(result.content[0].text)  # type: ignore[attr-defined]


def query_of(result: object) -> str:
    assert not result.is_error, text_of(result)  # type: ignore[attr-defined]
    return str(result.structured_content["query"])  # type: ignore[attr-defined]


async def test_hosts_from_arguments_are_checked_where_they_connect(workdir: Path) -> None:
    """A loopback backend is refused to the guarded tool (by address and by a name resolving to it) but
    reached with allow_private, or with the name in allow_hosts; a metadata address stays refused even with
    allow_private; a redirect from an allowed host to a refused address is refused; the operator's fixed URL
    reaches loopback as before."""
    with run_backend() as (base, seen):
        port = base.rsplit(":", 1)[1]
        config = write_config(workdir, CONFIG.replace("BASE", base))
        async with connect(config) as session:
            refused = await session.call_tool("fetch", {"host": "127.0.0.1", "port": port, "id": "1"})
            assert refused.is_error
            assert "refused: 127.0.0.1 is a loopback address" in text_of(refused)
            named = await session.call_tool("fetch", {"host": "localhost", "port": port, "id": "1"})
            assert named.is_error and "localhost resolves to 127.0.0.1, which is a loopback address" in text_of(named)
            assert "allow_private" in text_of(named)
            assert seen == []  # nothing reached the backend

            allowed = await session.call_tool("fetch_private", {"host": "127.0.0.1", "port": port, "id": "2"})
            assert query_of(allowed) == "2"
            metadata = await session.call_tool("fetch_private", {"host": "169.254.169.254", "port": "80", "id": "1"})
            assert metadata.is_error and "169.254.169.254 is a cloud metadata address" in text_of(metadata)

            by_name = await session.call_tool("fetch_named", {"host": "localhost", "port": port, "id": "3"})
            assert query_of(by_name) == "3"
            by_address = await session.call_tool("fetch_named", {"host": "127.0.0.1", "port": port, "id": "3"})
            assert by_address.is_error and "loopback" in text_of(by_address)

            count = len(seen)
            hopped = await session.call_tool("hop", {"host": "localhost", "port": port,
                                                     "to": f"http://127.0.0.1:{port}/search?q=4"})
            assert hopped.is_error and "refused: 127.0.0.1 is a loopback address" in text_of(hopped)
            assert len(seen) == count  # the redirect's target was not requested
            assert [r["query"] for r in seen] == [{"q": "2"}, {"q": "3"}]
            stays = await session.call_tool("hop", {"host": "localhost", "port": port,
                                                    "to": f"http://localhost:{port}/search?q=5"})
            assert query_of(stays) == "5"

            fixed = await session.call_tool("fixed", {"id": "6"})
            assert query_of(fixed) == "6"

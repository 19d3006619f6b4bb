"""The SSRF guard's policy and resolver: which addresses a tool whose host comes from its arguments may reach."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest

from webmcp.config.load import load
from webmcp.errors import ConfigError
from webmcp.kinds.tools.http import takes_host
from webmcp.upstreams.destinations import DestinationRefused, Destinations, GuardedResolver

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(("address", "kind"), [
    ("127.0.0.1", "a loopback address"), ("::1", "a loopback address"), ("10.1.2.3", "a private address"),
    ("192.168.0.9", "a private address"), ("172.16.5.5", "a private address"), ("fd12::1", "a private address"),
    ("169.254.1.1", "a link-local address"), ("fe80::1", "a link-local address"),
    ("169.254.169.254", "a cloud metadata address"), ("fd00:ec2::254", "a cloud metadata address"),
    ("100.100.100.200", "a cloud metadata address"), ("0.0.0.0", "a loopback address"),
    ("100.64.0.1", "not a public address"), ("::ffff:127.0.0.1", "a loopback address"),
    ("64:ff9b::a00:1", "a private address"), ("2002:7f00:1::", "a loopback address"),
])
def test_non_public_addresses_are_refused_naming_what_they_are(address: str, kind: str) -> None:
    """Loopback, private, link-local, shared, unspecified and metadata addresses are refused, also when an IPv6
    address embeds one (mapped, NAT64, 6to4)."""
    refusal = Destinations().refusal("h.example", address)
    assert refusal is not None and f"which is {kind}" in refusal


@pytest.mark.parametrize("address", ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946", "8.8.8.8"])
def test_public_addresses_pass(address: str) -> None:
    assert Destinations().refusal("h.example", address) is None


def test_what_a_tool_allows() -> None:
    """allow_private opens private, loopback and link-local but not metadata addresses; allow_hosts names
    hosts (exactly or by *.suffix) and networks, metadata ones included."""
    private = Destinations(allow_private=True)
    assert private.refusal("h", "10.0.0.1") is None and private.refusal("h", "127.0.0.1") is None
    assert "metadata" in (private.refusal("h", "169.254.169.254") or "")
    hosts = Destinations(allow_hosts=("*.corp.example", "db.internal", "10.1.0.0/16", "169.254.169.254"))
    assert hosts.refusal("api.corp.example", "10.9.9.9") is None
    assert hosts.refusal("corp.example", "10.9.9.9") is not None  # *.x is the subdomains only
    assert hosts.refusal("DB.internal.", "192.168.1.1") is None
    assert hosts.refusal("other", "10.1.200.3") is None and hosts.refusal("other", "10.2.0.1") is not None
    assert hosts.refusal("169.254.169.254", "169.254.169.254") is None


class FakeResolver:
    def __init__(self, addresses: list[str]) -> None:
        self.addresses = addresses

    async def resolve(self, host: str, port: int = 0, family: int = socket.AF_INET) -> list[dict[str, Any]]:
        return [{"hostname": host, "host": a, "port": port, "family": socket.AF_INET, "proto": 0, "flags": 0}
                for a in self.addresses]

    async def close(self) -> None:
        pass


async def test_the_resolver_hands_on_only_checked_addresses() -> None:
    """A name resolving to a private address is refused; one resolving to a public and a private address
    gives aiohttp only the public one (it connects to nothing else)."""
    resolver = GuardedResolver(Destinations())
    resolver._inner = FakeResolver(["10.0.0.5"])
    with pytest.raises(DestinationRefused, match=r"internal.example resolves to 10.0.0.5, which is a private"):
        await resolver.resolve("internal.example", 80)
    resolver._inner = FakeResolver(["10.0.0.5", "93.184.216.34"])
    assert [r["host"] for r in await resolver.resolve("mixed.example", 80)] == ["93.184.216.34"]
    await resolver.close()


@pytest.mark.parametrize(("url", "guarded"), [
    ("http://{host}/x", True), ("http://{host}:8080/x", True), ("http://api.example:{port}/x", True),
    ("https://{sub}.example.com", True), ("http://api.example/{path}", False), ("http://api.example/x?q={q}", False),
    ("http://api.example", False),
])
def test_which_urls_take_their_host_from_the_arguments(url: str, guarded: bool) -> None:
    assert takes_host(url) is guarded


def test_allow_keys_on_a_fixed_url_are_a_located_problem(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """allow_private on a tool whose host is fixed would be ignored: it is refused instead."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "webmcp.yaml").write_text("version: 1\nprofile: none\ntools:\n  t:\n    kind: http\n"
                                          "    request: {url: 'http://127.0.0.1:9/x'}\n    allow_private: true\n")
    with pytest.raises(ConfigError) as info:
        load("webmcp.yaml", env={})
    assert [p.render() for p in info.value.problems] == [
        "webmcp.yaml:7:5: tools.t.allow_private: allow_private applies only to a tool whose request.url takes its "
        "host or port from an argument; this URL's host is fixed (and trusted); remove allow_private"]

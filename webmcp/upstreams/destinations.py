"""Where an http tool whose URL takes its host or port from the arguments may connect (the SSRF guard):
not to loopback, private, link-local or other non-public addresses, nor to a cloud metadata address,
unless the tool allows it (`allow_hosts`, `allow_private`).

Contract:
- The check is made on the address the connection goes to. Names are resolved by `GuardedResolver`, the
  resolver of the tool's own connector, which hands aiohttp only the addresses that pass: a name is
  resolved once and the address checked is the address connected to, so DNS rebinding cannot slip in
  between; the Host header and TLS SNI still carry the name.
- Addresses written in the URL never reach a resolver: the tool checks them (`Destinations.refusal`)
  before each request, redirects included.
- An IPv6 address that embeds an IPv4 one (mapped, 6to4, NAT64) is judged by the IPv4 address.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Instance metadata services: AWS (and its IPv6 form, and ECS task metadata), GCP (metadata.google.internal),
# Azure, OpenStack and DigitalOcean (all 169.254.169.254), Alibaba Cloud, Oracle Cloud.
METADATA = frozenset(ipaddress.ip_address(a) for a in (
    "169.254.169.254", "169.254.170.2", "169.254.170.23", "fd00:ec2::254", "fd00:ec2::23", "100.100.100.200",
    "192.0.0.192",
))
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class DestinationRefused(OSError):
    """The address a request would go to is not one the tool may reach."""


def _judged(address: IPAddress) -> IPAddress:
    """The IPv4 address an IPv6 one stands for, if any."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address.sixtofour is not None:
            return address.sixtofour
        if address in _NAT64:
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address


def _kind(address: IPAddress) -> str:
    if address in METADATA:
        return "a cloud metadata address"
    if address.is_loopback or address.is_unspecified:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_private:
        return "a private address"
    return "not a public address"


@dataclass(frozen=True, slots=True)
class Destinations:
    """One tool's policy: `allow_hosts` (names, `*.suffix` patterns, addresses, networks), `allow_private`."""

    allow_hosts: tuple[str, ...] = ()
    allow_private: bool = False

    def refusal(self, host: str, address: str | IPAddress) -> str | None:
        """Why `host`, found at `address`, may not be reached; None when it may."""
        ip = ipaddress.ip_address(address.split("%", 1)[0]) if isinstance(address, str) else address
        judged = _judged(ip)
        if self._names(host) or self._covers(ip) or self._covers(judged):
            return None
        if judged.is_global and not judged.is_multicast and judged not in METADATA:
            return None
        if self.allow_private and judged not in METADATA:
            return None
        where = f"{host} is" if host == str(ip) else f"{host} resolves to {ip}, which is"
        hint = "name it in allow_hosts" if judged in METADATA else "name it in allow_hosts, or set allow_private: true"
        return f"{where} {_kind(judged)}; the tool may not reach it ({hint})"

    def _names(self, host: str) -> bool:
        name = host.lower().rstrip(".")
        for entry in self.allow_hosts:
            pattern = entry.lower().rstrip(".")
            if name == pattern or (pattern.startswith("*.") and name.endswith(pattern[1:])):
                return True
        return False

    def _covers(self, ip: IPAddress) -> bool:
        for entry in self.allow_hosts:
            try:
                network = ipaddress.ip_network(entry, strict=False)
            except ValueError:
                continue
            if ip.version == network.version and ip in network:
                return True
        return False


class GuardedResolver(AbstractResolver):
    """aiohttp's resolver, keeping only the addresses `destinations` allows (a DestinationRefused when none)."""

    def __init__(self, destinations: Destinations) -> None:
        self._destinations = destinations
        self._inner: Any = aiohttp.ThreadedResolver()

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
                      ) -> list[ResolveResult]:
        found: list[ResolveResult] = await self._inner.resolve(host, port, family)
        allowed = [r for r in found if self._destinations.refusal(host, r["host"]) is None]
        if not allowed:
            reason = self._destinations.refusal(host, found[0]["host"]) if found else f"{host} has no address"
            raise DestinationRefused(reason)
        return allowed

    async def close(self) -> None:
        await self._inner.close()

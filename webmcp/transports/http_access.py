"""Who may use the HTTP listener: static bearer tokens (MCP endpoint, admin endpoints), the Host/Origin
check against DNS rebinding, and who a request comes from. (OAuth access tokens: http_auth.py.)"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import os
import re

from aiohttp import web

from webmcp.config.spec import ServerSpec

log = logging.getLogger(__name__)

LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})


def env_token(env_name: str | None, key: str, section: str = "server.http") -> bytes | None:
    if not env_name:
        return None
    token = os.environ.get(env_name, "").encode()
    if not token and section == "server.http":
        log.warning("%s.%s names %s, which is empty: every request to it will get 401", section, key, env_name)
    elif not token:
        log.warning("%s.%s names %s, which is empty: using a random key of this process", section, key, env_name)
    return token


SUBJECT = "webmcp.subject"  # request key: the `sub` of the request's verified access token (http_auth.py)


class StaticToken:
    """A token from the environment, kept only as its SHA-256 digest; compared in constant time (the
    digests, so the comparison does not even depend on the length of the token sent)."""

    __slots__ = ("_digest",)

    def __init__(self, token: bytes) -> None:
        self._digest = hashlib.sha256(token).digest() if token else None  # empty: nothing matches

    def matches(self, given: str) -> bool:
        candidate = hashlib.sha256(given.encode(errors="surrogateescape")).digest()
        return self._digest is not None and hmac.compare_digest(candidate, self._digest)


def static_token(env_name: str | None, key: str) -> StaticToken | None:
    """`server.http.<key>`'s token, hashed; None when the key is not set."""
    token = env_token(env_name, key)
    return StaticToken(token) if token is not None else None


def bearer(request: web.Request) -> str | None:
    """The token of an `Authorization: Bearer <token>` header (the scheme is case-insensitive), else None."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def bearer_ok(request: web.Request, token: StaticToken) -> bool:
    given = bearer(request)
    return given is not None and token.matches(given)


def unauthorized() -> web.Response:
    challenge = {"WWW-Authenticate": 'Bearer realm="webmcp"'}
    return web.json_response({"error": "unauthorized"}, status=401, headers=challenge)


def allowed_hosts(server: ServerSpec) -> frozenset[str] | None:
    """Host names a request may name (Host and Origin). None: no check (bound to a public address
    with no allow-list configured)."""
    configured = server.http.allowed_hosts
    if configured:
        return frozenset(h.lower() for h in configured if h)
    if server.http.host in LOOPBACK:
        return LOOPBACK
    return None


# A Host value: a bracketed IPv6 literal or a name without colons, then an optional port. Nothing else
# may follow (`[::1]evil.example` is not `[::1]`).
_HOST = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[^\[\]:/@\s]+)(?::[0-9]*)?")


def host_name(host: str) -> str:
    """`name` of a `name:port` (or `[v6]:port`) Host value, lower-cased; "" when it is not one."""
    match = _HOST.fullmatch(host)
    return match.group(1).lower() if match else ""


def origin_host(origin: str) -> str:
    return host_name(origin.split("://", 1)[-1].split("/", 1)[0])


class Clients:
    """Who a request comes from, for per-client rate limits and spans: the subject of its verified access
    token (server.http.auth); else its session (hashed: a session id is a credential); without one, its
    address: the peer's, or behind `trusted` proxies the last X-Forwarded-For address that is not one of
    them. A header or token of the client's own choosing (unverified) is never the identity. IPv6
    addresses count per /64 (a host can pick any address in its network)."""

    def __init__(self, trusted: tuple[str, ...]) -> None:
        self._trusted = tuple(ipaddress.ip_network(t, strict=False) for t in trusted)

    def is_proxy(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in net for net in self._trusted)

    def of(self, request: web.Request, sid: str | None) -> str:
        subject = request.get(SUBJECT)
        if subject is not None:  # a verified access token: its subject, whichever session or address
            return "sub:" + str(subject)
        if sid is not None:
            return "session:" + hashlib.sha256(sid.encode()).hexdigest()[:16]
        address = request.remote or "unknown"
        if self._trusted and self.is_proxy(address):
            hops = [h.strip() for h in request.headers.get("X-Forwarded-For", "").split(",") if h.strip()]
            while hops and self.is_proxy(hops[-1]):
                hops.pop()
            if hops:
                address = hops[-1]
        return "address:" + address_bucket(address)


def address_bucket(address: str) -> str:
    """An address as one client: an IPv6 address stands for its /64."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if ip.version == 6 and not ip.ipv4_mapped:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip.ipv4_mapped or ip) if ip.version == 6 else str(ip)

"""The issuer's signing keys (a JWKS) for `server.http.auth`: pinned in a file, or fetched from `jwks_url`.

Contract:
- Runs on the event loop. One fetch at a time; a failed fetch keeps the keys in use.
- A jwks_url is fetched when a token first needs it, again once the keys are older than MAX_AGE, and when a
  token names a key id the set does not have (the issuer rotated its keys) — but at most REFRESH_BURST
  times per REFRESH_INTERVAL, so tokens with made-up key ids cannot make us hammer the issuer.
- Only signing keys of asymmetric types are used; a key serves only the algorithms its type allows
  (RSA: RS*/PS*; EC: the ES* of its curve; OKP: EdDSA), and only its own `alg` when it names one.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from webmcp.errors import TransportUnavailable

log = logging.getLogger(__name__)

ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"})
_EC = {"P-256": "ES256", "P-384": "ES384", "P-521": "ES512"}
MAX_AGE = 3600.0
REFRESH_INTERVAL = 30.0
REFRESH_BURST = 2  # a fetch at start and one for a key rotated soon after still fit in one interval
FETCH_TIMEOUT = 5.0
MAX_SIZE = 1 << 20


class KeysUnavailable(Exception):
    """No key set to check tokens against (the issuer's jwks_url did not answer)."""


def fits(jwk: dict[str, Any], alg: str) -> bool:
    """May `jwk` verify a token signed with `alg`?"""
    if jwk.get("use", "sig") != "sig" or jwk.get("alg", alg) != alg:
        return False
    kty = jwk.get("kty")
    if kty == "RSA":
        return alg[:2] in ("RS", "PS")
    if kty == "EC":
        return _EC.get(jwk.get("crv", "")) == alg
    return kty == "OKP" and alg == "EdDSA" and jwk.get("crv") in ("Ed25519", "Ed448")


class Keys:
    def __init__(self, url: str | None, file: str | None, on_change: Callable[[], None]) -> None:
        self._url = url
        self._file = file
        self._on_change = on_change
        self._jwks: list[dict[str, Any]] = []
        self._built: dict[tuple[int, str], Any] = {}
        self._loaded_at = float("-inf")  # monotonic time of the last fetch that worked
        self._tried: collections.deque[float] = collections.deque(maxlen=REFRESH_BURST)  # the last fetches
        self._lock: asyncio.Lock | None = None
        self._fetches = 0
        if url is not None:
            _check_url(url)
        if file is not None:
            try:
                self._use(_parse(Path(file).read_bytes()))
            except (OSError, ValueError) as exc:
                raise TransportUnavailable(f"server.http.auth.jwks_file: cannot use {file}: {exc}") from None

    def reload(self) -> None:
        if self._file is None:
            return
        try:
            self._use(_parse(Path(self._file).read_bytes()))
            log.info("reloaded the signing keys of %s", self._file)
        except (OSError, ValueError) as exc:
            log.error("server.http.auth.jwks_file: cannot use %s: %s; keeping the keys in use", self._file, exc)

    async def find(self, kid: str | None, alg: str) -> Any:
        """The key (a PyJWK) for a token's `kid` and `alg`; None when the issuer publishes no such key."""
        if self._url is not None:
            if time.monotonic() - self._loaded_at > MAX_AGE:
                await self._refresh()
            if kid is not None and not any(k.get("kid") == kid for k in self._jwks):
                await self._refresh()  # rotated keys, or a made-up kid: rate-limited either way
            if not self._jwks:
                raise KeysUnavailable(f"no keys from {self._url} yet")
        return self._pick(kid, alg)

    def _pick(self, kid: str | None, alg: str) -> Any:
        import jwt

        found = [i for i, k in enumerate(self._jwks) if fits(k, alg) and (kid is None or k.get("kid") == kid)]
        if len(found) != 1:  # none, or no kid and several keys to choose from
            return None
        index = found[0]
        key = self._built.get((index, alg))
        if key is None:
            try:
                key = self._built[(index, alg)] = jwt.PyJWK(self._jwks[index], algorithm=alg)
            except jwt.PyJWTError as exc:
                log.warning("the issuer's key %r is unusable: %s", self._jwks[index].get("kid"), exc)
                return None
        return key

    async def _refresh(self) -> None:
        self._lock = self._lock or asyncio.Lock()
        seen = self._fetches
        async with self._lock:
            if self._fetches != seen:
                return  # fetched by the request this one waited for
            now = time.monotonic()
            if len(self._tried) == REFRESH_BURST and now - self._tried[0] < REFRESH_INTERVAL:
                return  # rate-limited
            self._tried.append(now)
            self._fetches += 1
            assert self._url is not None
            try:
                self._use(await _fetch(self._url))
            except (OSError, ValueError, TimeoutError) as exc:
                log.warning("cannot fetch the issuer's keys from %s: %s", self._url, exc or type(exc).__name__)
                return
            self._loaded_at = time.monotonic()

    def _use(self, jwks: list[dict[str, Any]]) -> None:
        if jwks != self._jwks:
            self._jwks = jwks
            self._built.clear()
            self._on_change()


def _parse(raw: bytes) -> list[dict[str, Any]]:
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc}") from None
    keys = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(keys, list):
        raise ValueError('not a JWK set (an object with a "keys" list)')
    usable = [k for k in keys if isinstance(k, dict) and k.get("kty") in ("RSA", "EC", "OKP")]
    if not usable:
        raise ValueError("no public signing key (RSA, EC or OKP) in it")
    return usable


async def _fetch(url: str) -> list[dict[str, Any]]:
    import aiohttp

    timeout = aiohttp.ClientTimeout(total=FETCH_TIMEOUT)
    try:
        async with aiohttp.ClientSession(timeout=timeout) as http, http.get(url, allow_redirects=False) as resp:
            if resp.status != 200:
                raise ValueError(f"HTTP {resp.status}")
            raw = await resp.content.read(MAX_SIZE + 1)
    except aiohttp.ClientError as exc:
        raise OSError(f"{type(exc).__name__}: {exc}") from None
    if len(raw) > MAX_SIZE:
        raise ValueError(f"larger than {MAX_SIZE} bytes")
    return _parse(raw)


def _check_url(url: str) -> None:
    """The loader made sure of https (or http on loopback); a URL urllib cannot split still fails here."""
    try:
        urllib.parse.urlsplit(url).port  # noqa: B018 -- raises for a bad IPv6 literal or a port out of range
    except ValueError as exc:
        raise TransportUnavailable(f"server.http.auth.jwks_url: cannot use {url}: {exc}") from None

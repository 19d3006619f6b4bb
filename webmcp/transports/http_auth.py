"""Who may use the MCP endpoint and /metrics: a static bearer token (`server.http.auth_token_env`) and/or
OAuth 2.1 access tokens (`server.http.auth`): JWTs signed by one of the issuer's keys, issued by that
issuer for this resource, not expired. Also the protected-resource metadata (RFC 9728) that tells an MCP
client where to get a token, and the challenges of the MCP authorization spec (401 / 403 with
`WWW-Authenticate: Bearer resource_metadata=...`).

Contract:
- `check(request)` runs before a byte of the body is read. It answers a refusal, or lets the request on
  with the token's subject as its client (`http_access.SUBJECT`) and its scopes as the scopes the
  request grants (`graph.scopes.GRANTED`). The static token grants everything.
- `check_call(request, body, graph)` runs once the body is read: a `tools/call` of a tool whose scopes
  the token lacks gets 403 `insufficient_scope` naming them (the Session refuses it too, for any other
  way in).
- Only asymmetric algorithms are accepted, and a token's `alg` must be one its key can have: `none`,
  HMAC (a public key used as a shared secret) and a key of another type are refused.
- Keys (keys.py) are cached; verified tokens are remembered until they expire (by the token itself, up
  to VERIFIED_CACHE), so a client sending one token on every request pays one signature check.
"""

from __future__ import annotations

import logging
import re
import time
import urllib.parse
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web
from cachetools import LRUCache

from webmcp.call import jsonrpc
from webmcp.call.jsonrpc import INVALID_PARAMS, INVALID_REQUEST
from webmcp.config.spec import AuthSpec, HttpSpec
from webmcp.errors import TransportUnavailable
from webmcp.graph import scopes
from webmcp.graph.holder import GraphHolder
from webmcp.transports.http_access import SUBJECT, StaticToken, bearer, static_token, unauthorized
from webmcp.transports.http_keys import ALGORITHMS, Keys, KeysUnavailable

if TYPE_CHECKING:
    from webmcp.graph.graph import Graph

log = logging.getLogger(__name__)

WELL_KNOWN = "/.well-known/oauth-protected-resource"
LEEWAY = 30.0  # seconds of clock skew tolerated on exp and nbf
VERIFIED_CACHE = 10_000
_SUBJECT_MAX = 200
_UNSAFE = re.compile(r'[^\x20-\x7e]|["\\]')  # what may not go into a quoted header parameter or a client name


@dataclass(frozen=True, slots=True)
class Principal:
    subject: str
    scopes: frozenset[str]
    expires: float


class Refused(Exception):
    """A token that is not valid here; the message says why (it goes to the client: no secrets in it)."""


class Authorization:
    def __init__(self, http: HttpSpec, holder: GraphHolder) -> None:
        self._holder = holder
        self._static = static_token(http.auth_token_env, "auth_token_env")
        self.spec: AuthSpec | None = http.auth
        self._keys: Keys | None = None
        self._verified: LRUCache[str, Principal] = LRUCache(VERIFIED_CACHE)
        if self.spec is not None:
            _need_crypto()
            self._keys = Keys(self.spec.jwks_url, self.spec.jwks_file, self._verified.clear)
            try:
                self.metadata_url = _metadata_url(self.spec.audience)
            except ValueError as exc:
                raise TransportUnavailable(f"server.http.auth.audience: cannot use {self.spec.audience}: {exc}"
                                           ) from None
            self._required = frozenset(self.spec.required_scopes)

    @property
    def active(self) -> bool:
        return self._static is not None or self.spec is not None

    def reload(self) -> None:
        """SIGHUP: read a jwks_file again (a file that does not load keeps the keys in use)."""
        if self._keys is not None:
            self._keys.reload()

    # -- the checks ------------------------------------------------------------------------------
    async def check(self, request: web.Request) -> web.Response | None:
        scopes.GRANTED.set(None)
        token = bearer(request)
        if token is not None and self._static is not None and self._static.matches(token):
            return None
        if self.spec is None:
            return unauthorized() if self._static is not None else None
        if token is None:
            return self._challenge(401, None, "an access token is needed", self._required)
        try:
            principal = await self._verify(token)
        except KeysUnavailable as exc:
            log.warning("cannot check an access token: %s", exc)
            return _error(503, None, INVALID_REQUEST, f"cannot check access tokens now: {exc}", {"Retry-After": "5"})
        except Refused as exc:
            log.debug("refused an access token from %s: %s", request.remote, exc)
            return self._challenge(401, "invalid_token", str(exc))
        lacking = self._required - principal.scopes
        if lacking:
            return self._challenge(403, "insufficient_scope", f"the access token lacks {' '.join(sorted(lacking))}",
                                   self._required)
        request[SUBJECT] = principal.subject
        scopes.GRANTED.set(principal.scopes)
        return None

    def check_call(self, request: web.Request, body: bytes) -> web.Response | None:
        """403 for a tools/call of a tool whose scopes the request's token does not grant. (A body that
        spells the method with JSON escapes passes this quick look; the Session refuses that call itself.)"""
        if scopes.GRANTED.get() is None or b"tools/call" not in body:
            return None
        try:
            msg = orjson.loads(body)
        except orjson.JSONDecodeError:
            return None  # the handler answers it
        if not isinstance(msg, dict) or msg.get("method") != "tools/call" or not isinstance(msg.get("params"), dict):
            return None
        params: dict[str, Any] = msg["params"]
        name, arguments = params.get("name"), params.get("arguments")
        graph: Graph = self._holder.current
        tool = graph.tools.get(name) if isinstance(name, str) else None
        lacking = scopes.missing(tool, arguments) if tool is not None else ()
        if not lacking:
            return None
        message = scopes.refusal(str(name), lacking)
        needed = sorted(self._required | set(scopes.needed(tool, arguments)))
        mid = msg.get("id")
        answer = jsonrpc.error(mid if type(mid) in (str, int) else None, INVALID_PARAMS, message,
                               {"scopes": list(lacking)})
        return self._challenge(403, "insufficient_scope", message, needed, answer)

    async def _verify(self, token: str) -> Principal:
        import jwt

        known = self._verified.get(token)
        if known is not None and known.expires + LEEWAY > time.time():
            return known
        assert self.spec is not None and self._keys is not None
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise Refused("the access token is not a JWT") from None
        alg = header.get("alg")
        if alg not in ALGORITHMS:
            raise Refused(f"tokens signed with {_printable(str(alg))} are not accepted "
                          f"(accepted: {', '.join(sorted(ALGORITHMS))})")
        kid = header.get("kid")
        key = await self._keys.find(kid if isinstance(kid, str) else None, alg)
        if key is None and isinstance(kid, str):
            raise Refused("the access token names a signing key the issuer does not publish")
        if key is None:
            raise Refused("the access token names no key (kid), and the issuer has no single key for its algorithm")
        try:
            claims = jwt.decode(token, key, algorithms=[alg], audience=self.spec.audience, issuer=self.spec.issuer,
                                leeway=LEEWAY, options={"require": ["exp", "iss", "aud", "sub"]})
        except jwt.ExpiredSignatureError:
            raise Refused("the access token has expired") from None
        except jwt.ImmatureSignatureError:
            raise Refused("the access token is not valid yet (nbf)") from None
        except jwt.InvalidAudienceError:
            raise Refused(f"the access token is not for this resource ({self.spec.audience})") from None
        except jwt.InvalidIssuerError:
            raise Refused(f"the access token was not issued by {self.spec.issuer}") from None
        except jwt.MissingRequiredClaimError as exc:
            raise Refused(f"the access token has no {exc.claim} claim") from None
        except jwt.InvalidSignatureError:
            raise Refused("the access token's signature does not verify") from None
        except jwt.PyJWTError as exc:
            raise Refused(f"the access token is not valid: {_printable(str(exc))}") from None
        subject = claims["sub"]
        if not isinstance(subject, str) or not subject:
            raise Refused("the access token's sub claim must be a non-empty string")
        principal = Principal(_printable(subject)[:_SUBJECT_MAX], _scopes_of(claims), float(claims["exp"]))
        self._verified[token] = principal
        return principal

    # -- answers ---------------------------------------------------------------------------------
    def _challenge(self, status: int, error: str | None, description: str,
                   needed: frozenset[str] | list[str] = frozenset(), body: dict[str, Any] | None = None
                   ) -> web.Response:
        params = [f'resource_metadata="{self.metadata_url}"']
        if error is not None:
            params.append(f'error="{error}"')
            params.append(f'error_description="{_printable(description)}"')
        if needed:
            params.append(f'scope="{" ".join(sorted(needed))}"')
        headers = {"WWW-Authenticate": "Bearer " + ", ".join(params)}
        if body is None:
            body = jsonrpc.error(None, INVALID_REQUEST, f"{'unauthorized' if status == 401 else 'forbidden'}: "
                                 f"{description}")
        return web.Response(status=status, body=orjson.dumps(body), content_type="application/json",
                            headers=headers)

    # -- metadata --------------------------------------------------------------------------------
    def add_routes(self, app: web.Application, endpoint: str) -> None:
        """/.well-known/oauth-protected-resource, at the root and suffixed with the endpoint's path (as
        served here, and as the audience URL names it behind a proxy)."""
        if self.spec is None:
            return
        paths = {WELL_KNOWN, WELL_KNOWN + endpoint, WELL_KNOWN + _path_of(self.spec.audience)}
        for path in sorted(paths):
            app.router.add_get(path, self._metadata)

    async def _metadata(self, request: web.Request) -> web.Response:
        assert self.spec is not None
        supported = sorted(self._required | set(scopes.supported(self._holder.current)))
        document = {"resource": self.spec.audience, "authorization_servers": [self.spec.issuer],
                    "scopes_supported": supported, "bearer_methods_supported": ["header"]}
        return web.Response(body=orjson.dumps(document), content_type="application/json",
                            headers={"Cache-Control": "max-age=300"})


def is_owner(request: web.Request, client_id: str) -> bool:
    """May `request` use the session its client `client_id` opened? A session opened with an access token
    answers only to tokens of the same subject (a stolen session id is not enough), and one opened without
    answers to no access token."""
    subject = request.get(SUBJECT)
    return (client_id if client_id.startswith("sub:") else None) == (None if subject is None else "sub:" + subject)


def _need_crypto() -> None:
    try:
        from jwt.algorithms import has_crypto
    except ImportError:
        has_crypto = False
    if not has_crypto:
        raise TransportUnavailable("server.http.auth needs the pyjwt and cryptography packages, which this build "
                                   "leaves out (the one-file binary does): run webmcp from its Python package")


def _scopes_of(claims: dict[str, Any]) -> frozenset[str]:
    """`scope` (RFC 9068: one string, space-separated) or `scp` (a list, or a string, as some issuers do)."""
    found: set[str] = set()
    for claim in ("scope", "scp"):
        value = claims.get(claim)
        if isinstance(value, str):
            found.update(value.split())
        elif isinstance(value, list):
            found.update(v for v in value if isinstance(v, str))
    return frozenset(found)


def _path_of(url: str) -> str:
    path = urllib.parse.urlsplit(url).path.rstrip("/")
    return path


def _metadata_url(audience: str) -> str:
    """Where a client finds the metadata: beside the resource's public URL, suffixed with its path."""
    parts = urllib.parse.urlsplit(audience)
    return f"{parts.scheme}://{parts.netloc}{WELL_KNOWN}{_path_of(audience)}"


def _printable(text: str) -> str:
    return _UNSAFE.sub("?", text)


def _error(status: int, mid: Any, code: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(jsonrpc.error(mid, code, message)),
                        content_type="application/json", headers=headers)


__all__ = ["WELL_KNOWN", "Authorization", "Principal", "StaticToken", "is_owner"]

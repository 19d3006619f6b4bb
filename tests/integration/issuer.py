"""A real token issuer for the tests, in-process: signing keys generated here (cryptography), the JWKS served
over HTTP on loopback (aiohttp), access tokens signed with PyJWT. With `authorization_server=True` it is also
a small OAuth authorization server at its own URL: RFC 8414 metadata and a token endpoint for the
client_credentials grant (client_secret_basic), issuing the scopes asked for that the client may have."""

from __future__ import annotations

import base64
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import jwt
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

ISSUER = "https://issuer.test"


class Issuer:
    """Keys by kid; `jwks()` publishes the public halves of those in `published`."""

    def __init__(self) -> None:
        self.keys: dict[str, Any] = {}
        self.published: list[str] = []
        self.fetches = 0
        self.url = ""
        self.issuer = ISSUER
        self.clients: dict[str, tuple[str, set[str]]] = {}  # client id -> (secret, scopes it may have)
        self.issued: list[dict[str, Any]] = []  # what the token endpoint was asked
        self.add_key("k1")

    def add_key(self, kid: str, kind: str = "RSA", publish: bool = True) -> None:
        self.keys[kid] = (rsa.generate_private_key(public_exponent=65537, key_size=2048) if kind == "RSA"
                          else ec.generate_private_key(ec.SECP256R1()))
        if publish:
            self.published.append(kid)

    def jwk(self, kid: str) -> dict[str, Any]:
        key = self.keys[kid]
        algorithm = RSAAlgorithm if isinstance(key, rsa.RSAPrivateKey) else ECAlgorithm
        public: dict[str, Any] = json.loads(algorithm.to_jwk(key.public_key()))
        return {**public, "kid": kid, "use": "sig"}

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.jwk(kid) for kid in self.published]}

    def token(self, audience: str, sub: str | None = "alice", scope: str | None = "mcp", kid: str = "k1",
              named: str | None = None, lifetime: float = 300, **claims: Any) -> str:
        """A token signed with key `kid`, its header naming `named` (default: that kid)."""
        now = time.time()
        payload: dict[str, Any] = {"iss": self.issuer, "aud": audience, "sub": sub, "iat": int(now),
                                   "exp": int(now + lifetime), "jti": uuid.uuid4().hex}
        if scope is not None:
            payload["scope"] = scope
        payload.update(claims)
        payload = {k: v for k, v in payload.items() if v is not None}
        key = self.keys[kid]
        alg = "RS256" if isinstance(key, rsa.RSAPrivateKey) else "ES256"
        return jwt.encode(payload, key, algorithm=alg, headers={"kid": named or kid})

    @contextlib.asynccontextmanager
    async def serving(self, authorization_server: bool = False) -> AsyncIterator[str]:
        """Serve /jwks on a free loopback port (and, as an authorization server, its metadata and /token, the
        issuer then being the server's URL); yields the JWKS URL."""
        async def jwks(request: web.Request) -> web.Response:
            self.fetches += 1
            return web.json_response(self.jwks())

        async def metadata(request: web.Request) -> web.Response:
            return web.json_response({
                "issuer": self.issuer, "token_endpoint": f"{self.issuer}/token", "jwks_uri": f"{self.issuer}/jwks",
                "authorization_endpoint": f"{self.issuer}/authorize",  # required by the SDK's model; never used
                "grant_types_supported": ["client_credentials"], "response_types_supported": ["code"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic"],
                "code_challenge_methods_supported": ["S256"]})

        async def token(request: web.Request) -> web.Response:
            form = await request.post()
            self.issued.append(dict(form))
            scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
            pair = base64.b64decode(encoded).decode() if scheme == "Basic" else ""
            client_id, _, secret = pair.partition(":")
            known = self.clients.get(client_id)
            if form.get("grant_type") != "client_credentials" or known is None or known[0] != secret:
                return web.json_response({"error": "invalid_client"}, status=401)
            asked = set(str(form.get("scope", "")).split())
            if not asked <= known[1]:
                return web.json_response({"error": "invalid_scope"}, status=400)
            granted = " ".join(sorted(asked))
            access = self.token(str(form.get("resource", "")), sub=client_id, scope=granted)
            return web.json_response({"access_token": access, "token_type": "Bearer", "expires_in": 300,
                                      "scope": granted})

        app = web.Application()
        app.router.add_get("/jwks", jwks)
        if authorization_server:
            app.router.add_get("/.well-known/oauth-authorization-server", metadata)
            app.router.add_post("/token", token)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}/jwks"
        if authorization_server:
            self.issuer = f"http://127.0.0.1:{port}"
        try:
            yield self.url
        finally:
            await runner.cleanup()

"""A real token issuer for the tests, in-process: signing keys generated here (cryptography), the JWKS served
over HTTP on loopback (aiohttp), access tokens signed with PyJWT."""

from __future__ import annotations

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
        payload: dict[str, Any] = {"iss": ISSUER, "aud": audience, "sub": sub, "iat": int(now),
                                   "exp": int(now + lifetime), "jti": uuid.uuid4().hex}
        if scope is not None:
            payload["scope"] = scope
        payload.update(claims)
        payload = {k: v for k, v in payload.items() if v is not None}
        key = self.keys[kid]
        alg = "RS256" if isinstance(key, rsa.RSAPrivateKey) else "ES256"
        return jwt.encode(payload, key, algorithm=alg, headers={"kid": named or kid})

    @contextlib.asynccontextmanager
    async def serving(self) -> AsyncIterator[str]:
        """Serve /jwks on a free loopback port; yields its URL."""
        async def jwks(request: web.Request) -> web.Response:
            self.fetches += 1
            return web.json_response(self.jwks())

        app = web.Application()
        app.router.add_get("/jwks", jwks)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}/jwks"
        try:
            yield self.url
        finally:
            await runner.cleanup()

"""The cost of checking OAuth access tokens (`server.http.auth`): one signature check per new token, a
dictionary lookup for a token already checked.

    .venv/bin/python bench/tokens.py [--tokens 300] [--repeat 10]

Makes an RSA-2048 and a P-256 key, pins them in a JWKS file, signs `--tokens` tokens with each (PyJWT) and
times `Authorization`'s check of each token the first time and then `--repeat` times more. Prints the
microseconds per check and their ratio. In-process, no network.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from webmcp.config.spec import AuthSpec, HttpSpec
from webmcp.transports.http_auth import Authorization

ISSUER, AUDIENCE = "https://issuer.bench", "https://tools.bench/mcp"


async def main(tokens: int, repeat: int) -> None:
    keys: dict[str, Any] = {"RS256": rsa.generate_private_key(public_exponent=65537, key_size=2048),
                            "ES256": ec.generate_private_key(ec.SECP256R1())}
    jwks = {"keys": [{**json.loads((RSAAlgorithm if alg == "RS256" else ECAlgorithm).to_jwk(k.public_key())),
                      "kid": alg, "use": "sig"} for alg, k in keys.items()]}
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "keys.json"
        path.write_text(json.dumps(jwks))
        holder: Any = None  # the checks below never read the graph
        auth = Authorization(HttpSpec(auth=AuthSpec(ISSUER, AUDIENCE, jwks_file=str(path))), holder)
        for alg, key in keys.items():
            now = int(time.time())
            signed = [jwt.encode({"iss": ISSUER, "aud": AUDIENCE, "sub": f"user{i}", "exp": now + 600,
                                  "jti": uuid.uuid4().hex, "scope": "mcp"}, key, algorithm=alg, headers={"kid": alg})
                      for i in range(tokens)]
            started = time.perf_counter()
            for token in signed:
                await auth._verify(token)
            first = (time.perf_counter() - started) / tokens
            started = time.perf_counter()
            for _ in range(repeat):
                for token in signed:
                    await auth._verify(token)
            again = (time.perf_counter() - started) / (tokens * repeat)
            print(f"{alg}: first check {first * 1e6:.0f} µs, a token already checked {again * 1e6:.2f} µs "
                  f"({first / again:.0f}x less)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()
    asyncio.run(main(args.tokens, args.repeat))

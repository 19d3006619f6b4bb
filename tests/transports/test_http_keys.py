"""Which of the issuer's keys may verify which token: key types and algorithms pinned, kid matching."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.integration.issuer import Issuer
from webmcp.errors import TransportUnavailable
from webmcp.transports.http_keys import Keys, fits

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(("jwk", "alg", "ok"), [
    ({"kty": "RSA"}, "RS256", True), ({"kty": "RSA"}, "PS384", True), ({"kty": "RSA"}, "ES256", False),
    ({"kty": "RSA", "alg": "RS256"}, "PS256", False), ({"kty": "RSA", "use": "enc"}, "RS256", False),
    ({"kty": "EC", "crv": "P-256"}, "ES256", True), ({"kty": "EC", "crv": "P-256"}, "ES384", False),
    ({"kty": "EC", "crv": "P-521"}, "ES512", True), ({"kty": "OKP", "crv": "Ed25519"}, "EdDSA", True),
    ({"kty": "OKP", "crv": "X25519"}, "EdDSA", False), ({"kty": "oct"}, "HS256", False),
    ({"kty": "oct"}, "RS256", False),
])
def test_a_key_serves_only_the_algorithms_of_its_type(jwk: dict[str, str], alg: str, ok: bool) -> None:
    assert fits(jwk, alg) is ok


async def test_keys_are_picked_by_kid_or_as_the_single_candidate(tmp_path: Path) -> None:
    """With a kid, that key; without one, the key only when it is the one key of that algorithm's type."""
    issuer = Issuer()
    issuer.add_key("e1", kind="EC")
    path = tmp_path / "keys.json"
    path.write_text(json.dumps(issuer.jwks()))
    keys = Keys(None, str(path), lambda: None)
    assert (await keys.find("k1", "RS256")) is not None
    assert (await keys.find("e1", "RS256")) is None  # an EC key never verifies RS256
    assert (await keys.find(None, "ES256")) is not None  # the one EC key
    issuer.add_key("e2", kind="EC")
    path.write_text(json.dumps(issuer.jwks()))
    keys.reload()
    assert (await keys.find(None, "ES256")) is None  # two EC keys: which one?
    assert (await keys.find("e2", "ES256")) is not None


def test_a_key_file_that_does_not_load_stops_the_start_and_keeps_the_keys_on_reload(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    path.write_text('{"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}')
    with pytest.raises(TransportUnavailable, match="no public signing key"):
        Keys(None, str(path), lambda: None)
    path.write_text(json.dumps(Issuer().jwks()))
    changes: list[int] = []
    keys = Keys(None, str(path), lambda: changes.append(1))
    path.write_text("not json")
    keys.reload()
    assert changes == [1] and keys._jwks

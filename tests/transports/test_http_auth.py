"""Pieces of the access-token check that the end-to-end tests do not vary: where scopes come from, where the
metadata lives, who owns a session."""

from __future__ import annotations

from typing import Any

import pytest

from webmcp.transports.http_access import SUBJECT
from webmcp.transports.http_auth import _metadata_url, _scopes_of, is_owner


@pytest.mark.parametrize(("claims", "scopes"), [
    ({"scope": "mcp docs:write"}, {"mcp", "docs:write"}),      # RFC 9068
    ({"scp": ["mcp", "admin"]}, {"mcp", "admin"}),              # Okta, Entra ID (a list)
    ({"scp": "mcp admin"}, {"mcp", "admin"}),                   # some issuers: a string
    ({"scope": "a", "scp": ["b", 3]}, {"a", "b"}),
    ({"scope": 5}, set()), ({}, set()),
])
def test_scopes_come_from_scope_or_scp(claims: dict[str, Any], scopes: set[str]) -> None:
    assert _scopes_of(claims) == scopes


@pytest.mark.parametrize(("audience", "url"), [
    ("https://tools.example.com/mcp", "https://tools.example.com/.well-known/oauth-protected-resource/mcp"),
    ("https://tools.example.com/team/mcp/", "https://tools.example.com/.well-known/oauth-protected-resource/team/mcp"),
    ("https://tools.example.com", "https://tools.example.com/.well-known/oauth-protected-resource"),
    ("http://127.0.0.1:8765/mcp", "http://127.0.0.1:8765/.well-known/oauth-protected-resource/mcp"),
])
def test_the_metadata_url_is_the_audience_with_the_well_known_path_inserted(audience: str, url: str) -> None:
    assert _metadata_url(audience) == url


def test_a_session_answers_only_to_the_subject_that_opened_it() -> None:
    alice: dict[str, Any] = {SUBJECT: "alice"}
    nobody: dict[str, Any] = {}
    assert is_owner(alice, "sub:alice")  # type: ignore[arg-type]
    assert not is_owner({SUBJECT: "bob"}, "sub:alice")  # type: ignore[arg-type]
    assert not is_owner(nobody, "sub:alice")  # type: ignore[arg-type]  # the static token, or no token
    assert not is_owner(alice, "session:0123abcd")  # type: ignore[arg-type]  # opened without an access token
    assert is_owner(nobody, "session:0123abcd")  # type: ignore[arg-type]

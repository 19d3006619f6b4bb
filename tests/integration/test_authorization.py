"""MCP authorization (`server.http.auth`): a real token issuer in-process (keys made here, JWKS over HTTP on
loopback), a real `webmcp serve`, and the official client sending the tokens."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from cryptography.hazmat.primitives import serialization
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.exceptions import MCPError

from tests.integration.conftest import write_config
from tests.integration.issuer import ISSUER, Issuer
from tests.integration.test_http import INIT, free_port, post, wait_for_port
from tests.integration.test_sessionless import _headers, _request

pytestmark = pytest.mark.anyio

CONFIG = """
version: 1
server:
  http:
    auth: {issuer: "ISSUER", audience: "AUDIENCE", KEYS, required_scopes: [mcp]}
    auth_token_env: TEST_STATIC_TOKEN
telemetry:
  spans: {path: spans.jsonl, batch_size: 1, flush_interval: 100ms}
tools:
  greet: {kind: python, function: "sample_tools:greet", expose: true}
  wipe: {kind: static, content: wiped, scopes: [admin]}
master_tools:
  box:
    description: Helpers.
    operations:
      hello: greet
      purge: {kind: static, content: purged, scopes: [admin]}
"""


@contextlib.contextmanager
def serve(workdir: Path, keys: str, issuer: str = ISSUER, extra: str = ""
          ) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`webmcp serve` over HTTP with CONFIG (and `extra` top-level YAML), its keys from `keys` (`jwks_url: ...`
    or `jwks_file: ...`); yields the endpoint URL (also the tokens' audience) and the process."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/mcp"
    text = CONFIG.replace("ISSUER", issuer).replace("AUDIENCE", url).replace("KEYS", keys) + extra
    config = write_config(workdir, text)
    proc = subprocess.Popen([sys.executable, "-m", "webmcp", "serve", "-c", str(config), "--transport", "http",
                             "--port", str(port)], cwd=workdir,
                            env={**os.environ, "TEST_STATIC_TOKEN": "static-s3cret"},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for_port(proc, port)
        yield url, proc
    finally:
        proc.terminate()
        proc.wait(15)
        assert proc.stderr is not None
        proc.stderr.close()


@contextlib.asynccontextmanager
async def client(url: str, token: str) -> AsyncIterator[ClientSession]:
    """The official client, sending `token` as its bearer token."""
    async with (
        create_mcp_http_client(headers={"Authorization": f"Bearer {token}"}) as http,
        streamable_http_client(url, http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forged(header: dict[str, Any], claims: dict[str, Any], secret: bytes | None) -> str:
    """A JWT put together by hand: HMAC-SHA256 with `secret`, or no signature at all."""
    signing_input = f"{_b64(orjson.dumps(header))}.{_b64(orjson.dumps(claims))}"
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest() if secret is not None else b""
    return f"{signing_input}.{_b64(signature)}"


def challenge(headers: dict[str, str]) -> str:
    return headers.get("WWW-Authenticate", "")


async def test_the_official_client_sees_and_calls_only_what_its_scopes_allow(workdir: Path) -> None:
    """A token with scope `mcp` lists greet and box but not wipe; calling wipe anyway is refused with an error
    naming the scope; a token with `mcp admin` lists and calls it, and box's purge operation too."""
    issuer = Issuer()
    async with issuer.serving() as jwks:
        with serve(workdir, f"jwks_url: {jwks}") as (url, _):
            async with client(url, issuer.token(url, scope="mcp")) as session:
                names = {t.name for t in (await session.list_tools()).tools}
                assert names == {"greet", "box"}
                greeted = await session.call_tool("greet", {"name": "Ada"})
                assert not greeted.is_error and greeted.content[0].text == "Hello, Ada!"  # type: ignore[union-attr]
                with pytest.raises(MCPError, match="tool 'wipe' needs the scope admin"):
                    await session.call_tool("wipe", {})
                with pytest.raises(MCPError, match="tool 'box' needs the scope admin"):
                    await session.call_tool("box", {"operation": "purge"})
                hello = await session.call_tool("box", {"operation": "hello", "name": "Bo"})
                assert not hello.is_error
            async with client(url, issuer.token(url, scope="mcp admin")) as session:
                names = {t.name for t in (await session.list_tools()).tools}
                assert names == {"greet", "box", "wipe"}
                assert (await session.call_tool("wipe", {})).content[0].text == "wiped"  # type: ignore[union-attr]
                purged = await session.call_tool("box", {"operation": "purge"})
                assert purged.content[0].text == "purged"  # type: ignore[union-attr]


async def test_tool_search_honours_the_token_scopes(workdir: Path) -> None:
    """A search toolset: find_tools does not offer a tool the token may not see, and call_tool refuses it as a
    direct call would be refused; with the scope, both work."""
    issuer = Issuer()
    toolset = "toolsets:\n  find: {mode: search}\n"
    async with issuer.serving() as jwks:
        with serve(workdir, f"jwks_url: {jwks}", extra=toolset) as (url, _):
            async with client(url + "/find", issuer.token(url, scope="mcp")) as session:
                found = await session.call_tool("find_tools", {"query": "wipe", "limit": 10})
                assert "wipe" not in {t["name"] for t in found.structured_content["tools"]}  # type: ignore[index]
                refused = await session.call_tool("call_tool", {"name": "wipe", "arguments": {}})
                assert refused.is_error
                assert refused.content[0].text == ("tool 'wipe' needs the scope admin, which the access "  # type: ignore[union-attr]
                                                   "token does not grant")
            async with client(url + "/find", issuer.token(url, scope="mcp admin")) as session:
                found = await session.call_tool("find_tools", {"query": "wipe", "limit": 10})
                assert found.structured_content["tools"][0]["name"] == "wipe"  # type: ignore[index]
                called = await session.call_tool("call_tool", {"name": "wipe", "arguments": {}})
                assert called.content[0].text == "wiped"  # type: ignore[union-attr]


async def test_challenges_and_metadata_on_the_wire(workdir: Path) -> None:
    """No token: 401 naming the metadata URL and the required scope. The metadata is served at the root and
    at the endpoint's path. A token without `mcp`: 403 insufficient_scope. A tools/call of a tool the token
    may not call: 403 naming the scopes it needs. /metrics takes the static token or an access token."""
    issuer = Issuer()
    async with issuer.serving() as jwks, aiohttp.ClientSession() as http:
        with serve(workdir, f"jwks_url: {jwks}") as (url, _):
            base = url.rsplit("/", 1)[0]
            metadata_url = f"{base}/.well-known/oauth-protected-resource/mcp"
            status, headers, body = await post(http, url, INIT)
            assert status == 401
            assert challenge(headers) == f'Bearer resource_metadata="{metadata_url}", scope="mcp"'
            assert body["error"]["message"].startswith("unauthorized")
            for path in ("/.well-known/oauth-protected-resource", "/.well-known/oauth-protected-resource/mcp"):
                async with http.get(base + path) as resp:
                    assert resp.status == 200
                    assert await resp.json() == {"resource": url, "authorization_servers": [ISSUER],
                                                 "scopes_supported": ["admin", "mcp"],
                                                 "bearer_methods_supported": ["header"]}

            no_mcp = {"Authorization": f"Bearer {issuer.token(url, scope='other')}"}
            status, headers, _ = await post(http, url, INIT, no_mcp)
            assert status == 403
            assert 'error="insufficient_scope"' in challenge(headers) and 'scope="mcp"' in challenge(headers)

            auth = {"Authorization": f"Bearer {issuer.token(url, scope='mcp')}"}
            status, headers, _ = await post(http, url, INIT, auth)
            assert status == 200
            session = {**auth, "Mcp-Session-Id": headers["Mcp-Session-Id"]}
            call = {"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": "wipe", "arguments": {}}}
            status, headers, body = await post(http, url, call, session)
            assert status == 403
            assert 'error="insufficient_scope"' in challenge(headers) and 'scope="admin mcp"' in challenge(headers)
            assert f'resource_metadata="{metadata_url}"' in challenge(headers)
            assert body["id"] == 7 and body["error"]["data"] == {"scopes": ["admin"]}
            # The method spelled with a JSON escape gets past the transport's quick look: the Session refuses it.
            escaped = b'{"jsonrpc":"2.0","id":8,"method":"tools\\/call","params":{"name":"wipe","arguments":{}}}'
            status, _, body = await post(http, url, None, session, raw=escaped)
            assert status == 200 and body["error"]["code"] == -32602
            assert body["error"]["message"] == ("tool 'wipe' needs the scope admin, which the access token does "
                                                "not grant")

            # Revision 2026-07-28 (sessionless): the filtered list says a shared cache must not keep it.
            status, _, body = await post(http, url, _request("tools/list"), {**auth, **_headers("tools/list")})
            assert status == 200 and {t["name"] for t in body["result"]["tools"]} == {"greet", "box"}
            assert body["result"]["cacheScope"] == "private"

            for token, expected in (("static-s3cret", 200), (issuer.token(url), 200), ("wrong", 401), (None, 401)):
                async with http.get(base + "/metrics", headers={"Authorization": f"Bearer {token}"} if token else {}
                                    ) as resp:
                    assert resp.status == expected, token
            async with http.get(base + "/healthz") as resp:
                assert resp.status == 200


async def test_tokens_that_are_not_valid_here_get_401_invalid_token(workdir: Path) -> None:
    """Expired, not yet valid, for another resource, from another issuer, without sub, signed by a key the
    issuer does not publish, `alg: none`, HS256 keyed with the issuer's public key, and garbage: each gets
    401 with error="invalid_token" and a description saying which; nothing gets through."""
    issuer = Issuer()
    issuer.add_key("stray", publish=False)
    async with issuer.serving() as jwks, aiohttp.ClientSession() as http:
        with serve(workdir, f"jwks_url: {jwks}") as (url, proc):
            now = int(time.time())
            pem = issuer.keys["k1"].public_key().public_bytes(serialization.Encoding.PEM,
                                                              serialization.PublicFormat.SubjectPublicKeyInfo)
            claims = {"iss": ISSUER, "aud": url, "sub": "mallory", "scope": "mcp admin", "exp": now + 300}
            cases = {
                "has expired": issuer.token(url, lifetime=-120),
                "not valid yet": issuer.token(url, nbf=now + 600),
                "not for this resource": issuer.token("https://other.example/mcp"),
                "not issued by": issuer.token(url, iss="https://evil.example"),
                "has no sub claim": issuer.token(url, sub=None),
                "signing key the issuer does not publish": issuer.token(url, kid="stray"),
                "tokens signed with none": forged({"alg": "none", "kid": "k1"}, claims, None),
                "tokens signed with HS256": forged({"alg": "HS256", "kid": "k1", "typ": "JWT"}, claims, pem),
                "not a JWT": "not-a-token",
            }
            for reason, token in cases.items():
                status, headers, body = await post(http, url, INIT, {"Authorization": f"Bearer {token}"})
                assert status == 401, reason
                assert 'error="invalid_token"' in challenge(headers), reason
                assert reason in challenge(headers) and reason in body["error"]["message"], (reason, headers)
            assert proc.poll() is None


async def test_an_unknown_kid_refetches_the_keys_but_a_flood_of_them_does_not(workdir: Path) -> None:
    """The issuer rotates: a token signed with a new key is accepted after one fetch of the JWKS; then
    200 tokens naming made-up key ids cause at most one more fetch (rate-limited) and all get 401."""
    issuer = Issuer()
    async with issuer.serving() as jwks, aiohttp.ClientSession() as http:
        with serve(workdir, f"jwks_url: {jwks}") as (url, _):
            assert (await post(http, url, INIT, {"Authorization": f"Bearer {issuer.token(url)}"}))[0] == 200
            assert issuer.fetches == 1
            issuer.add_key("k2", kind="EC")
            rotated = {"Authorization": f"Bearer {issuer.token(url, kid='k2')}"}
            assert (await post(http, url, INIT, rotated))[0] == 200
            assert issuer.fetches == 2
            issuer.add_key("k3")  # not fetched: the last fetch was less than 30s ago
            flood = [post(http, url, INIT, {"Authorization": f"Bearer {issuer.token(url, named=uuid.uuid4().hex)}"})
                     for _ in range(200)]
            results = await asyncio.gather(*flood, return_exceptions=True)
            assert all(not isinstance(r, BaseException) and r[0] == 401 for r in results)
            assert issuer.fetches <= 3
            assert (await post(http, url, INIT, {"Authorization": f"Bearer {issuer.token(url)}"}))[0] == 200


async def test_the_subject_is_the_client_and_owns_its_session(workdir: Path) -> None:
    """Spans name the token's subject as the client; a session opened by alice is not found with bob's token;
    executor.client_rate_limit counts per subject, across sessions: alice's third call (in a new session)
    is refused, bob's first goes through."""
    issuer = Issuer()
    async with issuer.serving() as jwks, aiohttp.ClientSession() as http:
        with serve(workdir, f"jwks_url: {jwks}", extra="executor: {client_rate_limit: 2/hour}\n"
                   ) as (url, _):
            alice = {"Authorization": f"Bearer {issuer.token(url, sub='alice')}"}
            bob = {"Authorization": f"Bearer {issuer.token(url, sub='bob')}"}
            status, headers, _ = await post(http, url, INIT, alice)
            sid = {"Mcp-Session-Id": headers["Mcp-Session-Id"]}
            call = {"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                    "params": {"name": "greet", "arguments": {"name": "x"}}}
            assert (await post(http, url, call, {**bob, **sid}))[0] == 404
            status, _, body = await post(http, url, call, {**alice, **sid})
            assert status == 200 and not body["result"]["isError"]
            spans = workdir / "spans.jsonl"
            for _ in range(50):
                if spans.exists() and spans.read_text().strip():
                    break
                await asyncio.sleep(0.1)
            records = [json.loads(line) for line in spans.read_text().splitlines()]
            assert [r["client"] for r in records] == ["sub:alice"]

            async def call_in_a_new_session(who: dict[str, str]) -> dict[str, Any]:
                _, headers, _ = await post(http, url, INIT, who)
                status, _, body = await post(http, url, call, {**who, "Mcp-Session-Id": headers["Mcp-Session-Id"]})
                assert status == 200
                return dict(body["result"])

            assert not (await call_in_a_new_session(alice))["isError"]
            refused = await call_in_a_new_session(alice)
            assert refused["isError"] and "per client exceeded" in refused["content"][0]["text"]
            assert not (await call_in_a_new_session(bob))["isError"]


async def test_pinned_keys_in_a_file_are_read_again_on_sighup(workdir: Path) -> None:
    """jwks_file: a token of a key not in the file gets 401; once the file lists it and the server got
    SIGHUP, the same token is accepted. Nothing is fetched."""
    issuer = Issuer()
    issuer.add_key("k2", publish=False)
    keys = workdir / "keys.json"
    keys.write_text(json.dumps(issuer.jwks()))
    async with aiohttp.ClientSession() as http:
        with serve(workdir, "jwks_file: keys.json") as (url, proc):
            token = {"Authorization": f"Bearer {issuer.token(url, kid='k2')}"}
            assert (await post(http, url, INIT, token))[0] == 401
            issuer.published.append("k2")
            keys.write_text(json.dumps(issuer.jwks()))
            proc.send_signal(signal.SIGHUP)
            for _ in range(50):
                await asyncio.sleep(0.1)
                if (await post(http, url, INIT, token))[0] == 200:
                    break
            else:
                raise AssertionError("the key added to the file was not accepted after SIGHUP")


class Tokens:
    """The client's token storage (TokenStorage of the mcp SDK), in memory."""

    def __init__(self) -> None:
        self.tokens: Any = None
        self.info: Any = None

    async def get_tokens(self) -> Any:
        return self.tokens

    async def set_tokens(self, tokens: Any) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> Any:
        return self.info

    async def set_client_info(self, info: Any) -> None:
        self.info = info


async def test_the_official_client_discovers_the_issuer_gets_a_token_and_steps_up(workdir: Path) -> None:
    """The SDK's OAuth client (client_credentials), given only the endpoint and its credentials: the 401 leads
    it to the resource metadata, that to the authorization server, whose token (for this resource, scope mcp)
    opens the session. Calling a tool that needs admin gets 403 insufficient_scope naming `admin mcp`; the
    client asks for a token with those scopes and the call goes through."""
    from mcp.client.auth.extensions.client_credentials import ClientCredentialsOAuthProvider

    issuer = Issuer()
    async with issuer.serving(authorization_server=True) as jwks:
        issuer.clients["robot"] = ("s3cret", {"mcp", "admin"})
        with serve(workdir, f"jwks_url: {jwks}", issuer=issuer.issuer) as (url, _):
            auth = ClientCredentialsOAuthProvider(server_url=url, storage=Tokens(), client_id="robot",
                                                  client_secret="s3cret", scope="mcp", issuer=issuer.issuer)
            async with (
                create_mcp_http_client(auth=auth) as http,
                streamable_http_client(url, http_client=http) as (read, write),
                ClientSession(read, write) as session,
            ):
                await session.initialize()
                assert {t.name for t in (await session.list_tools()).tools} == {"greet", "box"}
                wiped = await session.call_tool("wipe", {})
                assert not wiped.is_error and wiped.content[0].text == "wiped"  # type: ignore[union-attr]
    asked = [(set(str(form.get("scope")).split()), form.get("resource")) for form in issuer.issued]
    assert asked == [({"mcp"}, url), ({"admin", "mcp"}, url)]  # the second one: the step-up

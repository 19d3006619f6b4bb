"""Protocol revision 2026-07-28 over HTTP: the official client's sessionless flow, and the wire rules raw."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import mcp.types as types
import orjson
import pytest
from mcp import Client

from tests.integration.test_http import INIT, http_server, post

pytestmark = pytest.mark.anyio

MODERN = "2026-07-28"
CONFIG = """
version: 1
server:
  name: modern
  instructions: Plans trips.
  http: {stateless: STATELESS}
  cache_hints: {lists: 90s, resources: 2s, scope: private}
tools:
  greet: {kind: python, function: "sample_tools:greet"}
  trip: {kind: python, function: "sample_tools:trip"}
  ask_model: {kind: python, function: "sample_tools:ask_model"}
  progress_then_log: {kind: python, function: "sample_tools:progress_then_log"}
  ask_after: {kind: python, function: "sample_tools:ask_after", cache: {strategy: lru, max_entries: 10}}
resources:
  notes: {uri: "test://notes", mime_type: text/plain, text: Pack light.}
prompts:
  interview:
    description: Asks for an angle first.
    arguments: [{name: topic, required: true}]
    function: "sample_tools:interview"
"""
META = {"io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientCapabilities": {"elicitation": {}, "sampling": {}},
        "io.modelcontextprotocol/clientInfo": {"name": "raw", "version": "1"}}


def config(stateless: bool = False) -> str:
    return CONFIG.replace("STATELESS", "true" if stateless else "false")


async def _elicit(context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
    answers = {"Who travels?": {"name": "Ada"}, "When?": {"dates": "May"},
               "Which angle on tides?": {"angle": "lunar"}}
    return types.ElicitResult(action="accept", content=answers[params.message])


async def _sample(context: Any, params: types.CreateMessageRequestParams) -> types.CreateMessageResult:
    return types.CreateMessageResult(role="assistant", content=types.TextContent(type="text", text="swim"),
                                     model="m", stop_reason="endTurn")


async def _roots(context: Any) -> types.ListRootsResult:
    return types.ListRootsResult(roots=[types.Root(uri="file:///a"), types.Root(uri="file:///b")])


def _request(method: str, params: dict[str, Any] | None = None, mid: int = 1, meta: Any = META) -> dict[str, Any]:
    body = dict(params or {})
    if meta is not None:
        body["_meta"] = meta
    return {"jsonrpc": "2.0", "id": mid, "method": method, "params": body}


def _headers(method: str, name: str | None = None, version: str = MODERN) -> dict[str, str]:
    headers = {"MCP-Protocol-Version": version, "Mcp-Method": method}
    if name is not None:
        headers["Mcp-Name"] = name
    return headers


@pytest.mark.parametrize("stateless", [False, True])
async def test_official_client_negotiates_the_sessionless_revision(workdir: Path, stateless: bool) -> None:
    """The SDK's Client probes server/discover, adopts 2026-07-28, and drives input_required rounds by
    itself: one question, then two at once, then the roots it declared."""
    with http_server(workdir, config=config(stateless)) as url:
        async with Client(url, elicitation_callback=_elicit, sampling_callback=_sample,
                          list_roots_callback=_roots) as client:
            assert client.protocol_version == MODERN
            assert client.server_capabilities.tools is not None
            assert client.server_capabilities.logging is None  # removed on this revision
            names = sorted(t.name for t in (await client.list_tools()).tools)
            assert names == ["ask_after", "ask_model", "greet", "progress_then_log", "trip"]
            r = await client.call_tool("greet", {"name": "Ada"})
            assert r.content[0].text == "Hello, Ada!"
            r = await client.call_tool("trip", {"destination": "Lisbon"})
            assert r.content[0].text == "Ada goes to Lisbon on May: swim (roots: 2)"
            prompt = await client.get_prompt("interview", {"topic": "tides"})
            assert prompt.messages[0].content.text == "Discuss tides from the lunar angle."


async def test_the_same_tool_asks_a_2025_session_directly(workdir: Path) -> None:
    """On a 2025 session the same questions are server->client requests on the call's stream."""
    with http_server(workdir, config=config()) as url:
        async with Client(url, mode="legacy", elicitation_callback=_elicit, sampling_callback=_sample) as client:
            assert client.protocol_version == "2025-11-25"
            r = await client.call_tool("trip", {"destination": "Lisbon"})
            assert r.content[0].text == "Ada goes to Lisbon on May: swim (roots: 0)"


async def test_progress_and_opted_in_logs_stream_on_the_request(workdir: Path) -> None:
    """Progress rides the POST's SSE stream; log messages arrive only when the request names a log level."""
    progress: list[float] = []
    logs: list[Any] = []

    async def on_progress(p: float, total: float | None, message: str | None) -> None:
        progress.append(p)

    async def on_log(params: types.LoggingMessageNotificationParams) -> None:
        logs.append(params.data)

    with http_server(workdir, config=config()) as url:
        async with Client(url, logging_callback=on_log) as client:
            await client.call_tool("progress_then_log", {}, progress_callback=on_progress)
            assert progress == [1, 2] and logs == []
        async with Client(url, logging_callback=on_log, log_level="info") as client:
            await client.call_tool("progress_then_log", {})
            assert logs == ["half way"]


async def test_input_required_on_the_raw_wire(workdir: Path) -> None:
    """Round by round: the question, the sealed state, the answer; a tampered or misused state is -32602."""
    with http_server(workdir, config=config()) as url:
        async with aiohttp.ClientSession() as http:
            call = {"name": "trip", "arguments": {"destination": "Oslo"}}
            status, _, body = await post(http, url, _request("tools/call", call), _headers("tools/call", "trip"))
            assert status == 200
            first = body["result"]
            assert first["resultType"] == "input_required"
            assert list(first["inputRequests"]) == ["traveller"]
            assert first["inputRequests"]["traveller"]["method"] == "elicitation/create"
            state = first["requestState"]

            answer = {"traveller": {"action": "accept", "content": {"name": "Bo"}}}
            retry = {**call, "inputResponses": answer, "requestState": state}
            _, _, body = await post(http, url, _request("tools/call", retry), _headers("tools/call", "trip"))
            second = body["result"]
            assert sorted(second["inputRequests"]) == ["dates", "idea"]  # asked together, sent together
            assert second["requestState"] != state

            for bad_state, why in ((state + "x", "integrity"), (state + "é", "integrity"), (state, "another call")):
                other = {"name": "trip", "arguments": {"destination": "Rome"}} if why == "another call" else call
                tampered = {**other, "inputResponses": answer, "requestState": bad_state}
                status, _, body = await post(http, url, _request("tools/call", tampered),
                                             _headers("tools/call", "trip"))
                assert status == 400 and body["error"]["code"] == -32602 and why in body["error"]["message"]

            answers = {"dates": {"action": "accept", "content": {"dates": "June"}},
                       "idea": {"role": "assistant", "content": {"type": "text", "text": "ski"}, "model": "m"}}
            final = {**call, "inputResponses": answers, "requestState": second["requestState"]}
            _, _, body = await post(http, url, _request("tools/call", final), _headers("tools/call", "trip"))
            assert body["result"]["resultType"] == "complete"
            assert body["result"]["content"][0]["text"] == "Bo goes to Oslo on June: ski (roots: 0)"

            wrong = {**call, "inputResponses": {"traveller": 12345}}
            status, _, body = await post(http, url, _request("tools/call", wrong), _headers("tools/call", "trip"))
            assert status == 400 and body["error"]["code"] == -32602


async def test_envelope_and_header_rules(workdir: Path) -> None:
    """Missing _meta keys -32602, headers that disagree -32020, unknown version -32022, an undeclared
    capability -32021, removed and unknown methods 404 -32601; every error keeps the request's id."""
    with http_server(workdir, config=config()) as url:
        async with aiohttp.ClientSession() as http:
            status, _, body = await post(http, url, _request("server/discover", mid=7, meta={}),
                                         _headers("server/discover"))
            assert (status, body["id"], body["error"]["code"]) == (400, 7, -32602)

            status, _, body = await post(http, url, _request("tools/list"), _headers("tools/call"))
            assert (status, body["error"]["code"]) == (400, -32020)
            status, _, body = await post(http, url, _request("tools/call", {"name": "greet", "arguments": {}}),
                                         _headers("tools/call", "other"))
            assert (status, body["error"]["code"]) == (400, -32020)

            future = {**META, "io.modelcontextprotocol/protocolVersion": "2099-01-01"}
            status, _, body = await post(http, url, _request("server/discover", meta=future),
                                         _headers("server/discover", version="2099-01-01"))
            assert status == 400 and body["error"]["code"] == -32022
            assert body["error"]["data"] == {"supported": [MODERN], "requested": "2099-01-01"}

            no_sampling = {**META, "io.modelcontextprotocol/clientCapabilities": {}}
            status, _, body = await post(http, url, _request("tools/call", {"name": "ask_model", "arguments":
                                         {"question": "q"}}, meta=no_sampling), _headers("tools/call", "ask_model"))
            assert (status, body["error"]["code"]) == (400, -32021)
            assert body["error"]["data"] == {"requiredCapabilities": {"sampling": {}}}

            for method in ("initialize", "ping", "logging/setLevel", "resources/subscribe", "no/such"):
                status, _, body = await post(http, url, _request(method, mid=9), _headers(method))
                assert (status, body["id"], body["error"]["code"]) == (404, 9, -32601), method

            status, _, body = await post(http, url, _request("resources/read", {"uri": "test://nope"}),
                                         _headers("resources/read", "test://nope"))
            assert status == 400 and body["error"]["code"] == -32602 and body["error"]["data"] == {"uri": "test://nope"}


async def test_discover_and_cache_hints(workdir: Path) -> None:
    """server/discover names the revision and the capabilities served; cacheable results carry the
    configured hints, every result its resultType and the server's name."""
    with http_server(workdir, config=config()) as url:
        async with aiohttp.ClientSession() as http:
            _, _, body = await post(http, url, _request("server/discover"), _headers("server/discover"))
            result = body["result"]
            assert result["supportedVersions"] == [MODERN]
            assert set(result["capabilities"]) == {"tools", "resources", "prompts", "completions"}
            assert result["instructions"] == "Plans trips."
            assert (result["ttlMs"], result["cacheScope"]) == (90000, "private")
            assert result["_meta"]["io.modelcontextprotocol/serverInfo"]["name"] == "modern"
            _, _, body = await post(http, url, _request("resources/read", {"uri": "test://notes"}),
                                    _headers("resources/read", "test://notes"))
            assert (body["result"]["ttlMs"], body["result"]["contents"][0]["text"]) == (2000, "Pack light.")
            _, _, body = await post(http, url, _request("tools/call", {"name": "greet", "arguments": {"name": "x"}}),
                                    _headers("tools/call", "greet"))
            assert body["result"]["resultType"] == "complete" and "ttlMs" not in body["result"]
            # A notification needs no session either: acknowledged, nothing to act on.
            note = {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 1, "_meta": META}}
            status, _, _ = await post(http, url, note, _headers("notifications/cancelled"))
            assert status == 202


async def test_a_shared_secret_lets_another_instance_accept_the_state(workdir: Path) -> None:
    """Instances that share request_state.secret_env accept each other's requestState; others refuse it."""
    shared = config().replace("cache_hints:", "request_state: {secret_env: TRIP_KEY}\n  cache_hints:")
    call = {"name": "trip", "arguments": {"destination": "Oslo"}}
    answer = {"traveller": {"action": "accept", "content": {"name": "Bo"}}}
    (workdir / "a").mkdir()
    (workdir / "b").mkdir()
    (workdir / "c").mkdir()
    with (http_server(workdir / "a", config=shared, env={"TRIP_KEY": "k1"}) as url_a,
          http_server(workdir / "b", config=shared, env={"TRIP_KEY": "k1"}) as url_b,
          http_server(workdir / "c", config=shared, env={"TRIP_KEY": "k2"}) as url_c):
        async with aiohttp.ClientSession() as http:
            _, _, body = await post(http, url_a, _request("tools/call", call), _headers("tools/call", "trip"))
            retry = _request("tools/call", {**call, "inputResponses": answer,
                                            "requestState": body["result"]["requestState"]})
            _, _, body = await post(http, url_b, retry, _headers("tools/call", "trip"))
            assert sorted(body["result"]["inputRequests"]) == ["dates", "idea"]
            status, _, body = await post(http, url_c, retry, _headers("tools/call", "trip"))
            assert status == 400 and "integrity" in body["error"]["message"]


async def test_identical_calls_of_a_cached_tool_that_asks_each_get_the_question(workdir: Path) -> None:
    """Single-flight shares a run between identical calls; a run that asks its caller a question is not
    shared: every caller gets the question, the answered call completes, and its result is not cached."""
    import asyncio

    with http_server(workdir, config=config()) as url:
        async with aiohttp.ClientSession() as http:
            call = {"name": "ask_after", "arguments": {"seconds": 0.3}}
            replies = await asyncio.gather(*(post(http, url, _request("tools/call", call, mid=i),
                                                  _headers("tools/call", "ask_after")) for i in range(3)))
            for status, _, body in replies:
                assert status == 200 and list(body["result"]["inputRequests"]) == ["go"], body
            answered = {**call, "inputResponses": {"go": {"action": "accept", "content": {"go": True}}},
                        "requestState": replies[0][2]["result"]["requestState"]}
            _, _, body = await post(http, url, _request("tools/call", answered), _headers("tools/call", "ask_after"))
            assert body["result"]["content"][0]["text"] == "went: accept"
            # That result rests on this client's answer: it was not cached for the next caller, who is asked.
            _, _, body = await post(http, url, _request("tools/call", call, mid=9), _headers("tools/call", "ask_after"))
            assert list(body["result"]["inputRequests"]) == ["go"]


async def test_the_revisions_do_not_leak_into_each_other(workdir: Path) -> None:
    """The 2026 result shape is added to copies: a 2025 session afterwards gets the plain lists and
    results (no resultType, ttlMs or _meta), and its unknown resource is still -32002."""
    with http_server(workdir, config=config()) as url:
        async with aiohttp.ClientSession() as http:
            for _ in range(2):
                await post(http, url, _request("tools/list"), _headers("tools/list"))
                await post(http, url, _request("resources/read", {"uri": "test://notes"}),
                           _headers("resources/read", "test://notes"))
                status, _, body = await post(http, url, _request("resources/read", {"uri": "test://x"}),
                                             _headers("resources/read", "test://x"))
                assert (status, body["error"]["code"]) == (400, -32602)
            _, headers, _ = await post(http, url, INIT)
            session = {"Mcp-Session-Id": headers["Mcp-Session-Id"], "MCP-Protocol-Version": "2025-11-25"}
            for method, params in (("tools/list", {}), ("resources/read", {"uri": "test://notes"})):
                _, _, body = await post(http, url, {"jsonrpc": "2.0", "id": 2, "method": method, "params": params},
                                        session)
                assert not {"resultType", "ttlMs", "cacheScope", "_meta"} & set(body["result"]), body
            _, _, body = await post(http, url, {"jsonrpc": "2.0", "id": 3, "method": "resources/read",
                                                "params": {"uri": "test://x"}}, session)
            assert body["error"]["code"] == -32002


async def _events(resp: aiohttp.ClientResponse) -> AsyncIterator[dict[str, Any]]:
    async for line in resp.content:
        if line.startswith(b"data: "):
            yield orjson.loads(line[6:])


async def test_listen_stream_carries_the_changes_it_opted_in_to(workdir: Path) -> None:
    """subscriptions/listen: acknowledged first, then a reload that changes tools and prompts sends only
    the tools notification the stream asked for, tagged with its subscription id."""
    text = config().replace("http: {stateless: false}", "http: {admin_token_env: ADMIN}")
    with http_server(workdir, config=text, env={"ADMIN": "a"}) as url:
        async with aiohttp.ClientSession() as http:
            _, _, body = await post(http, url, _request("server/discover"), _headers("server/discover"))
            assert body["result"]["capabilities"]["tools"] == {"listChanged": True}
            status, _, body = await post(http, url, _request("subscriptions/listen", {"notifications": {}}),
                                         {**_headers("subscriptions/listen"), "Accept": "application/json"})
            assert status == 406
            listen = _request("subscriptions/listen", {"notifications": {"toolsListChanged": True}}, mid="sub-1")
            async with http.post(url, data=orjson.dumps(listen), headers={
                    "Content-Type": "application/json", "Accept": "application/json, text/event-stream",
                    **_headers("subscriptions/listen")}) as resp:
                assert resp.content_type == "text/event-stream"
                events = _events(resp)
                ack = await anext(events)
                assert ack["method"] == "notifications/subscriptions/acknowledged"
                assert ack["params"]["notifications"] == {"toolsListChanged": True}
                assert ack["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"] == "sub-1"
                config_file = workdir / "webmcp.yaml"
                config_file.write_text(config_file.read_text().replace(
                    "\nresources:", "\n  added: {kind: static, content: new}\nresources:").replace(
                    "description: Asks for an angle first.", "description: Changed."))
                async with http.post(url.replace("/mcp", "/admin/reload"),
                                     headers={"Authorization": "Bearer a"}) as reload:
                    assert (await reload.json())["ok"] is True
                change = await asyncio.wait_for(anext(events), 5)
                assert change["method"] == "notifications/tools/list_changed"
                assert change["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"] == "sub-1"
                with pytest.raises(TimeoutError):  # no prompts notification: the stream did not ask for it
                    await asyncio.wait_for(anext(events), 0.5)


@pytest.mark.parametrize("stateless", [False, True])
async def test_closing_the_stream_cancels_a_sessionless_call(workdir: Path, stateless: bool) -> None:
    """On 2026-07-28 (and in stateless 2025 mode) a client cancels by closing its POST: the call stops."""
    markers = [workdir / "modern", workdir / "stateless"]
    calls = [{"name": "slow", "arguments": {"seconds": 3, "marker": str(m)}} for m in markers]
    text = config(stateless).replace("tools:\n", 'tools:\n  slow: {kind: python, function: "sample_tools:slow"}\n', 1)
    with http_server(workdir, config=text) as url:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=0.5)) as http:
            with pytest.raises(TimeoutError):
                await post(http, url, _request("tools/call", calls[0]), _headers("tools/call", "slow"))
            if stateless:
                with pytest.raises(TimeoutError):
                    await post(http, url, {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": calls[1]})
        for marker in markers[: 2 if stateless else 1]:
            for _ in range(40):
                if marker.exists():
                    break
                await asyncio.sleep(0.05)
            assert marker.read_text() == "cancelled"


async def test_a_2025_session_joining_a_run_that_asks_is_asked_itself(workdir: Path) -> None:
    """Two sessions call the same cached tool at once; the run asks its client: the session that joined
    it is asked too and gets a result from its own answer, not from the other client's."""
    async def accept(context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        return types.ElicitResult(action="accept", content={"go": True})

    async def decline(context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        return types.ElicitResult(action="decline")

    with http_server(workdir, config=config()) as url:
        async with (Client(url, mode="legacy", elicitation_callback=accept) as a,
                    Client(url, mode="legacy", elicitation_callback=decline) as b):
            first = asyncio.ensure_future(a.call_tool("ask_after", {"seconds": 0.4}))
            await asyncio.sleep(0.1)
            second = await b.call_tool("ask_after", {"seconds": 0.4})
            assert (await first).content[0].text == "went: accept"
            assert second.content[0].text == "went: decline"


HEADER_CONFIG = """
version: 1
tools:
  route:
    kind: static
    input:
      type: object
      properties:
        region: {type: string, x-mcp-header: Region}
        shard: {type: integer, x-mcp-header: Shard}
        query: {type: string}
    content: routed
"""


async def test_arguments_mirrored_in_headers_must_agree(workdir: Path) -> None:
    """Arguments marked x-mcp-header travel in Mcp-Param-* headers too; a missing or different header is
    -32020 (HTTP 400), a base64-wrapped or numerically equal one is accepted."""
    with http_server(workdir, config=HEADER_CONFIG) as url:
        async with aiohttp.ClientSession() as http:
            async def call(arguments: dict[str, Any], **params: str) -> tuple[int, Any]:
                headers = {**_headers("tools/call", "route"), **{f"Mcp-Param-{k}": v for k, v in params.items()}}
                status, _, body = await post(http, url, _request("tools/call", {"name": "route",
                                                                                "arguments": arguments}), headers)
                return status, body

            status, body = await call({"region": "eu-1", "shard": 7}, Region="eu-1", Shard="7")
            assert status == 200 and body["result"]["content"][0]["text"] == "routed"
            status, body = await call({"region": "é", "shard": 7}, Region="=?base64?w6k=?=", Shard="7.0")
            assert status == 200, body
            for arguments, headers in (({"region": "eu-1"}, {}), ({"region": "eu-1"}, {"Region": "us-2"}),
                                       ({}, {"Region": "eu-1"}), ({"shard": 7}, {"Shard": "8"})):
                status, body = await call(arguments, **headers)
                assert (status, body["error"]["code"]) == (400, -32020), (arguments, headers, body)


def test_a_misplaced_header_marking_is_a_config_error(workdir: Path) -> None:
    """x-mcp-header on a number, or under items, fails the build naming the tool and the property."""
    import subprocess
    import sys

    from tests.integration.conftest import write_config

    for bad, expected in (("shard: {type: number, x-mcp-header: Shard}", "property shard: x-mcp-header needs type"),
                          ("shard: {type: array, items: {type: string, x-mcp-header: Shard}}",
                           "x-mcp-header is allowed only on properties reached")):
        config = write_config(workdir, HEADER_CONFIG.replace("shard: {type: integer, x-mcp-header: Shard}", bad))
        done = subprocess.run([sys.executable, "-m", "webmcp", "validate", "-c", str(config)], capture_output=True,
                              text=True, cwd=workdir, timeout=60)
        assert done.returncode == 4 and "tools.route" in done.stdout and expected in done.stdout, done.stdout

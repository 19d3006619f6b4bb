"""Resources, prompts, completions, sampling and elicitation through the official MCP client."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import types
from mcp.shared.exceptions import MCPDeprecationWarning, MCPError

from tests.integration.conftest import connect, write_config
from tests.integration.test_http import client as http_client
from tests.integration.test_http import http_server

pytestmark = pytest.mark.anyio

PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
CONFIG = f"""
version: 1
tools:
  ask_model: {{kind: python, function: "sample_tools:ask_model"}}
  ask_user: {{kind: python, function: "sample_tools:ask_user"}}
resources:
  readme: {{uri: "docs://readme", description: The readme, text: "Read me first."}}
  logo: {{uri: "img://logo", mime_type: image/png, blob: "{PNG}"}}
  notes: {{uri: "file://notes", file: notes.txt}}
  items:
    uri_template: "items://{{id}}"
    function: "sample_tools:item_body"
    complete: {{id: [apple, apricot, banana]}}
  greeting:
    uri_template: "greet://{{name}}"
    text: "Hello, {{name}}!"
prompts:
  summarize:
    description: Summarize a text
    arguments: [{{name: text, required: true}}, {{name: style}}]
    messages:
      - {{role: user, content: "Summarize in {{style}} style: {{text}}"}}
      - role: user
        content: {{type: image, mimeType: image/png, data: "{PNG}"}}
    complete: {{style: [brief, bullet, formal]}}
  review:
    description: Review something
    arguments: [{{name: topic, required: true}}]
    function: "sample_tools:review_prompt"
"""


@pytest.fixture
def config(workdir: Path) -> Path:
    (workdir / "notes.txt").write_text("first version")
    return write_config(workdir, CONFIG)


async def test_resources_list_and_read(config: Path) -> None:
    """Text, bytes, a file, a function template and a text template, read by URI; -32002 for unknown ones."""
    async with connect(config) as s:
        listed = {str(r.uri): r for r in (await s.list_resources()).resources}
        assert sorted(listed) == ["docs://readme", "file://notes", "img://logo"]
        assert listed["docs://readme"].description == "The readme"
        templates = sorted(t.uri_template for t in (await s.list_resource_templates()).resource_templates)
        assert templates == ["greet://{name}", "items://{id}"]
        assert (await s.read_resource("docs://readme")).contents[0].text == "Read me first."
        logo = (await s.read_resource("img://logo")).contents[0]
        assert logo.mime_type == "image/png" and logo.blob == PNG
        assert (await s.read_resource("file://notes")).contents[0].text == "first version"
        item = (await s.read_resource("items://42")).contents[0]
        assert item.mime_type == "application/json" and item.text == '{"id":"42","kind":"item"}'
        assert (await s.read_resource("greet://Ada")).contents[0].text == "Hello, Ada!"
        with pytest.raises(MCPError) as info:
            await s.read_resource("docs://missing")
        assert info.value.code == -32002 and info.value.message == "Resource not found: docs://missing"


async def test_subscribed_file_resource_sends_updates(config: Path, workdir: Path) -> None:
    """After resources/subscribe, a change to a file-backed resource sends notifications/resources/updated."""
    updates: list[str] = []

    async def on_message(message: Any) -> None:
        root = getattr(message, "root", message)
        if getattr(root, "method", "") == "notifications/resources/updated":
            updates.append(str(root.params.uri))

    async with connect(config, message_handler=on_message) as s:
        with pytest.warns(MCPDeprecationWarning):  # the client's note: 2026-07-28 replaces subscribe
            await s.subscribe_resource("file://notes")
        await anyio.sleep(0.1)
        (workdir / "notes.txt").write_text("second version")
        with anyio.fail_after(5):
            while not updates:
                await anyio.sleep(0.1)
        assert updates == ["file://notes"]
        assert (await s.read_resource("file://notes")).contents[0].text == "second version"
        with pytest.warns(MCPDeprecationWarning):
            await s.unsubscribe_resource("file://notes")


async def test_prompts(config: Path) -> None:
    """Templated messages with an image; a function-built prompt; a missing argument is -32602."""
    async with connect(config) as s:
        prompts = {p.name: p for p in (await s.list_prompts()).prompts}
        assert [a.name for a in prompts["summarize"].arguments] == ["text", "style"]
        got = await s.get_prompt("summarize", {"text": "a long story", "style": "brief"})
        assert got.messages[0].content.text == "Summarize in brief style: a long story"
        assert got.messages[1].content.type == "image" and base64.b64decode(got.messages[1].content.data)
        got = await s.get_prompt("review", {"topic": "the plan"})
        assert [m.role for m in got.messages] == ["user", "assistant"]
        assert got.messages[0].content.text == "Review the plan."
        with pytest.raises(MCPError) as info:
            await s.get_prompt("summarize", {"style": "brief"})
        assert info.value.code == -32602 and "missing argument(s) text" in info.value.message


async def test_completions(config: Path) -> None:
    """completion/complete offers the declared values starting with what was typed."""
    async with connect(config) as s:
        ref = types.PromptReference(type="ref/prompt", name="summarize")
        done = await s.complete(ref, {"name": "style", "value": "b"})
        assert done.completion.values == ["brief", "bullet"]
        ref_t = types.ResourceTemplateReference(type="ref/resource", uri="items://{id}")
        assert (await s.complete(ref_t, {"name": "id", "value": "ap"})).completion.values == ["apple", "apricot"]


async def test_capabilities_follow_the_config(workdir: Path) -> None:
    """A config without resources or prompts declares neither, and their methods are -32601."""
    only_tools = write_config(workdir, "version: 1\ntools:\n  t: {kind: static, content: x}\n")
    async with connect(only_tools) as s:
        caps = s.server_capabilities
        assert caps is not None and caps.resources is None and caps.prompts is None and caps.tools is not None
        with pytest.raises(MCPError) as info:
            await s.list_prompts()
        assert info.value.code == -32601


async def _sampling(context: Any, params: types.CreateMessageRequestParams) -> types.CreateMessageResult:
    question = params.messages[0].content.text
    return types.CreateMessageResult(role="assistant", content=types.TextContent(type="text", text=f"42 ({question})"),
                                     model="test-model", stop_reason="endTurn")


async def _elicitation(context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
    return types.ElicitResult(action="accept", content={"name": "Ada"})


async def _asks_model_and_user(s: Any) -> None:
    r = await s.call_tool("ask_model", {"question": "meaning of life?"})
    assert r.content[0].text == "model said: 42 (meaning of life?) (test-model)"
    r = await s.call_tool("ask_user", {})
    assert r.content[0].text == "accept: {'name': 'Ada'}"


async def test_sampling_and_elicitation_over_stdio(config: Path) -> None:
    """A python tool asks the client's model and the user through its Context."""
    async with connect(config, sampling_callback=_sampling, elicitation_callback=_elicitation) as s:
        await _asks_model_and_user(s)


async def test_sampling_and_elicitation_over_http(workdir: Path) -> None:
    """The same round trips over Streamable HTTP: the request travels on the call's SSE stream."""
    (workdir / "notes.txt").write_text("x")
    with http_server(workdir, config=CONFIG) as url:
        async with http_client(url, sampling_callback=_sampling, elicitation_callback=_elicitation) as s:
            await _asks_model_and_user(s)


async def test_a_client_without_the_capability_gets_a_clear_tool_error(config: Path) -> None:
    """Without sampling declared by the client, ctx.sample() ends the call with an isError result."""
    async with connect(config) as s:
        r = await s.call_tool("ask_model", {"question": "q"})
    expected = "the client does not support sampling (it did not declare the capability)"
    assert r.is_error and r.content[0].text == expected


async def test_unknown_subscriptions_and_prompt_arguments_are_refused(config: Path) -> None:
    """Subscribing to an undeclared URI is -32002; an undeclared prompt argument is -32602 naming the accepted ones."""
    async with connect(config) as s:
        with pytest.raises(MCPError) as info, pytest.warns(MCPDeprecationWarning):
            await s.subscribe_resource("nope://x")
        assert info.value.code == -32002
        with pytest.raises(MCPError) as info:
            await s.get_prompt("review", {"topic": "t", "colour": "red"})
        assert info.value.code == -32602 and info.value.message == (
            "prompt 'review': unknown argument(s) colour; it takes topic")

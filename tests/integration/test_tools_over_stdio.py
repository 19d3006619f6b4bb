"""Every tool kind, called through the official MCP client against a real `webmcp serve` process."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from tests.integration.backend import PNG_1PX, run_backend
from tests.integration.conftest import connect, write_config

pytestmark = pytest.mark.anyio

CONFIG = """
version: 1
server: {name: test-server}
tools:
  greet: {kind: python, function: "sample_tools:greet"}
  add:
    kind: python
    function: "sample_tools:add"
    output: {type: object, properties: {sum: {type: integer}}, required: [sum]}
  blocks: {kind: python, function: "sample_tools:blocks"}
  noisy: {kind: python, function: "sample_tools:noisy"}
  fails: {kind: python, function: "sample_tools:fails"}
  blocking_sleep: {kind: python, function: "sample_tools:blocking_sleep"}
  shout:
    kind: command
    argv: [python3, -c, "import sys; print(' '.join(sys.argv[1:]).upper())", "{words}"]
    input: {type: object, properties: {words: {type: array, items: {type: string}}}, required: [words]}
  exit3:
    kind: command
    argv: [python3, -c, "import sys; sys.stderr.write('bad things happened\\\\n'); sys.exit(3)"]
  json_out:
    kind: command
    argv: [python3, -c, "import json; print(json.dumps({{'ok': True, 'n': 2}}))"]
    stdout: json
  chatty:
    kind: command
    argv: [python3, -c, "print('y' * 5000)"]
    max_output: 100B
  sleeper:
    kind: command
    argv: [sleep, "{seconds}"]
    timeout: 300ms
  env_echo:
    kind: command
    argv: [python3, -c, "import os; print(os.environ['GREETING'])"]
    env: {GREETING: "hi {who}"}
  about: {kind: static, content: "fixed text"}
  logo:
    kind: static
    content:
      - {type: image, data: "PNG_B64", mimeType: image/png}
      - {type: resource, resource: {uri: "test://readme", mimeType: text/plain, text: "read me"}}
"""


@pytest.fixture
def config(workdir: Path) -> Path:
    return write_config(workdir, CONFIG.replace("PNG_B64", base64.b64encode(PNG_1PX).decode()))


async def test_lists_every_declared_tool_with_derived_schemas(config: Path) -> None:
    """tools/list shows each tool; python schemas come from the signature, command ones from placeholders."""
    async with connect(config) as s:
        tools = {t.name: t for t in (await s.list_tools()).tools}
    assert set(tools) == {"greet", "add", "blocks", "noisy", "fails", "blocking_sleep", "shout", "exit3", "json_out",
                          "chatty", "sleeper", "env_echo", "about", "logo"}
    greet = tools["greet"].input_schema
    assert greet["required"] == ["name"]
    assert greet["properties"]["punctuation"] == {"enum": ["!", "."], "default": "!"}
    assert tools["greet"].description == "Greet someone by name."
    assert tools["sleeper"].input_schema["required"] == ["seconds"]
    expected_output = {"type": "object", "properties": {"sum": {"type": "integer"}}, "required": ["sum"]}
    assert tools["add"].output_schema == expected_output


async def test_python_tools_return_text_structured_content_and_blocks(config: Path) -> None:
    """A str becomes text, a dict structuredContent plus JSON text, content blocks pass through."""
    async with connect(config) as s:
        r = await s.call_tool("greet", {"name": "Ada", "punctuation": "."})
        assert not r.is_error and r.content[0].text == "Hello, Ada."
        r = await s.call_tool("add", {"a": 2, "b": 40})
        assert r.structured_content == {"sum": 42} and r.content[0].text == '{"sum":42}'
        r = await s.call_tool("blocks", {})
        assert [c.text for c in r.content] == ["one", "two"]


async def test_invalid_arguments_give_an_is_error_result_naming_the_problem(config: Path) -> None:
    """Arguments are checked against the schema before the function runs."""
    async with connect(config) as s:
        r = await s.call_tool("add", {"a": "two"})
    assert r.is_error
    text = r.content[0].text
    assert "Invalid arguments for tool 'add'" in text
    assert "'b' is a required property" in text and "a: 'two' is not of type 'integer'" in text


async def test_tool_failures_are_results_and_the_server_keeps_serving(config: Path) -> None:
    """ToolError gives its exact message; other exceptions give type and message; serving goes on."""
    async with connect(config) as s:
        r = await s.call_tool("fails", {"kind": "tool_error"})
        assert r.is_error and r.content[0].text == "the widget is out of stock"
        r = await s.call_tool("fails", {"kind": "crash"})
        assert r.is_error and r.content[0].text == "Tool 'fails' failed: ValueError: unexpected state 42"
        assert "Traceback" not in r.content[0].text
        assert (await s.call_tool("greet", {"name": "x"})).content[0].text == "Hello, x!"


async def test_stray_prints_do_not_corrupt_the_protocol(config: Path, tmp_path: Path) -> None:
    """print() and raw writes to fd 1 from a tool land on stderr, not in the JSON-RPC stream."""
    errlog = (tmp_path / "stderr.txt").open("w")
    async with connect(config, stderr=errlog) as s:
        r = await s.call_tool("noisy", {"text": "still fine"})
        assert r.content[0].text == "still fine"
        assert (await s.call_tool("greet", {"name": "y"})).content[0].text == "Hello, y!"
    errlog.close()
    logged = (tmp_path / "stderr.txt").read_text()
    assert "stray print from a tool still fine" in logged and "raw write to fd 1" in logged


async def test_sync_tools_run_off_the_event_loop(config: Path) -> None:
    """A blocking sync tool does not stall other calls."""
    import anyio

    async with connect(config) as s:
        results: dict[str, float] = {}

        async def slow() -> None:
            await s.call_tool("blocking_sleep", {"seconds": 1.0})
            results["slow"] = anyio.current_time()

        async def fast() -> None:
            await anyio.sleep(0.1)
            await s.call_tool("greet", {"name": "z"})
            results["fast"] = anyio.current_time()

        async with anyio.create_task_group() as tg:
            tg.start_soon(slow)
            tg.start_soon(fast)
    assert results["fast"] < results["slow"] - 0.5


async def test_command_tools(config: Path) -> None:
    """argv templates (a list expands to several items), env templates, json output, caps, exit codes, timeout."""
    async with connect(config) as s:
        r = await s.call_tool("shout", {"words": ["make", "it", "loud"]})
        assert r.content[0].text == "MAKE IT LOUD\n"
        r = await s.call_tool("env_echo", {"who": "there"})
        assert r.content[0].text == "hi there\n"
        r = await s.call_tool("json_out", {})
        assert r.structured_content == {"ok": True, "n": 2}
        r = await s.call_tool("chatty", {})
        assert r.content[0].text == "y" * 100 + "\n[output truncated at 100 bytes]"
        r = await s.call_tool("exit3", {})
        assert r.is_error and r.content[0].text == "Command 'python3' exited with code 3\nstderr:\nbad things happened"
        r = await s.call_tool("sleeper", {"seconds": "5"})
        assert r.is_error and r.content[0].text == "Tool 'sleeper' timed out after 0.3s"


async def test_declared_output_schema_is_enforced(workdir: Path) -> None:
    """With `output:`, missing or non-conforming structured content is an isError result."""
    config = write_config(workdir, """
        version: 1
        tools:
          text_only:
            kind: python
            function: "sample_tools:text_only"
            output: {type: object}
          structured:
            kind: python
            function: "sample_tools:structured"
            output: {type: object, properties: {count: {type: integer}}, required: [count]}
    """)
    async with connect(config) as s:
        r = await s.call_tool("text_only", {})
        assert r.is_error and r.content[0].text == (
            "Tool 'text_only' declares an output schema but returned no structured content")
        r = await s.call_tool("structured", {"ok": True})
        assert not r.is_error and r.structured_content == {"count": 3}
        r = await s.call_tool("structured", {"ok": False})
        assert r.is_error and r.content[0].text == ("Tool 'structured' returned structured content that does not "
                                                    "match its output schema: count: 'three' is not of type 'integer'")


async def test_static_tools_return_text_image_and_resource(config: Path) -> None:
    """static content: a string is one text block; image and embedded resource blocks pass through."""
    async with connect(config) as s:
        r = await s.call_tool("about", {})
        assert r.content[0].text == "fixed text"
        r = await s.call_tool("logo", {})
    assert r.content[0].type == "image" and base64.b64decode(r.content[0].data) == PNG_1PX
    assert r.content[1].type == "resource" and r.content[1].resource.text == "read me"


async def test_http_tools_against_a_real_backend(workdir: Path) -> None:
    """Templated URL, query, headers and JSON body; JSON, text and image responses; HTTP errors masked."""
    with run_backend() as (base, seen):
        config = write_config(workdir, f"""
            version: 1
            tools:
              search:
                kind: http
                request:
                  url: "{base}/search"
                  query: {{q: "{{query}}", limit: "{{limit}}"}}
                  headers: {{X-Api-Key: "k-123"}}
                input:
                  type: object
                  properties: {{query: {{type: string}}, limit: {{type: integer}}}}
                  required: [query]
              post:
                kind: http
                request: {{method: POST, url: "{base}/echo", body: {{n: "{{n}}", label: "n={{n}}"}}}}
                input: {{type: object, properties: {{n: {{type: integer}}}}, required: [n]}}
              item: {{kind: http, request: {{url: "{base}/items/{{id}}"}}}}
              missing: {{kind: http, request: {{url: "{base}/missing"}}}}
              image: {{kind: http, request: {{url: "{base}/image"}}}}
              huge: {{kind: http, request: {{url: "{base}/huge"}}, max_response: 1KB}}
              chunked: {{kind: http, request: {{url: "{base}/chunked"}}}}
              chunked_small: {{kind: http, request: {{url: "{base}/chunked"}}, max_response: 10KB}}
        """)
        async with connect(config) as s:
            r = await s.call_tool("search", {"query": "a b&c"})
            assert r.structured_content == {"query": "a b&c", "limit": None, "hits": 3}
            assert seen[-1]["query"] == {"q": "a b&c"} and seen[-1]["headers"]["X-Api-Key"] == "k-123"
            r = await s.call_tool("post", {"n": 7})
            assert r.structured_content == {"received": {"n": 7, "label": "n=7"}}
            r = await s.call_tool("item", {"id": "a/b"})
            assert r.content[0].text == "item a/b"
            r = await s.call_tool("missing", {})
            assert r.is_error and r.content[0].text == f"HTTP 404 Not Found from GET {base}/missing"
            r = await s.call_tool("image", {})
            assert r.content[0].type == "image" and base64.b64decode(r.content[0].data) == PNG_1PX
            r = await s.call_tool("huge", {})
            assert r.is_error and "too large" in r.content[0].text
            r = await s.call_tool("chunked", {})
            assert not r.is_error and len(r.structured_content["items"]) == 20_001
            r = await s.call_tool("chunked_small", {})
            assert r.is_error and r.content[0].text == "HTTP response too large (over 10000 bytes)"


async def test_http_arguments_cannot_escape_their_place(workdir: Path) -> None:
    """A path value cannot climb out of its segment; a header value cannot carry a line break."""
    with run_backend() as (base, seen):
        config = write_config(workdir, f"""
            version: 1
            tools:
              profile: {{kind: http, request: {{url: "{base}/api/users/{{id}}/profile"}}}}
              with_header:
                kind: http
                request: {{url: "{base}/search", query: {{q: x}}, headers: {{X-Trace: "{{trace}}", X-Opt: "{{opt}}"}}}}
                input:
                  type: object
                  properties: {{trace: {{type: string}}, opt: {{type: string}}}}
                  required: [trace]
        """)
        async with connect(config) as s:
            r = await s.call_tool("profile", {"id": "a/../b"})
            assert r.content[0].text == "profile of a/../b" and seen[-1]["path"] == "/api/users/a%2F..%2Fb/profile"
            for bad in ("..", "."):
                r = await s.call_tool("profile", {"id": bad})
                assert r.is_error and r.content[0].text == f"{bad!r} is not allowed as a URL path value"
            r = await s.call_tool("with_header", {"trace": "t\r\nX-Evil: 1"})
            assert r.is_error and r.content[0].text == "the value for header X-Trace contains a line break"
            r = await s.call_tool("with_header", {"trace": "t1"})
            assert seen[-1]["headers"]["X-Trace"] == "t1" and "X-Opt" not in seen[-1]["headers"]

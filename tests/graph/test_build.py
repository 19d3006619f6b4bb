"""Building a Graph from a ConfigSpec: all or nothing, every build problem reported at once with file:line."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from webmcp.config.load import load
from webmcp.errors import BuildError
from webmcp.graph.build import build

TOOLS = '''
VALUE = 5


def echo(text: str) -> str:
    """Echo the text."""
    return text


def pick(operation: str) -> str:
    return operation


def many(*items: str) -> str:
    return ""


def odd_default(x: dict = {1: 2}) -> str:  # noqa: B006
    return ""
'''
IMPORT_HINT = "the config file's folder is on sys.path; check the module and attribute names"


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A temporary current folder with an importable `bt_tools` module; imports from it are undone afterwards."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    (tmp_path / "bt_tools.py").write_text(TOOLS)
    (tmp_path / "bt_syntax.py").write_text("def broken(:\n")
    (tmp_path / "bt_raises.py").write_text("raise RuntimeError('needs a database')\n")
    yield tmp_path
    for name in [n for n in sys.modules if n.startswith("bt_")]:
        del sys.modules[name]


def build_problems(folder: Path, tools_yaml: str) -> list[str]:
    (folder / "webmcp.yaml").write_text(f"version: 1\nprofile: none\n{tools_yaml}")
    spec = load("webmcp.yaml", env={})
    with pytest.raises(BuildError) as info:
        asyncio.run(build(spec))
    assert info.value.exit_code == 4
    return [p.render() for p in info.value.problems]


@pytest.mark.parametrize(
    ("tools_yaml", "errors"),
    [
        pytest.param(
            "tools:\n  a: {kind: python, function: 'bt_missing:echo'}\n",
            [
                "webmcp.yaml:4:3: tools.a: cannot import bt_missing:echo: ModuleNotFoundError: "
                f"No module named 'bt_missing'; {IMPORT_HINT}"
            ],
            id="module-not-found",
        ),
        pytest.param(
            "tools:\n  a: {kind: python, function: 'bt_tools:nothere'}\n",
            [
                "webmcp.yaml:4:3: tools.a: cannot import bt_tools:nothere: AttributeError: "
                f"module 'bt_tools' has no attribute 'nothere'; {IMPORT_HINT}"
            ],
            id="attribute-not-found",
        ),
        pytest.param(
            "tools:\n  a: {kind: python, function: 'bt_tools:many'}\n",
            [
                "webmcp.yaml:4:3: tools.a: cannot use bt_tools:many as a tool: parameter 'items': "
                "*args and positional-only parameters cannot take tool arguments"
            ],
            id="varargs-function",
        ),
        pytest.param(
            "tools:\n  a:\n    kind: python\n    function: 'bt_tools:echo'\n"
            "    input: {type: object, properties: {text: {type: string}, y: {type: string}}}\n",
            [
                "webmcp.yaml:4:3: tools.a: input declares y, which bt_tools:echo does not accept; "
                "add the parameters or a **kwargs"
            ],
            id="input-names-unknown-parameter",
        ),
        pytest.param(
            "tools:\n  c: {kind: command, argv: [ls], cwd: nowhere}\n",
            ["webmcp.yaml:4:3: tools.c: cwd is not a folder (got {cwd})"],
            id="command-cwd-missing",
        ),
        pytest.param(
            "tools:\n  s: {kind: static, content: x, input: {type: object, properties: {a: {type: 5}}}}\n",
            [
                "webmcp.yaml:4:3: tools.s: input is not a valid JSON Schema: "
                "5 is not valid under any of the given schemas"
            ],
            id="input-not-a-json-schema",
        ),
    ],
)
def test_build_error_text(workdir: Path, tools_yaml: str, errors: list[str]) -> None:
    """A tool that cannot be built is refused with this problem, located at the tool's entry."""
    cwd = workdir.resolve() / "nowhere"
    assert build_problems(workdir, tools_yaml) == [e.replace("{cwd}", str(cwd)) for e in errors]


def test_every_bad_tool_is_reported_at_once(workdir: Path) -> None:
    """Two tools that cannot be built give two problems, not just the first; the good tool does not hide them."""
    errors = build_problems(
        workdir,
        "tools:\n"
        "  good: {kind: python, function: 'bt_tools:echo'}\n"
        "  a: {kind: python, function: 'bt_missing:echo'}\n"
        "  b: {kind: python, function: 'bt_tools:nothere'}\n",
    )
    assert len(errors) == 2
    assert [e.split(": cannot import")[0] for e in errors] == ["webmcp.yaml:5:3: tools.a", "webmcp.yaml:6:3: tools.b"]


@pytest.mark.parametrize(
    "operations",
    [
        pytest.param("      op: f\n", id="listed-tool"),
        pytest.param("      op: {kind: python, function: 'bt_tools:pick'}\n", id="inline-python"),
        pytest.param("      op: {kind: command, argv: [echo, '{operation}']}\n", id="inline-command-placeholder"),
    ],
)
def test_master_operation_with_operation_argument_is_refused(workdir: Path, operations: str) -> None:
    """A master tool refuses an operation with its own `operation` argument, which the dispatch would shadow."""
    tools = "tools:\n  f: {kind: python, function: 'bt_tools:pick'}\n"
    errors = build_problems(workdir, f"{tools}master_tools:\n  m:\n    operations:\n{operations}")
    assert errors == [
        "webmcp.yaml:6:3: master_tools.m: operation 'op' has its own argument named 'operation', which the master "
        "tool uses to pick the operation; rename that argument"
    ]


def test_valid_config_builds(workdir: Path) -> None:
    """A valid config builds a graph listing plain tools and master tools, but not the tools a master uses."""
    (workdir / "webmcp.yaml").write_text(
        "version: 1\nprofile: none\ntools:\n"
        "  echo: {kind: python, function: 'bt_tools:echo'}\n"
        "  hidden: {kind: static, content: x}\n"
        "master_tools:\n  m:\n    operations:\n      show: hidden\n      say: {kind: static, content: y}\n"
    )

    async def names() -> list[str]:
        graph = await build(load("webmcp.yaml", env={}))
        try:
            return [t["name"] for t in graph.catalog]
        finally:
            await graph.close()

    assert asyncio.run(names()) == ["echo", "m"]


@pytest.mark.parametrize(
    ("function", "message"),
    [
        pytest.param("bt_tools:VALUE", "bt_tools:VALUE", id="not-callable"),
        pytest.param("bt_syntax:f", "SyntaxError", id="module-has-syntax-error"),
        pytest.param("bt_raises:f", "RuntimeError: needs a database", id="module-raises-on-import"),
    ],
)
def test_unusable_function_is_a_located_build_problem(workdir: Path, function: str, message: str) -> None:
    """Whatever goes wrong while importing a python tool's function becomes a BuildError at the tool's line."""
    [error] = build_problems(workdir, f"tools:\n  a: {{kind: python, function: '{function}'}}\n")
    assert error.startswith("webmcp.yaml:4:3: tools.a: ")
    assert message in error


@pytest.mark.parametrize(
    ("tools_yaml", "errors"),
    [
        pytest.param(
            "tools:\n  t:\n    kind: command\n    argv: [date]\n    output: {type: object}\n",
            ["webmcp.yaml:4:3: tools.t: output: needs `stdout: json` (text output has no structured content)"],
            id="command-text-with-output-schema",
        ),
        pytest.param(
            "tools:\n  t:\n    kind: static\n    content: x\n    output: {type: object}\n",
            ["webmcp.yaml:4:3: tools.t: output: needs `structured:` content to describe"],
            id="static-output-without-structured",
        ),
        pytest.param(
            "tools:\n  t:\n    kind: static\n    content: x\n    structured: {n: x}\n"
            "    output: {type: object, properties: {n: {type: integer}}}\n",
            ["webmcp.yaml:4:3: tools.t: structured does not match output: 'x' is not of type 'integer'"],
            id="static-structured-not-matching-output",
        ),
        pytest.param(
            "tools:\n  t:\n    kind: python\n    function: bt_tools:echo\n"
            "    input: {type: object, properties: {text: {$ref: '#/$defs/nope'}}}\n",
            ["webmcp.yaml:4:3: tools.t: input is not a valid JSON Schema: $ref '#/$defs/nope' does not resolve"],
            id="unresolvable-ref",
        ),
    ],
)
def test_tools_that_could_never_answer_correctly_are_refused_at_build(
    workdir: Path, tools_yaml: str, errors: list[str]
) -> None:
    """Contradictions between a tool's declarations and what it can return are build errors, not call errors."""
    assert build_problems(workdir, tools_yaml) == errors


def test_a_default_json_cannot_carry_is_not_advertised(workdir: Path) -> None:
    """A parameter default that is not JSON (a dict with int keys) is left out of the schema."""
    (workdir / "webmcp.yaml").write_text("version: 1\nprofile: none\ntools:\n  t:\n    kind: python\n"
                                         "    function: bt_tools:odd_default\n")
    graph = asyncio.run(build(load("webmcp.yaml", env={})))
    assert graph.tools["t"].definition["inputSchema"]["properties"] == {"x": {"type": "object"}}
    asyncio.run(graph.close())


@pytest.mark.parametrize(("connect", "probed"), [pytest.param(True, True, id="connect"),
                                                 pytest.param(False, False, id="static")])
def test_a_static_build_sends_no_health_check(workdir: Path, connect: bool, probed: bool) -> None:
    """An http upstream's health checks start with a graph built to connect, not with a static one."""

    async def run() -> bool:
        accepted = asyncio.Event()

        def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            accepted.set()
            writer.close()

        server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        (workdir / "webmcp.yaml").write_text(
            "version: 1\nprofile: none\nupstreams:\n"
            f"  api: {{kind: http, endpoints: ['http://127.0.0.1:{port}'], health_check: {{interval: 50ms}}}}\n"
            "tools:\n  t: {kind: http, upstream: api, request: {path: /t}}\n")
        graph = await build(load("webmcp.yaml", env={}), connect=connect)
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(accepted.wait(), 0.5)
            return accepted.is_set()
        finally:
            await graph.close()
            server.close()
            await server.wait_closed()

    assert asyncio.run(run()) is probed

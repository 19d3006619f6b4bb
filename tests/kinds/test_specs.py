"""Per kind: YAML in -> Spec field values out, with defaults applied and input schemas derived."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from webmcp.config.load import load
from webmcp.config.spec import Where
from webmcp.config.tools import ToolSpec
from webmcp.errors import ConfigError

NO_INPUT = {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]}


def derived(*names: str) -> dict[str, Any]:
    """The input schema webmcp derives from placeholders: one required string per name."""
    return {
        "type": "object",
        "properties": {n: {"type": "string"} for n in names},
        "required": list(names),
        "additionalProperties": False,
    }


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temporary current folder holding the config file."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def tool_spec(folder: Path, entry: str) -> ToolSpec:
    """The spec of the one tool `t` declared by `entry` (YAML lines indented under it)."""
    (folder / "webmcp.yaml").write_text(f"version: 1\nprofile: none\ntools:\n  t:\n{entry}")
    return load("webmcp.yaml", env={}).tools["t"]


COMMON_DEFAULTS = {
    "name": "t",
    "description": None,
    "title": None,
    "output_schema": None,
    "annotations": None,
    "timeout": 60.0,
    "expose": False,
}

CASES = [
    pytest.param(
        "    kind: python\n    function: pkg.mod:fn\n",
        {**COMMON_DEFAULTS, "kind": "python", "function": "pkg.mod:fn", "input_schema": None},
        id="python-defaults",
    ),
    pytest.param(
        "    kind: python\n    function: mod:Cls.method\n    description: Does it.\n    title: Doer\n    timeout: 2s\n"
        "    expose: true\n    annotations: {readOnlyHint: true}\n"
        "    input: {type: object, properties: {q: {type: string}}, required: [q]}\n"
        "    output: {type: object}\n",
        {
            "function": "mod:Cls.method",
            "description": "Does it.",
            "title": "Doer",
            "timeout": 2.0,
            "expose": True,
            "annotations": {"readOnlyHint": True},
            "input_schema": NO_INPUT,
            "output_schema": {"type": "object"},
        },
        id="python-every-field",
    ),
    pytest.param(
        "    kind: command\n    argv: [grep, '{pattern}', '{file}', 'x{pattern}']\n",
        {
            **COMMON_DEFAULTS,
            "kind": "command",
            "argv": ("grep", "{pattern}", "{file}", "x{pattern}"),
            "env": {},
            "inherit_env": True,
            "max_output": 1024 * 1024,
            "stderr_tail": 4096,
            "stdout": "text",
            "input_schema": derived("pattern", "file"),
        },
        id="command-defaults-and-derived-input",
    ),
    pytest.param(
        "    kind: command\n    argv: [date]\n",
        {"argv": ("date",), "input_schema": derived()},
        id="command-without-placeholders-takes-no-arguments",
    ),
    pytest.param(
        "    kind: command\n    argv: [run]\n    env: {TOKEN: '{token}', N: 5}\n    inherit_env: false\n"
        "    max_output: 64KB\n    stderr_tail: 1KiB\n    stdout: json\n    timeout: 5m\n",
        {
            "env": {"TOKEN": "{token}", "N": "5"},
            "inherit_env": False,
            "max_output": 64_000,
            "stderr_tail": 1024,
            "stdout": "json",
            "timeout": 300.0,
            "input_schema": derived("token"),
        },
        id="command-every-field-env-placeholders",
    ),
    pytest.param(
        "    kind: command\n    argv: [ls, '{q}']\n"
        "    input: {type: object, properties: {q: {type: string}}, required: [q]}\n",
        {"input_schema": NO_INPUT},
        id="command-declared-input-kept",
    ),
    pytest.param(
        "    kind: http\n    request: {url: 'https://api.example.com/items'}\n",
        {
            **COMMON_DEFAULTS,
            "kind": "http",
            "method": "GET",
            "url": "https://api.example.com/items",
            "query": {},
            "headers": {},
            "body": None,
            "max_response": 4 * 1024 * 1024,
            "input_schema": derived(),
        },
        id="http-defaults",
    ),
    pytest.param(
        "    kind: http\n    max_response: 1MB\n    request:\n      method: POST\n"
        "      url: 'https://api.example.com/{id}'\n      query: {q: '{q}', n: 5}\n"
        "      headers: {Authorization: 'Bearer {token}'}\n      body: {a: '{b}', nested: ['{id}', 1]}\n",
        {
            "method": "POST",
            "url": "https://api.example.com/{id}",
            "query": {"q": "{q}", "n": "5"},
            "headers": {"Authorization": "Bearer {token}"},
            "body": {"a": "{b}", "nested": ["{id}", 1]},
            "max_response": 1_000_000,
            "input_schema": derived("id", "q", "token", "b"),
        },
        id="http-every-field-derived-input",
    ),
    pytest.param(
        "    kind: static\n    content: hello\n",
        {
            **COMMON_DEFAULTS,
            "kind": "static",
            "content": ({"type": "text", "text": "hello"},),
            "structured": None,
            "input_schema": None,
        },
        id="static-string-shorthand",
    ),
    pytest.param(
        "    kind: static\n    content: [{type: text, text: a}, {type: image, data: AAAA, mimeType: image/png}]\n"
        "    structured: {x: 1}\n    timeout: 250ms\n",
        {
            "content": ({"type": "text", "text": "a"}, {"type": "image", "data": "AAAA", "mimeType": "image/png"}),
            "structured": {"x": 1},
            "timeout": 0.25,
        },
        id="static-blocks",
    ),
]


@pytest.mark.parametrize(("entry", "fields"), CASES)
def test_spec_fields(workdir: Path, entry: str, fields: dict[str, Any]) -> None:
    """A tool entry becomes a Spec with these field values (unset fields take their documented defaults)."""
    spec = tool_spec(workdir, entry)
    assert {name: getattr(spec, name) for name in fields} == fields


@pytest.mark.parametrize(
    ("cwd", "expected"),
    [pytest.param(None, "", id="default-config-folder"), pytest.param("sub/dir", "sub/dir", id="relative-to-config")],
)
def test_command_cwd_is_relative_to_the_config_file(workdir: Path, cwd: str | None, expected: str) -> None:
    """A command's working folder is resolved against the config file's folder."""
    line = f"    cwd: {cwd}\n" if cwd else ""
    spec = tool_spec(workdir, f"    kind: command\n    argv: [ls]\n{line}")
    assert Path(spec.cwd) == workdir.resolve() / expected


def test_spec_records_where_it_was_written(workdir: Path) -> None:
    """A Spec remembers the file, line and column of its entry, for errors raised after validation."""
    spec = tool_spec(workdir, "    kind: static\n    content: x\n")
    assert spec.where == Where("webmcp.yaml", 4, 3, "tools.t")


def test_specs_are_frozen(workdir: Path) -> None:
    """Specs are immutable records."""
    spec = tool_spec(workdir, "    kind: static\n    content: x\n")
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.timeout = 1.0


def test_inline_master_operation_becomes_a_named_tool(workdir: Path) -> None:
    """An inline operation is a tool named `master.operation`, located at the operation."""
    (workdir / "webmcp.yaml").write_text(
        "version: 1\nprofile: none\ntools:\n  a: {kind: static, content: x}\n"
        "master_tools:\n  m:\n    operations:\n      first: a\n      second: {kind: static, content: y}\n"
    )
    spec = load("webmcp.yaml", env={})
    assert dict(spec.master_tools["m"].operations) == {"first": "a", "second": "m.second"}
    inline = spec.tools["m.second"]
    assert (inline.name, inline.where) == ("m.second", Where("webmcp.yaml", 9, 7, "master_tools.m.operations.second"))


@pytest.mark.parametrize(
    ("entry", "field", "key"),
    [
        pytest.param("    kind: command\n    argv: [run]\n    env: {DEBUG: true}\n", "env", "DEBUG", id="command-env"),
        pytest.param(
            "    kind: http\n    request: {url: 'https://x.example', query: {all: true}}\n",
            "query",
            "all",
            id="http-query",
        ),
    ],
)
def test_boolean_values_are_rendered_like_json(workdir: Path, entry: str, field: str, key: str) -> None:
    """A YAML boolean in env or query is sent as `true`, as `{placeholder}` templates render booleans."""
    assert getattr(tool_spec(workdir, entry), field)[key] == "true"


def test_string_maps_keep_the_text_as_written(workdir: Path) -> None:
    """env, query and headers values are strings: YAML 1.1 must not turn 0755 into 493 or no into false."""
    spec = tool_spec(workdir, "    kind: command\n    argv: [env]\n    env: {A: 0755, B: no, C: 0x1F, D: 1.10, E: 7}\n")
    assert spec.env == {"A": "0755", "B": "no", "C": "0x1F", "D": "1.10", "E": "7"}  # type: ignore[attr-defined]
    http = '    kind: http\n    request: {url: "http://h/x", headers: {X-On: yes}, query: {v: 1:30}}\n'
    spec = tool_spec(workdir, http)
    assert spec.headers == {"X-On": "yes"} and spec.query == {"v": "1:30"}  # type: ignore[attr-defined]


def test_the_program_cannot_come_from_an_argument(workdir: Path) -> None:
    """argv[0] with a placeholder is refused: an argument must never choose which program runs."""
    (workdir / "webmcp.yaml").write_text('version: 1\nprofile: none\ntools:\n  t:\n    kind: command\n'
                                         '    argv: ["{prog}", x]\n')
    with pytest.raises(ConfigError) as info:
        load("webmcp.yaml", env={})
    assert str(info.value) == ('webmcp.yaml:6:12: tools.t.argv[0]: the program cannot come from an argument '
                               '(got "{prog}"); name a fixed program; pass arguments as later items')

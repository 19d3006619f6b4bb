"""Config errors of resources: and prompts: entries, with exact text."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from webmcp.config.load import load
from webmcp.errors import ConfigError
from webmcp.graph.build import build


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        pytest.param(
            'resources:\n  r: {uri: "a://b", text: x, blob: eA==}\n',
            ["webmcp.yaml:4:3: resources.r: needs exactly one source: text, blob, file or function"],
            id="two-sources",
        ),
        pytest.param(
            'resources:\n  r: {text: x}\n',
            ["webmcp.yaml:4:3: resources.r: needs exactly one of uri and uri_template"],
            id="no-uri",
        ),
        pytest.param(
            'resources:\n  r: {uri_template: "a://{id}", text: x, complete: {name: [a]}}\n',
            ['webmcp.yaml:4:53: resources.r.complete.name: not a parameter of uri_template (got "name"); '
             "parameters: id"],
            id="complete-unknown-parameter",
        ),
        pytest.param(
            "prompts:\n  p:\n    arguments: [{name: a}]\n    messages: [{content: 'x {b}'}]\n",
            ['webmcp.yaml:6:5: prompts.p.messages: placeholder {b} is not a declared argument (got "b"); '
             "declare it under arguments (has: a)"],
            id="undeclared-prompt-argument",
        ),
        pytest.param(
            "prompts:\n  p: {description: x}\n",
            ["webmcp.yaml:4:3: prompts.p: needs exactly one of messages and function"],
            id="prompt-without-messages",
        ),
    ],
)
def test_resource_and_prompt_config_errors(workdir: Path, body: str, errors: list[str]) -> None:
    """Each broken entry is one located line with the rule it breaks."""
    (workdir / "webmcp.yaml").write_text(f"version: 1\nprofile: none\n{body}")
    with pytest.raises(ConfigError) as info:
        load("webmcp.yaml", env={})
    assert [p.render() for p in info.value.problems] == errors


def test_missing_resource_file_is_a_build_error(workdir: Path) -> None:
    """A file-backed resource whose file does not exist fails the build, located."""
    (workdir / "webmcp.yaml").write_text('version: 1\nprofile: none\nresources:\n  r: {uri: "f://x", file: nope.txt}\n')
    with pytest.raises(ConfigError) as info:
        asyncio.run(build(load("webmcp.yaml", env={})))
    assert str(info.value) == f'webmcp.yaml:4:3: resources.r: file does not exist (got "{workdir / "nope.txt"}")'


def test_fixed_resource_text_is_verbatim_and_template_text_is_checked(workdir: Path) -> None:
    """Braces in a fixed resource's text are content; a template's text may use only the URI's parameters."""
    (workdir / "webmcp.yaml").write_text('version: 1\nprofile: none\nresources:\n'
                                         '  json: {uri: "x://j", text: \'{"debug": true}\'}\n'
                                         '  t: {uri_template: "x://{a}/{a}", text: "{b}"}\n')
    with pytest.raises(ConfigError) as info:
        load("webmcp.yaml", env={})
    assert [p.render() for p in info.value.problems] == [
        'webmcp.yaml:5:7: resources.t.uri_template: parameter {a} appears more than once (got "x://{a}/{a}")',
        'webmcp.yaml:5:36: resources.t.text: placeholder {b} is not a parameter of uri_template (got "b"); '
        "parameters: a",
    ]

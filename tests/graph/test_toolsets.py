"""Toolsets at build time: selection, fold, search, and the budget; every problem located, exact text."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from webmcp.config.load import load
from webmcp.errors import BuildError, ConfigError
from webmcp.graph.build import build
from webmcp.graph.graph import Graph

TOOLS = """version: 1
profile: none
tools:
  a1: {kind: static, content: a1, tags: [alpha]}
  a2: {kind: static, content: a2, tags: [alpha, beta]}
  b1: {kind: static, content: b1, tags: [beta]}
  b2: {kind: static, content: b2, tags: [beta]}
  lone: {kind: static, content: lone, tags: [gamma]}
  plain: {kind: static, content: plain}
master_tools:
  box: {description: Box., operations: {x: a1}, tags: [box]}
"""


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def built(folder: Path, toolsets: str) -> Graph:
    (folder / "webmcp.yaml").write_text(TOOLS + toolsets)
    return asyncio.run(build(load("webmcp.yaml", env={})))


def problems(folder: Path, toolsets: str, error: type[ConfigError] = ConfigError) -> list[str]:
    with pytest.raises(ConfigError) as info:
        built(folder, toolsets)
    assert type(info.value) is error
    return [p.render() for p in info.value.problems]


def names(graph: Graph, toolset: str) -> list[str]:
    view = graph.view(toolset)
    assert view is not None
    return [d["name"] for d in view.catalog]


def test_a_toolset_selects_by_name_pattern_and_tag_then_excludes(workdir: Path) -> None:
    """include (names and patterns) plus tags, minus exclude; any tool may be named, even one a master tool uses."""
    graph = built(workdir, "toolsets:\n  t: {include: ['a*', box], tags: [beta], exclude: [b2]}\n")
    assert names(graph, "t") == ["a1", "a2", "b1", "box"]
    assert names(graph, None) == ["a2", "b1", "b2", "lone", "plain", "box"]  # a1 is box's, not listed on its own


def test_fold_groups_tagged_tools_by_first_tag_into_master_tools(workdir: Path) -> None:
    """mode: fold: one master tool per first tag of two tools or more, operations named after their tools; a lone
    tagged tool, untagged tools and master tools stay as they are."""
    graph = built(workdir, "toolsets:\n  f: {mode: fold, include: ['*'], max_tools: 5}\n")
    assert names(graph, "f") == ["lone", "plain", "box", "alpha", "beta"]  # gamma has one tool: lone stays
    view = graph.view("f")
    assert view is not None
    alpha: Any = view.tools["alpha"]
    assert list(alpha.operations) == ["a1", "a2"]
    assert "Operations (pass `operation` and that operation's fields):\n- a1: a1\n- a2: a2" in \
        alpha.definition["description"]


def test_a_toolset_over_its_budget_is_a_located_config_error(workdir: Path) -> None:
    """Listing more tools than max_tools is a config error (exit 3) at the max_tools key, saying how to meet it."""
    assert problems(workdir, "toolsets:\n  small:\n    max_tools: 3\n") == [
        "webmcp.yaml:14:5: toolsets.small.max_tools: the toolset lists 6 tools, over max_tools 3 (got 3); set "
        "mode: fold (master tools by tag) or mode: search (find_tools + call_tool), or exclude tools",
    ]
    assert problems(workdir, "toolsets:\n  f: {mode: fold, max_tools: 2}\n") == [
        "webmcp.yaml:13:19: toolsets.f.max_tools: mode: fold leaves 5 tools (1 master tool by tag, 3 ungrouped), "
        "over max_tools 2 (got 2); give the ungrouped tools tags, narrow the toolset with include/exclude, or use "
        "mode: search",
    ]


def test_search_needs_a_budget_of_two(workdir: Path) -> None:
    """mode: search lists two tools; a smaller budget is refused when the file is read."""
    (workdir / "webmcp.yaml").write_text(TOOLS + "toolsets:\n  s: {mode: search, max_tools: 1}\n")
    with pytest.raises(ConfigError) as info:
        load("webmcp.yaml", env={})
    assert [p.render() for p in info.value.problems] == [
        "webmcp.yaml:13:21: toolsets.s.max_tools: mode: search lists two tools (find_tools and call_tool) (got 1); "
        "set max_tools to 2 or more",
    ]


def test_a_ranking_model_needs_search_mode_and_a_models_entry(workdir: Path) -> None:
    """`model:` ranks find_tools: it must name an entry of models:, in a toolset with mode: search."""
    (workdir / "webmcp.yaml").write_text(TOOLS + "toolsets:\n  a: {model: m}\n  b: {mode: search, model: minilm}\n")
    with pytest.raises(ConfigError) as info:
        load("webmcp.yaml", env={})
    assert [p.render() for p in info.value.problems] == [
        'webmcp.yaml:13:7: toolsets.a.model: a model ranks find_tools, which only mode: search lists (got "m"); '
        "set mode: search, or remove model",
        'webmcp.yaml:14:21: toolsets.b.model: no such entry in models: (got "minilm"); models: has nothing',
    ]


def test_names_that_match_nothing_are_located(workdir: Path) -> None:
    """An include or exclude entry that names no tool is reported at that entry, with a suggestion."""
    assert problems(workdir, "toolsets:\n  t: {include: [a3, 'z*'], exclude: [plan]}\n") == [
        "webmcp.yaml:13:17: toolsets.t.include[0]: no such tool or master tool (got \"a3\")",
        "webmcp.yaml:13:21: toolsets.t.include[1]: matches no tool (got \"z*\")",
        "webmcp.yaml:13:38: toolsets.t.exclude[0]: no such tool or master tool (got \"plan\"); did you mean 'plain'?",
    ]


def test_a_tool_named_like_a_search_tool_is_refused_in_search_mode(workdir: Path) -> None:
    """find_tools and call_tool are the search mode's own names."""
    text = TOOLS.replace("tools:\n", "tools:\n  call_tool: {kind: static, content: x}\n", 1)
    (workdir / "webmcp.yaml").write_text(text + "toolsets:\n  s: {mode: search}\n")
    with pytest.raises(ConfigError) as info:
        asyncio.run(build(load("webmcp.yaml", env={})))
    assert [p.render() for p in info.value.problems] == [
        "webmcp.yaml:14:3: toolsets.s: mode: search lists find_tools and call_tool, and the toolset has a tool named "
        "'call_tool'; exclude call_tool or rename it",
    ]


def test_budget_problems_come_with_build_problems(workdir: Path) -> None:
    """A build problem and a budget problem are reported together (exit 4, the build's)."""
    text = TOOLS.replace("  plain: {kind: static, content: plain}\n",
                         "  plain: {kind: python, function: 'no_such_module:f'}\n")
    (workdir / "webmcp.yaml").write_text(text + "toolsets:\n  small: {max_tools: 1}\n")
    with pytest.raises(BuildError) as info:
        asyncio.run(build(load("webmcp.yaml", env={})))
    assert [p.path for p in info.value.problems] == ["tools.plain", "toolsets.small.max_tools"]

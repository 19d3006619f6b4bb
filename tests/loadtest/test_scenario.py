"""Scenarios from flags and YAML: tools, argument generators, models, stages, and their error messages."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from webmcp.loadtest.errors import BenchUsageError
from webmcp.loadtest.scenario import Stage, compose, parse_stages
from webmcp.loadtest.stress import StressPlan
from webmcp.loadtest.workload import arrivals


def values(scenario_file: Path, tool: str, n: int) -> list[object]:
    scenario = compose(file=str(scenario_file))
    plan = next(p for p in scenario.tools if p.name == tool)
    generate, rng = plan.arguments(), random.Random(1)
    return [generate(rng) for _ in range(n)]


def test_flags_give_one_tool_closed_model_for_ten_seconds() -> None:
    """--tool with --args and nothing else: one tool, 1 virtual client, 10 s."""
    scenario = compose(tool="echo", args='{"text": "hi"}')
    assert [p.name for p in scenario.tools] == ["echo"]
    assert scenario.model == "closed"
    assert scenario.stages == (Stage(10.0, 1.0, 1.0),)
    assert scenario.tools[0].arguments()(random.Random()) == {"text": "hi"}


def test_rate_makes_the_open_model_and_stages_ramp_from_it() -> None:
    """--rate chooses the open model; --stages ramp from the given level, k6's rule."""
    scenario = compose(tool="t", rate=10, stages="2s:50,3s:50,1s:0")
    assert scenario.model == "open"
    assert scenario.stages == (Stage(2, 10, 50), Stage(3, 50, 50), Stage(1, 50, 0))
    assert scenario.duration == 6


def test_generators_in_a_scenario_file(tmp_path: Path) -> None:
    """fixed, choice, sequence (list and counter), words, CSV column and JSONL field generators."""
    (tmp_path / "users.csv").write_text("id,name\n7,ann\n8,bob\n")
    (tmp_path / "rows.jsonl").write_text('{"q": "a"}\n{"q": "b"}\n')
    (tmp_path / "s.yaml").write_text("""
tools:
  search:
    weight: 3
    args:
      q: {words: 4}
      limit: 10
      kind: {choice: [x, y]}
      page: {sequence: {start: 1}}
      user: {file: users.csv, column: id}
      raw: {fixed: {choice: literal}}
  whole:
    args: {file: rows.jsonl}
  cycle:
    args: {n: {sequence: [a, b]}, q: {file: rows.jsonl, field: q}}
concurrency: 3
duration: 2s
thresholds: ["p95<100ms"]
""")
    scenario = compose(file=str(tmp_path / "s.yaml"), thresholds=("errors<1%",))
    assert scenario.model == "closed" and scenario.stages == (Stage(2, 3, 3),)
    assert scenario.thresholds == ("p95<100ms", "errors<1%")
    first, second = values(tmp_path / "s.yaml", "search", 2)
    assert len(first["q"].split()) == 4 and first["limit"] == 10 and first["kind"] in ("x", "y")
    assert (first["page"], second["page"]) == (1, 2)
    assert (first["user"], second["user"]) == ("7", "8")
    assert first["raw"] == {"choice": "literal"}
    assert values(tmp_path / "s.yaml", "whole", 3) == [{"q": "a"}, {"q": "b"}, {"q": "a"}]
    assert values(tmp_path / "s.yaml", "cycle", 3) == [{"n": "a", "q": "a"}, {"n": "b", "q": "b"},
                                                       {"n": "a", "q": "a"}]


def test_each_generator_starts_afresh() -> None:
    """A sequence checked before the run does not move the run's sequence on."""
    plan = compose(tool="t", args='{"n": {"sequence": {"start": 5}}}').tools[0]
    rng = random.Random()
    assert [plan.arguments()(rng) for _ in range(2)] == [{"n": 5}, {"n": 5}]


def test_weights_share_the_calls(tmp_path: Path) -> None:
    """Weighted tools are picked in proportion to their weights."""
    (tmp_path / "s.yaml").write_text("tools: {a: {weight: 3}, b: {weight: 1}}\n")
    pick = compose(file=str(tmp_path / "s.yaml")).picker()
    rng = random.Random(3)
    picks = [pick(rng).name for _ in range(4000)]
    assert 0.7 < picks.count("a") / len(picks) < 0.8


@pytest.mark.parametrize(("kwargs", "message"), [
    ({}, "nothing to call: give --tool NAME [--args JSON], or a scenario file with tools:"),
    ({"args": "{}"}, "--args needs --tool NAME"),
    ({"tool": "t", "args": "{bad"}, "--args: not JSON"),
    ({"tool": "t", "rate": 5, "concurrency": 2}, "--rate (open model) and --concurrency (closed model): give one"),
    ({"tool": "t", "stages": "30s:5", "duration": "1s"}, "--stages and --duration: give one"),
    ({"tool": "t", "stages": "30:5"}, "--stages: '30:5' is not DURATION:TARGET; e.g. 30s:50,60s:200"),
    ({"tool": "t", "duration": "soon"}, "--duration: must be a duration like 30s or 2m (got 'soon')"),
    ({"tool": "t", "args": '{"q": {"words": 0}}'}, "--args.q: words: must be a whole number of words, 1 or more"),
    ({"tool": "t", "args": '{"q": {"choice": []}}'}, "--args.q: choice: must be a non-empty list of values"),
    ({"tool": "t", "args": '{"q": {"file": "nope.csv", "column": "c"}}'}, "--args.q: file: cannot read"),
])
def test_bad_flags_are_named(kwargs: dict[str, object], message: str) -> None:
    """Each mistake in the flags is one message naming the flag and the fix."""
    with pytest.raises(BenchUsageError) as caught:
        compose(**kwargs)  # type: ignore[arg-type]
    assert str(caught.value).startswith(message)


def test_bad_scenario_file_keys_are_named(tmp_path: Path) -> None:
    """An unknown key and a bad weight in a scenario file say where they are."""
    path = tmp_path / "s.yaml"
    path.write_text("tools: {a: {}}\nusers: 5\n")
    with pytest.raises(BenchUsageError, match=r"s.yaml: unknown key 'users'; known: tools, concurrency"):
        compose(file=str(path))
    path.write_text("tools: {a: {weight: 0}}\n")
    with pytest.raises(BenchUsageError, match=r"s.yaml: tools.a.weight: must be a positive number \(got 0\)"):
        compose(file=str(path))


def test_stages_parse() -> None:
    """`30s:50,1m:200` is two stages ramping from the start level."""
    assert parse_stages("30s:50,1m:200", start=1) == (Stage(30, 1, 50), Stage(60, 50, 200))


def test_arrivals_keep_the_rate_and_ramp_linearly() -> None:
    """A constant stage spaces calls evenly; a ramp from 0 to 100/s over 2 s makes 100 calls, denser later."""
    times = list(arrivals((Stage(1, 10, 10),)))
    assert times == pytest.approx([i / 10 for i in range(10)])
    ramp = list(arrivals((Stage(2, 0, 100),)))
    assert len(ramp) == 100
    assert sum(1 for t in ramp if t < 1) == 25  # a quarter of the area under the ramp is in its first half
    both = list(arrivals((Stage(1, 10, 10), Stage(1, 20, 20))))
    assert len(both) == 30 and all(1 <= t < 2 for t in both[10:])


@pytest.mark.parametrize(("plan", "levels"), [
    (StressPlan(), [2.0**i for i in range(11)]),
    (StressPlan(start=50, step="50", max=200), [50, 100, 150, 200]),
    (StressPlan(start=10, step="x3", max=100), [10, 30, 90]),
])
def test_stress_levels(plan: StressPlan, levels: list[float]) -> None:
    """Defaults 1, x2, up to 1024; a number adds; xN multiplies; never past max."""
    assert list(plan.levels()) == levels


@pytest.mark.parametrize(("plan", "message"), [
    (StressPlan(step="fast"), "--stress-step 'fast': a number to add"),
    (StressPlan(step="x1"), "--stress-step 'x1': the load must grow at each step"),
    (StressPlan(start=8, max=4), "--stress-start 8 and --stress-max 4: need 0 < start <= max"),
])
def test_bad_stress_plans(plan: StressPlan, message: str) -> None:
    """A step that does not grow the load, or a start above max, is a usage error."""
    with pytest.raises(BenchUsageError, match=re.escape(message)):
        next(plan.levels())


def test_a_file_ramps_from_the_flag_level_and_refuses_a_bare_threshold(tmp_path: Path) -> None:
    """--rate with a file's stages: the ramp starts at the rate; `thresholds:` must be a list."""
    path = tmp_path / "s.yaml"
    path.write_text("tools: {a: {}}\nstages: [{duration: 2s, target: 40}]\n")
    assert compose(file=str(path), rate=10).stages == (Stage(2, 10, 40),)
    assert compose(file=str(path)).stages == (Stage(2, 0, 40),)
    path.write_text("tools: {a: {}}\nthresholds: p95<1s\n")
    with pytest.raises(BenchUsageError, match="thresholds: must be a list"):
        compose(file=str(path))
    with pytest.raises(BenchUsageError, match=r"--rate: must be positive \(got 0\)"):
        compose(tool="a", rate=0)

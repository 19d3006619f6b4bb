"""What a run calls and how hard: tools with weights and argument generators, the workload model, its
stages and the thresholds. Built from flags (`--tool`, `--args`, ...) or a YAML scenario file, with flags
winning; no I/O here but reading the scenario and its data files.

Argument generators (a value in `args`, or `args` itself):
    plain value                  fixed (`{fixed: X}` for a literal mapping that looks like a generator)
    {choice: [a, b, c]}          one at random per call
    {sequence: [a, b, c]}        in turn, cycling; {sequence: {start: 1, step: 1}} counts
    {words: 5}                   random text of 5 words
    {file: rows.csv, column: c}  a CSV column, row after row, cycling; JSONL: {file: rows.jsonl, field: f}
    {file: rows.jsonl}           (as `args`) each line is the whole arguments object
"""

from __future__ import annotations

import bisect
import csv
import itertools
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import orjson
import yaml

from webmcp.config.units import parse_duration
from webmcp.loadtest.errors import BenchUsageError

Generator = Callable[[random.Random], Any]
Factory = Callable[[], Generator]  # a fresh generator (its own sequence position) per call
Model = Literal["closed", "open"]
GENERATORS = ("fixed", "choice", "sequence", "words", "file")
_OPTIONS = {"file": ("column", "field")}
WORDS = (
    "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet", "kilo", "lima",
    "mike", "november", "oscar", "papa", "quebec", "romeo", "sierra", "tango", "uniform", "victor", "whiskey", "xray",
    "yankee", "zulu", "river", "stone", "cloud", "paper", "light", "green", "quiet", "table", "window", "garden",
    "market", "signal", "orange", "silver", "winter", "summer", "bridge", "castle", "forest",
)


@dataclass(frozen=True, slots=True)
class Stage:
    """A span of the run whose target (virtual clients, or calls/s) goes linearly from `start` to `end`."""

    duration: float
    start: float
    end: float

    def target(self, elapsed: float) -> float:
        if self.duration <= 0:
            return self.end
        return self.start + (self.end - self.start) * min(1.0, max(0.0, elapsed / self.duration))

    @property
    def label(self) -> str:
        ramp = f"{self.start:g}→{self.end:g}" if self.start != self.end else f"{self.end:g}"
        return f"{self.duration:g}s at {ramp}"


@dataclass(frozen=True, slots=True)
class ToolPlan:
    name: str
    weight: float
    arguments: Factory


@dataclass(frozen=True, slots=True)
class Scenario:
    tools: tuple[ToolPlan, ...]
    model: Model
    stages: tuple[Stage, ...]
    thresholds: tuple[str, ...] = ()
    timeout: float = 30.0
    sessions: int = 4  # open model: the sessions calls are spread over
    seed: int = 1
    description: dict[str, Any] = field(default_factory=dict)  # what the report shows of the scenario

    @property
    def duration(self) -> float:
        return sum(stage.duration for stage in self.stages)

    def picker(self) -> Callable[[random.Random], ToolPlan]:
        """A weighted choice of tool, one bisect per call."""
        totals = list(itertools.accumulate(plan.weight for plan in self.tools))
        tools, whole = self.tools, totals[-1]
        if len(tools) == 1:
            return lambda rng: tools[0]
        return lambda rng: tools[min(bisect.bisect(totals, rng.random() * whole), len(tools) - 1)]


def parse_stages(text: str, start: float = 0.0) -> tuple[Stage, ...]:
    """`30s:50,60s:200` → stages ramping from `start` to 50 over 30 s, then to 200 over 60 s (k6's rule)."""
    stages = []
    for part in text.split(","):
        when, _, target = part.strip().partition(":")
        try:
            duration, value = parse_duration(when), float(target)
        except ValueError:
            raise BenchUsageError(f"--stages: {part.strip()!r} is not DURATION:TARGET; e.g. 30s:50,60s:200") from None
        if value < 0:
            raise BenchUsageError(f"--stages: {part.strip()!r}: a target cannot be negative")
        stages.append(Stage(duration, start, value))
        start = value
    return tuple(stages)


def compose(
    *,
    file: str | None = None,
    tool: str | None = None,
    args: str | None = None,
    concurrency: int | None = None,
    rate: float | None = None,
    duration: str | None = None,
    stages: str | None = None,
    thresholds: tuple[str, ...] = (),
    timeout: str | None = None,
    sessions: int | None = None,
) -> Scenario:
    """The scenario of a run: the file's settings, each overridden by the flag given for it."""
    doc: dict[str, Any] = {}
    base = Path.cwd()
    plans: tuple[ToolPlan, ...]
    if file is not None:
        doc, base = _read(file), Path(file).resolve().parent
    where = file or "flags"
    if tool is not None:
        arguments = _parse_json(args) if args is not None else {}
        plans = (ToolPlan(tool, 1.0, generator(arguments, "--args", base)),)
        described: dict[str, Any] = {tool: {"weight": 1, "args": arguments}}
    elif args is not None:
        raise BenchUsageError("--args needs --tool NAME")
    elif doc.get("tools"):
        plans, described = _plans(doc["tools"], file or "", base), doc["tools"]
    else:
        raise BenchUsageError("nothing to call: give --tool NAME [--args JSON], or a scenario file with tools:")

    if rate is not None and concurrency is not None:
        raise BenchUsageError("--rate (open model) and --concurrency (closed model): give one")
    if rate is None and concurrency is None:
        rate, concurrency = doc.get("rate"), doc.get("concurrency")
        if rate is not None and concurrency is not None:
            raise BenchUsageError(f"{file}: rate (open model) and concurrency (closed model): give one")
    model: Model = "open" if rate is not None else "closed"
    explicit = rate is not None or concurrency is not None  # then stages ramp from it, else from 0
    level = float(rate if rate is not None else concurrency if concurrency is not None else 1)
    ramps = stages is not None or ("stages" in doc and duration is None)
    if level < 0 or (not ramps and level <= 0):
        raise BenchUsageError(f"--{'rate' if model == 'open' else 'concurrency'}: must be positive (got {level:g})")

    if stages is not None and duration is not None:
        raise BenchUsageError("--stages and --duration: give one (the stages say how long the run is)")
    plan_stages: tuple[Stage, ...]
    if stages is not None:
        plan_stages = parse_stages(stages, level if explicit else 0.0)
    elif duration is not None:
        plan_stages = (Stage(_duration(duration, "--duration"), level, level),)
    elif "stages" in doc:
        plan_stages = _file_stages(doc["stages"], level if explicit else 0.0, where)
    else:
        plan_stages = (Stage(_duration(str(doc.get("duration", "10s")), f"{where}: duration"), level, level),)

    listed = doc.get("thresholds", [])
    if not isinstance(listed, list) or not all(isinstance(t, str) for t in listed):
        raise BenchUsageError(f"{where}: thresholds: must be a list of expressions like \"p95<500ms\"")
    return Scenario(
        tools=plans,
        model=model,
        stages=plan_stages,
        thresholds=tuple(listed) + thresholds,
        timeout=_duration(timeout or str(doc.get("timeout", "30s")), "--timeout"),
        sessions=int(sessions or doc.get("sessions", 4)),
        seed=int(doc.get("seed", 1)),
        description={"tools": described, "model": model,
                     "stages": [{"duration_s": s.duration, "start": s.start, "end": s.end} for s in plan_stages]},
    )


def generator(spec: Any, where: str, base: Path) -> Factory:
    """The generator a scenario value describes (see the module docstring), as a factory."""
    kinds = [key for key in GENERATORS if isinstance(spec, dict) and key in spec]
    if len(kinds) == 1 and set(spec) <= {kinds[0], *_OPTIONS.get(kinds[0], ())}:
        return _GENERATOR_KINDS[kinds[0]](spec[kinds[0]], spec, where, base)
    if isinstance(spec, dict):
        fields = {key: generator(value, f"{where}.{key}", base) for key, value in spec.items()}
        if all(getattr(g, "fixed", False) for g in fields.values()):
            return _fixed(spec)

        def fresh() -> Generator:
            made = {key: factory() for key, factory in fields.items()}
            return lambda rng: {key: g(rng) for key, g in made.items()}

        return fresh
    return _fixed(spec)


def _fixed(value: Any) -> Factory:
    def fixed(rng: random.Random) -> Any:
        return value

    def factory() -> Generator:
        return fixed

    factory.fixed = True  # type: ignore[attr-defined]
    return factory


def _choice(value: Any, spec: dict[str, Any], where: str, base: Path) -> Factory:
    if not isinstance(value, list) or not value:
        raise BenchUsageError(f"{where}: choice: must be a non-empty list of values (got {value!r})")
    return lambda: lambda rng: rng.choice(value)


def _sequence(value: Any, spec: dict[str, Any], where: str, base: Path) -> Factory:
    if isinstance(value, list) and value:
        return lambda: _next_of(itertools.cycle(value))
    if isinstance(value, dict) and set(value) <= {"start", "step"}:
        return lambda: _next_of(itertools.count(value.get("start", 0), value.get("step", 1)))
    raise BenchUsageError(f"{where}: sequence: must be a list of values or {{start: N, step: N}} (got {value!r})")


def _next_of(values: Iterator[Any]) -> Generator:
    return lambda rng: next(values)


def _words(value: Any, spec: dict[str, Any], where: str, base: Path) -> Factory:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise BenchUsageError(f"{where}: words: must be a whole number of words, 1 or more (got {value!r})")
    return lambda: lambda rng: " ".join(rng.choices(WORDS, k=value))


def _file(value: Any, spec: dict[str, Any], where: str, base: Path) -> Factory:
    path = base / str(value)
    key = spec.get("column", spec.get("field"))
    try:
        text = path.read_text()
    except OSError as exc:
        raise BenchUsageError(f"{where}: file: cannot read {path}: {exc.strerror}") from None
    rows: list[Any]
    if path.suffix == ".csv":
        rows = list(csv.DictReader(text.splitlines()))
    elif path.suffix in (".jsonl", ".ndjson"):
        try:
            rows = [orjson.loads(line) for line in text.splitlines() if line.strip()]
        except orjson.JSONDecodeError as exc:
            raise BenchUsageError(f"{where}: file: {path} is not JSON lines ({exc})") from None
    else:
        raise BenchUsageError(f"{where}: file: {path.name} must end in .csv or .jsonl")
    if not rows:
        raise BenchUsageError(f"{where}: file: {path} has no rows")
    if key is not None:
        missing = [i + 1 for i, row in enumerate(rows) if not isinstance(row, dict) or key not in row]
        if missing:
            raise BenchUsageError(f"{where}: file: {path.name} row {missing[0]} has no {key!r}")
        rows = [row[key] for row in rows]
    elif path.suffix == ".csv":
        raise BenchUsageError(f"{where}: file: a CSV file needs column: NAME")
    return lambda: _next_of(itertools.cycle(rows))


_GENERATOR_KINDS: dict[str, Callable[[Any, dict[str, Any], str, Path], Factory]] = {
    "fixed": lambda value, spec, where, base: _fixed(value),
    "choice": _choice,
    "sequence": _sequence,
    "words": _words,
    "file": _file,
}


def _plans(tools: Any, file: str, base: Path) -> tuple[ToolPlan, ...]:
    if not isinstance(tools, dict):
        raise BenchUsageError(f"{file}: tools: must map tool names to {{weight, args}}")
    plans = []
    for name, entry in tools.items():
        entry = entry if entry is not None else {}
        if not isinstance(entry, dict) or set(entry) - {"weight", "args"}:
            raise BenchUsageError(f"{file}: tools.{name}: takes weight: and args: only (got {entry!r})")
        weight = entry.get("weight", 1)
        if not isinstance(weight, int | float) or weight <= 0:
            raise BenchUsageError(f"{file}: tools.{name}.weight: must be a positive number (got {weight!r})")
        plans.append(ToolPlan(str(name), float(weight), generator(entry.get("args", {}), f"{file}: tools.{name}.args",
                                                                  base)))
    return tuple(plans)


def _file_stages(stages: Any, start: float, where: str) -> tuple[Stage, ...]:
    if not isinstance(stages, list) or not stages:
        raise BenchUsageError(f"{where}: stages: must be a list of {{duration, target}}")
    out = []
    for i, entry in enumerate(stages):
        if not isinstance(entry, dict) or set(entry) != {"duration", "target"}:
            raise BenchUsageError(f"{where}: stages[{i}]: must be {{duration: 30s, target: N}} (got {entry!r})")
        out.append(Stage(_duration(str(entry["duration"]), f"{where}: stages[{i}].duration"), start,
                         float(entry["target"])))
        start = float(entry["target"])
    return tuple(out)


def _duration(text: str, where: str) -> float:
    try:
        return parse_duration(text)
    except ValueError:
        raise BenchUsageError(f"{where}: must be a duration like 30s or 2m (got {text!r})") from None


def _parse_json(text: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise BenchUsageError(f"--args: not JSON ({exc}): {text!r}") from None


def _read(file: str) -> dict[str, Any]:
    try:
        doc = yaml.safe_load(Path(file).read_text())
    except OSError as exc:
        raise BenchUsageError(f"{file}: cannot read the scenario: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise BenchUsageError(f"{file}: not YAML: {exc}") from None
    if not isinstance(doc, dict):
        raise BenchUsageError(f"{file}: a scenario is a mapping with tools:, and optionally concurrency: or rate:, "
                              "duration: or stages:, thresholds:, timeout:")
    unknown = set(doc) - {"tools", "concurrency", "rate", "duration", "stages", "thresholds", "timeout", "sessions",
                          "seed"}
    if unknown:
        raise BenchUsageError(f"{file}: unknown key {sorted(unknown)[0]!r}; known: tools, concurrency, rate, "
                              "duration, stages, thresholds, timeout, sessions, seed")
    return doc

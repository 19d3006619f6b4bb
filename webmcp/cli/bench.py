"""`webmcp bench`: load any MCP server (a URL, or a command to start over stdio) and judge the result."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import orjson

from webmcp.cli.options import reports_errors
from webmcp.errors import WebmcpError

PROTOCOLS = ("2025-11-25", "2025-06-18", "2026-07-28")


class Interrupted(WebmcpError):
    exit_code = 130


def _env(name: str) -> str:
    return f"WEBMCP_BENCH_{name}"


@click.command(context_settings={"show_default": True})
@click.argument("command", nargs=-1, type=click.UNPROCESSED, metavar="[-- COMMAND...]")
@click.option("--url", envvar=_env("URL"), help="A Streamable HTTP endpoint, e.g. http://127.0.0.1:8765/mcp.")
@click.option("--protocol", envvar=_env("PROTOCOL"), type=click.Choice(PROTOCOLS), default=PROTOCOLS[0],
              help="HTTP: the revision to speak (2026-07-28: sessionless).")
@click.option("--pid", envvar=_env("PID"), type=int, help="The HTTP server's pid, for its memory and CPU.")
@click.option("-s", "--scenario", envvar=_env("SCENARIO"), type=click.Path(dir_okay=False),
              help="A YAML scenario: weighted tools, argument generators, stages, thresholds.")
@click.option("--tool", envvar=_env("TOOL"), help="The one tool to call (instead of a scenario's tools).")
@click.option("--args", envvar=_env("ARGS"), help="Its arguments: JSON, generators allowed ({\"q\": {\"words\": 3}}).")
@click.option("--concurrency", envvar=_env("CONCURRENCY"), type=click.IntRange(0),
              help="Closed model: virtual clients, each with its own session. [default: 1]")
@click.option("--rate", envvar=_env("RATE"), type=click.FloatRange(0),
              help="Open model: calls per second on schedule; latency counts from the scheduled time.")
@click.option("--duration", envvar=_env("DURATION"), help="How long, e.g. 30s or 5m. [default: 10s]")
@click.option("--stages", envvar=_env("STAGES"),
              help="Ramps, DURATION:TARGET,...: 30s:50,60s:200 (clients, or calls/s with --rate).")
@click.option("--sessions", envvar=_env("SESSIONS"), type=click.IntRange(1),
              help="Open model: the sessions calls are spread over. [default: 4]")
@click.option("--timeout", envvar=_env("TIMEOUT"), help="Per call; past it the call is a timeout. [default: 30s]")
@click.option("--threshold", "thresholds", envvar=_env("THRESHOLD"), multiple=True,
              help="A gate, k6-style: 'p95<500ms', 'errors<0.1%', 'throughput>100'. Repeatable.")
@click.option("--baseline", envvar=_env("BASELINE"), type=click.Path(dir_okay=False, exists=True),
              help="A previous --json report: fail on a regression beyond the tolerances.")
@click.option("--tolerance", "tolerances", envvar=_env("TOLERANCE"), multiple=True,
              help="Override a baseline tolerance: latency=10%, throughput=5%, memory=20%, errors=1% (points).")
@click.option("--repeat", envvar=_env("REPEAT"), type=click.IntRange(1), default=1,
              help="Runs of the scenario; a baseline regression must be significant over them.")
@click.option("--stress", is_flag=True, envvar=_env("STRESS"),
              help="Step the load up to the breaking point: clients, or calls/s with --rate.")
@click.option("--stress-start", envvar=_env("STRESS_START"), type=click.FloatRange(0, min_open=True), default=1.0,
              help="The first step's load.")
@click.option("--stress-step", envvar=_env("STRESS_STEP"), default="x2",
              help="Added at each step (50), or xN to multiply (x2).")
@click.option("--stress-max", envvar=_env("STRESS_MAX"), type=click.FloatRange(0, min_open=True), default=1024.0,
              help="The highest load tried.")
@click.option("--stress-hold", envvar=_env("STRESS_HOLD"), default="10s", help="How long each step lasts.")
@click.option("--stress-bisect", envvar=_env("STRESS_BISECT"), type=click.IntRange(0), default=0,
              help="Up to N more steps between the last good load and the breaking point.")
@click.option("--soak", envvar=_env("SOAK"),
              help="Run this long (e.g. 2h) and gate on the server's memory growth after the warm-up.")
@click.option("--soak-warmup", envvar=_env("SOAK_WARMUP"),
              help="Left out of the memory trend. [default: a fifth of the soak, at most 15m]")
@click.option("--soak-max-growth", envvar=_env("SOAK_MAX_GROWTH"), default="10MB/h",
              help="The memory trend allowed after the warm-up.")
@click.option("--json", "json_path", envvar=_env("JSON"), type=click.Path(dir_okay=False),
              help="Write the report here (every figure, with the encoded histograms).")
@click.option("--html", "html_path", envvar=_env("HTML"), type=click.Path(dir_okay=False),
              help="Write a self-contained page with charts over time (latency, throughput, errors, memory).")
@reports_errors
def bench(command: tuple[str, ...], url: str | None, protocol: str, pid: int | None, scenario: str | None,
          tool: str | None, args: str | None, concurrency: int | None, rate: float | None, duration: str | None,
          stages: str | None, sessions: int | None, timeout: str | None, thresholds: tuple[str, ...],
          baseline: str | None, tolerances: tuple[str, ...], repeat: int, stress: bool, stress_start: float,
          stress_step: str, stress_max: float, stress_hold: str, stress_bisect: int, soak: str | None,
          soak_warmup: str | None, soak_max_growth: str, json_path: str | None, html_path: str | None) -> None:
    """Load an MCP server and report latency, throughput, errors, memory and CPU.

    \b
    webmcp bench --url http://127.0.0.1:8765/mcp --tool search --args '{"q": "x"}' --concurrency 10
    webmcp bench --rate 200 --duration 30s --tool echo --args '{"text": "hi"}' -- webmcp serve -c bench.yaml
    webmcp bench -s scenario.yaml --json out.json --threshold 'p95<500ms' -- python server.py
    """
    from webmcp.loadtest import gates
    from webmcp.loadtest.errors import BenchUsageError
    from webmcp.loadtest.live import LiveView
    from webmcp.loadtest.record import new_histogram
    from webmcp.loadtest.report import summary
    from webmcp.loadtest.run import Endpoint
    from webmcp.loadtest.run import bench as run_bench
    from webmcp.loadtest.scenario import compose

    new_histogram()  # the bench extra is installed, or say so now
    if (url is None) == (not command):
        raise BenchUsageError("give the server: --url URL (Streamable HTTP), or -- COMMAND... to start it over stdio")
    if pid is not None and command:
        raise BenchUsageError("--pid is for --url; over stdio the pid is the child's")
    if stress and soak is not None:
        raise BenchUsageError("--stress and --soak: give one")
    stress_plan = None
    if stress:
        _refuse("--stress sets the load and the time itself (--stress-start, --stress-step, --stress-max, "
                "--stress-hold)", concurrency=concurrency, duration=duration, stages=stages,
                repeat=repeat if repeat > 1 else None)
        from webmcp.loadtest.stress import StressPlan

        stress_plan = StressPlan(stress_start, stress_step, stress_max, _duration(stress_hold, "--stress-hold"),
                                 stress_bisect)
        next(stress_plan.levels())  # a bad step is a usage error now
        duration = stress_hold
    soak_rule = None
    if soak is not None:
        from webmcp.loadtest.soak import parse_growth

        _refuse("--soak sets the duration", duration=duration, stages=stages)
        if pid is None and not command:
            raise BenchUsageError("--soak needs the server's memory: start it with -- COMMAND..., or give --pid")
        length = _duration(soak, "--soak")
        warmup = _duration(soak_warmup, "--soak-warmup") if soak_warmup else min(900.0, length / 5)
        soak_rule = (warmup, parse_growth(soak_max_growth))
        duration = soak
    plan = compose(file=scenario, tool=tool, args=args, concurrency=concurrency, rate=rate, duration=duration,
                   stages=stages, thresholds=thresholds, timeout=timeout, sessions=sessions)
    checks = [gates.parse_threshold(text) for text in plan.thresholds]
    old = _read_baseline(baseline) if baseline else None
    limits = _tolerances(tolerances)
    endpoint = Endpoint(url, tuple(command), protocol, pid)

    with LiveView() as view:
        report = _run(run_bench(plan, endpoint, repeat, view.update, view.say, stress_plan))
    report["thresholds"] = gates.check_thresholds(report, checks)
    report["baseline"] = gates.compare(report, old, limits) if old is not None else None
    if soak_rule is not None:
        from webmcp.loadtest import soak as soaking

        report["soak"] = soaking.judge(report, *soak_rule)
    verdicts = gates.render(report["thresholds"], report["baseline"] or [])
    if "soak" in report:
        verdicts = "\n".join(filter(None, [verdicts, soaking.render(report["soak"])]))
    if "stress" in report:
        from webmcp.loadtest.stress import render

        verdicts = "\n".join(filter(None, [render(report["stress"]), verdicts]))
    if json_path:
        Path(json_path).write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2))
    if html_path:
        from webmcp.loadtest import html

        Path(html_path).write_text(html.render(report, verdicts))
    click.echo(summary(report))
    if verdicts:
        click.echo(verdicts)
    if report["interrupted"]:
        raise Interrupted("interrupted: the report covers what was measured until Ctrl-C")
    if report["stopped_early"]:
        from webmcp.loadtest.errors import ServerUnavailable

        raise ServerUnavailable(f"the run stopped early: {report['stopped_early']}")
    failed = [row["threshold"] for row in report["thresholds"] if not row["ok"]]
    failed += [f"baseline {row['metric']} ({row['change']})" for row in report["baseline"] or [] if row["regressed"]]
    if "soak" in report and not report["soak"]["ok"]:
        failed.append(f"soak: {report['soak']['reason']}")
    if failed:
        from webmcp.loadtest.errors import GateFailed

        raise GateFailed("failed: " + ", ".join(failed))


def _run(coroutine: Any) -> dict[str, Any]:
    try:
        import uvloop
    except ImportError:
        import asyncio

        report: dict[str, Any] = asyncio.run(coroutine)
        return report
    report = uvloop.run(coroutine)
    return report


def _refuse(why: str, **given: object) -> None:
    """A usage error naming the flags given that `why` rules out."""
    from webmcp.loadtest.errors import BenchUsageError

    flags = [f"--{name}" for name, value in given.items() if value is not None]
    if flags:
        raise BenchUsageError(f"{why}: drop {', '.join(flags)}")


def _duration(text: str, flag: str) -> float:
    from webmcp.config.units import parse_duration
    from webmcp.loadtest.errors import BenchUsageError

    try:
        return parse_duration(text)
    except ValueError:
        raise BenchUsageError(f"{flag}: must be a duration like 10s or 1m (got {text!r})") from None


def _read_baseline(path: str) -> dict[str, Any]:
    from webmcp.loadtest.errors import BenchUsageError

    try:
        data = orjson.loads(Path(path).read_bytes())
    except orjson.JSONDecodeError as exc:
        raise BenchUsageError(f"--baseline {path}: not JSON ({exc})") from None
    if not isinstance(data, dict) or not {"latency_ms", "throughput", "error_rate"} <= set(data):
        raise BenchUsageError(f"--baseline {path}: not a webmcp bench --json report")
    return data


def _tolerances(texts: tuple[str, ...]) -> dict[str, float]:
    from webmcp.config.units import parse_percent
    from webmcp.loadtest.errors import BenchUsageError
    from webmcp.loadtest.gates import TOLERANCES

    out = dict(TOLERANCES)
    for text in texts:
        kind, _, value = text.partition("=")
        try:
            if kind not in out:
                raise ValueError
            out[kind] = parse_percent(value.lstrip("+-"))
        except ValueError:
            raise BenchUsageError(f"--tolerance {text!r}: write KIND=PERCENT, KIND one of "
                                  f"{', '.join(TOLERANCES)} (e.g. latency=15%)") from None
    return out

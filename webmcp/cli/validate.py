"""`webmcp validate`: every problem of a config file at once, and what a reload would change."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import orjson

from webmcp.cli.options import (
    CONFIG_OPTION,
    PROFILE_OPTION,
    RUNNING,
    UsageError,
    given_overrides,
    pid_file,
    reports_errors,
)
from webmcp.config.layers import Override
from webmcp.errors import ConfigError, count

if TYPE_CHECKING:
    from webmcp.config.plugins import PluginKind
    from webmcp.config.spec import ConfigSpec
    from webmcp.errors import Problem
    from webmcp.graph.graph import Unchecked


@click.command()
@CONFIG_OPTION
@PROFILE_OPTION
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--connect", is_flag=True,
              help="Also start upstream MCP servers (their tools are checked against them) and reach required "
                   "Redis pools, as serve does. Without it, nothing is reached over the network.")
@click.option("--diff", "diff_against", is_flag=False, flag_value=RUNNING, default=None, metavar="[OTHER.yaml]",
              help="Also print what would change: against the running server of this config (no value), "
                   "or going from OTHER.yaml to this file. Connects, like --connect.")
@click.pass_context
@reports_errors
def validate(ctx: click.Context, config: str, profile: str | None, fmt: str, connect: bool,
             diff_against: str | None) -> None:
    """Check a config file: schema, references, and that every tool builds, without reaching upstream
    servers or Redis unless --connect. Prints every problem."""
    from webmcp.config import memo
    from webmcp.graph.build import build
    from webmcp.kinds.imports import load
    from webmcp.server.diff import compare, summarize

    memo.check_everything()  # the file and every tool schema are checked, whatever passed before
    # A diff compares catalogs, and an mcp tool's entry comes from its upstream: built without it, every
    # such tool would show as removed (against a running server) or its changes would go unseen.
    connect = connect or diff_against is not None

    async def summary_of(path: str, started_with: list[Override]
                         ) -> tuple[int, int, dict[str, Any], Unchecked, list[Problem], list[dict[str, Any]]]:
        overrides = [*started_with, *given_overrides(ctx, {"profile": ("profile",)})]
        with contextlib.redirect_stdout(sys.stderr):  # a print in a tool module must not corrupt our output
            graph = await build(load(path, overrides=overrides), connect=connect)
        try:
            toolsets = [{"name": name, "mode": graph.spec.toolsets[name].mode, "tools": len(view.catalog),
                         "max_tools": graph.spec.toolsets[name].max_tools, "tokens": view.tokens}
                        for name, view in graph.views.items()]
            return (len(graph.catalog), len(graph.spec.tools), summarize(graph), graph.unchecked,
                    deprecation_warnings(graph.spec), toolsets)
        finally:
            await graph.close()

    try:
        server = _running_status(config, pid_file(config, ctx)) if diff_against == RUNNING else None
        # Like with like: the file as the running server reads it, with the flags and WEBMCP_* variables it
        # was started with, so a `serve --port` is no change of the file's.
        started_with = [Override(tuple(o["path"]), o["value"], o["label"]) for o in (server or {}).get("overrides", [])]
        listed, declared, summary, unchecked, warnings, toolsets = asyncio.run(summary_of(config, started_with))
        before = None
        if diff_against == RUNNING:
            if server is None:
                raise UsageError(f"no running webmcp server for {config} to compare with; pass --diff OTHER.yaml")
            before = server["summary"]
        elif diff_against is not None:
            from webmcp.executor.user_code import forget_user_modules

            forget_user_modules(Path(config).resolve().parent)  # its modules may share names with OTHER's
            before = asyncio.run(summary_of(diff_against, []))[2]
    except ConfigError as exc:
        if fmt == "json":
            click.echo(orjson.dumps({"valid": False, "problems": [p.as_dict() for p in exc.problems]},
                                    option=orjson.OPT_INDENT_2).decode())
        else:
            for p in exc.problems:
                click.echo(p.render())
            click.echo(f"{count(len(exc.problems), 'problem')} found", err=True)
        sys.exit(exc.exit_code)
    changes = compare(before, summary) if before is not None else None
    plugin_kinds = available_plugins()
    if fmt == "json":
        report: dict[str, Any] = {
            "valid": True, "listed_tools": listed, "tools": declared, "connected": connect,
            "warnings": [p.as_dict() for p in warnings],
            "toolsets": toolsets,
            "plugins": [{"section": p.section, "kind": p.name, "package": p.dist, "version": p.version,
                         **({"refused": p.refused} if p.refused else {})} for p in plugin_kinds],
            "unchecked": {"tools": [p.as_dict() for p in unchecked.tools],
                          "pools": [p.as_dict() for p in unchecked.pools]},
        }
        if changes is not None:
            report["diff"] = changes.as_dict()
        click.echo(orjson.dumps(report).decode())
        return
    click.echo(f"{config}: ok ({count(listed, 'tool')} listed, {declared} declared)")
    for ts in toolsets:
        budget = f" of max_tools {ts['max_tools']}" if ts["max_tools"] is not None else ""
        click.echo(f"toolset {ts['name']} (mode {ts['mode']}): {count(ts['tools'], 'tool')}{budget}, "
                   f"about {ts['tokens']} tokens")
    for problem in warnings:
        click.echo(f"warning: {problem.render()}")
    for plugin in plugin_kinds:
        click.echo(f"plugin kind {plugin.label}" + (f": refused, {plugin.refused}" if plugin.refused else ""))
    for line in _unchecked_lines(unchecked):
        click.echo(line)
    if changes is not None:
        against = "the running server" if diff_against == RUNNING else diff_against
        click.echo(f"changes from {against} to {config}:")
        for line in changes.lines():
            click.echo(f"  {line}")


def deprecation_warnings(spec: ConfigSpec) -> list[Problem]:
    """One located line per deprecated tool: what it says, and whether its sunset is past."""
    out = []
    for tool in spec.tools.values():
        gone = tool.deprecated
        if gone is None:
            continue
        when = ""
        if gone.sunset is not None:
            when = (f"; its sunset {gone.sunset} is past: it is no longer listed and its calls are refused"
                    if gone.is_past() else f"; listed until {gone.sunset}")
        out.append(tool.where.problem(f"deprecated: {gone.message}{when}",
                                      hint=f"use {gone.replacement}" if gone.replacement else None))
    return out


def available_plugins() -> list[PluginKind]:
    """The plugin kinds installed (package metadata only: no plugin is imported)."""
    from webmcp.config.plugins import available

    return list(available())


def _unchecked_lines(unchecked: Unchecked) -> list[str]:
    """What `validate` without --connect did not check: a count, then each entry where it is written."""
    if not unchecked:
        return []
    parts = []
    tools = len({p.path for p in unchecked.tools})  # a split to another upstream is a second note on its tool
    if tools:
        against = "its upstream" if tools == 1 else "their upstreams"
        parts.append(f"{count(tools, 'mcp tool')} not checked against {against}")
    if unchecked.pools:
        parts.append(f"{count(len(unchecked.pools), 'required Redis pool')} not reached")
    notes = sorted((*unchecked.tools, *unchecked.pools), key=lambda p: p.place)
    return [f"not connected: {', '.join(parts)}; webmcp validate --connect checks them:",
            *(f"  {p.render()}" for p in notes)]


def _running_status(config: str, pid_file: str | None) -> dict[str, Any] | None:
    """The run file status of a running server of this config: what it serves ("summary") and the flags and
    WEBMCP_* variables it was started with ("overrides"); None when no server of it runs."""
    from webmcp.server.runfiles import running

    for _, run in running(config, pid_file):
        status = run.read_status() or {}
        if isinstance(status.get("summary"), dict):
            return status
    return None



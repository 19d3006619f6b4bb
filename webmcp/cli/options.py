"""What the commands share: the common options, turning errors into exit codes, flags and WEBMCP_*
variables as config overrides, and the config's pid file."""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from webmcp.call.results import HIDDEN, hide, hide_credentials
from webmcp.config.layers import Override
from webmcp.errors import ConfigError, WebmcpError, count

if TYPE_CHECKING:
    from webmcp.config.spec import ConfigSpec


class UsageError(WebmcpError):
    exit_code = 2


CONFIG_OPTION = click.option(
    "-c", "--config", "config", default="webmcp.yaml", show_default=True, envvar="WEBMCP_CONFIG",
    type=click.Path(dir_okay=False), help="The config file.",
)
RUNNING = "\0running"  # the value of a --diff given without one

PROFILE_OPTION = click.option(
    "--profile", envvar="WEBMCP_PROFILE", help="Hardware profile: auto, none, a name or a path."
)


def reports_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn WebmcpErrors into a message on stderr and their exit code."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except WebmcpError as exc:
            click.echo(str(exc), err=True)
            if isinstance(exc, ConfigError):
                click.echo(f"{count(len(exc.problems), 'problem')} found", err=True)
            sys.exit(exc.exit_code)

    return wrapper


def given_overrides(ctx: click.Context, mapping: dict[str, tuple[str, ...]]) -> list[Override]:
    """CLI options and WEBMCP_* variables that were actually given, as config overrides."""
    out = []
    for param, path in mapping.items():
        value = ctx.params.get(param)
        if value is None:
            continue
        source = ctx.get_parameter_source(param)
        if source is click.core.ParameterSource.ENVIRONMENT:
            label = f"env WEBMCP_{param.upper()}"
        elif source is click.core.ParameterSource.COMMANDLINE:
            label = f"--{param.replace('_', '-')}"
        else:
            continue
        out.append(Override(path, value, label))
    return out


def pid_file(config: str, ctx: click.Context) -> str | None:
    from webmcp.kinds.imports import load

    return load(config, overrides=given_overrides(ctx, {"profile": ("profile",)})).server.pid_file


def setup_logging(level: str) -> None:
    logging.basicConfig(stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True)
    for handler in logging.getLogger().handlers:
        handler.setFormatter(HidingCredentials("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.getLogger().setLevel(level.upper())


class HidingCredentials(logging.Formatter):
    """Every log line with a URL's credentials cut to `***@`, tracebacks included: library loggers (httpx,
    httpcore, aiohttp) put whole URLs in their messages, at levels a server may run at. Values the config
    took from the environment are shown as their `${VAR}` (6 characters or more: shorter ones are more
    likely a number or a word of the line)."""

    def format(self, record: logging.LogRecord) -> str:
        line = hide_credentials(super().format(record))
        return hide(line) if HIDDEN else line


def check_toolset(spec: ConfigSpec, name: str) -> None:
    """`--toolset NAME` names an entry of toolsets:."""
    from webmcp.config.validate import suggest

    if name not in spec.toolsets:
        known = ", ".join(sorted(spec.toolsets)) or "none"
        raise UsageError(f"--toolset {name}: {spec.source} has no such toolset "
                         f"({suggest(name, spec.toolsets) or f'toolsets: {known}'})")

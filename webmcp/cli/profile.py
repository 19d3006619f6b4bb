"""`webmcp profile`: the machine as webmcp reads it, the hardware profile it picks, and every effective
setting with the layer it came from."""

from __future__ import annotations

from typing import Any

import click
import orjson

from webmcp.cli.options import CONFIG_OPTION, PROFILE_OPTION, given_overrides, reports_errors


@click.command("profile")
@CONFIG_OPTION
@PROFILE_OPTION
@click.option("--machine", "readings", type=click.Path(dir_okay=False), envvar="WEBMCP_MACHINE",
              help="A JSON file of machine readings to use instead of this machine's (keys as in --format json's "
                   "machine), to see what the config does elsewhere.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.pass_context
@reports_errors
def profile(ctx: click.Context, config: str, profile: str | None, readings: str | None, fmt: str) -> None:
    """Show the detected machine, the chosen hardware profile, and every effective setting with the layer
    it came from: default, profile, file, environment (WEBMCP_*) or flag. Loads no model."""
    from webmcp.config.effective import environment, settings
    from webmcp.config.machine import from_file
    from webmcp.kinds.imports import load

    label = "--machine" if ctx.get_parameter_source("readings") is click.core.ParameterSource.COMMANDLINE \
        else "env WEBMCP_MACHINE"
    machine = from_file(readings, label) if readings else None
    spec = load(config, overrides=given_overrides(ctx, {"profile": ("profile",)}), machine=machine)
    assert spec.machine is not None
    rows, variables = settings(spec), environment(spec)
    if fmt == "json":
        click.echo(orjson.dumps({
            "machine": spec.machine.as_dict(), "profile": {"name": spec.profile, "reason": spec.profile_reason},
            "settings": [r.as_dict() for r in rows], "environment": [v.as_dict() for v in variables],
        }, option=orjson.OPT_INDENT_2).decode())
        return
    click.echo(f"machine ({spec.machine.source}): {_describe(spec.machine.as_dict())}")
    click.echo(f"profile: {spec.profile} ({spec.profile_reason})")
    click.echo("")
    _table(["setting", "value", "from", ""],
           [[r.key, _show(r.value), _origin(r.layer, r.source), r.note] for r in rows])
    if variables:
        click.echo("")
        click.echo("environment, set before a model backend is imported (a value already set is never overridden):")
        _table(["variable", "value", "from", ""],
               [[v.name, v.value, _origin(v.layer, v.source), v.status] for v in variables])


def _origin(layer: str, source: str) -> str:
    """"default", "file webmcp.yaml:12", "profile linux-cpu:7", "flag --profile", "environment WEBMCP_PROFILE"."""
    if layer == "default":
        return layer
    return f"{layer} {source.removeprefix('env ').removeprefix(layer + ' ')}"


def _describe(m: dict[str, Any]) -> str:
    parts = [f"{m['system']} {m['machine']}"]
    if m["apple_silicon"]:
        parts.append("Apple Silicon" + (" (this process under Rosetta)" if m["rosetta"] else ""))
    cores = f"{m['logical_cpus']} logical CPUs, {m['usable_cpus']} usable"
    if m["performance_cores"] is not None:
        cores += f", {m['performance_cores']} performance + {m['efficiency_cores'] or 0} efficiency cores"
    parts.append(cores)
    if m["memory_bytes"]:
        parts.append(f"{m['memory_bytes'] / 2**30:.1f} GiB memory")
    parts.append(f"{m['cuda_devices']} NVIDIA GPU(s)" if m["cuda_devices"] else "no NVIDIA GPU")
    return ", ".join(parts)


def _show(value: Any) -> str:
    if isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


def _table(header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header) - 1)]
    for row in [header, *rows]:
        cells = [str(c).ljust(w) for c, w in zip(row, widths, strict=False)]
        click.echo("  ".join([*cells, str(row[-1])]).rstrip())

"""What a config offers: `webmcp tools` (the catalog a client sees) and `webmcp schema`."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from typing import Any

import click
import orjson

from webmcp.cli.options import (
    CONFIG_OPTION,
    PROFILE_OPTION,
    given_overrides,
    reports_errors,
)
from webmcp.errors import count


@click.command()
@CONFIG_OPTION
@PROFILE_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print the tools/list entries as JSON.")
@click.pass_context
@reports_errors
def tools(ctx: click.Context, config: str, profile: str | None, as_json: bool) -> None:
    """Print the tool catalog a client will see: each tool, its operations, the count."""
    from webmcp.graph.build import build
    from webmcp.kinds.imports import load

    async def catalog() -> list[dict[str, Any]]:
        with contextlib.redirect_stdout(sys.stderr):  # a print in a tool module must not corrupt --json
            graph = await build(load(config, overrides=given_overrides(ctx, {"profile": ("profile",)})))
        try:
            return list(graph.catalog)
        finally:
            await graph.close()

    entries = asyncio.run(catalog())
    if as_json:
        click.echo(orjson.dumps({"tools": entries, "count": len(entries)}, option=orjson.OPT_INDENT_2).decode())
        return
    for entry in entries:
        summary = entry.get("description", "").strip().split("\n")[0]
        click.echo(f"{entry['name']}" + (f"  {summary}" if summary else ""))
        ops = entry["inputSchema"].get("properties", {}).get("operation", {}).get("enum")
        for op in ops or []:
            click.echo(f"    operation: {op}")
    click.echo(count(len(entries), "tool"))


@click.command()
def schema() -> None:
    """Print the config file's JSON Schema (one bundled document, for editors)."""
    from webmcp.config.schemas import bundle

    click.echo(orjson.dumps(bundle(), option=orjson.OPT_INDENT_2).decode())

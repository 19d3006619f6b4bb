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
    check_toolset,
    given_overrides,
    reports_errors,
)
from webmcp.errors import count


@click.command()
@CONFIG_OPTION
@PROFILE_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print the tools/list entries as JSON.")
@click.option("--toolset", metavar="NAME",
              help="The view of this entry of toolsets: (default: the default endpoint's).")
@click.pass_context
@reports_errors
def tools(ctx: click.Context, config: str, profile: str | None, as_json: bool, toolset: str | None) -> None:
    """Print the tool catalog a client will see: each tool, its operations, the count and an estimate of the
    tokens the list costs a model (characters of its JSON / 4)."""
    from webmcp.graph.build import build
    from webmcp.kinds.imports import load

    async def catalog() -> tuple[list[dict[str, Any]], int]:
        spec = load(config, overrides=given_overrides(ctx, {"profile": ("profile",)}))
        if toolset is not None:
            check_toolset(spec, toolset)
        with contextlib.redirect_stdout(sys.stderr):  # a print in a tool module must not corrupt --json
            graph = await build(spec)
        try:
            view = graph.view(toolset)
            assert view is not None
            return list(view.catalog), view.tokens
        finally:
            await graph.close()

    entries, tokens = asyncio.run(catalog())
    if as_json:
        click.echo(orjson.dumps({"tools": entries, "count": len(entries), "tokens": tokens, "toolset": toolset},
                                option=orjson.OPT_INDENT_2).decode())
        return
    for entry in entries:
        summary = entry.get("description", "").strip().split("\n")[0]
        click.echo(f"{entry['name']}" + (f"  {summary}" if summary else ""))
        ops = entry["inputSchema"].get("properties", {}).get("operation", {}).get("enum")
        for op in ops or []:
            click.echo(f"    operation: {op}")
    click.echo(f"{count(len(entries), 'tool')}, about {tokens} tokens" + (f" (toolset {toolset})" if toolset else ""))


@click.command()
def schema() -> None:
    """Print the config file's JSON Schema (one bundled document, for editors)."""
    from webmcp.config.schemas import bundle

    click.echo(orjson.dumps(bundle(), option=orjson.OPT_INDENT_2).decode())

"""`webmcp index`: build or refresh the index of every semantic_search tool of a config, ahead of serving.

Runs the same refresh as the graph build (search/index.py), without building the rest of the graph: no
python tool is imported, no upstream started. A model is loaded only when some file must be embedded.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from typing import TYPE_CHECKING, Any

import click

from webmcp.cli.options import CONFIG_OPTION, PROFILE_OPTION, given_overrides, reports_errors, setup_logging
from webmcp.errors import BuildError, BuildFailure, Problem, count

if TYPE_CHECKING:
    from webmcp.config.spec import ConfigSpec
    from webmcp.kinds.tools.semantic_search import SemanticSearchToolSpec
    from webmcp.models.model import Model
    from webmcp.search.index import Summary


@click.command()
@CONFIG_OPTION
@PROFILE_OPTION
@click.pass_context
@reports_errors
def index(ctx: click.Context, config: str, profile: str | None) -> None:
    """Build or refresh the index of every semantic_search tool of a config file: files whose content
    changed are embedded again, the others reused. Prints a summary per tool; loads a model only when
    something must be embedded."""
    from webmcp.kinds.imports import load
    from webmcp.kinds.tools.semantic_search import SemanticSearchToolSpec

    setup_logging("warning")  # skipped files, globs matching nothing, a corrupt index rebuilt
    spec = load(config, overrides=given_overrides(ctx, {"profile": ("profile",)}))
    tools = [t for t in spec.tools.values() if isinstance(t, SemanticSearchToolSpec)]
    if not tools:
        click.echo(f"{config}: no semantic_search tool, nothing to index")
        return
    started = time.perf_counter()
    summaries, loaded = asyncio.run(_index_all(spec, tools))
    for name, summary in summaries:
        click.echo(f"{name}: {summary.line()}")
    embedded = sum(s.embedded_chunks for _, s in summaries)
    reused = sum(s.reused_chunks for _, s in summaries)
    models = f"model loaded: {', '.join(loaded)}" if loaded else "no model loaded"
    indexes = "1 index" if len(summaries) == 1 else f"{len(summaries)} indexes"
    click.echo(f"{indexes} up to date: embedded now {count(embedded, 'chunk')}, reused {count(reused, 'chunk')}; "
               f"{models}; {time.perf_counter() - started:.2f} s")


async def _index_all(spec: ConfigSpec, tools: list[SemanticSearchToolSpec]) -> tuple[list[tuple[str, Summary]],
                                                                                     list[str]]:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from webmcp.kinds.tools.semantic_search import check_numpy, refresh_index
    from webmcp.models.check import check_model
    from webmcp.models.model import Model

    problems: list[Problem] = []
    for tool in tools:
        try:
            check_numpy(tool)
        except BuildFailure as exc:
            problems.append(exc.problem)
    models: dict[str, Model] = {}
    for name in dict.fromkeys(t.model for t in tools):
        try:
            check_model(spec.models[name])
        except BuildFailure as exc:
            problems.append(exc.problem)
        models[name] = Model(spec.models[name])
    if problems:
        raise BuildError(problems)
    summaries: list[tuple[str, Summary]] = []
    columns: list[Any] = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                          TextColumn("chunks"), TimeElapsedColumn()]
    try:
        with Progress(*columns, console=Console(stderr=True), transient=True) as bar, \
                contextlib.redirect_stdout(sys.stderr):  # what a model prints while loading is not the summary
            for tool in tools:
                task = bar.add_task(tool.name, total=None)

                def progress(done: int, total: int, task: Any = task) -> None:
                    bar.update(task, completed=done, total=total)

                try:
                    summaries.append((tool.name, (await refresh_index(tool, models[tool.model], progress))[1]))
                except BuildFailure as exc:
                    problems.append(exc.problem)
    finally:
        for model in models.values():
            await model.close()
    if problems:
        raise BuildError(problems)
    return summaries, [name for name, model in models.items() if model.is_loaded]

"""Building each toolset's View: which tools it holds, how its mode lists them, and whether that meets its
budget. A toolset that cannot meet `max_tools` is a located config problem, reported with every other one by
`webmcp validate` (exit 3 when it is the only kind of problem) and refused by `serve` and reloads.

Selection, in order: `include` names and patterns plus `tags` (or, with neither, every tool the default
endpoint lists), minus `exclude`. Any built tool may be named, also one a master tool uses. Then the mode:
- `list`: the selection as it is;
- `fold`: the selected tools with tags are grouped into one master tool per first tag (named after the tag,
  or `<tag>_tools` when a tool has that name; a tag of one tool leaves it as it is), each operation named
  after the tool it stands for; master tools and untagged tools stay as they are;
- `search`: `find_tools` and `call_tool` (graph/tool_search.py).
Every selected tool stays callable by its own name in every mode."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from webmcp.callpath.tool import Tool
from webmcp.config.spec import MasterToolSpec
from webmcp.config.toolsets import ToolsetSpec, is_pattern, matches
from webmcp.config.validate import show, suggest
from webmcp.errors import Problem, count
from webmcp.graph.invocable import Invocable
from webmcp.graph.master import MasterTool, conflicts
from webmcp.graph.tool_search import CALL, FIND, CallTool, Embedder, FindTools
from webmcp.graph.views import View, is_retired


def tags_of(item: Any) -> tuple[str, ...]:
    return tuple(getattr(getattr(item, "spec", None), "tags", ()) or ())


def build_views(specs: Mapping[str, ToolsetSpec], pool: Mapping[str, Invocable], listed: Mapping[str, Invocable],
                page_size: int, names_known: bool = True,
                rankers: Mapping[str, Embedder] | None = None) -> tuple[dict[str, View], list[Problem]]:
    """Every toolset's View from `pool` (every built tool and master tool by name) and `listed` (what the default
    endpoint lists). `names_known`: False when some tools could not be built yet (an `mcp` import not connected),
    so a name matching nothing is not a problem. `rankers`: the model of each toolset with `model:`."""
    views: dict[str, View] = {}
    problems: list[Problem] = []
    for name, ts in specs.items():
        chosen, found = select(ts, pool, listed, names_known)
        problems += found
        shown, found = arrange(ts, chosen, pool, (rankers or {}).get(name))
        problems += found
        views[name] = View(name, shown, chosen, page_size)
    return views, problems


def select(ts: ToolsetSpec, pool: Mapping[str, Invocable], listed: Mapping[str, Invocable],
           names_known: bool) -> tuple[dict[str, Invocable], list[Problem]]:
    problems: list[Problem] = []
    for pattern, where in (*zip(ts.include, ts.include_where, strict=True),
                           *zip(ts.exclude, ts.exclude_where, strict=True)):
        if names_known and not any(matches(pattern, n) for n in pool):
            what = "matches no tool" if is_pattern(pattern) else "no such tool or master tool"
            problems.append(where.problem(what, show(pattern), suggest(pattern, pool)))
    if ts.selects:
        wanted = set(ts.tags)
        chosen = {n: t for n, t in pool.items()
                  if any(matches(p, n) for p in ts.include) or wanted.intersection(tags_of(t))}
    else:
        chosen = dict(listed)
    return {n: t for n, t in chosen.items() if not any(matches(p, n) for p in ts.exclude)}, problems


def arrange(ts: ToolsetSpec, chosen: dict[str, Invocable], pool: Mapping[str, Invocable],
            ranker: Embedder | None = None) -> tuple[dict[str, Invocable], list[Problem]]:
    """What the toolset lists, by its mode, and the problems of doing so (the budget among them)."""
    problems: list[Problem] = []
    if ts.mode == "search":
        taken = [n for n in (FIND, CALL) if n in chosen]
        if taken:
            problems.append(ts.where.problem(f"mode: search lists {FIND} and {CALL}, and the toolset has a tool "
                                             f"named {taken[0]!r}", hint=f"exclude {taken[0]} or rename it"))
        return {FIND: FindTools(ts.name, chosen, ranker), CALL: CallTool(ts.name, chosen)}, problems
    shown = dict(chosen)
    groups: dict[str, list[str]] = {}
    if ts.mode == "fold":
        shown, groups, found = fold(ts, chosen, pool)
        problems += found
    live = sum(1 for t in shown.values() if not is_retired(t))  # a tool past its sunset is no longer listed
    if ts.max_tools is not None and live > ts.max_tools:
        where = ts.budget_where or ts.where
        if ts.mode == "fold":
            untagged = sum(1 for t in shown.values() if isinstance(t, Tool))
            message = (f"mode: fold leaves {count(live, 'tool')} ({count(len(groups), 'master tool')} by tag, "
                       f"{untagged} ungrouped), over max_tools {ts.max_tools}")
            hint = "give the ungrouped tools tags, narrow the toolset with include/exclude, or use mode: search"
        else:
            message = f"the toolset lists {count(live, 'tool')}, over max_tools {ts.max_tools}"
            hint = "set mode: fold (master tools by tag) or mode: search (find_tools + call_tool), or exclude tools"
        problems.append(where.problem(message, str(ts.max_tools), hint))
    return shown, problems


def fold(ts: ToolsetSpec, chosen: dict[str, Invocable],
         pool: Mapping[str, Invocable]) -> tuple[dict[str, Invocable], dict[str, list[str]], list[Problem]]:
    by_tag: dict[str, list[str]] = {}
    for name, item in chosen.items():
        tags = tags_of(item)
        if isinstance(item, Tool) and tags and not is_retired(item):  # a retired tool is no operation of a new one
            by_tag.setdefault(tags[0], []).append(name)
    groups = {tag: names for tag, names in by_tag.items() if len(names) > 1}
    folded = {n for names in groups.values() for n in names}
    shown: dict[str, Invocable] = {}
    problems: list[Problem] = []
    for name, item in chosen.items():
        if name not in folded:
            shown[name] = item
    for tag, names in groups.items():
        master_name = tag if tag not in pool and tag not in shown else f"{tag}_tools"
        if master_name in pool or master_name in shown:
            problems.append(ts.where.problem(f"mode: fold would name the master tool of tag {tag!r} "
                                             f"{master_name!r}, which a tool has already", hint="rename that tool"))
            continue
        ops: dict[str, Tool] = {n: chosen[n] for n in names}  # type: ignore[misc]
        spec = MasterToolSpec(name=master_name, description=f"The {count(len(ops), 'tool')} tagged {tag!r}.",
                              title=None, annotations=None, schema_style="flat", operations={n: n for n in ops},
                              where=ts.where, tags=(tag,))
        for op in conflicts(ops):
            problems.append(ts.where.problem(f"mode: fold cannot put tool {op!r} in master tool {master_name!r}: "
                                             "it has its own argument named 'operation'",
                                             hint=f"exclude {op} from the toolset, or rename that argument"))
        shown[master_name] = MasterTool(spec, ops)
    return shown, groups, problems

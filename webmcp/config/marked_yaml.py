"""YAML parsing that remembers where every value came from.

`parse` returns the plain data (safe types only) and a `Locations` map from key paths to 1-based
(line, column). Duplicate keys are errors, not a silent "last one wins".
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml

from webmcp.config.interpolate import ColumnMap
from webmcp.errors import Problem

Path = tuple[str | int, ...]


@dataclass(slots=True)
class Locations:
    """Where each key path was written. Lookups fall back to the nearest written ancestor."""

    source: str
    marks: dict[Path, tuple[int, int]] = field(default_factory=dict)
    # The text of each unquoted scalar as written: YAML 1.1 reads `0755`, `no` or `1:30` as numbers
    # and booleans, which fields that are strings by nature (headers, env) must not see.
    texts: dict[Path, str] = field(default_factory=dict)

    def find(self, path: Path) -> tuple[int, int] | None:
        for cut in range(len(path), -1, -1):
            mark = self.marks.get(path[:cut])
            if mark is not None:
                return mark
        return None

    def has(self, path: Path) -> bool:
        return path in self.marks


def _line_col(mark: yaml.Mark, cmap: ColumnMap) -> tuple[int, int]:
    return mark.line + 1, cmap.original(mark.line, mark.column) + 1


# libyaml's parser (same nodes and marks, several times faster) when PyYAML was built with it; a file it
# refuses is parsed again by PyYAML's own parser, whose error messages are clearer.
_COMPOSER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _position(text: str, index: int) -> tuple[int, int]:
    """1-based line and column of character `index`."""
    before = text[:index]
    return before.count("\n") + 1, index - (before.rfind("\n") + 1) + 1


def parse(text: str, source: str, cmap: ColumnMap | None = None) -> tuple[Any, Locations, list[Problem]]:
    cmap = cmap or ColumnMap()
    locations = Locations(source)
    try:
        # libyaml accepts some tabs PyYAML refuses: such a file is parsed by PyYAML, so that a file means
        # the same wherever webmcp runs (PyYAML is not always built with libyaml).
        composer = yaml.SafeLoader if "\t" in text else _COMPOSER
        try:
            node = yaml.compose(text, Loader=composer)
        except yaml.MarkedYAMLError:
            node = yaml.compose(text, Loader=yaml.SafeLoader)  # a broken file: PyYAML's messages say more
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow (a control character...)
        at, column = _position(text, exc.position)
        return None, locations, [Problem(source, at, cmap.original(at - 1, column - 1) + 1, "",
                                         f"YAML syntax error: {exc.reason} (character {exc.character!r})",
                                         hint="remove it, or write it as an escape in a double-quoted string")]
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = _line_col(mark, cmap) if mark else (None, None)
        message = exc.problem or exc.context or "invalid YAML"
        return None, locations, [Problem(source, line, col, "", f"YAML syntax error: {message}")]
    if node is None:
        locations.marks[()] = (1, 1)  # an empty file: its problems belong to it, not to a profile
        return {}, locations, []
    problems: list[Problem] = []
    try:
        walked = list(_walk(node, (), set(), [0]))
    except _TooDeep as exc:
        line, col = _line_col(exc.mark, cmap)
        return None, locations, [Problem(source, line, col, "", str(exc), hint="expand the aliases by hand")]
    for path, mark, dup, plain in walked:
        if plain is not None:
            locations.texts[path] = plain
        line, col = _line_col(mark, cmap)
        if dup:
            first = locations.marks.get(path)
            where = f" (first at line {first[0]})" if first else ""
            problems.append(Problem(source, line, col, dotted(path), f"duplicate key{where}",
                                    hint="remove one of them"))
        else:
            locations.marks.setdefault(path, (line, col))
    try:
        data = yaml.SafeLoader("").construct_document(node)  # merges `<<` keys, resolves scalars
    except yaml.constructor.ConstructorError as exc:
        mark = exc.problem_mark
        line, col = _line_col(mark, cmap) if mark else (None, None)
        problems.append(Problem(source, line, col, "", f"YAML error: {exc.problem}"))
        data = None
    return data, locations, problems


class _TooDeep(Exception):
    def __init__(self, message: str, mark: yaml.Mark) -> None:
        super().__init__(message)
        self.mark = mark


_MAX_NODES = 200_000


def _plain_text(node: yaml.Node) -> str | None:
    # A plain scalar's style is None from PyYAML's parser and "" from libyaml's.
    return node.value if isinstance(node, yaml.ScalarNode) and not node.style else None


def _walk(
    node: yaml.Node, path: Path, active: set[int], count: list[int]
) -> Iterator[tuple[Path, yaml.Mark, bool, str | None]]:
    """(key path, mark, is a duplicate key, source text of a plain scalar) for every node.

    Refuses recursive aliases and alias expansions past _MAX_NODES nodes ("billion laughs")."""
    count[0] += 1
    if count[0] > _MAX_NODES:
        raise _TooDeep(f"the document expands to more than {_MAX_NODES} nodes (aliases?)", node.start_mark)
    if id(node) in active:
        raise _TooDeep("recursive alias: a node contains itself", node.start_mark)
    yield path, node.start_mark, False, _plain_text(node)
    active.add(id(node))
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = str(key_node.value)
            if key in seen:
                yield (*path, key), key_node.start_mark, True, None
                continue
            seen.add(key)
            # Point at the key for the entry itself: "tools.search: ..." errors land on the key.
            yield (*path, key), key_node.start_mark, False, _plain_text(value_node)
            for sub in _walk(value_node, (*path, key), active, count):
                if sub[0] != (*path, key):
                    yield sub
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            yield from _walk(item, (*path, i), active, count)
    active.discard(id(node))


def dotted(path: Path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out

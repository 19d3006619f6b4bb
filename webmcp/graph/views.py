"""What one kind of client sees of a Graph: the default endpoint, or a toolset (`toolsets:`).

A View lists some tools (tools/list, paged) and lets a wider set be called (tools/call): a toolset's
hidden tools stay callable. A deprecated tool leaves the list the day after its sunset (UTC); the list is
recomputed on the first page asked for after midnight, and the tool stays callable so that its call can
name the replacement."""

from __future__ import annotations

import base64
import datetime
from collections.abc import Mapping
from typing import Any

import orjson

from webmcp.graph.invocable import Invocable


def is_retired(tool: Invocable, day: datetime.date | None = None) -> bool:
    """Is `tool` deprecated with a sunset before `day` (default today, UTC)?"""
    sunset = _sunset(tool)
    return sunset is not None and (day or _today()) > sunset


def _sunset(tool: Invocable) -> datetime.date | None:
    gone = getattr(getattr(tool, "spec", None), "deprecated", None)
    return getattr(gone, "sunset", None)


class View:
    __slots__ = ("_dated", "_day", "_listed", "_page_size", "_pages", "catalog", "name", "tools")

    def __init__(self, name: str | None, listed: Mapping[str, Invocable], callable_: Mapping[str, Invocable],
                 page_size: int) -> None:
        self.name = name  # None: the default endpoint
        self.tools: dict[str, Invocable] = {**callable_, **listed}  # what tools/call finds by name
        self._listed = list(listed.values())
        self._dated = any(_sunset(t) is not None for t in self._listed)
        self._page_size = page_size
        self._day: datetime.date | None = None
        self.catalog: tuple[dict[str, Any], ...] = ()
        self._pages: dict[int, dict[str, Any]] = {}
        self._refresh(_today())

    @property
    def tokens(self) -> int:
        """About how many tokens this list costs a model (names, descriptions, schemas): the characters of its
        compact JSON / 4, the usual rule of thumb for English text and JSON under BPE tokenizers. (tiktoken would
        count exactly for OpenAI models, but it downloads its encodings on first use, which an offline server
        cannot, and each client's model tokenizes differently anyway.)"""
        return -(-len(orjson.dumps(list(self.catalog))) // 4)

    @property
    def listed(self) -> list[Invocable]:
        return list(self._listed)

    def _refresh(self, day: datetime.date) -> None:
        self._day = day
        self.catalog = tuple(t.definition for t in self._listed if (s := _sunset(t)) is None or day <= s)
        self._pages = {}

    def page(self, cursor: str | None) -> dict[str, Any] | None:
        """One tools/list result; None when the cursor is not one of ours."""
        if self._dated and (day := _today()) != self._day:
            self._refresh(day)
        offset = 0
        if cursor is not None:
            try:
                offset = int(base64.urlsafe_b64decode(cursor.encode()).decode())
            except (ValueError, UnicodeDecodeError):
                return None
            if offset < 0 or offset > len(self.catalog):
                return None
        cached = self._pages.get(offset)
        if cached is None:
            size = self._page_size
            cached = {"tools": list(self.catalog[offset : offset + size])}
            if offset + size < len(self.catalog):
                cached["nextCursor"] = base64.urlsafe_b64encode(str(offset + size).encode()).decode()
            self._pages[offset] = cached
        return cached


def _today() -> datetime.date:
    return datetime.datetime.now(datetime.UTC).date()

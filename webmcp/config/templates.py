"""`{name}` templates used by command argv, HTTP URLs, query, headers and bodies.

`{{` and `}}` stand for literal braces. A string that is exactly one placeholder is "whole": it can
keep the argument's type (JSON body), expand to several argv items (a list), or be dropped when the
argument is absent.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

_TOKEN = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}|\{[^}]*\}?|\}")


class TemplateSyntaxError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Template:
    parts: tuple[str | tuple[str], ...]  # literal text, or (placeholder name,)

    @classmethod
    def parse(cls, text: str) -> Template:
        parts: list[str | tuple[str]] = []
        pos = 0
        for m in _TOKEN.finditer(text):
            if m.start() > pos:
                parts.append(text[pos : m.start()])
            token = m.group(0)
            if token in ("{{", "}}"):
                parts.append(token[0])
            elif m.group(1):
                parts.append((m.group(1),))
            else:
                raise TemplateSyntaxError(f"bad placeholder {token!r} in {text!r}; write {{name}}, or {{{{ and }}}} "
                                          "for literal braces")
            pos = m.end()
        if pos < len(text):
            parts.append(text[pos:])
        return cls(tuple(parts))

    @property
    def names(self) -> list[str]:
        return [p[0] for p in self.parts if isinstance(p, tuple)]

    @property
    def whole(self) -> str | None:
        """The placeholder name when the template is exactly one placeholder."""
        if len(self.parts) == 1 and isinstance(self.parts[0], tuple):
            return self.parts[0][0]
        return None

    def render(self, args: Mapping[str, Any], quote: Callable[[str], str] = str) -> str:
        out = []
        for p in self.parts:
            if isinstance(p, tuple):
                out.append(quote(stringify(args.get(p[0]))))
            else:
                out.append(p)
        return "".join(out)


def stringify(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        import orjson

        return orjson.dumps(value).decode()
    return str(value)


def placeholder_names(obj: Any) -> list[str]:
    """Every placeholder in a template structure (strings inside lists and dicts)."""
    if isinstance(obj, str):
        return Template.parse(obj).names
    if isinstance(obj, list):
        return [n for item in obj for n in placeholder_names(item)]
    if isinstance(obj, dict):
        return [n for v in obj.values() for n in placeholder_names(v)]
    return []

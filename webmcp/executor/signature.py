"""Derive a tool's input schema and description from a Python function's signature and docstring."""

from __future__ import annotations

import enum
import inspect
import re
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

_SIMPLE: dict[Any, dict[str, Any]] = {
    str: {"type": "string"},
    int: {"type": "integer"},
    float: {"type": "number"},
    bool: {"type": "boolean"},
    type(None): {"type": "null"},
    bytes: {"type": "string"},
}


@dataclass(frozen=True, slots=True)
class Signature:
    schema: dict[str, Any]
    context_param: str | None  # name of the parameter that receives the Context
    params: frozenset[str]  # parameters that take arguments
    takes_kwargs: bool
    description: str | None


def _hints(fn: Callable[..., Any]) -> dict[str, Any]:
    try:
        return typing.get_type_hints(fn, include_extras=True)
    except Exception:  # unresolvable forward references: fall back to "any"
        return {}


def _is_context(p: inspect.Parameter, hint: Any) -> bool:
    from webmcp.call.context import Context

    return hint is Context or hint == "Context" or (hint is inspect.Parameter.empty and p.name == "ctx")


def context_param(fn: Callable[..., Any]) -> str | None:
    """The parameter of `fn` that receives the Context (annotated `Context`, or an unannotated `ctx`)."""
    hints = _hints(fn)
    params = inspect.signature(fn).parameters.values()
    return next((p.name for p in params if _is_context(p, hints.get(p.name, p.annotation))), None)


def describe(fn: Callable[..., Any]) -> Signature:
    sig = inspect.signature(fn)
    hints = _hints(fn)
    summary, param_docs = _parse_doc(inspect.getdoc(fn) or "")
    properties: dict[str, Any] = {}
    required: list[str] = []
    context_param = None
    takes_kwargs = False
    for p in sig.parameters.values():
        hint = hints.get(p.name, p.annotation)
        if _is_context(p, hint):
            context_param = p.name
            continue
        if p.kind is p.VAR_KEYWORD:
            takes_kwargs = True
            continue
        if p.kind in (p.VAR_POSITIONAL, p.POSITIONAL_ONLY):
            raise TypeError(f"parameter {p.name!r}: *args and positional-only parameters cannot take tool arguments")
        prop = schema_of(hint)
        if p.name in param_docs and "description" not in prop:
            prop = {**prop, "description": param_docs[p.name]}
        if p.default is inspect.Parameter.empty:
            required.append(p.name)
        elif _is_json(p.default):
            prop = {**prop, "default": p.default}
        properties[p.name] = prop
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    if not takes_kwargs:
        schema["additionalProperties"] = False
    return Signature(schema, context_param, frozenset(properties), takes_kwargs, summary or None)


def schema_of(hint: Any) -> dict[str, Any]:
    """JSON Schema for a type hint; unknown types give {} (any value)."""
    if hint is inspect.Parameter.empty or hint is Any:
        return {}
    if hint in _SIMPLE:
        return dict(_SIMPLE[hint])
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is typing.Annotated:
        base = schema_of(args[0])
        notes = [a for a in args[1:] if isinstance(a, str)]
        return {**base, "description": notes[0]} if notes else base
    if origin is typing.Literal:
        return {"enum": list(args)}
    if origin in (typing.Union, types.UnionType):
        options = [schema_of(a) for a in args]
        if all(set(o) == {"type"} for o in options):
            return {"type": [o["type"] for o in options]}
        return {"anyOf": options}
    if (origin is tuple or hint is tuple) and args and args[-1] is not Ellipsis:
        fixed = [schema_of(a) for a in args]
        return {"type": "array", "prefixItems": fixed, "minItems": len(fixed), "maxItems": len(fixed)}
    if origin in (list, set, frozenset, tuple) or hint in (list, set, frozenset, tuple):
        item = schema_of(args[0]) if args else {}
        return {"type": "array", "items": item} if item else {"type": "array"}
    if origin is dict or hint is dict:
        value = schema_of(args[1]) if len(args) == 2 else {}
        return {"type": "object", "additionalProperties": value} if value else {"type": "object"}
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return {"enum": [m.value for m in hint]}
    return {}


def _is_json(value: Any) -> bool:
    if value is None or isinstance(value, (str, int, float, bool)):
        return True
    if isinstance(value, (list, tuple)):
        return all(_is_json(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_json(v) for k, v in value.items())
    return False


def _parse_doc(doc: str) -> tuple[str, dict[str, str]]:
    """First paragraph, and `name: text` lines from an Args:/Parameters: section."""
    paragraphs = doc.strip().split("\n\n")
    summary = paragraphs[0].strip() if paragraphs and not re.match(r"^(Args|Parameters):", paragraphs[0]) else ""
    params: dict[str, str] = {}
    m = re.search(r"^(?:Args|Arguments|Parameters):\s*\n((?:[ \t]+.*\n?)+)", doc, re.MULTILINE)
    if m:
        lines = m.group(1).splitlines()
        indent = len(lines[0]) - len(lines[0].lstrip())
        current = None
        for line in lines:
            pm = re.match(r"^\s+(\w+)(?:\s*\([^)]*\))?:\s*(.+)$", line)
            if pm and len(line) - len(line.lstrip()) == indent:
                current = pm.group(1)
                params[current] = pm.group(2).strip()
            elif current and line.strip():  # a description wrapped onto the next line
                params[current] += " " + line.strip()
    return summary, params

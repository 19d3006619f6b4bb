"""Check configuration data against the schemas and turn every failure into a located Problem.

The envelope is checked first; then each tool entry against its own kind's schema (so a python tool
gets python-tool errors, not a wall of oneOf noise). Unknown keys and names get a "did you mean".
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import orjson

from webmcp.call.results import hide_credentials
from webmcp.config.interpolate import SECRETS, conceal_text
from webmcp.config.marked_yaml import Path, dotted
from webmcp.config.schemas import all_schemas, envelope_validator, kind_schema_id, known_keys, validator
from webmcp.errors import Problem, count

if TYPE_CHECKING:
    from jsonschema import ValidationError

Locate = Callable[[Path], tuple[str, int | None, int | None]]

_TYPE_NAMES: dict[str, str] = {
    "object": "a mapping", "array": "a list", "string": "a string", "integer": "a whole number",
    "number": "a number", "boolean": "true or false", "null": "null",
}


def show(value: Any) -> str:
    """A short rendering of a bad value for error messages; values from the environment are shown as the
    `${VAR}` that brought them, and a URL's credentials as `***@` (cut after masking, so no part of one
    shows either)."""
    try:
        text = orjson.dumps(value, default=str).decode()
    except TypeError:
        text = repr(value)
    text = hide_credentials(conceal_text(text, SECRETS.get() or {}, whole=True))
    return text if len(text) <= 60 else text[:57] + "..."


def suggest(word: str, choices: Iterable[str]) -> str | None:
    if not isinstance(word, str):  # a YAML key may be null, a number, a list...
        return None
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else None


def validate_document(data: Any, locate: Locate) -> list[Problem]:
    from webmcp.config.plugins import SECTIONS, usable_names
    from webmcp.config.registry import kinds_of

    extra = tuple((section, tuple(usable_names(section))) for section in SECTIONS)
    problems = [p for e in envelope_validator(extra).iter_errors(data) for p in _explain(e, (), locate)]
    if not isinstance(data, dict):
        return problems
    # Each entry whose kind is known is checked against its kind's schema even when other parts of
    # the file are broken: every problem is reported at once. (A bad kind is an envelope error.)
    # A plugin kind that failed to load registered nothing, or no schema: its problem is reported (config/plugins.py).
    known = [k for k in kinds_of("tools") if kind_schema_id("tools", k) in all_schemas()]
    for name, entry in _entries(data.get("tools")):
        if entry.get("kind") in known:
            problems += validate_tool(entry, ("tools", name), locate)
    for section in ("pools", "upstreams"):
        for name, entry in _entries(data.get(section)):
            if entry.get("kind") in kinds_of(section) and kind_schema_id(section, entry["kind"]) in all_schemas():
                problems += _check(kind_schema_id(section, entry["kind"]), entry, (section, name), locate)
    for name, master in _entries(data.get("master_tools")):
        for op, target in _entries(master.get("operations")):
            problems += validate_tool(target, ("master_tools", name, "operations", op), locate, inline=True)
    return problems


def _entries(section: Any) -> list[tuple[str, dict[str, Any]]]:
    """The mapping entries of a section, skipping what the envelope check already reports."""
    if not isinstance(section, dict):
        return []
    return [(k, v) for k, v in section.items() if isinstance(v, dict)]


def validate_tool(entry: Any, path: Path, locate: Locate, *, inline: bool = False) -> list[Problem]:
    from webmcp.config.registry import kinds_of

    kinds = kinds_of("tools")
    if inline:
        kind = entry.get("kind")
        if kind not in kinds:
            src, line, col = locate((*path, "kind"))
            return [Problem(src, line, col, dotted((*path, "kind")), "unknown tool kind", show(kind),
                            _join(suggest(str(kind), kinds), f"kinds: {', '.join(sorted(kinds))}"))]
    schema_id = kind_schema_id("tools", entry["kind"])
    if schema_id not in all_schemas():
        return []  # a plugin kind that failed to load: that problem is reported already
    return _check(schema_id, entry, path, locate)


def _check(schema_id: str, data: Any, base: Path, locate: Locate) -> list[Problem]:
    problems: list[Problem] = []
    for error in validator(schema_id).iter_errors(data):
        problems += [p for p in _explain(error, base, locate) if p not in problems]  # two errors, one problem
    return problems


def _explain(error: ValidationError, base: Path, locate: Locate) -> list[Problem]:
    path: Path = (*base, *error.absolute_path)
    name_hint = None
    if "propertyNames" in error.absolute_schema_path:
        if isinstance(error.instance, str):
            path = (*path, error.instance)  # point at the bad name itself, not at its section
        else:
            name_hint = "YAML reads this name as a boolean or a number: put it in quotes"
    schema = error.schema if isinstance(error.schema, dict) else {}
    kw = error.validator
    wanted: Any = error.validator_value

    def problem(message: str, at: Path = path, got: str | None = None, hint: str | None = None) -> Problem:
        src, line, col = locate(at)
        return Problem(src, line, col, dotted(at), message, got, hint)

    if kw in ("additionalProperties", "unevaluatedProperties") and isinstance(error.instance, dict):
        allowed = known_keys(schema)
        extras = [k for k in error.instance if k not in allowed]
        return [
            problem("unknown key", (*path, k), None, _join(suggest(k, allowed), f"allowed: {', '.join(allowed)}"))
            for k in extras
        ]
    if kw == "required":
        missing = [k for k in wanted if isinstance(error.instance, dict) and k not in error.instance]
        return [problem(f"missing required key {k!r}") for k in missing]
    if schema.get("type") == "object" and not isinstance(error.instance, dict):
        if kw != "type":
            return []  # `required`, `oneOf` of requireds...: vacuous for a value that is not a mapping at all
        return [problem("must be a mapping", got=show(error.instance))]
    if "x-message" in schema:
        got = None if isinstance(error.instance, dict) else show(error.instance)  # a whole mapping is noise
        return [problem(schema["x-message"], got=got, hint=name_hint)]
    if kw == "type":
        types = wanted if isinstance(wanted, list) else [wanted]
        names = " or ".join(_TYPE_NAMES.get(str(t), str(t)) for t in types)
        return [problem(f"must be {names}", got=show(error.instance))]
    if kw == "enum":
        choices = [str(c) for c in wanted]
        hint = suggest(str(error.instance), choices)
        return [problem(f"must be one of: {', '.join(choices)}", got=show(error.instance), hint=hint)]
    if kw == "const":
        return [problem(f"must be {show(wanted)}", got=show(error.instance))]
    if kw in ("oneOf", "anyOf") and error.context:
        # Explain the branch whose type fits the value; if none fits, say which shapes are allowed.
        fitting = [e for e in error.context if e.validator != "type"]
        if fitting:
            from jsonschema.exceptions import best_match

            return _explain(best_match(fitting), base, locate)
        shapes = sorted({_TYPE_NAMES.get(str(t), str(t)) for e in error.context for t in _as_list(e.validator_value)})
        return [problem(f"must be {' or '.join(shapes)}", got=show(error.instance))]
    if kw in _LIMITS:
        return [problem(_LIMITS[kw](wanted), got=show(error.instance))]
    return [problem(error.message)]


_LIMITS: dict[str, Callable[[Any], str]] = {
    "minimum": lambda n: f"must be at least {n}",
    "maximum": lambda n: f"must be at most {n}",
    "exclusiveMinimum": lambda n: f"must be more than {n}",
    "exclusiveMaximum": lambda n: f"must be less than {n}",
    "minItems": lambda n: f"must have at least {count(n, 'item')}",
    "maxItems": lambda n: f"must have at most {count(n, 'item')}",
    "minProperties": lambda n: f"must have at least {count(n, 'entry').replace('entrys', 'entries')}",
    "minLength": lambda n: f"must be at least {count(n, 'character')} long",
    "maxLength": lambda n: f"must be at most {count(n, 'character')} long",
}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _join(*parts: str | None) -> str | None:
    kept = [p for p in parts if p]
    return "; ".join(kept) if kept else None

"""Meta-validation of the JSON Schemas a tool declares (input and output), once per distinct schema."""

from __future__ import annotations

import functools
from typing import Any

import orjson

from webmcp.config import memo


@functools.lru_cache(maxsize=4096)
def schema_problem(canonical: bytes) -> str | None:
    """Meta-validation of one schema (about 1.4 ms), memoized by its canonical JSON: many tools share a
    schema, and a reload does not check again the schemas it checked before."""
    key = memo.digest("tool schema", canonical)
    if memo.passed(key):  # checked by an earlier start (no jsonschema import for it now)
        return None
    from jsonschema import Draft202012Validator

    schema = orjson.loads(canonical)
    try:
        Draft202012Validator.check_schema(schema)
        _resolve_refs(schema)
    except Exception as exc:  # jsonschema.SchemaError, referencing.exceptions.Unresolvable, ValueError
        return str(getattr(exc, "message", exc))
    memo.record(key)
    return None


def _resolve_refs(schema: Any) -> None:
    """Look up every $ref now, so a dangling one is a build error rather than a failure per call."""
    if b'"$ref"' not in orjson.dumps(schema):
        return  # most schemas have none; a registry per tool would slow a reload of many tools
    from referencing import Registry, Resource
    from referencing.exceptions import Unresolvable
    from referencing.jsonschema import DRAFT202012

    resource = Resource.from_contents(schema, default_specification=DRAFT202012)
    resolver = Registry().with_resource("urn:webmcp:tool-schema", resource).resolver("urn:webmcp:tool-schema")

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str):
                try:
                    resolver.lookup(node["$ref"])
                except Unresolvable:
                    raise ValueError(f"$ref {node['$ref']!r} does not resolve") from None
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    visit(schema)

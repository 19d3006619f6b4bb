"""The fast argument check agrees with jsonschema on every input, and is used only where it can."""

from __future__ import annotations

import itertools
import random
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from webmcp.callpath.arguments import _fast_check, compile_check

VALUES: list[Any] = [None, True, False, 0, 1, -7, 1.0, 2.5, -0.0, "", "a", "upper", "lower", [], [1, "x"], {},
                     {"k": 1}, 10**20, float("inf")]

FAST_SCHEMAS: list[dict[str, Any]] = [
    {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]},
    {"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "number"}},
     "required": ["a"], "additionalProperties": False},
    {"type": "object", "properties": {"a": {"type": ["string", "null"]}, "b": {"type": "boolean", "default": True}}},
    {"type": "object", "properties": {"a": {"enum": ["upper", "lower"], "default": "upper"}, "b": {}},
     "required": ["b"], "additionalProperties": False},
    {"type": "object", "properties": {"a": {"type": "string", "enum": ["a", ""]}, "b": {"type": "array"},
                                      "c": {"type": "object", "description": "x"}}},
    {"type": "object", "properties": {}, "additionalProperties": False},
    {"type": "object"},
]

SLOW_SCHEMAS: list[dict[str, Any]] = [
    {"type": "object", "properties": {"a": {"type": "string", "minLength": 2}}},
    {"type": "object", "properties": {"a": {"enum": [1, True]}}},
    {"type": "object", "properties": {"a": {"type": "array", "items": {"type": "string"}}}},
    {"type": "object", "properties": {"a": {"anyOf": [{"type": "string"}, {"type": "integer"}]}}},
    {"type": "object", "patternProperties": {"^x": {"type": "string"}}},
    {"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": {"type": "integer"}},
]


def _instances(seed: int, count: int) -> list[Any]:
    rng = random.Random(seed)
    out: list[Any] = [None, [], "x", 3, {}, *({"a": v} for v in VALUES)]
    for _ in range(count):
        keys = rng.sample(["a", "b", "c", "x"], rng.randint(0, 4))
        out.append({k: rng.choice(VALUES) for k in keys})
    return out


@pytest.mark.parametrize("schema", FAST_SCHEMAS, ids=range(len(FAST_SCHEMAS)))
def test_fast_check_agrees_with_jsonschema(schema: dict[str, Any]) -> None:
    """For schemas in the fast subset, the closure and jsonschema give the same answer on every input."""
    fast = _fast_check(schema)
    assert fast is not None
    reference = Draft202012Validator(schema).is_valid
    disagreements = [i for i in _instances(seed=len(str(schema)), count=3000) if fast(i) != reference(i)]
    assert disagreements == []


@pytest.mark.parametrize("schema", SLOW_SCHEMAS, ids=range(len(SLOW_SCHEMAS)))
def test_schemas_outside_the_subset_use_jsonschema(schema: dict[str, Any]) -> None:
    """Any keyword the fast check does not implement sends the whole schema to jsonschema."""
    assert _fast_check(schema) is None
    check, validator = compile_check(schema)
    for instance in itertools.islice(_instances(seed=1, count=200), 200):
        assert check(instance) == validator.compiled().is_valid(instance)

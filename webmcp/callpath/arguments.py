"""Checking tool arguments against an input schema on the hot path.

Most tool schemas are flat objects of typed properties. For exactly that subset this module builds
a small closure that answers "valid?" in well under a microsecond; every other schema uses
jsonschema's compiled validator (about 8 µs per call). The fast check must agree with jsonschema on
every input: it only accepts schemas whose every keyword it implements with JSON Schema's meaning
(e.g. 1.0 is an integer, true is not), and tests compare the two on generated inputs. Error messages
always come from jsonschema.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator

    from jsonschema import Draft202012Validator, ValidationError

Check = Callable[[Any], bool]

_ANNOTATIONS = frozenset({"description", "title", "default", "examples", "deprecated", "readOnly", "writeOnly",
                          "$comment"})
_OBJECT_KEYS = _ANNOTATIONS | {"type", "properties", "required", "additionalProperties", "$schema"}
_PROPERTY_KEYS = _ANNOTATIONS | {"type", "enum"}


def _is_integer(v: Any) -> bool:
    t = type(v)
    return t is int or (t is float and v.is_integer())


def _is_number(v: Any) -> bool:
    t = type(v)
    return t is int or t is float


_TYPE_CHECKS: dict[str, Check] = {
    "string": lambda v: type(v) is str,
    "integer": _is_integer,
    "number": _is_number,
    "boolean": lambda v: type(v) is bool,
    "null": lambda v: v is None,
    "object": lambda v: type(v) is dict,
    "array": lambda v: type(v) is list,
}


def _property_check(schema: Any) -> Check | None:
    """A check for one property's schema, or None when it is outside the fast subset."""
    if schema is True or schema == {}:
        return lambda v: True
    if not isinstance(schema, Mapping) or not set(schema) <= _PROPERTY_KEYS:
        return None
    checks: list[Check] = []
    if "type" in schema:
        names = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not all(isinstance(n, str) and n in _TYPE_CHECKS for n in names):
            return None
        parts = [_TYPE_CHECKS[n] for n in names]
        checks.append(parts[0] if len(parts) == 1 else (lambda v: any(p(v) for p in parts)))
    if "enum" in schema:
        values = schema["enum"]
        if not isinstance(values, list) or not all(type(x) is str for x in values):
            return None  # Python's 1 == True and 1 == 1.0 differ from JSON Schema's equality
        allowed = frozenset(values)
        checks.append(lambda v: type(v) is str and v in allowed)
    if not checks:
        return lambda v: True
    if len(checks) == 1:
        return checks[0]
    first, second = checks
    return lambda v: first(v) and second(v)


def _fast_check(schema: Mapping[str, Any]) -> Check | None:
    if not set(schema) <= _OBJECT_KEYS or schema.get("type") != "object":
        return None
    properties = schema.get("properties") or {}
    required = schema.get("required") or []
    extra = schema.get("additionalProperties", True)
    if not isinstance(properties, Mapping) or not isinstance(required, list) or extra not in (True, False):
        return None
    if not all(isinstance(r, str) for r in required):
        return None
    checks: dict[str, Check] = {}
    for name, sub in properties.items():
        prop_check = _property_check(sub)
        if prop_check is None:
            return None
        checks[name] = prop_check
    required_set = frozenset(required)
    known = frozenset(checks)
    closed = extra is False
    items = tuple(checks.items())

    def check(args: Any) -> bool:
        if type(args) is not dict:
            return False
        if not required_set <= args.keys():
            return False
        if closed and not args.keys() <= known:
            return False
        for name, ok in items:  # noqa: SIM110  (a plain loop: cheaper than all() over a generator here)
            if name in args and not ok(args[name]):
                return False
        return True

    return check


class LazyValidator:
    """jsonschema's validator of `schema`, made at its first use: a tool whose arguments pass the fast
    check never imports jsonschema (about 60 ms at start-up) until a call is invalid."""

    __slots__ = ("_validator", "schema")

    def __init__(self, schema: Mapping[str, Any]) -> None:
        self.schema = dict(schema)
        self._validator: Draft202012Validator | None = None

    def compiled(self) -> Draft202012Validator:
        if self._validator is None:
            from jsonschema import Draft202012Validator

            self._validator = Draft202012Validator(self.schema)
        return self._validator

    def iter_errors(self, instance: Any) -> Iterator[ValidationError]:
        return self.compiled().iter_errors(instance)


def compile_check(schema: Mapping[str, Any]) -> tuple[Check, LazyValidator]:
    """(is_valid, validator): the fastest exact check for `schema`, and jsonschema for messages."""
    validator = LazyValidator(schema)
    return (_fast_check(schema) or validator.compiled().is_valid), validator

"""Input schemas and descriptions derived from a python tool's signature, type hints and docstring."""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Annotated, Any, Literal, Optional

import pytest
from jsonschema import Draft202012Validator

from webmcp import Context
from webmcp.executor.signature import describe, schema_of


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


def p_str(x: str) -> None: ...
def p_int(x: int) -> None: ...
def p_float(x: float) -> None: ...
def p_bool(x: bool) -> None: ...
def p_any(x: Any) -> None: ...
def p_untyped(x) -> None: ...
def p_optional(x: Optional[str]) -> None: ...  # noqa: UP045
def p_pipe_none(x: int | None) -> None: ...
def p_union(x: int | str) -> None: ...
def p_literal(x: Literal["upper", "lower"]) -> None: ...
def p_list(x: list[str]) -> None: ...
def p_bare_list(x: list) -> None: ...
def p_dict(x: dict[str, int]) -> None: ...
def p_dict_any(x: dict[str, Any]) -> None: ...
def p_annotated(x: Annotated[str, "The query."]) -> None: ...
def p_enum(x: Color) -> None: ...
def p_optional_list(x: list[str] | None) -> None: ...


@pytest.mark.parametrize(
    ("fn", "prop"),
    [
        pytest.param(p_str, {"type": "string"}, id="str"),
        pytest.param(p_int, {"type": "integer"}, id="int"),
        pytest.param(p_float, {"type": "number"}, id="float"),
        pytest.param(p_bool, {"type": "boolean"}, id="bool"),
        pytest.param(p_any, {}, id="any"),
        pytest.param(p_untyped, {}, id="untyped"),
        pytest.param(p_optional, {"type": ["string", "null"]}, id="Optional"),
        pytest.param(p_pipe_none, {"type": ["integer", "null"]}, id="pipe-None"),
        pytest.param(p_union, {"type": ["integer", "string"]}, id="union"),
        pytest.param(p_literal, {"enum": ["upper", "lower"]}, id="Literal"),
        pytest.param(p_list, {"type": "array", "items": {"type": "string"}}, id="list-str"),
        pytest.param(p_bare_list, {"type": "array"}, id="bare-list"),
        pytest.param(p_dict, {"type": "object", "additionalProperties": {"type": "integer"}}, id="dict-str-int"),
        pytest.param(p_dict_any, {"type": "object"}, id="dict-str-any"),
        pytest.param(p_annotated, {"type": "string", "description": "The query."}, id="Annotated"),
        pytest.param(p_enum, {"enum": ["red", "blue"]}, id="Enum"),
        pytest.param(
            p_optional_list,
            {"anyOf": [{"type": "array", "items": {"type": "string"}}, {"type": "null"}]},
            id="optional-list",
        ),
    ],
)
def test_type_hint_to_property(fn: Callable[..., Any], prop: dict[str, Any]) -> None:
    """A required parameter's type hint becomes this JSON Schema property."""
    assert describe(fn).schema == {
        "type": "object",
        "properties": {"x": prop},
        "required": ["x"],
        "additionalProperties": False,
    }


def with_defaults(
    count: int = 3,
    ratio: float = 0.5,
    loud: bool = False,
    to: Literal["a", "b"] = "a",
    tag: str | None = None,
    tags: list[str] = [],  # noqa: B006 (a list default is what is under test)
    color: Color = Color.RED,
) -> None: ...


def test_defaults_make_parameters_optional() -> None:
    """Parameters with defaults are not required; JSON-able defaults are advertised as `default`."""
    assert describe(with_defaults).schema == {
        "type": "object",
        "properties": {
            "count": {"type": "integer", "default": 3},
            "ratio": {"type": "number", "default": 0.5},
            "loud": {"type": "boolean", "default": False},
            "to": {"enum": ["a", "b"], "default": "a"},
            "tag": {"type": ["string", "null"], "default": None},
            "tags": {"type": "array", "items": {"type": "string"}, "default": []},
            "color": {"enum": ["red", "blue"]},
        },
        "additionalProperties": False,
    }


def documented(text: str, limit: int, mode: Annotated[str, "From the hint."] = "fast") -> None:
    """Search the index.

    Longer explanation that is not part of the summary.

    Args:
        text: What to look for.
        limit (int): At most this many results.
        mode: From the docstring.
    """


def test_docstring_gives_descriptions() -> None:
    """The docstring's first paragraph is the description; Args: lines describe parameters; Annotated wins."""
    sig = describe(documented)
    assert sig.description == "Search the index."
    assert {name: p.get("description") for name, p in sig.schema["properties"].items()} == {
        "text": "What to look for.",
        "limit": "At most this many results.",
        "mode": "From the hint.",
    }


def only_args_doc(x: int) -> None:
    """Args:
    x: The x.
    """


def test_docstring_without_summary() -> None:
    """A docstring that opens with Args: gives no description."""
    assert describe(only_args_doc).description is None


def no_doc(x: int) -> None: ...


def test_no_docstring() -> None:
    """Without a docstring there is no description and no property descriptions."""
    sig = describe(no_doc)
    assert (sig.description, sig.schema["properties"]) == (None, {"x": {"type": "integer"}})


def with_context(query: str, ctx: Context) -> None: ...
def with_context_other_name(context: Context, query: str) -> None: ...
def with_untyped_ctx(query: str, ctx) -> None: ...


@pytest.mark.parametrize(
    ("fn", "param"),
    [
        pytest.param(with_context, "ctx", id="typed-ctx"),
        pytest.param(with_context_other_name, "context", id="typed-other-name"),
        pytest.param(with_untyped_ctx, "ctx", id="untyped-named-ctx"),
    ],
)
def test_context_parameter_is_excluded(fn: Callable[..., Any], param: str) -> None:
    """The Context parameter is remembered, and is not a tool argument."""
    sig = describe(fn)
    assert sig.context_param == param
    assert sig.params == frozenset({"query"})
    assert list(sig.schema["properties"]) == ["query"]
    assert sig.schema["required"] == ["query"]


def with_kwargs(query: str, **extra: Any) -> None: ...


def test_kwargs_allow_extra_arguments() -> None:
    """A **kwargs parameter lets any argument through: no additionalProperties: false."""
    sig = describe(with_kwargs)
    assert sig.takes_kwargs is True
    assert sig.schema == {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]}


def with_varargs(*items: str) -> None: ...
def with_positional_only(x: int, /) -> None: ...


@pytest.mark.parametrize("fn", [with_varargs, with_positional_only], ids=["varargs", "positional-only"])
def test_parameters_that_cannot_take_arguments_are_refused(fn: Callable[..., Any]) -> None:
    """*args and positional-only parameters cannot receive named tool arguments, so describe() refuses them."""
    with pytest.raises(TypeError, match="positional-only parameters cannot take tool arguments"):
        describe(fn)


def multi_line(text: str) -> None:
    """Do it.

    Args:
        text: The text to
            measure, in full.
    """


def test_wrapped_argument_description_is_kept_whole() -> None:
    """A parameter description continued on indented lines is joined, not cut at the first line."""
    assert describe(multi_line).schema["properties"]["text"]["description"] == "The text to measure, in full."


def test_fixed_tuple_hint() -> None:
    """tuple[int, str] accepts an integer then a string, and nothing else."""
    check = Draft202012Validator(schema_of(tuple[int, str])).is_valid
    assert (check([1, "a"]), check(["a", 1]), check([1, 2, 3])) == (True, False, False)


def test_variadic_tuple_hint() -> None:
    """tuple[str, ...] is an array of strings."""
    assert schema_of(tuple[str, ...]) == {"type": "array", "items": {"type": "string"}}

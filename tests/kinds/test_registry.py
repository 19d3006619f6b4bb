"""The kind registry and schemas/ agree both ways, and every schema file is a valid JSON Schema."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from webmcp.config.registry import Kind, kind, kinds_of, register
from webmcp.config.schemas import kind_schema_id

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
TOOL_SCHEMAS = SCHEMAS / "kinds" / "tools"


def schema_kinds() -> list[str]:
    return sorted(p.name.removesuffix(".schema.json") for p in TOOL_SCHEMAS.glob("*.schema.json"))


def test_every_registered_tool_kind_has_a_schema() -> None:
    """Each registered tool kind has schemas/kinds/tools/<kind>.schema.json."""
    missing = [k for k in kinds_of("tools") if not (TOOL_SCHEMAS / f"{k}.schema.json").is_file()]
    assert missing == []


def test_every_tool_schema_has_a_registered_kind() -> None:
    """Each schemas/kinds/tools/<kind>.schema.json belongs to a registered kind."""
    assert sorted(set(schema_kinds()) - set(kinds_of("tools"))) == []


def test_envelope_kind_enum_lists_exactly_the_registered_kinds() -> None:
    """The envelope's tool_entry kind enum is the registered tool kinds, no more, no fewer."""
    envelope = json.loads((SCHEMAS / "webmcp.schema.json").read_text())
    assert sorted(envelope["$defs"]["tool_entry"]["properties"]["kind"]["enum"]) == kinds_of("tools")


@pytest.mark.parametrize("name", schema_kinds())
def test_kind_schema_identity(name: str) -> None:
    """A kind's schema has the $id webmcp looks it up by, and pins `kind` to its own name."""
    schema = json.loads((TOOL_SCHEMAS / f"{name}.schema.json").read_text())
    assert schema["$id"] == kind_schema_id("tools", name)
    assert schema["properties"]["kind"] == {"const": name}


@pytest.mark.parametrize("name", kinds_of("tools"))
def test_registered_kind_entry(name: str) -> None:
    """A registered kind knows its section and name, reads Specs with from_config and has a build function."""
    entry = kind("tools", name)
    assert (entry.section, entry.name) == ("tools", name)
    assert callable(entry.spec_type.from_config)
    assert callable(entry.build)


@pytest.mark.parametrize("path", sorted(SCHEMAS.rglob("*.schema.json")), ids=lambda p: str(p.relative_to(SCHEMAS)))
def test_schema_file_is_valid_draft_2020_12(path: Path) -> None:
    """Every schema file declares draft 2020-12, has a $id, and is itself a valid schema."""
    schema = json.loads(path.read_text())
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"].startswith("urn:webmcp:")
    Draft202012Validator.check_schema(schema)


def test_duplicate_kind_is_refused() -> None:
    """Registering a second kind under an existing name fails at once."""
    existing = kind("tools", "static")
    with pytest.raises(RuntimeError, match="duplicate kind tools/static"):
        register(Kind("tools", "static", existing.spec_type, existing.build))
    assert kind("tools", "static") is existing

"""The kind registry, schemas/ and the docs agree both ways, for every section; every schema file is a
valid JSON Schema."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from webmcp.config.registry import Kind, kind, kinds_of, load_all, register
from webmcp.config.schemas import kind_schema_id
from webmcp.kinds.imports import KINDS

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "schemas"
SECTIONS = ("tools", "pools", "upstreams")  # sections whose entries have a kind: schema file each
ENTRY = {"tools": "tool_entry", "pools": "pool_entry", "upstreams": "upstream_entry"}


def schema_kinds(section: str) -> list[str]:
    return sorted(p.name.removesuffix(".schema.json") for p in (SCHEMAS / "kinds" / section).glob("*.schema.json"))


def documented_kinds(section: str) -> list[str]:
    """The "### `kind: X`" headings of the section in docs/configuration.md (tools: the section opens with
    the heading "Tools: fields every kind accepts")."""
    text = (ROOT / "docs" / "configuration.md").read_text()
    opening = "## Tools:" if section == "tools" else f"## `{section}`"
    block = text[text.index(opening):]
    block = block[:block.index("\n## ", 1)]
    return sorted(re.findall(r"^### `kind: (\w+)`", block, re.M))


@pytest.mark.parametrize("section", (*SECTIONS, "balancers"))
def test_the_table_lists_every_kind_module(section: str) -> None:
    """Each module of webmcp/kinds/<section>/ is in the table of kinds/imports.py, and the table names no other."""
    modules = sorted(p.stem for p in (ROOT / "webmcp" / "kinds" / section).glob("*.py") if p.stem != "__init__")
    assert modules == sorted(KINDS[section]) == kinds_of(section)


def test_every_kind_module_registers_what_the_table_declares() -> None:
    """Importing every declared kind module registers exactly the declared kinds."""
    load_all()
    for section in (*SECTIONS, "balancers"):
        assert [kind(section, name).name for name in kinds_of(section)] == kinds_of(section)


@pytest.mark.parametrize("section", SECTIONS)
def test_schema_files_are_the_registered_kinds(section: str) -> None:
    """schemas/kinds/<section>/<kind>.schema.json exists for each registered kind, and for no other."""
    assert schema_kinds(section) == kinds_of(section)


@pytest.mark.parametrize("section", SECTIONS)
def test_envelope_kind_enum_lists_exactly_the_registered_kinds(section: str) -> None:
    """The envelope's entry `kind` enum is the registered kinds of the section, no more, no fewer."""
    envelope = json.loads((SCHEMAS / "webmcp.schema.json").read_text())
    assert sorted(envelope["$defs"][ENTRY[section]]["properties"]["kind"]["enum"]) == kinds_of(section)


@pytest.mark.parametrize("section", SECTIONS)
def test_the_docs_describe_exactly_the_registered_kinds(section: str) -> None:
    """docs/configuration.md has a `kind: X` heading for each registered kind of the section, and no other."""
    assert documented_kinds(section) == kinds_of(section)


def test_balancers_in_the_schema_and_docs_are_the_registered_ones() -> None:
    """The `balance` enum of schemas/upstream.schema.json, the README's example and docs/configuration.md's
    `balance` row name exactly the registered balancers."""
    upstream = json.loads((SCHEMAS / "upstream.schema.json").read_text())
    enums = [node["enum"] for node in _walk(upstream)
             if isinstance(node, dict) and "round_robin" in node.get("enum", [])]
    assert [sorted(e) for e in enums] == [kinds_of("balancers")]
    readme = re.search(r"balance: \w+ +# ([\w |]+)", (ROOT / "README.md").read_text())
    assert readme is not None and sorted(readme.group(1).replace(" ", "").split("|")) == kinds_of("balancers")
    row = next(line for line in (ROOT / "docs" / "configuration.md").read_text().splitlines()
               if line.startswith("| `balance` |"))
    assert sorted(set(re.findall(r"`(\w+)`: ", row))) == kinds_of("balancers")


def _walk(node: object) -> list[object]:
    out = [node]
    children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else []
    for child in children:
        out += _walk(child)
    return out


@pytest.mark.parametrize("section", SECTIONS)
def test_kind_schema_identity(section: str) -> None:
    """A kind's schema has the $id webmcp looks it up by, and pins `kind` to its own name."""
    for name in schema_kinds(section):
        schema = json.loads((SCHEMAS / "kinds" / section / f"{name}.schema.json").read_text())
        assert schema["$id"] == kind_schema_id(section, name)
        assert schema["properties"]["kind"] == {"const": name}


@pytest.mark.parametrize("section", (*SECTIONS, "balancers"))
def test_registered_kind_entries(section: str) -> None:
    """A registered kind knows its section and name, reads Specs with from_config and has a build function."""
    for name in kinds_of(section):
        entry = kind(section, name)
        assert (entry.section, entry.name) == (section, name)
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

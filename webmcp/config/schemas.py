"""The JSON Schemas shipped in `schemas/`: loading, cross-file references, compiled validators."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from webmcp.config.package_data import package_folder

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator
    from referencing import Registry

ENVELOPE_ID = "urn:webmcp:config"


def kind_schema_id(section: str, kind: str) -> str:
    return f"urn:webmcp:kinds/{section}/{kind}"


@functools.cache
def raw_schemas() -> dict[str, bytes]:
    """Every schema file under schemas/ as bytes, keyed by its path there."""

    found: dict[str, bytes] = {}

    def visit(folder: Path, prefix: str) -> None:
        for entry in sorted(folder.iterdir()):
            if entry.is_dir():
                visit(entry, f"{prefix}{entry.name}/")
            elif entry.name.endswith(".schema.json"):
                found[prefix + entry.name] = entry.read_bytes()

    visit(package_folder("webmcp.schemas"), "")
    return found


@functools.cache
def all_schemas() -> dict[str, dict[str, Any]]:
    """Every schema file under schemas/, keyed by its $id."""
    schemas = [orjson.loads(raw) for raw in raw_schemas().values()]
    return {schema["$id"]: schema for schema in schemas}


def add_schema(schema: dict[str, Any]) -> None:
    """A plugin kind's schema (config/plugins.py), beside the shipped ones from now on."""
    all_schemas()[schema["$id"]] = schema
    _registry.cache_clear()
    validator.cache_clear()
    envelope_validator.cache_clear()


@functools.cache
def envelope_validator(extra: tuple[tuple[str, tuple[str, ...]], ...]) -> Draft202012Validator:
    """The envelope's validator, its `kind` enums extended by plugin kinds: ((section, names), ...)."""
    if not any(names for _, names in extra):
        return validator(ENVELOPE_ID)
    from jsonschema import Draft202012Validator

    envelope = orjson.loads(orjson.dumps(all_schemas()[ENVELOPE_ID]))
    for section, names in extra:
        kind = envelope["$defs"][f"{section.removesuffix('s')}_entry"]["properties"]["kind"]
        kind["enum"] = [*kind["enum"], *names]
    return Draft202012Validator(envelope, registry=_registry())


@functools.cache
def _registry() -> Registry:
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    return Registry().with_resources(
        (sid, Resource.from_contents(s, default_specification=DRAFT202012)) for sid, s in all_schemas().items()
    )


@functools.cache
def validator(schema_id: str) -> Draft202012Validator:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(all_schemas()[schema_id], registry=_registry())


def resolve(schema: dict[str, Any]) -> dict[str, Any]:
    """Follow a `$ref` (one level at a time is enough for our files)."""
    ref = schema.get("$ref")
    if isinstance(ref, str) and not ref.startswith("#"):
        base, _, pointer = ref.partition("#")
        target: Any = all_schemas()[base]
        for part in filter(None, pointer.split("/")):
            target = target[part]
        return dict(target)
    return schema


def known_keys(schema: dict[str, Any]) -> list[str]:
    """Property names a schema object (with its $ref and allOf parts) declares."""
    keys: list[str] = list(schema.get("properties", {}))
    if "$ref" in schema and not str(schema["$ref"]).startswith("#"):
        keys += known_keys(resolve({"$ref": schema["$ref"]}))
    for part in schema.get("allOf", []):
        keys += known_keys(part)
    return sorted(set(keys))


def bundle() -> dict[str, Any]:
    """One self-contained schema for editors: the envelope, with every kind's schema embedded.

    Embedded resources keep their `$id`, so `urn:webmcp:...` references resolve inside the bundle
    (the JSON Schema 2020-12 bundling rule).
    """
    schemas = all_schemas()
    envelope = dict(schemas[ENVELOPE_ID])
    defs = dict(envelope.get("$defs", {}))
    for sid, schema in schemas.items():
        if sid != ENVELOPE_ID:
            defs[sid.removeprefix("urn:webmcp:").replace("/", "_")] = schema
    for section, entry_name in (("tools", "tool_entry"), ("pools", "pool_entry"), ("upstreams", "upstream_entry")):
        kinds = [sid for sid in schemas if sid.startswith(f"urn:webmcp:kinds/{section}/")]
        entry = dict(defs[entry_name])
        entry["allOf"] = [
            {"if": {"properties": {"kind": {"const": sid.rsplit("/", 1)[1]}}, "required": ["kind"]},
             "then": {"$ref": sid}}
            for sid in sorted(kinds)
        ]
        defs[entry_name] = entry
    envelope["$defs"] = defs
    return envelope

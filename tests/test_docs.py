"""The documentation keeps up with the schemas and the README's promises."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from webmcp.config.schemas import all_schemas

REPO = Path(__file__).resolve().parents[1]


def _property_names(node: Any) -> set[str]:
    names: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "properties" and isinstance(value, dict):
                names |= set(value)
            names |= _property_names(value)
    elif isinstance(node, list):
        for item in node:
            names |= _property_names(item)
    return names


def test_every_config_key_is_documented() -> None:
    """Each key any schema declares appears in docs/configuration.md."""
    doc = (REPO / "docs" / "configuration.md").read_text()
    documented = set(re.findall(r"`(?:[a-z0-9_]+\.)*([A-Za-z0-9_]+)`", doc))
    keys = set().union(*(_property_names(s) for s in all_schemas().values()))
    keys -= {"type", "text", "data", "mimeType", "resource", "uri", "blob", "name"}  # MCP content block fields
    assert sorted(keys - documented) == []


def test_readme_gives_the_two_quick_start_commands_and_ci_runs_the_test_one() -> None:
    """README's quick start has `make serve` and `make test`; .ci/run runs `make test`."""
    readme = (REPO / "README.md").read_text()
    assert "make serve" in readme and "make test" in readme
    assert "make test" in (REPO / ".ci" / "run").read_text()

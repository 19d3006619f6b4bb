"""Durations and sizes with units, and that the Python grammar matches the one in the JSON Schemas."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from webmcp.config.units import DURATION_PATTERN, SIZE_PATTERN, parse_duration, parse_size

DEFS = Path(__file__).resolve().parents[2] / "schemas" / "defs.schema.json"


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("250ms", 0.25),
        ("0ms", 0.0),
        ("2s", 2.0),
        ("1.5s", 1.5),
        ("5m", 300.0),
        ("1h", 3600.0),
        ("0.5h", 1800.0),
        (" 2s ", 2.0),
        ("2 s", 2.0),
    ],
)
def test_parse_duration(text: str, seconds: float) -> None:
    """A number with a unit of ms, s, m or h is that many seconds."""
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["fast", "30", "", "s", "-1s", "1d", "1S", "1sec", "1e3ms", ".5s", "1,5s", "1s2"])
def test_bad_duration(text: str) -> None:
    """Anything but a non-negative number followed by a known unit is refused."""
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("512B", 512),
        ("0B", 0),
        ("64KB", 64_000),
        ("2MB", 2_000_000),
        ("1GB", 1_000_000_000),
        ("1KiB", 1024),
        ("4KiB", 4096),
        ("1.5KiB", 1536),
        ("4MiB", 4 * 1024**2),
        ("1GiB", 1024**3),
        (" 1 MiB ", 1024**2),
    ],
)
def test_parse_size(text: str, size: int) -> None:
    """A number with a decimal (KB, MB, GB) or binary (KiB, MiB, GiB) unit is that many bytes."""
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["10", "big", "", "1kb", "1K", "1TB", "-1KB", "1 M iB", "1MiB2"])
def test_bad_size(text: str) -> None:
    """Anything but a non-negative number followed by a known size unit is refused."""
    with pytest.raises(ValueError, match="not a size"):
        parse_size(text)


@pytest.mark.parametrize(
    ("definition", "pattern"),
    [pytest.param("duration", DURATION_PATTERN, id="duration"), pytest.param("size", SIZE_PATTERN, id="size")],
)
def test_schema_patterns_match_the_parser(definition: str, pattern: str) -> None:
    """schemas/defs.schema.json uses exactly the grammar that units.py parses."""
    defs = json.loads(DEFS.read_text())["$defs"]
    assert defs[definition]["pattern"] == pattern

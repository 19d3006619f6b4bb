"""Durations and sizes written with units: `250ms`, `2s`, `5m`, `1h`; `512B`, `64KB`, `4MiB`, `1GB`."""

from __future__ import annotations

import re

_DURATION = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*(ms|s|m|h)\s*$")
_SIZE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*(B|KB|MB|GB|KiB|MiB|GiB)\s*$")
_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_BYTES = {"B": 1, "KB": 1000, "MB": 1000**2, "GB": 1000**3, "KiB": 1024, "MiB": 1024**2, "GiB": 1024**3}

# The JSON Schemas use the same grammar (schemas/defs.schema.json); tests keep the two in step.
DURATION_PATTERN = _DURATION.pattern
SIZE_PATTERN = _SIZE.pattern


def parse_duration(text: str) -> float:
    """Seconds in a duration string. Raises ValueError for anything without a unit."""
    m = _DURATION.match(text)
    if m is None:
        raise ValueError(f"not a duration: {text!r}")
    return float(m.group(1)) * _SECONDS[m.group(2)]


def parse_size(text: str) -> int:
    """Bytes in a size string. Raises ValueError for anything without a unit."""
    m = _SIZE.match(text)
    if m is None:
        raise ValueError(f"not a size: {text!r}")
    return int(float(m.group(1)) * _BYTES[m.group(2)])

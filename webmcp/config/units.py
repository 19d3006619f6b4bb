"""Durations and sizes written with units: `250ms`, `2s`, `5m`, `1h`; `512B`, `64KB`, `4MiB`, `1GB`;
rates `100/min`, `5/s`; percentages `0.1%`."""

from __future__ import annotations

import re

_DURATION = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*(ms|s|m|h)\s*$")
_SIZE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*(B|KB|MB|GB|KiB|MiB|GiB)\s*$")
_RATE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*/\s*(s|sec|second|m|min|minute|h|hour|d|day)\s*$")
_PERCENT = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*%\s*$")
_PER = {"s": 1.0, "sec": 1.0, "second": 1.0, "m": 60.0, "min": 60.0, "minute": 60.0, "h": 3600.0, "hour": 3600.0,
        "d": 86400.0, "day": 86400.0}
_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_BYTES = {"B": 1, "KB": 1000, "MB": 1000**2, "GB": 1000**3, "KiB": 1024, "MiB": 1024**2, "GiB": 1024**3}

# The JSON Schemas use the same grammar (schemas/defs.schema.json); tests keep the two in step.
DURATION_PATTERN = _DURATION.pattern
SIZE_PATTERN = _SIZE.pattern
RATE_PATTERN = _RATE.pattern
PERCENT_PATTERN = _PERCENT.pattern


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


def parse_rate(text: str) -> tuple[float, float]:
    """(count, period in seconds) of a rate string like `100/min`. Raises ValueError otherwise."""
    m = _RATE.match(text)
    if m is None:
        raise ValueError(f"not a rate: {text!r}")
    return float(m.group(1)), _PER[m.group(2)]


def parse_percent(text: str) -> float:
    """A fraction from a percentage string: `0.1%` -> 0.001. Raises ValueError otherwise."""
    m = _PERCENT.match(text)
    if m is None:
        raise ValueError(f"not a percentage: {text!r}")
    return float(m.group(1)) / 100

"""Folders of data shipped inside the package: the JSON Schemas (webmcp.schemas) and the built-in
profiles (webmcp.profiles), in a wheel, an editable install and the one-file binary alike. Found from
the package's `__path__` (a bundler may load them as namespace packages, without `__file__`) rather
than through importlib.resources, which costs 10 ms to import at start-up."""

from __future__ import annotations

import importlib
from pathlib import Path


def package_folder(name: str) -> Path:
    return Path(next(iter(importlib.import_module(name).__path__)))

"""Shared fixtures: the anyio backend for async tests."""

from __future__ import annotations

import pytest

import webmcp.kinds.imports  # noqa: F401  (the registry of kinds, as the graph builder fills it)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"

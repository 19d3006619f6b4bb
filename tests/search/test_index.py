"""The on-disk index of a semantic_search tool, with a deterministic stand-in for the model: what a restart
reuses, what a change re-embeds, what a corrupt or half-written index becomes, which files are skipped."""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from webmcp.config.models import BatchSpec, ModelSpec
from webmcp.config.spec import Where
from webmcp.models.batcher import Embedded
from webmcp.search import store
from webmcp.search.index import SearchIndex, Settings, Summary, refresh

pytestmark = pytest.mark.anyio
DIMENSIONS = 256


def vector(text: str) -> list[float]:
    """A bag of words hashed into 256 dimensions: texts sharing words are close."""
    out = [0.0] * DIMENSIONS
    for word in filter(None, (w.strip(".,#:") for w in text.lower().split())):
        out[hashlib.sha256(word.encode()).digest()[0] % DIMENSIONS] += 1.0
    return out


class FakeModel:
    """What the index asks of models.model.Model: its spec, embed() and dimensions; records every text."""

    def __init__(self, folder: Path) -> None:
        where = Where("webmcp.yaml", 1, 1, "models.fake")
        self.spec = ModelSpec(name="fake", path=str(folder), backend="torch", device="cpu", dtype="float32", threads=1,
                              preload=False, batch=BatchSpec(), pad_to_multiple_of=1, half_precision_check=None, env=(),
                              where=where, path_where=where)
        self.dimensions = DIMENSIONS
        self.embedded: list[str] = []

    async def embed(self, texts: Sequence[str]) -> Embedded:
        self.embedded.extend(texts)
        return Embedded([vector(t) for t in texts], ())


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "config.json").write_text("{}")
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "bread.md").write_text("# Bread\n\nFlour water yeast salt.\n\n# Oven\n\nBake it hot.\n")
    (docs / "cats.md").write_text("Cats sleep all day.\n")
    (docs / "dogs.txt").write_text("Dogs bark.\n")
    return tmp_path


def settings_of(base: Path, max_chars: int = 200, overlap: int = 20) -> Settings:
    return Settings("tool 'notes'", base, ("docs/*.md", "docs/*.txt"), base / "index", max_chars, overlap)


async def build(base: Path, **kwargs: int) -> tuple[SearchIndex, Summary, FakeModel]:
    model = FakeModel(base / "model")
    index, summary = await refresh(settings_of(base, **kwargs), model)  # type: ignore[arg-type]
    return index, summary, model


async def test_the_first_build_embeds_every_chunk_and_search_finds_the_closest(corpus: Path) -> None:
    """Every chunk is embedded once; a query returns its file, 1-based line and text, best first."""
    index, summary, model = await build(corpus)
    assert (summary.files, summary.chunks, summary.embedded_chunks, summary.reused_chunks) == (3, 4, 4, 0)
    assert len(model.embedded) == 4
    hits = index.top(vector("oven: bake it hot"), 2)
    assert (hits[0].file, hits[0].line, hits[0].text) == ("docs/bread.md", 5, "# Oven\n\nBake it hot.")
    assert hits[0].score == pytest.approx(1.0, abs=1e-6) and hits[0].score >= hits[1].score
    assert len(index.top(vector("x"), 100)) == 4  # top_k past the rows: every row


async def test_a_restart_embeds_nothing_and_writes_nothing(corpus: Path) -> None:
    """Same files, same model, same chunking: no text reaches the model, no generation is written."""
    await build(corpus)
    manifest = (corpus / "index" / "manifest.json").read_bytes()
    index, summary, model = await build(corpus)
    assert model.embedded == [] and not summary.wrote
    assert (summary.reused_files, summary.reused_chunks) == (3, 4)
    assert (corpus / "index" / "manifest.json").read_bytes() == manifest
    assert index.top(vector("cats sleep"), 1)[0].file == "docs/cats.md"


async def test_only_the_changed_file_is_embedded_and_a_removed_one_dropped(corpus: Path) -> None:
    """A changed file's chunks are embedded again, the others' vectors reused; a deleted file leaves the index."""
    await build(corpus)
    (corpus / "docs" / "cats.md").write_text("Cats sleep all day.\n\nThey purr at night.\n")
    (corpus / "docs" / "dogs.txt").unlink()
    index, summary, model = await build(corpus)
    assert model.embedded == ["Cats sleep all day.\n\nThey purr at night."]
    assert (summary.embedded_files, summary.reused_files, summary.files, summary.chunks) == (1, 1, 2, 3)
    assert {h.file for h in index.top(vector("x"), 10)} == {"docs/bread.md", "docs/cats.md"}
    assert index.top(vector("purr at night"), 1)[0].text.endswith("They purr at night.")
    assert len([p for p in (corpus / "index").iterdir() if p.name.startswith("g-")]) == 1  # old generation gone


async def test_a_new_model_or_new_chunking_embeds_everything_again(corpus: Path) -> None:
    """The key holds the model's identity (its files' sizes and times) and the chunking settings."""
    await build(corpus)
    _, summary, _ = await build(corpus, max_chars=300)
    assert summary.embedded_chunks == 4
    (corpus / "model" / "config.json").write_text('{"changed": true}')
    _, summary, _ = await build(corpus, max_chars=300)
    assert summary.embedded_chunks == 4


@pytest.mark.parametrize("damage", ["manifest", "vectors", "chunks", "generation"])
async def test_a_corrupt_index_is_rebuilt_with_a_warning(corpus: Path, damage: str,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    """A garbled manifest, a truncated matrix, a chunk list of the wrong length or a missing generation: a
    warning saying the index is corrupt, then a full rebuild that searches correctly."""
    await build(corpus)
    folder = corpus / "index"
    generation = next(p for p in folder.iterdir() if p.name.startswith("g-"))
    if damage == "manifest":
        (folder / "manifest.json").write_text('{"format": 1, "key": ')
    elif damage == "vectors":
        data = (generation / "vectors.npy").read_bytes()
        (generation / "vectors.npy").write_bytes(data[: len(data) // 2])
    elif damage == "chunks":
        (generation / "chunks.json").write_text('[[1, "only one"]]')
    else:
        for p in generation.iterdir():
            p.unlink()
        generation.rmdir()
    with caplog.at_level(logging.WARNING):
        index, summary, _ = await build(corpus)
    assert any("the index in" in r.message and "is corrupt" in r.message for r in caplog.records)
    assert summary.embedded_chunks == 4
    assert index.top(vector("dogs bark"), 1)[0].file == "docs/dogs.txt"


async def test_a_write_interrupted_before_the_manifest_leaves_the_old_index(corpus: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """A crash between writing the new generation and switching the manifest: the old index still opens
    whole, and the next refresh cleans the leftovers."""
    await build(corpus)
    (corpus / "docs" / "cats.md").write_text("Cats changed.\n")

    def crash(src: object, dst: object) -> None:
        raise OSError("simulated crash")

    monkeypatch.setattr(store.os, "replace", crash)
    with pytest.raises(OSError, match="simulated crash"):
        await build(corpus)
    monkeypatch.undo()
    old = store.open_stored(corpus / "index")
    assert old is not None and len(old.chunks) == 4 and "Cats sleep all day." in [t for _, t in old.chunks]
    _, _, model = await build(corpus)
    assert model.embedded == ["Cats changed."]
    assert sorted(p.name.split("-")[0] for p in (corpus / "index").iterdir()) == ["g", "lock", "manifest.json"]


async def test_binary_undecodable_and_unreadable_files_are_skipped_with_a_warning(
        corpus: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    """A NUL byte, invalid UTF-8 or a read error: the file is named in a warning and left out; the rest
    is indexed. A glob matching nothing is a warning too."""
    (corpus / "docs" / "image.md").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    (corpus / "docs" / "latin1.md").write_bytes("caf\xe9 au lait".encode("latin-1"))
    (corpus / "docs" / "secret.md").write_text("unreadable")
    real = Path.read_bytes

    def read_bytes(self: Path) -> bytes:
        if self.name == "secret.md":
            raise PermissionError(13, "Permission denied")
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    settings = Settings("tool 'notes'", corpus, ("docs/*.md", "nothing/*.rst"), corpus / "index", 200, 20)
    with caplog.at_level(logging.WARNING):
        index, summary = await refresh(settings, FakeModel(corpus / "model"))  # type: ignore[arg-type]
    messages = [r.message for r in caplog.records]
    assert "tool 'notes': skipped docs/image.md: it is binary (a NUL byte), not text" in messages
    assert any(m.startswith("tool 'notes': skipped docs/latin1.md: it is not UTF-8 text") for m in messages)
    assert "tool 'notes': skipped docs/secret.md: it cannot be read: Permission denied" in messages
    assert any("'nothing/*.rst' matches no file" in m for m in messages)
    assert [path for path, _ in summary.skipped] == ["docs/image.md", "docs/latin1.md", "docs/secret.md"]
    assert {h.file for h in index.top(vector("x"), 10)} == {"docs/bread.md", "docs/cats.md"}


async def test_an_empty_corpus_is_an_empty_index(tmp_path: Path) -> None:
    """No file: an index of no rows, searched without error, reused on the next build."""
    (tmp_path / "model").mkdir()
    index, summary, model = await build(tmp_path)
    assert (summary.files, summary.chunks, index.top(vector("x"), 5)) == (0, 0, [])
    _, again, _ = await build(tmp_path)
    assert not again.wrote and model.embedded == []


def test_the_matrix_is_memory_mapped_float32_rows_of_unit_length(corpus: Path) -> None:
    """vectors.npy opens as a read-only memmap of L2-normalised float32 rows."""
    import asyncio

    asyncio.run(build(corpus))
    stored = store.open_stored(corpus / "index")
    assert stored is not None
    assert isinstance(stored.vectors, np.memmap) and stored.vectors.dtype == np.float32
    assert not stored.vectors.flags.writeable
    assert np.allclose(np.linalg.norm(stored.vectors, axis=1), 1.0, atol=1e-6)
    assert oct(os.stat(corpus / "index").st_mode & 0o777) == "0o700"

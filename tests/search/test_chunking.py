"""The chunker: sections at markdown headings, paragraphs packed up to max_chars, long paragraphs cut into
overlapping windows, each chunk the file's own text at its 1-based line."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from webmcp.search.chunking import Chunk, chunk

DOC = """# Install

Run pip install webmcp.
It needs Python 3.11.

## Serve

Start it with webmcp serve.

```yaml
tools:

  a: {kind: static}
```
# Not a heading inside a paragraph? It is: headings end paragraphs.
"""


def at_line(text: str, c: Chunk) -> bool:
    """The chunk's text is the file's text from the start of its line (after indentation)."""
    rest = "".join(text.splitlines(keepends=True)[c.line - 1:])
    return rest.lstrip().startswith(c.text)


def test_headings_start_sections_and_paragraphs_pack_within_a_section() -> None:
    """Each heading starts a chunk; a section's paragraphs share one chunk when they fit; a fenced block with
    a blank line stays whole."""
    chunks = chunk(DOC, 1000, 100)
    assert [c.line for c in chunks] == [1, 6, 15]
    assert chunks[0].text == "# Install\n\nRun pip install webmcp.\nIt needs Python 3.11."
    assert chunks[1].text.startswith("## Serve") and chunks[1].text.endswith("```")
    assert "  a: {kind: static}" in chunks[1].text
    assert all(at_line(DOC, c) for c in chunks)


def test_a_hash_in_a_fence_or_a_non_markdown_file_is_no_heading() -> None:
    """`# comment` inside fenced code, or in a file that is not markdown, does not cut a section."""
    code = "```\n# not a heading\nx = 1\n```\n"
    assert [c.line for c in chunk("intro\n\n" + code, 1000, 0)] == [1]
    assert [c.line for c in chunk("intro\n# comment\nmore\n", 1000, 0, markdown=False)] == [1]
    assert [c.line for c in chunk("intro\n# heading\nmore\n", 1000, 0)] == [1, 2]


def test_paragraphs_past_the_limit_start_a_new_chunk_repeating_the_last_paragraph() -> None:
    """Packing stops at max_chars; the next chunk starts with the previous one's last paragraph when it fits
    in the overlap."""
    text = "\n\n".join(f"para {i} " + "x" * 30 for i in range(6))  # 37 characters each, 2 between
    chunks = chunk(text, 80, 39)
    assert [c.line for c in chunks] == [1, 3, 5, 7, 9]
    assert all(len(c.text) <= 80 for c in chunks)
    for before, after in itertools.pairwise(chunks):
        assert after.text.startswith(before.text.split("\n\n")[-1])  # the overlap
    assert chunk(text, 80, 0)[1].text.startswith("para 2")  # no overlap: no repeat


def test_a_long_paragraph_is_cut_at_whitespace_into_overlapping_windows() -> None:
    """A paragraph over max_chars becomes windows of at most max_chars, ending at whitespace, each starting
    within `overlap` characters before the previous one ended, at a word."""
    words = " ".join(f"w{i:03d}" for i in range(100))  # 499 characters, one line
    chunks = chunk("title\n\n" + words, 100, 20)
    assert chunks[0] == Chunk(1, "title", 0)
    windows = chunks[1:]
    assert all(c.line == 3 and len(c.text) <= 100 for c in windows)
    assert all(c.text.startswith("w") and c.text[-1] != " " for c in windows)
    for before, after in itertools.pairwise(windows):
        shared = before.text[before.text.index(after.text.split(" ")[0], len(before.text) - 20):]
        assert after.text.startswith(shared)  # the next window repeats the previous one's last 20 characters
    assert windows[-1].text.endswith("w099")


def test_line_numbers_are_one_based_and_count_blank_lines() -> None:
    """A chunk after blank lines and CRLF line ends gets the line its first character is on."""
    assert [c.line for c in chunk("\n\n\r\nfirst\r\n\r\n\r\n# h\r\nsecond\r\n", 1000, 0)] == [4, 7]


def test_bad_settings_are_refused() -> None:
    """An overlap of half max_chars or more could not make progress: ValueError (the config checks it first)."""
    with pytest.raises(ValueError):
        chunk("x", 100, 50)


LINE_BREAKS = "\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"  # str.splitlines() would count these as line ends
TEXT = st.lists(st.one_of(st.sampled_from(["", "# Title", "## Sub", "```", "    indented", "\t", "  "]),
                          st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters=LINE_BREAKS),
                                  max_size=120)),
                max_size=40).map("\n".join)


@settings(max_examples=300, deadline=None, database=None)
@given(text=TEXT, max_chars=st.integers(1, 200), data=st.data())
def test_chunks_cover_the_text_within_the_limit_at_their_lines(text: str, max_chars: int, data: st.DataObject) -> None:
    """For any text: every chunk is at most max_chars, non-empty, found in the file at its line; every
    non-space character is in some chunk; each chunk starts after the one before."""
    overlap = data.draw(st.integers(0, max(0, (max_chars - 1) // 2)))
    chunks = chunk(text, max_chars, overlap)
    lines = text.split("\n")
    covered = [False] * len(text)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line) + 1)
    previous = -1
    for c in chunks:
        assert 0 < len(c.text) <= max_chars and c.text == c.text.strip()
        assert text[c.offset:c.offset + len(c.text)] == c.text
        assert offsets[c.line - 1] <= c.offset < offsets[c.line]  # begins on its line
        assert c.offset > previous  # each chunk starts after the one before
        previous = c.offset
        for i in range(c.offset, c.offset + len(c.text)):
            covered[i] = True
    assert all(covered[i] or ch.isspace() for i, ch in enumerate(text))

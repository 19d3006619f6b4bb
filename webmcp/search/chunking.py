"""Cutting a text file into chunks for semantic search: by markdown heading, then by paragraph, within a
size limit, with an overlap.

The rule, in order:
- A markdown file (`markdown=True`) is cut into sections at ATX headings (`#` to `######` then a space),
  except inside fenced code blocks (``` or ~~~). A chunk never spans two sections; the heading line starts
  its section's first chunk. Other files are one section.
- A section is cut into blocks at blank lines; a fenced code block is one block with its blank lines.
- A block longer than `max_chars` is cut into windows of at most `max_chars`, ending at whitespace where
  there is some in the window's second half; each window starts `overlap` characters before the previous
  one ended (moved forward to the start of a word).
- Consecutive blocks are packed into one chunk while the chunk (from its first block's first character to
  its last block's last one, blank lines included) stays within `max_chars`. A new chunk starts with the
  previous chunk's last whole blocks that fit in `overlap` characters, when the next block fits beside them.

Each chunk is the file's own text from its start to its end (so a chunk can be found in the file at its
line), and knows its 1-based start line. Characters, not tokens: chunking needs no model, so an index can
be checked without loading one. A model reads about 4 characters of English per token; text past the
model's token limit is truncated by the model.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

_HEADING = re.compile(r" {0,3}#{1,6}(?:[ \t]|$)")
_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})")


@dataclass(frozen=True, slots=True)
class Chunk:
    line: int  # 1-based line of the chunk's first character
    text: str
    offset: int  # of its first character in the text


@dataclass(frozen=True, slots=True)
class _Piece:
    start: int  # offsets into the text, end exclusive
    end: int
    whole: bool  # a whole block (not a window of a longer one): only these are repeated as overlap


def chunk(text: str, max_chars: int, overlap: int, markdown: bool = True) -> list[Chunk]:
    """The chunks of `text`, in order. `max_chars` >= 1, 0 <= `overlap` < max_chars / 2."""
    if max_chars < 1 or overlap < 0 or 2 * overlap >= max_chars:
        raise ValueError("need max_chars >= 1 and 0 <= overlap < max_chars / 2")
    starts = _line_starts(text)
    chunks: list[Chunk] = []
    for section in _sections(text, starts, markdown):
        pieces = [p for start, end in section for p in _windows(text, start, end, max_chars, overlap)]
        for start, end in _pack(pieces, max_chars, overlap):
            chunks.append(Chunk(bisect.bisect_right(starts, start), text[start:end], start))
    return chunks


def _line_starts(text: str) -> list[int]:
    return [0, *(m.end() for m in re.finditer("\n", text))]


def _sections(text: str, starts: list[int], markdown: bool) -> list[list[tuple[int, int]]]:
    """Blocks (start, end offsets, trimmed) grouped by section."""
    sections: list[list[tuple[int, int]]] = [[]]
    block: list[int] = []  # the start and end offsets of the block being read
    fence = ""
    for i, start in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else len(text)
        line = text[start:end].rstrip("\r\n")
        if fence:
            block[1] = start + len(line)
            if line.lstrip(" ").startswith(fence) and not line.strip().strip(fence[0]):
                fence = ""
            continue
        opened = _FENCE.match(line) if markdown else None
        if markdown and _HEADING.match(line):
            if block:
                sections[-1].append((block[0], block[1]))
            block = []
            sections.append([])
        if not line.strip():
            if block:
                sections[-1].append((block[0], block[1]))
            block = []
            continue
        if block:
            block[1] = start + len(line)
        else:
            block = [start + len(line) - len(line.lstrip()), start + len(line)]
        if opened:
            fence = opened.group(1)
    if block:
        sections[-1].append((block[0], block[1]))
    return [_trimmed(text, s) for s in sections if s]


def _trimmed(text: str, blocks: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out = []
    for start, end in blocks:
        while end > start and text[end - 1].isspace():
            end -= 1
        if end > start:
            out.append((start, end))
    return out


def _windows(text: str, start: int, end: int, max_chars: int, overlap: int) -> list[_Piece]:
    """The block, or its windows when it is longer than max_chars."""
    if end - start <= max_chars:
        return [_Piece(start, end, True)]
    pieces = []
    while True:
        if end - start <= max_chars:
            pieces.append(_Piece(start, end, False))
            return pieces
        limit = start + max_chars
        cut = limit
        for i in range(limit, start + max_chars // 2, -1):  # the last whitespace in the second half
            if text[i].isspace():
                cut = i
                break
        piece_end = cut
        while piece_end > start and text[piece_end - 1].isspace():
            piece_end -= 1
        pieces.append(_Piece(start, piece_end, False))
        following = max(cut - overlap, start + 1)
        if overlap:  # start the overlap at a word, if one starts before the cut
            word = next((i for i in range(following, cut) if text[i - 1].isspace() and not text[i].isspace()),
                        None)
            following = word if word is not None else following
        while following < end and text[following].isspace():
            following += 1
        start = following


def _pack(pieces: list[_Piece], max_chars: int, overlap: int) -> list[tuple[int, int]]:
    """Consecutive pieces joined while they fit; each chunk after the first repeats the previous one's last
    whole blocks that fit in `overlap`."""
    chunks: list[tuple[int, int]] = []
    current: list[_Piece] = []
    for piece in pieces:
        if current and piece.end - current[0].start <= max_chars:
            current.append(piece)
            continue
        if current:
            chunks.append((current[0].start, current[-1].end))
            carried: list[_Piece] = []
            for previous in reversed(current):
                if not previous.whole or current[-1].end - previous.start > overlap \
                        or piece.end - previous.start > max_chars:
                    break
                carried.insert(0, previous)
            current = carried
        current.append(piece)
    if current:
        chunks.append((current[0].start, current[-1].end))
    return chunks

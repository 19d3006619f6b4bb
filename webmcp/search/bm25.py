"""Okapi BM25 over a small catalog of tool descriptions, in pure Python.

Why our own and not bm25s or rank-bm25: both compute on numpy (bm25s also on scipy), which webmcp's core
install does not carry and which costs about 100 ms to import, for corpora of tens to a few hundred short
documents where the whole ranking is a dictionary walk of well under a millisecond; rank-bm25 has had no
release since 2022. What matters for tool names is the tokenizer (snake_case and camelCase split, a light
plural/-ing/-ed folding), which neither library provides. The scoring is the textbook one (Robertson and
Zaragoza 2009): idf = ln(1 + (N - n + 0.5) / (n + 0.5)), k1 = 1.5, b = 0.75.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

K1 = 1.5
B = 0.75
_WORD = re.compile(r"[A-Za-z]+|[0-9]+")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
STOP = frozenset({
    "a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "in", "into", "is", "it", "its", "of", "on",
    "or", "that", "the", "this", "to", "with",
})


def fold(word: str) -> str:
    """A light stemmer: plural and -ing/-ed endings, enough to meet `files` with `file`, `searching` with
    `search`."""
    for suffix, keep in (("ies", "y"), ("sses", "ss"), ("ing", ""), ("ed", ""), ("es", ""), ("s", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3 and not word.endswith("ss"):
            return word[: len(word) - len(suffix)] + keep
    return word


def tokens(text: str) -> list[str]:
    """Words of `text`, lowercased and folded: `listOpenIssues` and `list_open_issues` give the same words."""
    out = []
    for word in _WORD.findall(_CAMEL.sub(" ", text)):
        low = word.lower()
        if low not in STOP:
            out.append(fold(low))
    return out


class Index:
    """Documents given as token lists; `rank(query)` scores every document that shares a word with it."""

    __slots__ = ("_avg", "_idf", "_lengths", "_postings")

    def __init__(self, documents: Sequence[Sequence[str]]) -> None:
        self._lengths = [len(doc) for doc in documents]
        self._avg = (sum(self._lengths) / len(documents)) if documents else 0.0
        self._postings: dict[str, list[tuple[int, int]]] = {}
        for i, doc in enumerate(documents):
            for word, tf in Counter(doc).items():
                self._postings.setdefault(word, []).append((i, tf))
        n = len(documents)
        self._idf = {w: math.log(1 + (n - len(p) + 0.5) / (len(p) + 0.5)) for w, p in self._postings.items()}

    def rank(self, query: Sequence[str]) -> list[tuple[int, float]]:
        """(document, score), best first; ties keep document order."""
        scores: dict[int, float] = {}
        avg = self._avg or 1.0
        for word in set(query):
            idf = self._idf.get(word)
            if idf is None:
                continue
            for doc, tf in self._postings[word]:
                norm = K1 * (1 - B + B * self._lengths[doc] / avg)
                scores[doc] = scores.get(doc, 0.0) + idf * tf * (K1 + 1) / (tf + norm)
        return sorted(scores.items(), key=lambda item: (-item[1], item[0]))

"""Stage 4b: candidate pairs from LSH band keys and from shared long sentences.

Takes each article's band keys (from ``sketch``) and sentence hashes; returns the pairs worth
verifying. Keys are kept in flat numpy arrays and grouped by sorting, so memory is ~12 bytes
per (article, band) instead of the ~6.8 KB per article of an in-memory ``MinHashLSH``, and the
same keys can live in an index table. Never decides whether a pair is a duplicate.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterator

import numpy as np
import numpy.typing as npt

from dedupe_releases.sketch import U64, tokens

_SENTENCE = re.compile(r"(?<=[.!?])[\"')\]]*\s+|\n+")

#: A bucket holding more articles than this is linked as a star (each to its first member)
#: rather than all pairs: 1,000 copies of one release would otherwise be 499,500 pairs.
MAX_BUCKET_PAIRS = 64
#: A sentence found in more articles than this is boilerplate, not a shared quote.
MAX_SENTENCE_ARTICLES = 20
#: Shortest sentence, in words, that counts as a shared passage.
MIN_SENTENCE_WORDS = 8


def long_sentences(text: str) -> Iterator[tuple[str, list[str]]]:
    """Each sentence of at least ``MIN_SENTENCE_WORDS`` words, with its case-folded words.

    >>> [s for s, _ in long_sentences("Too short. This one has eight words in it too.")]
    ['This one has eight words in it too.']
    """
    for sentence in _SENTENCE.split(text):
        words = tokens(sentence)
        if len(words) >= MIN_SENTENCE_WORDS:
            yield sentence.strip(), words


def sentence_hashes(text: str) -> U64:
    """64-bit hashes of the distinct long sentences of a text (quotes, passages).

    >>> len(sentence_hashes("Too short. " + "This sentence has more than eight words in it. " * 2))
    1
    """
    out = set()
    for _, words in long_sentences(text):
        digest = hashlib.blake2b(" ".join(words).encode(), digest_size=8).digest()
        out.add(int.from_bytes(digest, "little"))
    return np.array(sorted(out), dtype=np.uint64)


class CandidateIndex:
    """Collects band keys and sentence hashes per article, then yields candidate pairs.

    Articles are numbered in the order they are added; pairs are ``(i, j)`` with ``i < j``.
    """

    def __init__(self) -> None:
        self._keys: list[U64] = []
        self._sentences: list[U64] = []
        self._sentence_owner: list[npt.NDArray[np.uint32]] = []
        self.count = 0

    def add(self, bands: U64, sentences: U64) -> int:
        """Add one article's band keys and sentence hashes; returns its number."""
        number = self.count
        self.count += 1
        self._keys.append(bands)
        if len(sentences):
            self._sentences.append(sentences)
            self._sentence_owner.append(np.full(len(sentences), number, dtype=np.uint32))
        return number

    def lsh_pairs(self) -> Iterator[tuple[int, int]]:
        """Pairs of articles that share at least one band key."""
        if not self._keys:
            return
        lengths = np.array([len(k) for k in self._keys])
        keys = np.concatenate(self._keys) if lengths.sum() else np.zeros(0, np.uint64)
        owners = np.repeat(np.arange(len(self._keys), dtype=np.uint32), lengths)
        yield from _bucket_pairs(keys, owners, MAX_BUCKET_PAIRS, None)

    def sentence_pairs(self, min_shared: int) -> Iterator[tuple[int, int]]:
        """Pairs of articles sharing at least ``min_shared`` distinct long sentences."""
        if not self._sentences:
            return
        keys = np.concatenate(self._sentences)
        owners = np.concatenate(self._sentence_owner)
        shared: Counter[tuple[int, int]] = Counter(
            _bucket_pairs(keys, owners, None, MAX_SENTENCE_ARTICLES)
        )
        for pair, n in sorted(shared.items()):
            if n >= min_shared:
                yield pair


def _bucket_pairs(
    keys: U64, owners: npt.NDArray[np.uint32], star_above: int | None, skip_above: int | None
) -> Iterator[tuple[int, int]]:
    """Pairs of owners with equal keys (each pair once per shared key)."""
    if len(keys) == 0:
        return
    order = np.lexsort((owners, keys))
    keys = keys[order]
    owners = owners[order]
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    ends = np.r_[starts[1:], len(keys)]
    multi = (ends - starts) > 1
    for s, e in zip(starts[multi].tolist(), ends[multi].tolist(), strict=True):
        members = np.unique(owners[s:e]).tolist()
        size = len(members)
        if size < 2 or (skip_above is not None and size > skip_above):
            continue
        if star_above is not None and size > star_above:
            first = members[0]
            for other in members[1:]:
                yield first, other
            continue
        for x in range(size):
            for y in range(x + 1, size):
                yield members[x], members[y]

"""Stage 4b: candidate pairs from LSH band keys and from shared long sentences.

Takes each article's band keys (from ``sketch``) and sentence hashes; returns the pairs worth
verifying. Keys are kept in flat numpy arrays and grouped by sorting, so memory is ~12 bytes
per (article, band) instead of the ~6.8 KB per article of an in-memory ``MinHashLSH``, and the
same keys can live in an index table. Never decides whether a pair is a duplicate.
"""

from __future__ import annotations

from array import array
from collections import Counter
from collections.abc import Iterator
from typing import Any

import numpy as np
import numpy.typing as npt

from dedupe_releases.sketch import MIN_SENTENCE_WORDS, U64, sentence_hashes

#: A bucket holding more articles than this is linked as a star (each to its first member)
#: rather than all pairs: 1,000 copies of one release would otherwise be 499,500 pairs.
MAX_BUCKET_PAIRS = 64
#: A sentence found in more articles than this is boilerplate, not a shared quote.
MAX_SENTENCE_ARTICLES = 20

__all__ = ["MIN_SENTENCE_WORDS", "CandidateIndex", "sentence_hashes"]


class CandidateIndex:
    """Collects band keys and sentence hashes per article, then yields candidate pairs.

    Articles are numbered in the order they are added; pairs are ``(i, j)`` with ``i < j``.
    Keys live in flat growable arrays (8 bytes per key, 4 per owner, no object per article),
    and are grouped one slice of the key space at a time, so the sort's temporaries stay a
    small fraction of the keys themselves.
    """

    def __init__(self) -> None:
        self._keys = array("Q")
        self._key_owner = array("I")
        self._sentences = array("Q")
        self._sentence_owner = array("I")
        self.count = 0

    def add(self, bands: U64, sentences: U64) -> int:
        """Add one article's band keys and sentence hashes; returns its number."""
        number = self.count
        self.add_batch(bands, np.array([len(bands)]), sentences, np.array([len(sentences)]))
        return number

    def add_batch(
        self,
        bands: U64,
        band_counts: npt.NDArray[np.int64],
        sentences: U64,
        sentence_counts: npt.NDArray[np.int64],
    ) -> int:
        """Add consecutive articles' keys, given flat and with a count per article.

        Returns the number of the first one.
        """
        first = self.count
        n = len(band_counts)
        numbers = np.arange(first, first + n, dtype=np.uint32)
        self._keys.frombytes(np.ascontiguousarray(bands, dtype=np.uint64).tobytes())
        self._key_owner.frombytes(np.repeat(numbers, band_counts).tobytes())
        self._sentences.frombytes(np.ascontiguousarray(sentences, dtype=np.uint64).tobytes())
        self._sentence_owner.frombytes(np.repeat(numbers, sentence_counts).tobytes())
        self.count += n
        return first

    def lsh_pairs(self) -> Iterator[tuple[int, int]]:
        """Pairs of articles that share at least one band key."""
        yield from _bucket_pairs(
            _view(self._keys, np.uint64), _view(self._key_owner, np.uint32), MAX_BUCKET_PAIRS, None
        )

    def sentence_pairs(self, min_shared: int) -> Iterator[tuple[int, int]]:
        """Pairs of articles sharing at least ``min_shared`` distinct long sentences."""
        keys = _view(self._sentences, np.uint64)
        owners = _view(self._sentence_owner, np.uint32)
        shared: Counter[tuple[int, int]] = Counter(
            _bucket_pairs(keys, owners, None, MAX_SENTENCE_ARTICLES)
        )
        for pair, n in sorted(shared.items()):
            if n >= min_shared:
                yield pair


def _view(values: array[int], dtype: type[np.generic]) -> npt.NDArray[Any]:
    if not len(values):
        return np.zeros(0, dtype=dtype)
    return np.frombuffer(values, dtype=dtype)


#: Keys are grouped in this many slices of the key space (by their top bits).
_SLICES = 16


def _bucket_pairs(
    keys: U64, owners: npt.NDArray[np.uint32], star_above: int | None, skip_above: int | None
) -> Iterator[tuple[int, int]]:
    """Pairs of owners with equal keys (each pair once per shared key)."""
    if len(keys) == 0:
        return
    top = (keys >> np.uint64(60)).astype(np.uint8)
    for part in range(_SLICES):
        mask = top == part
        yield from _slice_pairs(keys[mask], owners[mask], star_above, skip_above)


def _slice_pairs(
    keys: U64, owners: npt.NDArray[np.uint32], star_above: int | None, skip_above: int | None
) -> Iterator[tuple[int, int]]:
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

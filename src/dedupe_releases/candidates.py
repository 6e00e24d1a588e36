"""Stage 4b: candidate pairs from LSH band keys and from shared long sentences.

Takes each article's band keys (from ``sketch``) and sentence hashes; returns the pairs worth
verifying. Keys are kept in flat numpy arrays and grouped by sorting, so memory is ~12 bytes
per (article, band) instead of the ~6.8 KB per article of an in-memory ``MinHashLSH``, and the
same keys can live in an index table. Never decides whether a pair is a duplicate.
"""

from __future__ import annotations

import re
from array import array
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import numpy.typing as npt

from dedupe_releases.parallel import submit_held
from dedupe_releases.sketch import (
    MIN_SENTENCE_WORDS,
    U32,
    U64,
    runs,
    sentence_hashes,
    sorted_distinct,
    tokens,
)

#: A sentence found in more articles than this is boilerplate, not a shared quote.
MAX_SENTENCE_ARTICLES = 20

__all__ = ["MIN_SENTENCE_WORDS", "CandidateIndex", "long_sentences", "sentence_hashes"]

# The sentence breaks of ``sketch.sentence_tokens``, in their plain form: the sentences as text.
_SENTENCE = re.compile(r"(?<=[.!?])[\"')\]]*\s+|\n+")


def long_sentences(text: str) -> Iterator[tuple[str, list[str]]]:
    """Each sentence of at least ``MIN_SENTENCE_WORDS`` words, with its case-folded words.

    >>> [s for s, _ in long_sentences("Too short. This one has eight words in it too.")]
    ['This one has eight words in it too.']
    """
    for sentence in _SENTENCE.split(text):
        words = tokens(sentence)
        if len(words) >= MIN_SENTENCE_WORDS:
            yield sentence.strip(), words


class CandidateIndex:
    """Collects band keys and sentence hashes per article, then yields candidate pairs.

    Articles are numbered in the order they are added; pairs are ``(i, j)`` with ``i < j``.
    Keys live in flat growable arrays (8 bytes per key, 4 per band key's owner, and 8 per
    article for where its sentence hashes end, their owners made only for the search; no
    object per article), and are grouped one slice of the key space at a time, so the sort's
    temporaries stay a small fraction of the keys themselves.
    """

    def __init__(self) -> None:
        self._keys = array("Q")
        self._key_owner = array("I")
        self._sentences = array("Q")
        self._sentence_ends = array("Q")  # where each article's sentence hashes end
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
        before = self._sentence_ends[-1] if first else 0
        ends = np.cumsum(sentence_counts, dtype=np.uint64) + np.uint64(before)
        self._sentence_ends.frombytes(ends.tobytes())
        self.count += n
        return first

    def sentences_of(self, number: int) -> U64:
        """Article ``number``'s sentence hashes, as added."""
        lo = self._sentence_ends[number - 1] if number else 0
        return _view(self._sentences, np.uint64)[lo : self._sentence_ends[number]].copy()

    def lsh_pairs(self, max_bucket_pairs: int) -> Iterator[tuple[int, int]]:
        """Pairs of articles that share at least one band key; a bucket of more than
        ``max_bucket_pairs`` articles gives its star (``SketchConfig.max_bucket_pairs``)."""
        return _decoded(self._lsh_keys(max_bucket_pairs))

    def sentence_pairs(self, min_shared: int) -> Iterator[tuple[int, int]]:
        """Pairs of articles sharing at least ``min_shared`` distinct long sentences, sorted."""
        return _decoded(self._sentence_keys(min_shared))

    def pairs(self, max_bucket_pairs: int, min_shared: int) -> set[tuple[int, int]]:
        """``lsh_pairs`` and ``sentence_pairs`` together (``pair_keys``, decoded)."""
        return set(_decoded(self.pair_keys(max_bucket_pairs, min_shared)))

    def pair_keys(self, max_bucket_pairs: int, min_shared: int) -> U64:
        """The pairs of ``lsh_pairs`` and ``sentence_pairs`` together as sorted, distinct keys
        ``first << 32 | second`` (in the order of the pairs), the two searches side by side.

        Both are mostly numpy sorts, which release the GIL: the sentence search runs in a
        thread of its own while this one searches the band keys, so two cores share the
        work. The same pairs as one search after the other.
        """
        with ThreadPoolExecutor(max_workers=1) as side:
            sentences = submit_held(side, self._sentence_keys, min_shared)
            bands = self._lsh_keys(max_bucket_pairs)
            both: U64 = np.union1d(bands, sentences.result())
        return both

    def _lsh_keys(self, max_bucket_pairs: int) -> U64:
        pairs = _bucket_pairs(
            _view(self._keys, np.uint64), _view(self._key_owner, np.uint32), max_bucket_pairs, None
        )
        return np.unique(pairs)

    def _sentence_keys(self, min_shared: int) -> U64:
        ends = _view(self._sentence_ends, np.uint64).astype(np.int64)
        owners = np.repeat(np.arange(len(ends), dtype=np.uint32), np.diff(ends, prepend=0))
        pairs = _bucket_pairs(
            _view(self._sentences, np.uint64), owners, None, MAX_SENTENCE_ARTICLES
        )
        del owners  # 4 bytes per sentence hash, not kept through the sort below
        pairs.sort()  # in place: a pair appears once per sentence it shares
        starts, shared = runs(pairs)
        kept: U64 = pairs[starts[shared >= min_shared]]
        return kept


def _decoded(pairs: U64) -> Iterator[tuple[int, int]]:
    """``(i, j)`` from pair keys ``i << 32 | j``."""
    return zip(
        (pairs >> np.uint64(32)).tolist(), (pairs & np.uint64(0xFFFFFFFF)).tolist(), strict=True
    )


def _view(values: array[int], dtype: type[np.generic]) -> npt.NDArray[Any]:
    if not len(values):
        return np.zeros(0, dtype=dtype)
    return np.frombuffer(values, dtype=dtype)


#: Keys are grouped in this many slices of the key space (by their top bits).
_SLICES = 16


def _bucket_pairs(keys: U64, owners: U32, star_above: int | None, skip_above: int | None) -> U64:
    """Pairs of owners with equal keys, once per shared key, as ``first << 32 | second``.

    A bucket of more than ``skip_above`` owners gives no pairs; one of more than
    ``star_above`` gives only its first owner paired with each other one. Keys are taken one
    slice of the key space at a time (by their top bits), so the sort's temporaries stay a
    sixteenth of the keys.
    """
    found = [np.zeros(0, np.uint64)]
    if len(keys):
        top = np.empty(len(keys), dtype=np.uint8)
        for lo in range(0, len(keys), 1 << 20):  # no full-size 64-bit temporary
            top[lo : lo + (1 << 20)] = keys[lo : lo + (1 << 20)] >> np.uint64(60)
        for part in range(_SLICES):
            where = np.flatnonzero(top == part)  # taken by index: 1.6x a boolean mask, twice
            found.append(_slice_pairs(keys.take(where), owners.take(where), star_above, skip_above))
    return np.concatenate(found)


def _slice_pairs(keys: U64, owners: U32, star_above: int | None, skip_above: int | None) -> U64:
    if len(keys) == 0:
        return np.zeros(0, np.uint64)
    # Sorted by key, then by owner, as ``np.lexsort((owners, keys))`` gives (3x slower): the
    # keys by an unstable sort, then each key replaced by its rank among the distinct keys,
    # which fits in 32 bits beside the owner (a slice holds fewer than 2**32 keys), so one
    # sort of 64-bit numbers orders the owners within each key and a mask drops repeats.
    order = np.argsort(keys)
    ordered = keys[order]
    rank = np.cumsum(np.r_[False, ordered[1:] != ordered[:-1]], dtype=np.uint64)
    both = sorted_distinct((rank << np.uint64(32)) | owners[order].astype(np.uint64))
    owners = (both & np.uint64(0xFFFFFFFF)).astype(np.uint32)
    starts, sizes = runs(both >> np.uint64(32))
    twos = starts[sizes == 2]  # by far the most common bucket: one vectorised step
    firsts, seconds = [owners[twos]], [owners[twos + 1]]
    kept = sizes > 2
    if skip_above is not None:
        kept &= sizes <= skip_above
    star = kept & (sizes > star_above) if star_above is not None else np.zeros_like(kept)
    full = kept & ~star
    # All pairs of every bucket of one size in one step: a (buckets x size) table of members.
    for size in np.unique(sizes[full]).tolist():
        members = owners[starts[full & (sizes == size)][:, None] + np.arange(size)]
        x, y = np.triu_indices(size, k=1)
        firsts.append(members[:, x].ravel())
        seconds.append(members[:, y].ravel())
    for s, size in zip(starts[star].tolist(), sizes[star].tolist(), strict=True):
        members = owners[s : s + size]  # a star: its first owner with each other one
        firsts.append(np.repeat(members[:1], size - 1))
        seconds.append(members[1:])
    first = np.concatenate(firsts).astype(np.uint64)
    return (first << np.uint64(32)) | np.concatenate(seconds).astype(np.uint64)

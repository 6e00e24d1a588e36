"""Stage 4a: word shingles and MinHash signatures.

Takes an ``Article``; returns its shingle hashes and a ``Sketch`` (a MinHash signature).
Tokens are hashed once to integers and combined into shingle hashes with numpy, so no
shingle string is ever built; the signature uses datasketch's ``affine32`` permutations
(``MinHash(num_perm, seed).permutations``) and equals ``datasketch.MinHash`` fed the same
shingle hashes, so signatures can be stored as ``LeanMinHash`` bytes. Never compares articles.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable, Iterable, Iterator
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from dedupe_releases.config import SketchConfig
from dedupe_releases.records import Article, Sketch

U32 = npt.NDArray[np.uint32]
U64 = npt.NDArray[np.uint64]

_TOKEN = re.compile(r"\w+")
# An odd 64-bit multiplier (from splitmix64) to combine token hashes position by position.
_COMBINE = np.uint64(0x9E3779B97F4A7C15)
_EMPTY = np.uint32(0xFFFFFFFF)  # datasketch's initial (empty) hash value for affine32


def tokens(text: str) -> list[str]:
    """Case-folded word tokens: the unit of every comparison.

    >>> tokens("Minister’s £17 MILLION plan")
    ['minister', 's', '17', 'million', 'plan']
    """
    return _TOKEN.findall(text.casefold())


def token_hashes(words: list[str]) -> U64:
    """One 32-bit CRC per token, widened to uint64 for combining."""
    crc = zlib.crc32
    return np.fromiter((crc(w.encode()) for w in words), dtype=np.uint64, count=len(words))


def _fmix64(h: U64) -> U64:
    """MurmurHash3's 64-bit finaliser: spreads every input bit over the output."""
    h = h ^ (h >> np.uint64(33))
    h = h * np.uint64(0xFF51AFD7ED558CCD)
    h = h ^ (h >> np.uint64(33))
    h = h * np.uint64(0xC4CEB9FE1A85EC53)
    return h ^ (h >> np.uint64(33))


def shingle_hashes(words: list[str], size: int) -> U32:
    """Sorted, distinct 32-bit hashes of the word ``size``-grams (all words if fewer).

    >>> a = shingle_hashes(tokens("one two three four five six"), 5)
    >>> len(a), a.dtype
    (2, dtype('uint32'))
    >>> len(shingle_hashes(["short", "text"], 5)), len(shingle_hashes([], 5))
    (1, 0)
    """
    if not words:
        return np.empty(0, dtype=np.uint32)
    th = token_hashes(words)
    n = max(len(words) - size + 1, 1)
    width = min(size, len(words))
    with np.errstate(over="ignore"):
        acc = np.zeros(n, dtype=np.uint64)
        for j in range(width):
            acc = acc * _COMBINE + th[j : j + n]
        mixed = _fmix64(acc + np.uint64(width))
    return np.unique((mixed >> np.uint64(32)).astype(np.uint32))


@lru_cache(maxsize=8)
def permutations(num_perm: int, seed: int) -> tuple[U32, U32]:
    """datasketch's affine32 permutation parameters ``(a, b)`` for these settings."""
    from datasketch import MinHash

    a, b = MinHash(num_perm=num_perm, seed=seed, scheme="affine32").permutations
    return np.ascontiguousarray(a, dtype=np.uint32), np.ascontiguousarray(b, dtype=np.uint32)


def _fmix32(h: U32) -> U32:
    h = h ^ (h >> np.uint32(16))
    h = h * np.uint32(0x85EBCA6B)
    h = h ^ (h >> np.uint32(13))
    h = h * np.uint32(0xC2B2AE35)
    return h ^ (h >> np.uint32(16))


def minhash(shingles: U32, num_perm: int = 128, seed: int = 1) -> U32:
    """MinHash signature of a set of 32-bit shingle hashes (datasketch affine32 semantics).

    >>> from datasketch import MinHash
    >>> s = shingle_hashes(tokens("a b c d e f g h i j k"), 5)
    >>> m = MinHash(num_perm=16, seed=1, hashfunc=int)
    >>> m.update_batch(s.tolist())
    >>> bool((minhash(s, 16, 1) == m.hashvalues).all())
    True
    """
    a, b = permutations(num_perm, seed)
    if len(shingles) == 0:
        return np.full(num_perm, _EMPTY, dtype=np.uint32)
    out = np.full(num_perm, _EMPTY, dtype=np.uint32)
    with np.errstate(over="ignore"):
        mixed = _fmix32(shingles.astype(np.uint32))
        for start in range(0, len(mixed), 4096):  # bound the (n x num_perm) temporary
            chunk = mixed[start : start + 4096, None]
            np.minimum(out, (chunk * a + b).min(axis=0), out=out)
    return out


def band_keys(signature: U32, bands: int) -> U64:
    """One 64-bit key per LSH band: the band's rows hashed together with the band number.

    Two articles are LSH candidates when any band key is equal, which happens with
    probability 1-(1-J^rows)^bands for Jaccard J.
    """
    rows = len(signature) // bands
    m = signature[: bands * rows].reshape(bands, rows).astype(np.uint64)
    with np.errstate(over="ignore"):
        acc = np.arange(bands, dtype=np.uint64)
        for r in range(rows):
            acc = acc * _COMBINE + m[:, r]
        return _fmix64(acc)


def article_shingles(article: Article, config: SketchConfig) -> U32:
    text = article.text[: config.max_article_chars]
    return shingle_hashes(tokens(text), config.shingle_size)


def sketch_article(
    article: Article,
    config: SketchConfig = SketchConfig(),
    sentences: Callable[[str], U64] | None = None,
    lines: Callable[[Article], U64] | None = None,
) -> Sketch:
    """Signature, band keys and (optionally) sentence and body-line hashes of one article."""
    shingles = article_shingles(article, config)
    sig = minhash(shingles, config.num_perm, config.seed)
    keys = band_keys(sig, config.bands) if len(shingles) else np.empty(0, dtype=np.uint64)
    sent = sentences(article.text[: config.max_article_chars]) if sentences else None
    return Sketch(
        article.id,
        sig.astype("<u4").tobytes(),
        len(shingles),
        keys.astype("<u8").tobytes(),
        sent.astype("<u8").tobytes() if sent is not None else b"",
        lines(article).astype("<u8").tobytes() if lines is not None else b"",
    )


def signature_array(sketch: Sketch) -> U32:
    return np.frombuffer(sketch.signature, dtype="<u4").astype(np.uint32)


def sketch_articles(
    articles: Iterable[Article], config: SketchConfig = SketchConfig()
) -> Iterator[Sketch]:
    for article in articles:
        yield sketch_article(article, config)

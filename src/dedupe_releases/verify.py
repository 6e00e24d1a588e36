"""Stage 5: verify candidate pairs and say what each one is.

Takes two articles (with their shingle hashes); returns a ``Match`` with exact scores --
word-shingle Jaccard, containment of the smaller in the larger, and rapidfuzz's ratio of the
normalised texts -- and a relation: ``exact`` (same fixed text), ``near`` (the same release
with small edits) or ``related`` (reuses passages, not a copy); ``None`` for anything else.
Never builds clusters.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from rapidfuzz import fuzz

from dedupe_releases.config import SketchConfig, VerifyConfig
from dedupe_releases.records import Article, Match, Scores
from dedupe_releases.sketch import U32, U64, shingle_hashes, text_hashes, tokens

#: rapidfuzz's ratio costs O(len(a) * len(b) / 64); beyond this many characters of normalised
#: text the ratio is taken on the prefix (the Jaccard still sees the whole article).
RATIO_CHARS = 60_000


@dataclass(frozen=True, slots=True)
class Features:
    """What verification needs of one article, computed once and cached."""

    shingles: U32
    normalised: str
    sentences: U64


def features(
    article: Article, sketch: SketchConfig, sentences: Callable[[str], U64] | None = None
) -> Features:
    """What verification compares; ``sentences`` overrides ``sketch.sentence_hashes``."""
    text = article.text[: sketch.max_article_chars]
    if sentences is None:
        words, shingles, found = text_hashes(text, sketch.shingle_size)
        return Features(shingles, " ".join(words)[:RATIO_CHARS], found)
    words = tokens(text)
    return Features(
        shingle_hashes(words, sketch.shingle_size), " ".join(words)[:RATIO_CHARS], sentences(text)
    )


_NON_WORD = re.compile(r"\W+")


def normalised(text: str) -> str:
    """``" ".join(tokens(text))`` in one regex pass: what the ratio compares.

    >>> text = "  It's £17 MILLION -- more!_  "
    >>> normalised(text) == " ".join(tokens(text))
    True
    """
    return _NON_WORD.sub(" ", text.casefold()).strip(" ")[:RATIO_CHARS]


def score(a: Features, b: Features) -> Scores:
    """Exact scores of a pair.

    >>> from dedupe_releases.candidates import sentence_hashes
    >>> f = lambda t: features(_art(t), SketchConfig(), sentence_hashes)
    >>> s = score(f("the cat sat on the mat today"), f("the cat sat on the mat today"))
    >>> (s.jaccard, s.containment, s.ratio)
    (1.0, 1.0, 100.0)
    """
    inter = len(np.intersect1d(a.shingles, b.shingles, assume_unique=True))
    union = len(a.shingles) + len(b.shingles) - inter
    smaller = min(len(a.shingles), len(b.shingles))
    return Scores(
        jaccard=inter / union if union else 0.0,
        containment=inter / smaller if smaller else 0.0,
        ratio=float(fuzz.ratio(a.normalised, b.normalised)),
    )


def shared_sentences(a: Features, b: Features) -> int:
    return len(np.intersect1d(a.sentences, b.sentences, assume_unique=True))


def classify(
    a: Article, b: Article, fa: Features, fb: Features, config: VerifyConfig
) -> Match | None:
    """The relation between two articles, with the evidence for it, or None."""
    if a.content_hash == b.content_hash:
        return Match(a.id, b.id, "exact", Scores(1.0, 1.0, 100.0), ("same fixed text",))
    s = score(fa, fb)
    if s.jaccard >= config.threshold and s.ratio >= config.min_ratio:
        return Match(
            a.id,
            b.id,
            "near",
            s,
            (
                f"jaccard {s.jaccard:.3f} >= {config.threshold}",
                f"ratio {s.ratio:.1f} >= {config.min_ratio}",
            ),
        )
    shared = shared_sentences(fa, fb)
    if shared >= config.min_shared_sentences or s.containment >= config.related_containment:
        return Match(
            a.id,
            b.id,
            "related",
            s,
            (
                f"{shared} shared sentences",
                f"containment {s.containment:.3f}",
                f"jaccard {s.jaccard:.3f} < {config.threshold}"
                if s.jaccard < config.threshold
                else f"ratio {s.ratio:.1f} < {config.min_ratio}",
            ),
        )
    return None


class Verifier:
    """Scores pairs of articles, keeping a bounded cache of per-article features."""

    def __init__(
        self,
        articles: Callable[[str], Article],
        sketch: SketchConfig,
        config: VerifyConfig,
        sentences: Callable[[str], U64] | None = None,
        cache_size: int = 4096,
        features: Callable[[str], Features] | None = None,
    ) -> None:
        self._articles = articles
        self._sketch = sketch
        self._config = config
        self._sentences = sentences
        self._cache: OrderedDict[str, Features] = OrderedDict()
        self._cache_size = cache_size
        self._features = features  # a faster source of the same features (a store's)
        self._memo: dict[tuple[str, str], Match | None] = {}

    def features(self, article_id: str) -> Features:
        hit = self._cache.get(article_id)
        if hit is not None:
            self._cache.move_to_end(article_id)
            return hit
        if self._features is not None:
            f = self._features(article_id)
        else:
            f = features(self._articles(article_id), self._sketch, self._sentences)
        self._cache[article_id] = f
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return f

    def match(self, a: str, b: str) -> Match | None:
        """The verified relation of two articles (order-independent, memoised)."""
        if b < a:
            a, b = b, a
        key = (a, b)
        if key not in self._memo:
            self._memo[key] = classify(
                self._articles(a),
                self._articles(b),
                self.features(a),
                self.features(b),
                self._config,
            )
        return self._memo[key]


def _art(text: str) -> Article:
    """A throw-away article for doctests."""
    return Article(
        id=text[:8],
        source="-",
        ordinal=1,
        lines=(1, 1),
        kind=None,
        title=text,
        body="",
        content_hash=text,
    )

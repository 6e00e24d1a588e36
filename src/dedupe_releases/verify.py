"""Stage 5: verify candidate pairs and say what each one is.

Takes two articles (their text after learned boilerplate is masked); returns a ``Match``
with exact scores -- word-shingle Jaccard, containment of the smaller in the larger,
rapidfuzz's ratio of the normalised texts -- a typed relation, its evidence and the facts
that differ; ``None`` for anything else. Never builds clusters.

The relations, checked in this order (thresholds in ``config.VerifyConfig``):

* ``exact``: the same fixed text (equal content hashes);
* short articles (a title and a line or two): ``near`` with the same words, ``related``
  with the same title, nothing else -- their shingle sets are too small to measure;
* ``template_sibling``: the texts match (as a copy, a containment, or J >= the sibling
  floor) but a fact differs: an amount, a date, a percentage, a number, a name in the title;
* ``contains`` / ``contained_in``: the smaller is (nearly) all inside the larger, which adds
  a paragraph or more (an update, a roundup);
* ``near``: the same release with small edits (J and ratio both high);
* ``related``: shares long sentences or passages (a rewrite reusing quotes).
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial

import numpy as np
from rapidfuzz import fuzz

from dedupe_releases.config import SketchConfig, VerifyConfig
from dedupe_releases.facts import Facts, differing_facts, extract_facts
from dedupe_releases.records import Article, Match, Scores
from dedupe_releases.sketch import U32, U64, shingle_hashes, tokens

#: rapidfuzz's ratio costs O(len(a) * len(b) / 64); beyond this many characters of normalised
#: text the ratio is taken on the prefix (the Jaccard still sees the whole article).
RATIO_CHARS = 60_000

RELATIONS = ("exact", "near", "contains", "contained_in", "related", "template_sibling")


@dataclass(frozen=True, slots=True)
class Features:
    """What verification needs of one article, computed once and cached.

    ``facts`` may be given as a function that extracts them: it is called when a pair first
    needs them (a pair whose texts do not match, a short article's pair, never does; the
    fact extraction is the largest single cost of an article's features), and only once.
    """

    shingles: U32
    normalised: str
    sentences: U64
    words: int  # word count of the compared (masked) text
    title: str  # normalised title words
    lazy_facts: Facts | Callable[[], Facts]

    @property
    def facts(self) -> Facts:
        found = self.lazy_facts
        if not isinstance(found, Facts):
            found = found()
            object.__setattr__(self, "lazy_facts", found)  # computed once, frozen otherwise
        return found


def features(
    article: Article,
    sketch: SketchConfig,
    sentences: Callable[[str], U64],
    text: str | None = None,
) -> Features:
    """Features of an article's ``text`` (its masked text; the whole text by default)."""
    text = (article.text if text is None else text)[: sketch.max_article_chars]
    words = tokens(text)
    return Features(
        shingle_hashes(words, sketch.shingle_size),
        " ".join(words)[:RATIO_CHARS],
        sentences(text),
        len(words),
        " ".join(tokens(article.title)),
        partial(extract_facts, text, article.title),
    )


_NON_WORD = re.compile(r"\W+")


def normalised(text: str, limit: int | None = RATIO_CHARS) -> str:
    """``" ".join(tokens(text))[:limit]`` in one regex pass: what the ratio compares.

    >>> text = "  It's £17 MILLION -- more!_  "
    >>> normalised(text) == " ".join(tokens(text))
    True
    """
    return _NON_WORD.sub(" ", text.casefold()).strip(" ")[:limit]


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
    if min(fa.words, fb.words) < config.short_words:
        return _classify_short(a, b, fa, fb, config)
    s = score(fa, fb)
    j = f"jaccard {s.jaccard:.3f}"
    c = f"containment {s.containment:.3f}"
    copy = s.jaccard >= config.threshold and s.ratio >= config.min_ratio
    small, large = sorted((len(fa.shingles), len(fb.shingles)))
    growth = large / small - 1 if small else 0.0
    contained = (
        s.containment >= config.contains_containment
        and s.jaccard >= config.contains_min_jaccard
        and growth >= config.contains_growth
    )
    if copy or contained or s.jaccard >= config.sibling_min_jaccard:
        diffs = differing_facts(fa.facts, fb.facts)
        if diffs:
            return Match(
                a.id,
                b.id,
                "template_sibling",
                s,
                (f"{j} and {c}: the same text", *(d.describe() for d in diffs)),
                tuple((d.kind, d.a, d.b) for d in diffs),
            )
    if contained:
        relation = "contains" if len(fa.shingles) >= len(fb.shingles) else "contained_in"
        return Match(
            a.id,
            b.id,
            relation,
            s,
            (
                f"{c} >= {config.contains_containment}",
                f"the larger has {growth:.0%} more shingles >= {config.contains_growth:.0%}",
                f"{j} >= {config.contains_min_jaccard}",
                "no fact differs",
            ),
        )
    if copy:
        return Match(
            a.id,
            b.id,
            "near",
            s,
            (
                f"{j} >= {config.threshold}",
                f"ratio {s.ratio:.1f} >= {config.min_ratio}",
                "no fact differs",
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
                c,
                f"{j} < {config.threshold}"
                if s.jaccard < config.threshold
                else f"ratio {s.ratio:.1f} < {config.min_ratio}",
            ),
        )
    return None


def _classify_short(
    a: Article, b: Article, fa: Features, fb: Features, config: VerifyConfig
) -> Match | None:
    """Short articles: the same words make a copy, the same title a relative; nothing else."""
    short = f"short: fewer than {config.short_words} words"
    if fa.normalised == fb.normalised and fa.normalised:
        return Match(a.id, b.id, "near", Scores(1.0, 1.0, 100.0), (short, "the same words"))
    if fa.title and fa.title == fb.title and len(fa.title.split()) >= 3:
        s = score(fa, fb)
        return Match(a.id, b.id, "related", s, (short, "the same title, other words"))
    return None


class Verifier:
    """Scores pairs of articles, keeping a bounded cache of per-article features."""

    def __init__(
        self,
        articles: Callable[[str], Article],
        sketch: SketchConfig,
        config: VerifyConfig,
        sentences: Callable[[str], U64],
        cache_size: int = 4096,
        text: Callable[[Article], str] | None = None,
        features: Callable[[str], Features] | None = None,
    ) -> None:
        self._articles = articles
        self._sketch = sketch
        self._config = config
        self._sentences = sentences
        self._cache: OrderedDict[str, Features] = OrderedDict()
        self._cache_size = cache_size
        self._memo: dict[tuple[str, str], Match | None] = {}
        self._text = text
        self._features = features  # a faster source of the same features (a store's)

    def features(self, article_id: str) -> Features:
        hit = self._cache.get(article_id)
        if hit is not None:
            self._cache.move_to_end(article_id)
            return hit
        if self._features is not None:
            f = self._features(article_id)
        else:
            article = self._articles(article_id)
            text = self._text(article) if self._text is not None else None
            f = features(article, self._sketch, self._sentences, text)
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

    def known(self, a: str, b: str) -> Match | None:
        """The remembered relation of two articles, never computed here (None if not known)."""
        return self._memo.get((a, b) if a <= b else (b, a))

    def knows(self, a: str, b: str) -> bool:
        """Whether the pair's verdict (perhaps none) is remembered."""
        return ((a, b) if a <= b else (b, a)) in self._memo

    def remember(self, verified: Mapping[tuple[str, str], Match | None]) -> None:
        """Take relations verified elsewhere (by smaller id, larger id) as this one's own."""
        self._memo.update(verified)


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

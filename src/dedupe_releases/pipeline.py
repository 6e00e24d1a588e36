"""The one module that knows the order of the stages.

``scan(paths, config)`` streams files through read -> fix -> split -> sketch, collects the
candidate keys, then verifies candidates, clusters and picks canonicals. Everything before
the candidate barrier is a generator over files; the barrier keeps ids, band keys and
sentence hashes (and, for now, the articles themselves, for verification and output).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from dedupe_releases.candidates import CandidateIndex, sentence_hashes
from dedupe_releases.cluster import CLUSTER_RELATIONS, cluster_matches
from dedupe_releases.config import Config
from dedupe_releases.fix import fix_source, strip_boilerplate
from dedupe_releases.read import read_sources
from dedupe_releases.records import Article, Cluster, Match, Problem, SourceText
from dedupe_releases.sketch import minhash
from dedupe_releases.split import split_text
from dedupe_releases.verify import Verifier, features


@dataclass
class ScanResult:
    """Everything a scan found, in a deterministic order."""

    config: Config
    files: int = 0
    articles: dict[str, Article] = field(default_factory=dict)  # in path order
    clusters: list[Cluster] = field(default_factory=list)
    related: list[Match] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    candidates: int = 0

    def position(self, article_id: str) -> int:
        return self._positions[article_id]

    def __post_init__(self) -> None:
        self._positions: dict[str, int] = {}

    def add_article(self, article: Article) -> None:
        self._positions[article.id] = len(self._positions)
        self.articles[article.id] = article

    @property
    def skipped(self) -> list[Problem]:
        return [p for p in self.problems if p.kind == "skipped"]


def articles_of(source: SourceText, config: Config) -> list[Article]:
    """Fix and split one decoded file (what ``split`` and ``normalize`` print)."""
    trim = strip_boilerplate if config.fix.strip_boilerplate else None
    return split_text(fix_source(source, config.fix), config.split, trim)


def iter_articles(
    paths: Sequence[Path], config: Config, result: ScanResult,
    on_file: Callable[[str], None] | None = None,
) -> Iterator[Article]:
    """Stream the articles of every readable file; problems go to ``result``."""
    for item in read_sources(paths, config.read):
        if isinstance(item, Problem):
            result.problems.append(item)
        else:
            result.files += 1
            yield from articles_of(item, config)
        if on_file is not None:
            on_file(item.source)


def scan(
    paths: Iterable[Path | str],
    config: Config | None = None,
    on_file: Callable[[str], None] | None = None,
) -> ScanResult:
    """Find near-duplicate articles under ``paths`` (files or folders)."""
    config = config or Config()
    result = ScanResult(config)
    index = CandidateIndex(config.sketch.bands)
    ids: list[str] = []
    by_hash: dict[str, list[str]] = defaultdict(list)
    for article in iter_articles([Path(p) for p in paths], config, result, on_file):
        result.add_article(article)
        f = features(article, config.sketch, sentence_hashes)
        sig = minhash(f.shingles, config.sketch.num_perm, config.sketch.seed)
        index.add(sig, f.sentences, sketchable=len(f.shingles) > 0)
        ids.append(article.id)
        by_hash[article.content_hash].append(article.id)

    pairs: set[tuple[int, int]] = set(index.lsh_pairs())
    pairs.update(index.sentence_pairs(config.verify.min_shared_sentences))
    number = {a: i for i, a in enumerate(ids)}
    for group in by_hash.values():  # exact copies, even when too short to sketch
        for other in group[1:]:
            pairs.add((number[group[0]], number[other]))
    result.candidates = len(pairs)

    verifier = Verifier(result.articles.__getitem__, config.sketch, config.verify, sentence_hashes)
    matches = [m for i, j in sorted(pairs) if (m := verifier.match(ids[i], ids[j])) is not None]
    result.clusters = cluster_matches(
        matches, result.articles.__getitem__, verifier.match, result.position)
    cluster_of = {m: c.id for c in result.clusters for m in c.members}
    # Every verified pair not inside one cluster is reported, in path order: `related`
    # pairs, and `near` pairs that the chain guard put in different clusters.
    result.related = sorted(
        (_ordered(m, result.position) for m in matches
         if not (m.relation in CLUSTER_RELATIONS and m.a in cluster_of
                 and cluster_of.get(m.a) == cluster_of.get(m.b))),
        key=lambda m: (result.position(m.a), result.position(m.b)),
    )
    return result


def _ordered(m: Match, position: Callable[[str], int]) -> Match:
    if position(m.a) <= position(m.b):
        return m
    return Match(m.b, m.a, m.relation, m.scores, m.evidence)


__all__ = ["ScanResult", "articles_of", "scan"]

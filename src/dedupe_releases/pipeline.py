"""The one module that knows the order of the stages.

``scan(paths, config)`` streams files through read -> fix -> split -> sketch, collects the
candidate keys, then verifies candidates, clusters and picks canonicals. Everything before
the candidate barrier is a generator over files; the barrier keeps ids, band keys and
sentence hashes (and, for now, the articles themselves, for verification and output).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

from dedupe_releases.boilerplate import Boilerplate, line_hashes
from dedupe_releases.candidates import sentence_hashes
from dedupe_releases.cluster import CLUSTER_RELATIONS, cluster_matches
from dedupe_releases.config import Config
from dedupe_releases.fix import fix_source, strip_boilerplate
from dedupe_releases.read import SkipFile, problem, read_source, walk
from dedupe_releases.records import Article, Cluster, FileRecord, Match, Problem, SourceText
from dedupe_releases.sketch import sketch_article
from dedupe_releases.split import split_text, truncate_article
from dedupe_releases.store import MemoryStore
from dedupe_releases.verify import Verifier


@dataclass
class ScanResult:
    """Everything a scan found, in a deterministic order."""

    config: Config
    store: MemoryStore
    clusters: list[Cluster] = field(default_factory=list)
    related: list[Match] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    candidates: int = 0
    boilerplate: Boilerplate = field(default_factory=Boilerplate)

    @property
    def files(self) -> int:
        return self.store.files

    def article(self, article_id: str) -> Article:
        return self.store.article(article_id)

    def position(self, article_id: str) -> int:
        return self.store.position(article_id)

    @property
    def skipped(self) -> list[Problem]:
        return [p for p in self.problems if p.kind == "skipped"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.kind == "warning"]


def articles_of(source: SourceText, config: Config) -> list[Article]:
    """Fix and split one decoded file (what ``split`` and ``normalize`` print).

    Articles longer than ``config.sketch.max_article_chars`` are cut and flagged.
    """
    trim = strip_boilerplate if config.fix.strip_boilerplate else None
    articles = split_text(fix_source(source, config.fix), config.split, trim)
    articles = [truncate_article(a, config.sketch.max_article_chars) for a in articles]
    if source.source_bytes is not None:
        articles = [replace(a, source_bytes=source.source_bytes) for a in articles]
    return articles


def file_warnings(text: SourceText, articles: Sequence[Article], config: Config) -> list[Problem]:
    """The caveats about one file that was read: decoding replacements, cut articles."""
    cut = [
        f"warning: article {a.ordinal} cut at {config.sketch.max_article_chars:,} characters"
        " (--max-article-chars)"
        for a in articles
        if a.truncated
    ]
    return [
        Problem(text.source, w, kind="warning", source_bytes=text.source_bytes)
        for w in (*text.warnings, *cut)
    ]


def ingest(path: Path, source: str, config: Config) -> FileRecord | Problem:
    """Read, fix, split and sketch one file. Pure apart from reading the file."""
    try:
        text = read_source(path, source, config.read)
    except (SkipFile, OSError) as exc:
        return problem(path, source, exc)
    articles = articles_of(text, config)
    sketches = tuple(
        sketch_article(a, config.sketch, sentence_hashes, line_hashes) for a in articles
    )
    warnings = tuple(p.reason for p in file_warnings(text, articles, config))
    return FileRecord(
        text.source, text.sha256, text.size, text.encoding, tuple(articles), sketches, warnings
    )


def ingest_all(
    paths: Sequence[Path], config: Config, on_file: Callable[[str], None] | None = None
) -> Iterator[FileRecord | Problem]:
    """Stream each file's record (or problem), in path order."""
    for item in walk(paths, config.read):
        result = item if isinstance(item, Problem) else ingest(item[0], item[1], config)
        if on_file is not None:
            on_file(result.source)
        yield result


def iter_articles(
    paths: Sequence[Path], config: Config, problems: list[Problem], read: list[str]
) -> Iterator[Article]:
    """Stream the articles of every readable file.

    Problems are appended to ``problems`` and the sources of files read to ``read``.
    """
    for item in walk(paths, config.read):
        if isinstance(item, Problem):
            problems.append(item)
            continue
        try:
            text = read_source(item[0], item[1], config.read)
        except (SkipFile, OSError) as exc:
            problems.append(problem(item[0], item[1], exc))
            continue
        read.append(text.source)
        articles = articles_of(text, config)
        problems.extend(file_warnings(text, articles, config))
        yield from articles


def scan(
    paths: Iterable[Path | str],
    config: Config | None = None,
    on_file: Callable[[str], None] | None = None,
    engine: Engine | None = None,
) -> ScanResult:
    """Find near-duplicate articles under ``paths`` (files or folders).

    ``engine`` runs ingest, the candidate search and verification elsewhere (``dask_engine``);
    by default they run here. Clustering and the canonical choice always run here, so the
    result is the same for every engine.
    """
    config = config or Config()
    engine = engine or LocalEngine()
    store = MemoryStore()
    result = ScanResult(config, store)
    for item in engine.records([Path(p) for p in paths], config, on_file):
        if isinstance(item, Problem):
            result.problems.append(item)
        else:
            store.add(item)
            raw = item.articles[0].source_bytes if item.articles else None
            result.problems.extend(
                Problem(item.source, w, kind="warning", source_bytes=raw) for w in item.warnings
            )
    pairs = engine.candidate_pairs(store, config)
    result.candidates = len(pairs)
    # Boilerplate is learned from every file's body lines, then masked before verification
    # (the band keys above saw it: they only propose pairs, they never decide).
    v = config.verify
    if v.mask_boilerplate:
        result.boilerplate = store.boilerplate(v.boilerplate_min_titles, v.boilerplate_min_files)
    verifier = make_verifier(store.article, config, result.boilerplate)
    known = engine.verify(pairs, store.article, config, result.boilerplate)

    def match(a: str, b: str) -> Match | None:
        key = (a, b) if a <= b else (b, a)
        return known[key] if key in known else verifier.match(a, b)

    matches = [m for a, b in pairs if (m := match(a, b)) is not None]
    result.clusters = cluster_matches(
        matches,
        store.article,
        match,
        store.position,
        lambda a: verifier.features(a.id).words,
    )
    cluster_of = {m: c.id for c in result.clusters for m in c.members}
    # Every verified pair not inside one cluster is reported, in path order: `related`
    # pairs, and `near` pairs that the chain guard put in different clusters.
    result.related = sorted(
        (
            _ordered(m, store.position)
            for m in matches
            if not (
                m.relation in CLUSTER_RELATIONS
                and m.a in cluster_of
                and cluster_of.get(m.a) == cluster_of.get(m.b)
            )
        ),
        key=lambda m: (store.position(m.a), store.position(m.b)),
    )
    return result


def make_verifier(
    articles: Callable[[str], Article], config: Config, boilerplate: Boilerplate
) -> Verifier:
    """The verifier of a scan: the same on every engine, so every engine finds the same."""
    mask = boilerplate.mask if boilerplate.hashes else None
    return Verifier(articles, config.sketch, config.verify, sentence_hashes, text=mask)


class Engine(Protocol):
    """Where ingest, the candidate search and verification run (see ``LocalEngine``)."""

    def records(
        self, paths: Sequence[Path], config: Config, on_file: Callable[[str], None] | None
    ) -> Iterator[FileRecord | Problem]:
        """Each file's record (or problem), in path order."""
        ...

    def candidate_pairs(self, store: MemoryStore, config: Config) -> list[tuple[str, str]]:
        """``store.candidate_pairs``: the pairs to verify, in path order."""
        ...

    def verify(
        self,
        pairs: Sequence[tuple[str, str]],
        articles: Callable[[str], Article],
        config: Config,
        boilerplate: Boilerplate,
    ) -> dict[tuple[str, str], Match | None]:
        """Relations already verified, by (smaller id, larger id); the rest is verified here."""
        ...


class LocalEngine:
    """Everything in this process, file by file."""

    def records(
        self, paths: Sequence[Path], config: Config, on_file: Callable[[str], None] | None
    ) -> Iterator[FileRecord | Problem]:
        return ingest_all(paths, config, on_file)

    def candidate_pairs(self, store: MemoryStore, config: Config) -> list[tuple[str, str]]:
        return store.candidate_pairs(config.verify.min_shared_sentences)

    def verify(
        self,
        pairs: Sequence[tuple[str, str]],
        articles: Callable[[str], Article],
        config: Config,
        boilerplate: Boilerplate,
    ) -> dict[tuple[str, str], Match | None]:
        return {}


def _ordered(m: Match, position: Callable[[str], int]) -> Match:
    if position(m.a) <= position(m.b):
        return m
    flipped = {"contains": "contained_in", "contained_in": "contains"}
    facts = tuple((kind, y, x) for kind, x, y in m.facts)
    return Match(m.b, m.a, flipped.get(m.relation, m.relation), m.scores, m.evidence, facts)


__all__ = ["Engine", "LocalEngine", "ScanResult", "articles_of", "ingest", "make_verifier", "scan"]

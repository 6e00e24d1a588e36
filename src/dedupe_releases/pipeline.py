"""The one module that knows the order of the stages.

``scan(paths, config)`` streams files through read -> fix -> split -> sketch, collects the
candidate keys, then verifies candidates, clusters and picks canonicals. Everything before
the candidate barrier runs file by file in a pool of worker processes (``parallel``), results
taken in path order; the barrier keeps ids, band keys, sentence and line hashes, and the
article texts go to a temporary file (``spill.SpillStore``) that verification and output
read back.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dedupe_releases.boilerplate import Boilerplate
from dedupe_releases.candidates import sentence_hashes
from dedupe_releases.canonical import earliest_date
from dedupe_releases.cluster import CLUSTER_RELATIONS, cluster_matches
from dedupe_releases.config import Config
from dedupe_releases.fix import fix_source, strip_boilerplate
from dedupe_releases.parallel import (
    Workers,
    default_jobs,
    ordered_batches,
    ordered_map,
    submit_held,
)
from dedupe_releases.read import SkipFile, problem, read_source, walk
from dedupe_releases.records import Article, Cluster, FileRecord, Match, Problem, SourceText
from dedupe_releases.sketch import SketchBatch, sketch_texts
from dedupe_releases.spill import (
    PackedFile,
    SpillStore,
    pack_file,
    write_records,
    write_records_here,
)
from dedupe_releases.split import split_text, truncate_article
from dedupe_releases.store import ArticleStore
from dedupe_releases.verify import Features, Verifier, score
from dedupe_releases.verify_batch import (
    ArticleData,
    MatchData,
    Measures,
    batches_of,
    boilerplate_bytes,
    from_data,
    learned_digest,
    stored_features,
    stored_words,
    use_learned_lines,
    verify_batch,
)

if TYPE_CHECKING:
    from dedupe_releases.dask_engine import DaskEngine
    from dedupe_releases.decisions import Decisions


@dataclass
class ScanResult:
    """Everything a scan found, in a deterministic order."""

    config: Config
    store: ArticleStore | SpillStore
    clusters: list[Cluster] = field(default_factory=list)
    related: list[Match] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    candidates: int = 0
    boilerplate: Boilerplate = field(default_factory=Boilerplate)
    decisions: Decisions | None = None  # reviewed pairs and pins, shown in the output

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
    return ingest_text(text, config)


def ingest_text(text: SourceText, config: Config) -> FileRecord:
    """Fix, split and sketch one decoded file. Pure."""
    articles = articles_of(text, config)
    batch = sketch_texts(
        [a.text for a in articles], config.sketch, [a.body_from for a in articles], True
    )
    sketches = tuple(batch.sketch(i, a.id) for i, a in enumerate(articles))
    warnings = tuple(p.reason for p in file_warnings(text, articles, config))
    return FileRecord(
        text.source, text.sha256, text.size, text.encoding, tuple(articles), sketches, warnings
    )


def ingest_packed(item: tuple[Path, str] | Problem, config: Config) -> PackedFile | Problem:
    """Read, fix, split and sketch one file into a ``PackedFile`` (what a worker returns)."""
    return ingest_files([item], config)[0]


#: Characters of text a worker sketches in one ``sketch_texts`` call, from the consecutive
#: files of its batch: a call costs about 0.3 ms whatever its size, and its arrays outgrow a
#: core's L2 cache past about 300,000 characters. Two files of the 100k archive a call (about
#: 210,000 characters) sketched 1.12x faster than one, three 1.08x, four 1.02x.
SKETCH_CHARS = 160_000


def ingest_files(
    items: Sequence[tuple[Path, str] | Problem], config: Config
) -> list[PackedFile | Problem]:
    """``[ingest_packed(item, config) for item in items]`` (the same, tested), the articles of
    consecutive files sketched together, about ``SKETCH_CHARS`` characters a call. In a
    worker given the scan's spill file, once it is in use, the records are written there and
    sent as an offset (``spill.write_records``)."""
    out: list[PackedFile | Problem] = []
    # The files read since the last sketch, in order: a problem, or a text and its articles
    # with the articles' texts (made once: ``Article.text`` joins title and body anew).
    pending: list[Problem | tuple[SourceText, list[Article], list[str]]] = []
    size = 0
    for item in items:
        read = _read_articles(item, config)
        if isinstance(read, Problem):
            pending.append(read)
            continue
        texts = [a.text for a in read[1]]
        pending.append((*read, texts))
        size += sum(map(len, texts))
        if size >= SKETCH_CHARS:
            out += _sketched(pending, config)
            pending, size = [], 0
    # In a worker of a scan's pool, the records go straight into the scan's spill file.
    return write_records(out + _sketched(pending, config) if pending else out)


def _sketched(
    pending: list[Problem | tuple[SourceText, list[Article], list[str]]], config: Config
) -> list[PackedFile | Problem]:
    """The ``PackedFile`` of each file read (its problem for the others), in order, their
    articles sketched in one ``sketch_texts`` call."""
    files = [read for read in pending if not isinstance(read, Problem)]
    batch = sketch_texts(
        [t for _, _, texts in files for t in texts],
        config.sketch,
        [a.body_from for _, articles, _ in files for a in articles],
    )
    out: list[PackedFile | Problem] = []
    first = 0
    for read in pending:
        if isinstance(read, Problem):
            out.append(read)
            continue
        text, articles, _ = read
        last = first + len(articles)
        out.append(_packed(text, articles, batch.rows(first, last), config))
        first = last
    return out


def _read_articles(
    item: tuple[Path, str] | Problem, config: Config
) -> Problem | tuple[SourceText, list[Article]]:
    if isinstance(item, Problem):
        return item
    path, source = item
    try:
        text = read_source(path, source, config.read)
    except (SkipFile, OSError) as exc:
        return problem(path, source, exc)
    return text, articles_of(text, config)  # each at most ``max_article_chars`` long


def _packed(
    text: SourceText, articles: list[Article], batch: SketchBatch, config: Config
) -> PackedFile:
    return pack_file(
        text.source,
        articles,
        batch,
        tuple(p.reason for p in file_warnings(text, articles, config)),
        text.source_bytes,
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
    jobs: int | None = None,
    store: Any = None,
    decisions: Decisions | None = None,
    engine: DaskEngine | None = None,
) -> ScanResult:
    """Find near-duplicate articles under ``paths`` (files or folders).

    ``jobs`` worker processes read, fix, split and sketch the files (default: every core);
    the result is the same for any number. ``store``: where articles and keys go (a spill
    store unless given; an ``index.Index`` works too, read in this process).
    ``decisions``: reviewed pairs and pins to honour. ``engine``: a ``dask_engine.DaskEngine``
    that runs ingest, the candidate search and verification on a Dask cluster instead of
    ``jobs`` local processes (same result; clustering and canonicals stay here).
    """
    config = config or Config()
    # One pool of workers reads and hashes the files, then verifies the candidates.
    with Workers(jobs or default_jobs()) as workers:
        result = _scan(paths, config, on_file, workers, store, decisions, engine)
        # Done with them: the workers exit while the caller writes the result.
        workers.close(wait=False)
        return result


def _scan(
    paths: Iterable[Path | str],
    config: Config,
    on_file: Callable[[str], None] | None,
    workers: Workers,
    store: Any,
    decisions: Decisions | None,
    engine: DaskEngine | None,
) -> ScanResult:
    spill = SpillStore() if store is None else None
    if engine is not None and spill is None:
        raise ValueError("an engine scans into its own spill store: give no store")
    if spill is not None and engine is None:
        # If the pool starts, its workers are given the store's file, and once the store's
        # first 32 MB are past they write the records into it themselves.
        workers.prepare(partial(_shared_spill, spill))
    result = ScanResult(config, spill if spill is not None else store, decisions=decisions or None)
    stream: Iterable[Any]
    if spill is not None:
        items = walk([Path(p) for p in paths], config.read)
        if engine is None:
            # Each batch of files a call of ``ingest_files``: its articles sketched together.
            work = partial(ingest_files, config=config)
            stream = ordered_batches(work, items, batch_size=INGEST_FILES, workers=workers)
        else:
            stream = engine.ingest(items, config)
        add: Callable[[Any], None] = spill.add_packed
    else:
        stream = ingest_all([Path(p) for p in paths], config)
        add = store.add
    for item in stream:
        if isinstance(item, Problem):
            result.problems.append(item)
        else:
            add(item)
            result.problems.extend(
                Problem(
                    item.source, w, kind="warning", source_bytes=getattr(item, "source_bytes", None)
                )
                for w in item.warnings
            )
        if on_file is not None:
            on_file(item.source)
    store = result.store
    # Boilerplate is learned from every file's body lines, then masked before verification
    # (the band keys saw it: they only propose pairs, they never decide). Both searches are
    # mostly numpy sorts, which release the GIL: on a spill store (read-only by now) the
    # learning runs in a thread beside the candidate search, on the core the pool left.
    v = config.verify
    learn = (
        partial(store.boilerplate, v.boilerplate_min_titles, v.boilerplate_min_files)
        if v.mask_boilerplate
        else None
    )
    with ThreadPoolExecutor(max_workers=1) as beside:
        # An index is read in its own thread only: there, the learning comes after.
        learning = submit_held(beside, learn) if learn is not None and spill is not None else None
        if engine is None:
            pairs = store.candidate_pairs(
                config.verify.min_shared_sentences, config.sketch.max_bucket_pairs
            )
        else:
            pairs = engine.candidate_pairs(store, config)
    if learn is not None:
        result.boilerplate = learning.result() if learning is not None else learn()
    result.candidates = len(pairs)
    mask = result.boilerplate.mask if result.boilerplate.hashes else None
    fast = partial(_stored_features, spill, config, result.boilerplate) if spill else None
    verifier = Verifier(store.article, config.sketch, v, sentence_hashes, text=mask, features=fast)
    size: Callable[[Article], int] = lambda a: verifier.features(a.id).words  # noqa: E731
    date: Callable[[Article], str] | None = None
    verified = engine is not None or spill is not None
    # Verifies a list of pairs not yet known where the candidates were verified, remembering
    # every verdict (none included): for the clustering's canonical-member pairs below.
    verify_more: Callable[[list[tuple[str, str]]], None] | None = None
    if engine is not None:
        verifier.remember(
            {
                k: m
                for k, m in engine.verify(pairs, store, config, result.boilerplate).items()
                if m is not None
            }
        )
        on_cluster = partial(
            engine.verify, store=store, config=config, boilerplate=result.boilerplate
        )
        verify_more = lambda todo: verifier.remember(on_cluster(todo))  # noqa: E731
    elif spill is not None:
        # The pool verifies the candidates in batches; the verdicts are remembered, so the
        # clustering below asks for them again without recomputing anything, and so are the
        # measures of the articles the canonical choice compares.
        in_pool = partial(
            _verify_stored,
            spill,
            config=config,
            boilerplate=result.boilerplate,
            verifier=verifier,
            workers=workers,
            learned=_Learned.of(result.boilerplate),
        )
        measures = in_pool(pairs)
        size = partial(_stored_size, spill, config, result.boilerplate, measures)
        date = partial(_stored_date, measures)
        verify_more = lambda todo: measures.update(in_pool(todo, remember_none=True))  # noqa: E731

    def prefetch(wanted: list[tuple[str, str]]) -> None:
        """The pairs of each cluster's canonical copy with its members that no candidate gave
        (a bucket's star need not start at the canonical), verified where the candidates were,
        in one round, rather than one by one here when clustering asks."""
        todo = [(a, b) for a, b in wanted if not verifier.knows(a, b)]
        if todo and verify_more is not None:
            verify_more(todo)

    # Verified candidates: only those with a relation are remembered (a verdict of none for
    # every candidate pair is most of the parent's memory on a big archive), so a pair the
    # verifier does not know has none. Clustering may ask again for such a pair (a member
    # against a new canonical), which is then computed again, with the same verdict.
    look = verifier.known if verified else verifier.match
    matches = [m for a, b in pairs if (m := look(a, b)) is not None]
    match: Callable[[str, str], Match | None] = verifier.match
    edges: Iterable[Match] = matches
    pinned: frozenset[str] = frozenset()
    if decisions:
        match = decisions.wrap(
            verifier.match, lambda a, b: score(verifier.features(a), verifier.features(b))
        )
        edges = list(decisions.edges(matches, match, _has(store)))
        pinned = decisions.pinned
    result.clusters = cluster_matches(
        edges,
        store.article,
        match,
        store.position,
        size,
        pinned,
        date,
        prefetch if verify_more is not None else None,
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


def _shared_spill(spill: SpillStore) -> Callable[[], object] | None:
    """What a worker runs as it starts to write into ``spill``'s file (None: it cannot)."""
    shared = spill.share()
    return None if shared is None else partial(write_records_here, shared)


#: Files in one batch of a worker's ingest (``ingest_files``).
INGEST_FILES = 4


#: Candidate pairs per batch sent to a worker for verification.
VERIFY_BATCH_PAIRS = 128
#: What ``verify_batch`` takes: the articles, and pairs of their numbers.
VerifyBatch = tuple[list[ArticleData], list[tuple[int, int]]]


def _verify_stored(
    store: SpillStore,
    pairs: Sequence[tuple[str, str]],
    config: Config,
    boilerplate: Boilerplate,
    verifier: Verifier,
    workers: Workers,
    learned: _Learned | None = None,
    batch_pairs: int = VERIFY_BATCH_PAIRS,
    remember_none: bool = False,
) -> dict[str, Measures]:
    """Verify ``pairs`` in batches on ``workers``; ``verifier`` remembers each relation (and
    each verdict of none, with ``remember_none``). ``learned``: the learned lines as sent
    before (default: ``boilerplate``'s, to every worker anew).

    Returns the measures of every article in an ``exact`` or ``near`` verdict (what the
    canonical choice compares).
    """
    numbers = batches_of(pairs, batch_pairs)
    ids: list[list[str]] = []  # each batch's articles, until its verdicts are back

    def batches() -> Iterator[VerifyBatch]:
        for batch in numbers:
            chunk = [pairs[n] for n in batch]
            number = {x: 0 for pair in chunk for x in pair}
            articles: list[ArticleData] = []
            for article_id in number:
                number[article_id] = len(articles)
                articles.append(store.verify_data(article_id, boilerplate.hashes))
            ids.append(list(number))
            yield articles, [(number[a], number[b]) for a, b in chunk]

    measures: dict[str, Measures] = {}
    learned = _Learned.of(boilerplate) if learned is None else learned
    for batch, (found, measured) in zip(
        numbers, _verify_with_learned(batches(), config, learned, workers), strict=True
    ):
        for article_id, m in zip(ids.pop(0), measured, strict=True):
            if m is not None:
                measures[article_id] = m
        verdicts = {}
        for n, data in zip(batch, found, strict=True):
            if (verdict := from_data(data)) is not None or remember_none:
                a, b = pairs[n]
                verdicts[(a, b) if a <= b else (b, a)] = verdict
        verifier.remember(verdicts)
    return measures


@dataclass
class _Learned:
    """A scan's learned lines as its workers are sent them (``use_learned_lines``)."""

    hashes: bytes  # ``boilerplate_bytes``
    digest: bytes  # ``learned_digest`` of them
    installed: set[int] = field(default_factory=set)  # the workers that have them (pids)

    @classmethod
    def of(cls, boilerplate: Boilerplate) -> _Learned:
        hashes = boilerplate_bytes(boilerplate)
        return cls(hashes, learned_digest(hashes))

    def to_send(self, workers: int) -> bytes | None:
        """What goes with the next batch: the lines, or None once ``workers`` have them."""
        return None if len(self.installed) >= workers else self.hashes


def _verify_with_learned(
    batches: Iterable[VerifyBatch], config: Config, learned: _Learned, workers: Workers
) -> Iterator[tuple[list[MatchData | None], list[Measures | None]]]:
    """``verify_batch`` of each batch on ``workers``, with the learned lines.

    The workers started before the lines were learned (the pool read and hashed the files),
    so the lines travel with the batches, until every worker has said it installed them: a
    big archive learns tens of thousands, and sending them with every batch of 128 pairs cost
    more than verifying it. A batch without them that reaches a worker without them fails.
    """
    me = os.getpid()

    def sent() -> Iterator[tuple[VerifyBatch, bytes, bytes | None]]:
        for batch in batches:
            yield batch, learned.digest, learned.to_send(workers.jobs)

    work = partial(_verify_learned, config=config)
    for pid, result in ordered_map(work, sent(), batch_size=1, workers=workers):
        if pid != me:
            learned.installed.add(pid)
        yield result


def _verify_learned(
    item: tuple[VerifyBatch, bytes, bytes | None], config: Config
) -> tuple[int, tuple[list[MatchData | None], list[Measures | None]]]:
    """``verify_batch`` with the learned lines ``use_learned_lines`` installs, and the pid of
    the process that ran it."""
    batch, digest, hashes = item
    use_learned_lines(digest, hashes)
    return os.getpid(), verify_batch(batch, config)


def _stored_features(
    store: SpillStore, config: Config, boilerplate: Boilerplate, article_id: str
) -> Features:
    """``verify.features`` from what the workers stored (``verify_batch.stored_features``)."""
    article = store.article(article_id)
    masked = bool(boilerplate.hashes) and store.has_line(article_id, boilerplate.hashes)
    sentences = store.sentences(article_id)
    return stored_features(article, sentences, masked, config, boilerplate)


def _stored_size(
    store: SpillStore,
    config: Config,
    boilerplate: Boilerplate,
    measures: dict[str, Measures],
    a: Article,
) -> int:
    """An article's word count after masking: ``_stored_features(...).words``, cheaply."""
    if a.id in measures:
        return measures[a.id][0]
    masked = bool(boilerplate.hashes) and store.has_line(a.id, boilerplate.hashes)
    return stored_words(a, masked, config, boilerplate)


def _stored_date(measures: dict[str, Measures], a: Article) -> str:
    """``canonical.earliest_date`` of an article's text, measured when it was verified."""
    return measures[a.id][1] if a.id in measures else earliest_date(a.text)


def _has(store: Any) -> Callable[[str], bool]:
    def has(article_id: str) -> bool:
        try:
            store.position(article_id)
        except KeyError:
            return False
        return True

    return has


def scan_incremental(*args: Any, **kwargs: Any) -> Any:
    """``incremental.scan_incremental``: a scan backed by a persistent index."""
    from dedupe_releases.incremental import scan_incremental as run

    return run(*args, **kwargs)


def _ordered(m: Match, position: Callable[[str], int]) -> Match:
    if position(m.a) <= position(m.b):
        return m
    flipped = {"contains": "contained_in", "contained_in": "contains"}
    facts = tuple((kind, y, x) for kind, x, y in m.facts)
    return Match(m.b, m.a, flipped.get(m.relation, m.relation), m.scores, m.evidence, facts)


__all__ = [
    "ScanResult",
    "articles_of",
    "ingest",
    "ingest_files",
    "ingest_packed",
    "ingest_text",
    "scan",
    "scan_incremental",
]

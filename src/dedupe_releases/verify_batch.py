"""Verification of candidate pairs in batches, from stored records: what a worker runs.

Takes a batch of candidate pairs together with everything verification needs of their
articles, as plain data (each article's spill-store record, its sentence hashes and whether
it holds a learned boilerplate line); returns each pair's verdict as plain data, and of each
article what the canonical choice measures (its word count after masking and its earliest
date). The verdicts are ``verify.classify``'s, computed from the same features as
``stored_features`` gives the scanning process, so a batch gives the same answers wherever
it runs. Never reads a file, never clusters.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from functools import partial

import numpy as np

from dedupe_releases.boilerplate import Boilerplate
from dedupe_releases.canonical import NO_DATE
from dedupe_releases.config import Config
from dedupe_releases.facts import (
    Fact,
    Facts,
    extract_facts,
    facts_of_kept_lines,
    find_facts,
)
from dedupe_releases.records import Article, Match, Scores
from dedupe_releases.sketch import (
    U64,
    batch_tokens,
    prefix_run_hashes,
    run_prefix,
    sentence_runs,
    sentence_tokens,
    shingle_hashes,
    sorted_distinct,
    text_shingles,
    tokens,
    word_hashes,
)
from dedupe_releases.spill import RecordRef, read_record, unpack_article
from dedupe_releases.verify import RATIO_CHARS, Features, classify, normalised

#: One article of a batch: (source, ordinal, record bytes or where they are in the scan's
#: spill file, sentence hashes as little-endian uint64 bytes, holds a boilerplate line).
ArticleData = tuple[str, int, bytes | RecordRef, bytes, bool]
#: A verdict as plain data: (a, b, relation, (jaccard, containment, ratio), evidence, facts).
MatchData = tuple[
    str, str, str, tuple[float, float, float], tuple[str, ...], tuple[tuple[str, str, str], ...]
]
#: What the canonical choice measures of an article: (words after masking, earliest date).
Measures = tuple[int, str]
#: Relations whose articles the canonical choice compares (``cluster.CLUSTER_RELATIONS``).
_CLUSTERED = frozenset({"exact", "near"})


def stored_features(
    article: Article,
    sentences: U64,
    masked: bool,
    config: Config,
    boilerplate: Boilerplate,
    found: Callable[[], list[tuple[Fact, int, int]]] | None = None,
    lines: dict[str, tuple[list[str], list[int], bool]] | None = None,
) -> Features:
    """``verify.features`` from what the workers stored: the article's sentence hashes are
    not computed again, and its tokens are found by one regex pass (``verify.normalised``).

    An article holding a learned boilerplate line (``masked``) is compared without it: its
    features are computed from the masked text instead. ``found``: gives
    ``facts.find_facts`` of the article's whole text, when the caller keeps it (called only
    if the facts are needed). ``lines``: for ``Boilerplate.mask_words``, what lines of
    articles masked before gave.
    """
    if masked:  # ``verify.features`` of the masked text, each line tokenised once
        text, masked_words, counts = boilerplate.mask_words(article, lines)
        if len(text) > config.sketch.max_article_chars:  # cut short: tokenise what is kept
            text = text[: config.sketch.max_article_chars]
            masked_words, counts = sentence_tokens(text)
        shingle_set, sentence_set = word_hashes(masked_words, counts, config.sketch.shingle_size)
        return Features(
            shingle_set,
            " ".join(masked_words)[:RATIO_CHARS],
            sentence_set,
            len(masked_words),
            " ".join(tokens(article.title)),
            partial(extract_facts, text, article.title, tokens=masked_words),
        )
    text = article.text
    if len(text) > config.sketch.max_article_chars:
        text, found = text[: config.sketch.max_article_chars], None
    words = normalised(text, limit=None)
    shingles = shingle_hashes(words.split(" ") if words else [], config.sketch.shingle_size)

    def facts() -> Facts:
        return extract_facts(text, article.title, None if found is None else found(), words)

    return Features(
        shingles,
        words[:RATIO_CHARS],
        sentences,
        words.count(" ") + 1 if words else 0,
        " ".join(tokens(article.title)),
        facts,
    )


def batch_features(
    articles: Sequence[tuple[Article, U64, bool]],
    config: Config,
    boilerplate: Boilerplate,
    found: Sequence[Callable[[], list[tuple[Fact, int, int]]] | None],
) -> list[Features]:
    """``stored_features`` of many articles (each ``(article, sentences, masked)``, with its
    ``found``), their texts tokenised together in one numpy pass (``sketch.batch_tokens``):
    the same features (tested), without a regex pass and a hash call per word of each text.
    ``found`` gives the facts of the article's whole text (``facts.find_facts``) even for a
    masked one: a masked text's facts are taken from them where they can be
    (``facts.facts_of_kept_lines``).

    Every text must be at most ``max_article_chars`` long. Masking drops whole lines, each
    line's tokens are known, and every line break ends a sentence, so a masked text's tokens
    are its kept lines' tokens and its sentences its kept lines' sentences; a line's hash
    (``boilerplate.line_hash``) is the hash of its run of the batch's tokens.
    """
    limit = config.sketch.max_article_chars
    size = config.sketch.shingle_size
    if any(len(a.text) > limit for a, _, _ in articles):
        raise ValueError("a text is longer than max_article_chars")
    batch = batch_tokens([a.text for a, _, _ in articles], lines=True)
    hashes = batch.hashes
    token_ends = np.cumsum(batch.token_counts)
    line_counts = batch.line_counts
    line_ends = np.cumsum([text.count(b" \x01") + 1 for text in batch.spaced])
    # The long sentences (those hashed) as runs of the batch's tokens, and the line of each.
    starts, lengths = sentence_runs(batch.sentence_counts)
    line_token_starts = np.cumsum(line_counts) - line_counts
    sentence_lines = np.searchsorted(line_token_starts, starts, side="right") - 1
    sentence_texts = np.searchsorted(token_ends, starts, side="right")
    sentence_cuts = np.searchsorted(sentence_texts, np.arange(len(articles) + 1))
    learned = boilerplate.hashes
    # What each article's features need of its own lines (its ratio text, title, facts and
    # which lines are kept), then its shingles and sentences for all articles at once.
    keep_lines = np.ones(int(line_ends[-1]) if len(articles) else 0, dtype=np.bool_)
    line_values: list[int] = []  # each line's hash, computed when a masked article needs it
    prefix = run_prefix(hashes)  # for the hashes of lines and of sentences
    parts: list[tuple[str, str, Callable[[], Facts], U64 | None]] = []
    for i, (article, sentences, masked) in enumerate(articles):
        title = " ".join(tokens(article.title))
        if not masked or not learned or not article.body:
            words = batch.words(i).decode()
            text = article.text
            parts.append(
                (
                    words,
                    title,
                    partial(_text_facts, text, article.title, found[i], words),
                    None if masked else sentences,  # nothing to mask: sentences of all lines
                )
            )
            continue
        # Masked: the lines of ``Boilerplate.mask_words``, found among the text's lines.
        lines = batch.text_lines(i)
        if not line_values:  # a line of no tokens hashes to no learned line
            line_values = np.where(
                line_counts > 0, prefix_run_hashes(prefix, line_token_starts, line_counts), 0
            ).tolist()
        first_line = int(line_ends[i]) - len(lines)
        paragraphs = []
        j = article.body_from
        # Each kept line (and the title) as (start in the text, end, start in the masked text).
        at = masked_at = len(article.title) + 2
        spans = [(0, len(article.title), 0)]
        for paragraph in article.body.split("\n\n"):
            kept_lines = []
            for ln in paragraph.split("\n"):
                if lines[j] and line_values[first_line + j] in learned:
                    keep_lines[first_line + j] = False
                else:
                    kept_lines.append(ln)
                    spans.append((at, at + len(ln), masked_at))
                    masked_at += len(ln) + 1
                j += 1
                at += len(ln) + 1
            j += 1  # the blank line between two paragraphs
            at += 1
            if kept_lines:
                paragraphs.append("\n".join(kept_lines))
                masked_at += 1
        text = "\n\n".join([article.title, *paragraphs])
        kept = keep_lines[first_line : int(line_ends[i])].tolist()
        words = b" ".join(
            [line for line, k in zip(lines, kept, strict=True) if k and line]
        ).decode()
        parts.append(
            (words, title, partial(_kept_facts, article, text, words, found[i], spans), None)
        )
    keep_tokens = np.repeat(keep_lines, line_counts)
    kept_before = np.concatenate(([0], np.cumsum(keep_tokens)))  # kept tokens before each
    kept_counts = np.diff(kept_before[token_ends], prepend=0)
    shingles = text_shingles(hashes[keep_tokens], kept_counts, size)
    keep_runs = keep_lines[sentence_lines]
    run_values = prefix_run_hashes(prefix, starts, lengths)
    out: list[Features] = []
    for i, (words, title, facts, stored) in enumerate(parts):
        if stored is None:  # the distinct hashes of its kept lines' long sentences
            run = slice(sentence_cuts[i], sentence_cuts[i + 1])
            stored = sorted_distinct(run_values[run][keep_runs[run]])
        out.append(
            Features(shingles[i], words[:RATIO_CHARS], stored, int(kept_counts[i]), title, facts)
        )
    return out


def _kept_facts(
    article: Article,
    text: str,
    words: str,
    found: Callable[[], list[tuple[Fact, int, int]]] | None,
    spans: list[tuple[int, int, int]],
) -> Facts:
    """``extract_facts`` of a masked ``text`` (``article``'s with some lines left out, as
    ``spans`` tells), its facts taken from those of the whole text (``found``, which the
    canonical choice needs too) where ``facts_of_kept_lines`` can."""
    kept = None if found is None else facts_of_kept_lines(article.text, found(), text, spans)
    return extract_facts(text, article.title, kept, words)


def _text_facts(
    text: str,
    title: str,
    found: Callable[[], list[tuple[Fact, int, int]]] | None,
    words: str,
) -> Facts:
    return extract_facts(text, title, None if found is None else found(), words)


def stored_words(
    article: Article,
    masked: bool,
    config: Config,
    boilerplate: Boilerplate,
    lines: dict[str, tuple[list[str], list[int], bool]] | None = None,
) -> int:
    """``stored_features(...).words`` alone (what the canonical choice measures), cheaply:
    a masked text's words are those ``Boilerplate.mask_words`` found (``lines``: as there)."""
    limit = config.sketch.max_article_chars
    if not masked:
        return len(tokens(article.text[:limit]))
    text, words, _ = boilerplate.mask_words(article, lines)
    return len(words) if len(text) <= limit else len(tokens(text[:limit]))


def earliest(found: list[tuple[Fact, int, int]]) -> str:
    """``canonical.earliest_date`` from a text's ``find_facts``."""
    dates = [f.value for f, _, _ in found if f.kind == "date" and len(f.value) == 10]
    return min(dates, default=NO_DATE)


def batches_of(pairs: Sequence[tuple[str, str]], size: int) -> list[list[int]]:
    """Pair numbers in batches of about ``size``, each connected group of articles kept in
    one batch where it fits, so that an article's features are computed once.

    >>> batches_of([("a", "b"), ("c", "d"), ("b", "e"), ("d", "f")], 2)
    [[0, 2], [1, 3]]
    """
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        root = x
        while parent.setdefault(root, root) != root:
            root = parent[root]
        while parent[x] != root:
            parent[x], x = root, parent[x]
        return root

    for a, b in pairs:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    groups: dict[str, list[int]] = {}
    for number, (a, _) in enumerate(pairs):
        groups.setdefault(find(a), []).append(number)
    out: list[list[int]] = []
    current: list[int] = []
    for group in groups.values():
        if current and len(current) + len(group) > size:
            out.append(current)
            current = []
        current += group
    if current:
        out.append(current)
    return out


def match_data(m: Match | None) -> MatchData | None:
    if m is None:
        return None
    s = m.scores
    return (m.a, m.b, m.relation, (s.jaccard, s.containment, s.ratio), m.evidence, m.facts)


def from_data(d: MatchData | None) -> Match | None:
    if d is None:
        return None
    a, b, relation, (j, c, r), evidence, facts = d
    return Match(
        a, b, relation, Scores(j, c, r), tuple(evidence), tuple((k, x, y) for k, x, y in facts)
    )


#: The learned boilerplate that ``verify_batch`` masks when it is given none: set once per
#: process by ``install_boilerplate``. A big archive learns tens of thousands of lines, and
#: sending them with every batch cost more than verifying the batch.
_installed = Boilerplate()
_installed_from = b""  # the digest of what ``use_learned_lines`` last installed


def install_boilerplate(hashes: bytes) -> None:
    """Make the learned line hashes (little-endian uint64, as ``boilerplate_bytes`` gives
    them) the ones ``verify_batch`` masks in this process."""
    global _installed, _installed_from
    _installed = Boilerplate(frozenset(np.frombuffer(hashes, dtype="<u8").tolist()))
    _installed_from = b""


def boilerplate_bytes(boilerplate: Boilerplate) -> bytes:
    """The learned line hashes as ``install_boilerplate`` takes them: sorted, so that a scan
    sends the same bytes whatever the order of the set."""
    return np.array(sorted(boilerplate.hashes), dtype="<u8").tobytes()


def learned_digest(hashes: bytes) -> bytes:
    """What names a set of learned lines (``boilerplate_bytes``) in ``use_learned_lines``."""
    return hashlib.blake2b(hashes, digest_size=16).digest()


def use_learned_lines(digest: bytes, hashes: bytes | None) -> None:
    """Make the learned lines named ``digest`` current in this process: ``install_boilerplate``
    of ``hashes``, unless this process installed them already; then ``hashes`` may be None
    (a worker of a pool that verifies many batches is sent them until it has them).

    >>> use_learned_lines(b"lines never sent", None)
    Traceback (most recent call last):
    RuntimeError: this process was sent no learned lines
    """
    global _installed_from
    if digest == _installed_from:
        return
    if hashes is None:
        raise RuntimeError("this process was sent no learned lines")
    install_boilerplate(hashes)
    _installed_from = digest


def installed_boilerplate() -> tuple[int, ...]:
    """The line hashes ``install_boilerplate`` last made current in this process, sorted."""
    return tuple(sorted(_installed.hashes))


def verify_batch(
    batch: tuple[Sequence[ArticleData], Sequence[tuple[int, int]]],
    config: Config,
    boilerplate: tuple[int, ...] | None = None,
) -> tuple[list[MatchData | None], list[Measures | None]]:
    """Each pair's verdict, in order, and the measures of each article in an ``exact`` or
    ``near`` verdict (None for the others). Pure given ``boilerplate``, the learned line
    hashes; None for those ``install_boilerplate`` made current in this process.

    Features are computed only for the articles a verdict needs them for (exact copies are
    decided by their content hashes alone).
    """
    articles, pairs = batch
    mask = _installed if boilerplate is None else Boilerplate(frozenset(boilerplate))
    loaded = [
        unpack_article(read_record(record), source, n) for source, n, record, _, _ in articles
    ]
    feats: dict[int, Features] = {}
    # What is computed of one text is computed once: copies of a release in a batch (the
    # articles of its ``exact`` pairs) have the same text, and everything their features are
    # made of (title, masking, stored sentence hashes) is compared as well.
    found: dict[str, list[tuple[Fact, int, int]]] = {}  # find_facts, by text
    feats_of_copy: dict[tuple[str, str, bool, bytes], Features] = {}
    lines: dict[str, tuple[list[str], list[int], bool]] = {}  # masked lines, by their text

    def facts_of(k: int) -> list[tuple[Fact, int, int]]:
        text = loaded[k].text
        if text not in found:
            found[text] = find_facts(text)
        return found[text]

    def features_of(k: int) -> Features:
        if k not in feats:
            _, _, _, sentences, masked = articles[k]
            article = loaded[k]
            key = (article.text, article.title, masked, sentences)
            if key not in feats_of_copy:
                feats_of_copy[key] = stored_features(
                    article,
                    np.frombuffer(sentences, dtype="<u8").astype(np.uint64),
                    masked,
                    config,
                    mask,
                    None if masked else partial(facts_of, k),
                    lines,
                )
            feats[k] = feats_of_copy[key]
        return feats[k]

    # The features of every article of the batch, computed together: a pair that is not an
    # exact copy compares them, and an exact copy's word count is theirs (``stored_words``
    # gives the same count, for the few texts cut at ``max_article_chars``).
    limit = config.sketch.max_article_chars
    wanted: dict[tuple[str, str, bool, bytes], int] = {}
    for i, j in pairs:
        for k in (i, j):
            article = loaded[k]
            if len(article.text) <= limit:
                key = (article.text, article.title, articles[k][4], articles[k][3])
                wanted.setdefault(key, k)
    if wanted:
        computed = batch_features(
            [
                (loaded[k], np.frombuffer(articles[k][3], dtype="<u8").astype(np.uint64), masked)
                for (_, _, masked, _), k in wanted.items()
            ],
            config,
            mask,
            [partial(facts_of, k) for k in wanted.values()],
        )
        feats_of_copy.update(zip(wanted, computed, strict=True))

    words_of_copy: dict[tuple[str, str, bool], int] = {}

    def words_of(k: int) -> int:
        """``stored_words``: the features' own count when they were computed."""
        if k in feats:
            return feats[k].words
        masked = articles[k][4]
        article = loaded[k]
        computed = feats_of_copy.get((article.text, article.title, masked, articles[k][3]))
        if computed is not None:
            return computed.words
        key = (article.text, article.title, masked)
        if key not in words_of_copy:
            words_of_copy[key] = stored_words(article, masked, config, mask, lines)
        return words_of_copy[key]

    out: list[MatchData | None] = []
    measures: list[Measures | None] = [None] * len(articles)
    for i, j in pairs:
        if loaded[j].id < loaded[i].id:  # ``Verifier.match``'s order: the smaller id first
            i, j = j, i
        a, b = loaded[i], loaded[j]
        if a.content_hash == b.content_hash:
            verdict = classify(a, b, _NO_FEATURES, _NO_FEATURES, config.verify)
        else:
            verdict = classify(a, b, features_of(i), features_of(j), config.verify)
        out.append(match_data(verdict))
        if verdict is not None and verdict.relation in _CLUSTERED:
            for k in (i, j):
                if measures[k] is None:
                    measures[k] = (words_of(k), earliest(facts_of(k)))
    return out, measures


#: Stands in for the features of an exact copy: ``classify`` decides those by hash alone.
_NO_FEATURES = Features(np.zeros(0, np.uint32), "", np.zeros(0, np.uint64), 0, "", Facts((), ()))

"""Verification in batches (worker processes) and the faster ingest paths change no result."""

from __future__ import annotations

import os
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from conftest import SAMPLES
from harness import generate_archive
from hypothesis import given, settings
from hypothesis import strategies as st

from dedupe_releases import facts
from dedupe_releases.boilerplate import line_hash, line_hashes, title_hash
from dedupe_releases.candidates import sentence_hashes
from dedupe_releases.canonical import earliest_date
from dedupe_releases.config import Config
from dedupe_releases.parallel import Workers
from dedupe_releases.pipeline import _stored_features, _verify_stored, articles_of, scan
from dedupe_releases.read import read_source, walk
from dedupe_releases.records import Article
from dedupe_releases.sketch import sentence_tokens, sketch_texts
from dedupe_releases.split import truncate_article
from dedupe_releases.store import MemoryStore
from dedupe_releases.verify import Verifier
from dedupe_releases.verify_batch import batches_of


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated archive with planted copies, siblings and appended boilerplate."""
    return generate_archive(
        tmp_path_factory.mktemp("archive"), 600, seed=5, dup_rate=0.35, encodings=True
    )


def _articles(folder: Path) -> list[Article]:
    config = Config()
    out: list[Article] = []
    for item in walk([folder], config.read):
        if isinstance(item, tuple):
            out += articles_of(read_source(item[0], item[1], config.read), config)
    return out


# --- the fact pattern's leading lookahead ---------------------------------------------------

_PLAIN_FACT = re.compile(
    facts._FACT.pattern[facts._FACT.pattern.index("))(?:") + 5 : -1], facts._FACT.flags
)
_FACTY = st.lists(
    st.sampled_from(
        [
            *"0123456789 ,.-%£$€\n",
            *("st", "th", "Jan", "sept", "May", "July", "DEC", "per cent", "million", "bn"),
            *("m", "k", "percent", "a", "x1", "2018", "19", "ſep", "ＭＡＹ"),
        ]
    ),
    max_size=40,
).map("".join)


def _matches(pattern: re.Pattern[str], text: str) -> list[tuple[int, int, dict[str, str | None]]]:
    return [(m.start(), m.end(), m.groupdict()) for m in pattern.finditer(text)]


@settings(max_examples=600, deadline=None)
@given(_FACTY)
def test_fact_pattern_finds_what_the_plain_pattern_finds(text):
    assert _matches(facts._FACT, text) == _matches(_PLAIN_FACT, text)


@pytest.mark.parametrize("where", ["samples", "generated"])
def test_fact_pattern_on_archives(generated, where):
    for article in _articles(SAMPLES if where == "samples" else generated):
        assert _matches(facts._FACT, article.text) == _matches(_PLAIN_FACT, article.text)


# --- body-line hashes from the sketch's own tokenising pass ---------------------------------


def _body_lines_of_batch(articles: list[Article], limit: int) -> list[list[int]]:
    batch = sketch_texts(
        [a.text for a in articles],
        replace(Config().sketch, max_article_chars=limit),
        [a.body_from for a in articles],
    )
    counts = batch.line_counts.tolist()
    ends = batch.line_counts.cumsum().tolist()
    return [batch.lines[end - n : end].tolist() for end, n in zip(ends, counts, strict=True)]


@pytest.mark.parametrize("where", ["samples", "generated"])
def test_body_line_hashes_of_a_sketch_batch_equal_line_hashes(generated, where):
    articles = _articles(SAMPLES if where == "samples" else generated)
    for limit in (Config().sketch.max_article_chars, 300):  # 300: long texts are cut
        cut = [truncate_article(a, limit) for a in articles]  # as ingest cuts them
        assert any(a.truncated for a in cut) == (limit == 300)
        expected = [line_hashes(a).tolist() for a in cut]
        assert _body_lines_of_batch(cut, limit) == expected


_LINE_TEXT = st.lists(
    st.sampled_from([*"ab1 .!?\"')]\n\t\r", "É", "ß", "\u2028", "...", ".\n", "!'\n"]),
    max_size=50,
).map("".join)


@settings(max_examples=500, deadline=None)
@given(title=_LINE_TEXT, body=_LINE_TEXT)
def test_body_line_hashes_of_any_text(title, body):
    article = Article("f#1", "f", 1, (1, 1), None, title, body, "0" * 64)
    lines: list[str] = []
    sentence_tokens(article.text, lines)
    assert lines == [" ".join(re.findall(r"\w+", ln.casefold())) for ln in article.text.split("\n")]
    body_lines = {line_hash(ln) for ln in body.split("\n") if re.search(r"\w", ln)}
    assert line_hashes(article).tolist() == sorted(body_lines)
    assert _body_lines_of_batch([article], 10_000) == [sorted(body_lines)]
    batch = sketch_texts([article.text, "x"], Config().sketch, [title.count("\n") + 2, 2])
    assert batch.titles.tolist() == [title_hash(title), title_hash("x")]


# --- verification in batches ----------------------------------------------------------------


def test_batches_keep_connected_pairs_together():
    pairs = [("a", "b"), ("c", "d"), ("b", "e"), ("x", "y"), ("d", "f"), ("e", "g")]
    batches = batches_of(pairs, 3)
    assert sorted(n for b in batches for n in b) == list(range(len(pairs)))
    assert [0, 2, 5] in batches  # a-b-e-g together
    assert batches_of([], 3) == []


def _scanned_with_pairs(folder: Path) -> tuple[Config, Any, Any, list[tuple[str, str]]]:
    """A scan of ``folder`` in this process, its spill store and its candidate pairs."""
    config = Config()
    result = scan([folder], config, jobs=1)
    store = result.store
    pairs = store.candidate_pairs(
        config.verify.min_shared_sentences, config.sketch.max_bucket_pairs
    )  # type: ignore[union-attr]
    return config, result, store, pairs


@pytest.mark.parametrize("jobs", [1, 2])
def test_batched_verdicts_equal_the_serial_verifier(generated, jobs):
    """Every pair's verdict and every clustered article's measures, computed in batches
    (small ones, so that two workers really share them), equal the one-by-one path."""
    config, result, store, pairs = _scanned_with_pairs(generated)
    assert len(pairs) > 50
    boilerplate = result.boilerplate
    assert boilerplate.hashes  # some articles are compared on their masked text
    v = config.verify
    serial = Verifier(
        store.article,
        config.sketch,
        v,
        sentence_hashes,
        features=lambda a: _stored_features(store, config, boilerplate, a),  # type: ignore[arg-type]
    )
    batched = Verifier(store.article, config.sketch, v, sentence_hashes)
    with Workers(jobs) as workers:
        measures = _verify_stored(
            store,  # type: ignore[arg-type]
            pairs,
            config,
            boilerplate,
            batched,
            workers,
            batch_pairs=7,
        )
    relations = set()
    for a, b in pairs:
        expected = serial.match(a, b)
        assert batched._memo[(min(a, b), max(a, b))] == expected
        if expected is not None:
            relations.add(expected.relation)
            if expected.relation in ("exact", "near"):
                for x in (a, b):
                    words = serial.features(x).words
                    assert measures[x] == (words, earliest_date(store.article(x).text))
    assert {"exact", "near", "template_sibling"} <= relations


def test_a_shared_pool_is_sent_the_learned_lines_until_every_worker_has_them(
    generated, monkeypatch
):
    """The verification's workers started before the lines were learned: the lines go with
    the batches until both workers said they installed them, then with none. A round of
    batches all sent without them gives the same verdicts (the workers kept them).

    Which worker takes which batch is up to the pool: rounds are repeated until both have
    said so (the first round, unless one worker took every batch before the other started),
    and only what does not depend on that is checked."""
    from dedupe_releases.parallel import IN_FLIGHT_PER_JOB
    from dedupe_releases.pipeline import _Learned

    config, result, store, pairs = _scanned_with_pairs(generated)
    assert result.boilerplate.hashes
    learned = _Learned.of(result.boilerplate)
    sent: list[bool] = []
    real = _Learned.to_send

    def to_send(self, workers):
        lines = real(self, workers)
        sent.append(lines is not None)
        return lines

    def one_round(workers):
        verifier = Verifier(store.article, config.sketch, config.verify, sentence_hashes)
        measures = _verify_stored(
            store,  # type: ignore[arg-type]
            pairs,
            config,
            result.boilerplate,
            verifier,
            workers,
            learned,
            batch_pairs=7,
        )
        sends = sent.copy()
        sent.clear()
        return (dict(verifier._memo), measures), sends

    monkeypatch.setattr(_Learned, "to_send", to_send)
    with Workers(2) as workers:
        first, first_sends = one_round(workers)
        for _ in range(5):
            if len(learned.installed) == 2:
                break
            one_round(workers)
        assert len(learned.installed) == 2  # both workers, never this process
        assert os.getpid() not in learned.installed
        last, last_sends = one_round(workers)
    in_flight = 2 * IN_FLIGHT_PER_JOB  # sent before any worker could answer: all with them
    assert len(first_sends) > 4 * in_flight
    assert first_sends[:in_flight] == [True] * in_flight
    assert not any(last_sends)
    assert last == first


@pytest.mark.parametrize("where", ["samples", "generated"])
def test_spilled_scan_equals_the_in_memory_scan(generated, where):
    """The spill store's batched path against the plain path that tokenises every text."""
    folder = SAMPLES if where == "samples" else generated
    config = Config()
    spilled = scan([folder], config, jobs=2)
    memory = scan([folder], config, store=MemoryStore())
    assert spilled.clusters == memory.clusters
    assert spilled.related == memory.related
    assert spilled.candidates == memory.candidates


# --- line breaks ----------------------------------------------------------------------------


@settings(max_examples=500, deadline=None)
@given(st.text(st.sampled_from("a \r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"), max_size=30))
def test_line_break_pattern_finds_what_the_plain_pattern_finds(text):
    from dedupe_releases.quiet import LINE_BREAKS as _LINE_BREAKS

    plain = re.compile(r"\r\n|[\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
    assert [m.span() for m in _LINE_BREAKS.finditer(text)] == [
        m.span() for m in plain.finditer(text)
    ]


# --- fact contexts --------------------------------------------------------------------------


def _plain_extract_facts(text: str, title: str = "") -> facts.Facts:
    """``facts.extract_facts`` as first written: placeholders in the text, one word scan."""
    from collections import defaultdict

    parts: list[str] = []
    found: list[facts.Fact] = []
    last = 0
    for fact, start, end in facts.find_facts(text):
        parts.append(text[last:start])
        parts.append(f" \x00{fact.kind}{len(found)}\x00 ")
        found.append(fact)
        last = end
    parts.append(text[last:])
    words = facts._WORD.findall("".join(parts).casefold())
    keyed: dict[tuple[str, str], list[facts.Fact]] = defaultdict(list)
    n = facts.CONTEXT_WORDS
    for i, w in enumerate(words):
        if not w.startswith("\x00"):
            continue
        fact = found[int(w.strip("\x00").lstrip("abcdefghijklmnopqrstuvwxyz"))]
        before = [facts._slot(x) for x in words[max(0, i - n) : i]]
        after = [facts._slot(x) for x in words[i + 1 : i + 1 + n]]
        if len(before) == n:
            keyed[(fact.kind, " ".join([*before, "|"]))].append(fact)
        if len(after) == n:
            keyed[(fact.kind, " ".join(["|", *after]))].append(fact)
    return facts.Facts(
        tuple(sorted((k, tuple(v)) for k, v in keyed.items())),
        tuple(facts._NAME_WORD.findall(title)),
        text,
    )


@settings(max_examples=500, deadline=None)
@given(st.lists(_FACTY | st.sampled_from(["The", " ", "ΣΑΣ", "ß", "x_y", "£", "\n"])).map(" ".join))
def test_fact_contexts_equal_the_plain_extraction(text):
    assert facts.extract_facts(text, "T") == _plain_extract_facts(text, "T")


@pytest.mark.parametrize("where", ["samples", "generated"])
def test_fact_contexts_on_archives(generated, where):
    for article in _articles(SAMPLES if where == "samples" else generated):
        expected = _plain_extract_facts(article.text, article.title)
        assert facts.extract_facts(article.text, article.title) == expected


def test_a_batch_gives_what_each_pair_alone_gives(generated, monkeypatch):
    """Copies of a text in one batch share what is computed of it (facts, features, words):
    every verdict and measure of a whole batch equals what its pair gives in a batch of its
    own, where nothing is shared."""
    from dedupe_releases import pipeline
    from dedupe_releases.spill import unpack_article
    from dedupe_releases.verify_batch import installed_boilerplate, verify_batch

    recorded = []

    def recording(batch, config, boilerplate=None):
        if boilerplate is None:  # what the scan installed in this process (``jobs`` 1)
            boilerplate = installed_boilerplate()
        recorded.append((batch, boilerplate))
        return verify_batch(batch, config, boilerplate)

    monkeypatch.setattr(pipeline, "verify_batch", recording)
    config = Config()
    scan([generated], config, jobs=1)
    assert recorded
    shared = 0
    for (articles, pairs), boilerplate in recorded:
        verdicts, measures = verify_batch((articles, pairs), config, boilerplate)
        for n, (i, j) in enumerate(pairs):
            alone, alone_measures = verify_batch(
                ([articles[i], articles[j]], [(0, 1)]), config, boilerplate
            )
            assert verdicts[n] == alone[0]
            for k, m in zip((i, j), alone_measures, strict=True):
                if m is not None:
                    assert measures[k] == m
        # copies of one text compared with other articles: their features are shared
        texts = [unpack_article(record, source, n).text for source, n, record, _, _ in articles]
        shared += sum(
            1
            for n, (i, j) in enumerate(pairs)
            if verdicts[n] is not None
            and verdicts[n][2] != "exact"
            and any(texts.count(texts[k]) > 1 for k in (i, j))
        )
    assert shared


def test_copies_share_only_what_their_own_text_gives():
    """Two pairs of copies under one title in one batch, one of them holding a learned
    boilerplate line: each copy's measures are its own text's, as in a batch of its own."""
    import hashlib

    from dedupe_releases.boilerplate import line_hash
    from dedupe_releases.spill import pack_article
    from dedupe_releases.verify_batch import verify_batch

    config = Config()
    bodies = [
        "Leeds gets £17 million on 9 July 2018 to improve its roads, the minister said.",
        "Leeds gets £18 million on 1 May 2017 for roads and bridges.\nShare this page",
        "Leeds gets £18 million on 1 May 2017 for roads and bridges.",
    ]
    articles = []
    for n, body in enumerate([b for b in bodies for _ in range(2)], start=1):
        digest = hashlib.sha256(body.encode()).hexdigest()
        a = Article(f"s#{n}", "s", n, (n, n), None, "Roads money", body, digest)
        record = pack_article(a)
        sentences = sentence_hashes(a.text).astype("<u8").tobytes()
        articles.append(("s", n, record, sentences, "Share this page" in body))
    boilerplate = (line_hash("Share this page"),)
    pairs = [(0, 1), (2, 3), (4, 5), (2, 4)]
    verdicts, measures = verify_batch((articles, pairs), config, boilerplate)
    for n, (i, j) in enumerate(pairs):
        alone, alone_measures = verify_batch(
            ([articles[i], articles[j]], [(0, 1)]), config, boilerplate
        )
        assert verdicts[n] == alone[0]
        assert [measures[i], measures[j]] == alone_measures
    assert [v[2] for v in verdicts if v is not None][:3] == ["exact", "exact", "exact"]
    assert len({m for m in measures}) == 2  # the masked copies count the words of the third

"""The streaming scan: worker processes, spilled texts and batch sketches change no result."""

from __future__ import annotations

import itertools
import os
import re
import subprocess
import sys
from dataclasses import replace
from functools import partial
from pathlib import Path

import numpy as np
import pytest
from conftest import SAMPLES
from harness import generate_archive, spawn, wait_until
from hypothesis import given, settings
from hypothesis import strategies as st

from dedupe_releases.boilerplate import Boilerplate, line_hashes
from dedupe_releases.config import Config
from dedupe_releases.parallel import ordered_map
from dedupe_releases.pipeline import _stored_features, ingest, ingest_packed
from dedupe_releases.read import walk
from dedupe_releases.records import Article, FileRecord, Fix, Problem
from dedupe_releases.sketch import sentence_hashes, sketch_article, sketch_texts
from dedupe_releases.spill import _CACHE_OVERHEAD, SpillStore, pack_article, unpack_article
from dedupe_releases.store import MemoryStore
from dedupe_releases.verify import features


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small generated archive: enough files that the worker pool really runs."""
    return generate_archive(
        tmp_path_factory.mktemp("archive"), 500, seed=3, dup_rate=0.3, encodings=True
    )


def test_ordered_map_keeps_input_order_across_worker_processes():
    items = list(range(-40, 40))
    assert list(ordered_map(abs, items, jobs=2, batch_size=3)) == [abs(i) for i in items]


def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_bytes()
            except OSError:
                continue
            children.setdefault(int(stat[stat.rindex(b")") + 2 :].split()[1]), []).append(
                int(entry.name)
            )
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def _running(pid: int) -> bool:
    """The process exists and is not a zombie (init may be slow to reap it)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return False
    return stat[stat.rindex(b")") + 2 :].split()[0] != b"Z"


def test_a_killed_scan_leaves_no_worker_behind(tmp_path):
    """SIGKILL of a nightly scan: its workers and multiprocessing's resource tracker end
    with it, none left holding its pipes or memory."""
    dump = generate_archive(tmp_path / "corpus", 4000, seed=2, quiet=True)
    proc = spawn("scan", dump, "-f", "json", "--jobs", "2", stdout=subprocess.DEVNULL)
    try:
        assert wait_until(lambda: len(_descendants(proc.pid)) >= 3, timeout=60)  # 2 + tracker
        helpers = _descendants(proc.pid)
    finally:
        proc.kill()
        proc.communicate(timeout=30)  # a worker left alive would hold its stderr open
    assert wait_until(lambda: not any(_running(p) for p in helpers), timeout=15), [
        Path(f"/proc/{p}/cmdline").read_bytes() for p in helpers if _running(p)
    ]


def test_workers_start_with_stop_signals_held_even_when_the_resource_tracker_starts():
    # multiprocessing's resource tracker unblocks SIGINT in the thread that starts it; a
    # worker spawned after that would start with Ctrl-C open and print a start-up traceback
    code = (
        "import multiprocessing, signal\n"
        "from dedupe_releases.parallel import block_stop_signals\n"
        "block_stop_signals()\n"
        "multiprocessing.get_context('spawn').Lock()  # the first semaphore starts the tracker\n"
        "print(signal.SIGINT in signal.pthread_sigmask(signal.SIG_BLOCK, []))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True)
    assert done.stdout == b"True\n", done.stderr


@pytest.mark.parametrize("where", ["samples", "generated"])
def test_output_is_byte_identical_for_any_jobs(run_process, generated, where):
    folder = SAMPLES if where == "samples" else generated
    one = run_process("scan", str(folder), "--format", "json", "--jobs", "1")
    two = run_process("scan", str(folder), "--format", "json", "--jobs", "2")
    assert one.returncode == two.returncode
    assert one.stdout == two.stdout
    assert b'"clusters"' in one.stdout


def test_generated_scan_finds_clusters_with_three_workers(run_process, generated):
    import json

    lines = run_process("scan", str(generated), "--format", "jsonl", "--jobs", "3").stdout
    summary = json.loads(lines.splitlines()[-1])
    assert summary["counts"]["articles"] == 500
    assert summary["counts"]["clusters"] > 10


@pytest.mark.parametrize("bound", [{"cache_size": 8}, {"cache_bytes": 20_000}])
def test_spill_store_gives_back_every_article(generated, bound):
    """Every article read back as it was, the cache of the last ones read held to its count
    or to its bytes (the records' and the objects', about)."""
    config = Config()
    memory, spill = MemoryStore(), SpillStore(in_memory=1 << 16, **bound)  # spills
    for item in walk([generated], config.read):
        assert not isinstance(item, FileRecord)
        record = ingest(item[0], item[1], config) if isinstance(item, tuple) else item
        packed = ingest_packed(item, config)
        if isinstance(record, FileRecord):
            memory.add(record)
            spill.add_packed(packed)  # type: ignore[arg-type]
    assert len(spill) == len(memory) == 500 and spill.files == memory.files
    for article in memory:
        assert spill.article(article.id) == article
        assert spill.position(article.id) == memory.position(article.id)
        expected = features(article, config.sketch, sentence_hashes)
        stored = _stored_features(spill, config, Boilerplate(), article.id)
        assert (stored.shingles == expected.shingles).all()
        assert (stored.sentences == expected.sentences).all()
        assert (stored.normalised, stored.words, stored.title, stored.facts) == (
            expected.normalised,
            expected.words,
            expected.title,
            expected.facts,
        )
        assert len(spill._cache) <= bound.get("cache_size", len(spill._cache))
        assert spill._cached <= bound.get("cache_bytes", spill._cached)  # texts on disk
    assert spill._cached == sum(
        len(spill._read(n)) + _CACHE_OVERHEAD for n in spill._cache
    )  # the count of bytes kept in step with what is cached
    assert 1 < len(spill._cache) <= 8 or "cache_size" in bound
    assert spill.candidate_pairs(2, 8) == memory.candidate_pairs(2, 8)
    learned = memory.boilerplate(3, 2)
    assert spill.boilerplate(3, 2) == learned and len(learned) > 0
    for article in memory:  # an article with a learned line is verified on its masked text
        assert spill.has_line(article.id, learned.hashes) == (learned.mask(article) != article.text)
    with pytest.raises(KeyError):
        spill.position(f"{article.source}#999")
    spill.close()


def test_batch_sketches_equal_article_sketches(generated):
    config = Config()
    for item in list(walk([generated], config.read))[:6]:
        record = ingest(item[0], item[1], config)  # type: ignore[index]
        assert isinstance(record, FileRecord)
        batch = sketch_texts([a.text for a in record.articles], config.sketch)
        for i, (article, sketch) in enumerate(zip(record.articles, record.sketches, strict=True)):
            assert sketch == sketch_article(article, config.sketch, sentence_hashes, line_hashes)
            assert batch.sketch(i, article.id, sketch.shingles) == replace(sketch, lines=b"")


def test_batch_sketches_of_short_and_empty_texts():
    texts = ["", "one", "one two three four", "one two three four five six", "x. " * 3]
    batch = sketch_texts(texts)
    for i, text in enumerate(texts):
        article = Article(f"f#{i}", "f", i, (1, 1), None, text, "", "0" * 64)
        single = sketch_article(article, sentences=sentence_hashes)
        assert batch.sketch(i, article.id, single.shingles) == single
    assert batch.shingled.tolist() == [False, True, True, True, True]


_TEXT = st.text(st.characters(blacklist_categories=["Cs"]) | st.sampled_from("\ud800\x00"))


@settings(max_examples=200, deadline=None)
@given(
    title=_TEXT,
    body=_TEXT,
    kind=st.none() | _TEXT,
    lines=st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1)),
    flags=st.tuples(st.booleans(), st.booleans()),
    fixes=st.lists(st.tuples(st.sampled_from(["ftfy", "spaces", "a=b"]), st.integers(1, 99))),
)
def test_article_records_round_trip(title, body, kind, lines, flags, fixes):
    article = Article(
        "src/a b#3",
        "src/a b",
        3,
        lines,
        kind,
        title,
        body,
        "ab" * 32,
        tuple(Fix(r, n) for r, n in fixes),
        *flags,
    )
    assert unpack_article(pack_article(article), "src/a b", 3) == article


def test_a_workers_packed_file_is_its_record_packed(generated):
    """``ingest_packed`` (one batch pass: band keys, sentence and body-line hashes) gives
    what ``ingest`` and ``pack_record`` give article by article."""
    import dataclasses

    from dedupe_releases.spill import PackedFile, pack_record

    config = Config()
    items = [i for i in walk([generated], config.read) if isinstance(i, tuple)][:8]
    for item in items:
        packed = ingest_packed(item, config)
        record = ingest(item[0], item[1], config)
        assert isinstance(record, FileRecord) and isinstance(packed, PackedFile)
        expected = pack_record(record)
        assert len(expected.lines) > 0
        for f in dataclasses.fields(PackedFile):
            got, want = getattr(packed, f.name), getattr(expected, f.name)
            if isinstance(want, np.ndarray):
                assert got.dtype == want.dtype and got.tolist() == want.tolist(), f.name
            else:
                assert got == want, f.name


@pytest.mark.parametrize("chars", [1, 3_000, 160_000, 10**9])
def test_files_sketched_together_pack_as_each_alone(generated, tmp_path, monkeypatch, chars):
    """``ingest_files`` (the articles of consecutive files sketched in one call, ``chars``
    characters a call) gives, file by file, what ``ingest_packed`` gives of each alone: among
    them files that cannot be read, an empty file, a file of one title line and a file
    holding the batch's own separators."""
    import dataclasses

    from dedupe_releases import pipeline
    from dedupe_releases.spill import PackedFile

    odd = tmp_path / "odd"
    odd.mkdir()
    (odd / "a-empty.txt").write_bytes(b"")
    (odd / "b-title.txt").write_text("Press release: Only a title\n", encoding="utf-8")
    (odd / "c-marks.txt").write_text("News story: T\n\nOne \x02 two\x01 three.\n", "utf-8")
    (odd / "d-bad.txt").write_bytes(b"\x00" * 64)  # binary: skipped
    (odd / "e-ok.txt").write_text("Speech: Words\n\nThe minister said so today.\n", "utf-8")
    config = Config()
    items = list(walk([odd], config.read)) + list(walk([generated], config.read))[:12]
    items.insert(2, Problem("gone.txt", "skipped: gone"))
    monkeypatch.setattr(pipeline, "SKETCH_CHARS", chars)
    together = pipeline.ingest_files(items, config)
    alone = [ingest_packed(item, config) for item in items]
    assert len(together) == len(alone) == len(items)
    assert any(isinstance(x, Problem) for x in alone)
    for got, want in zip(together, alone, strict=True):
        assert type(got) is type(want)
        if not isinstance(want, PackedFile):
            assert got == want
            continue
        for f in dataclasses.fields(PackedFile):
            g, w = getattr(got, f.name), getattr(want, f.name)
            if isinstance(w, np.ndarray):
                assert g.dtype == w.dtype and g.shape == w.shape, f.name
                assert g.tolist() == w.tolist(), f.name
            else:
                assert g == w, f.name


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet="ab1 _.!?\"')]\n\t", max_size=60))
def test_sentence_breaks_split_tokens_like_the_plain_pattern(text):
    import re

    from dedupe_releases.sketch import sentence_tokens, tokens

    plain = re.compile(r"\n+|[.!?][\"')\]]*\s+")
    expected = [n for n in (len(tokens(p)) for p in plain.split(text)) if n]
    words, counts = sentence_tokens(text)
    assert words == tokens(text)
    assert [n for n in counts if n] == expected


def test_spill_store_reads_back_from_memory_and_from_disk(generated):
    config = Config()
    small, spilled = SpillStore(), SpillStore(in_memory=1 << 12)
    ids = []
    for item in walk([generated], config.read):
        packed = ingest_packed(item, config)
        if not isinstance(packed, Problem):
            small.add_packed(packed)
            spilled.add_packed(packed)
            ids += [f"{packed.source}#{i}" for i in range(1, packed.articles + 1)]
    assert small._file is None and spilled._file is not None
    for article_id in ids[::7]:
        assert small.article(article_id) == spilled.article(article_id)


_BATCH_TEXT = st.text(
    alphabet=st.sampled_from(
        list("ab1 _.!?\"')]\n\t\r\x0b\x1c\x85\u2028\x00\x01\x02£é–ß\u0130ŉ")
        + list("AZ\x03\x7f\xa0\u3000’“”ΣﬁΐK\u212a٣²\u0307\ud800")
    ),
    max_size=40,
)


@settings(max_examples=1000, deadline=None)
@given(st.lists(_BATCH_TEXT, max_size=5), st.booleans(), st.booleans())
def test_batch_tokens_equal_sentence_tokens_text_by_text(texts, lines, counts_only):
    from dedupe_releases.sketch import batch_tokens, sentence_tokens, token_hashes, tokens

    batch = batch_tokens(texts, lines, line_counts=counts_only)
    start = 0
    sentence_counts: list[int] = []
    line_counts: list[int] = []
    for i, text in enumerate(texts):
        found: list[str] | None = [] if lines else None
        words, counts = sentence_tokens(text, found)
        assert batch.token_counts[i] == len(words)
        assert batch.hashes[start : start + len(words)].tolist() == token_hashes(words).tolist()
        start += len(words)
        sentence_counts += counts
        if lines:
            assert batch.lines[i] == [line.encode() for line in found]
            assert batch.words(i) == " ".join(words).encode()
        if lines or counts_only:
            line_counts += [len(tokens(line)) for line in text.split("\n")]
    assert start == len(batch.hashes)
    assert batch.sentence_counts.tolist() == sentence_counts
    assert batch.line_counts.tolist() == line_counts
    assert len(batch.token_counts) == len(texts)
    assert len(batch.lines) == (len(texts) if lines else 0)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.lists(st.integers(0, 5), max_size=12), max_size=8), st.sampled_from([1, 3, 5]))
def test_text_shingles_are_each_texts_shingles(texts, size):
    """Many texts' shingles at once, repeated tokens and short and empty texts among them,
    are each text's ``shingles_of``."""
    from dedupe_releases.sketch import shingles_of, text_shingles

    hashes = np.array([t for text in texts for t in text], dtype=np.uint64) * np.uint64(
        0x9E3779B97F4A7C15
    )
    counts = np.array([len(text) for text in texts], dtype=np.int64)
    found = text_shingles(hashes, counts, size)
    start = 0
    assert len(found) == len(texts)
    for text, shingles in zip(texts, found, strict=True):
        alone = shingles_of(hashes[start : start + len(text)], size)
        assert shingles.dtype == alone.dtype and shingles.tolist() == alone.tolist()
        start += len(text)


def test_what_the_byte_tokeniser_assumes_of_every_character():
    """``sketch._folded_bytes`` and ``_SENTENCE_BYTES`` rely on these, for all of Unicode."""
    import re
    import sys

    space, word = re.compile(r"\s"), re.compile(r"\w")
    ascii_space = [c for c in map(chr, range(0x80)) if space.fullmatch(c)]
    assert ascii_space == list("\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f ")
    for code in range(sys.maxunicode + 1):
        if 0xD800 <= code <= 0xDFFF:
            continue
        char = chr(code)
        fold = char.casefold()
        assert all(c.casefold() == c for c in fold), hex(code)  # folding is done at once
        assert fold == char or not set(fold) & set("\x00\x01\x02\x03\n"), hex(code)
        assert bool(space.fullmatch(char)) == char.isspace(), hex(code)
        if code >= 0x80:
            assert bool(word.fullmatch(char)) == char.isalnum(), hex(code)


def test_batch_tokens_of_long_texts_with_many_kinds_of_characters():
    from dedupe_releases.sketch import batch_tokens, sentence_tokens, token_hashes

    texts = ["Ünïcödé ΣΑΣ straße ﬁne İi K. “Quoted.” \xa0x\u3000y – z £5 ٣²!\n" * 300, "", "a"]
    batch = batch_tokens(texts, lines=True)
    words: list[str] = []
    counts: list[int] = []
    for i, text in enumerate(texts):
        found: list[str] = []
        w, c = sentence_tokens(text, found)
        words += w
        counts += c
        assert batch.lines[i] == [line.encode() for line in found]
        assert batch.words(i) == " ".join(w).encode()
    assert batch.hashes.tolist() == token_hashes(words).tolist()
    assert batch.sentence_counts.tolist() == counts


_BREAK_ALPHABET = b"ab .!?\"')]\n\t\r\x0b\x0c\x1c\x1f\x00\x02"
_BREAK_BYTES = st.binary(max_size=60).map(
    lambda b: bytes(_BREAK_ALPHABET[c % len(_BREAK_ALPHABET)] for c in b)
)


@settings(max_examples=2000, deadline=None)
@given(_BREAK_BYTES)
def test_sentence_breaks_are_where_the_regex_matches(data):
    from dedupe_releases.sketch import _SENTENCE_BYTES, sentence_breaks

    found = sentence_breaks(np.frombuffer(data, dtype=np.uint8)).tolist()
    assert found == [m.start() for m in _SENTENCE_BYTES.finditer(data)]


def test_word_bytes_are_the_word_byte_class():
    from dedupe_releases.sketch import _IS_WORD, word_bytes

    every = np.arange(256, dtype=np.uint8)
    assert word_bytes(every)[1:-1].tolist() == _IS_WORD.tolist()
    assert _IS_WORD.tolist() == [c >= 0x80 or bool(re.fullmatch(r"\w", chr(c))) for c in range(256)]


def test_batch_tokens_take_the_fast_path_on_ordinary_texts():
    from dedupe_releases.sketch import _batch_tokens

    assert _batch_tokens("one £2 “two”.\nthree\x02four", 2, lines=True) is not None
    assert _batch_tokens("ΣΑΣ straße\xa0ﬁne\x02", 2, lines=True) is not None
    assert _batch_tokens("one\x02two\x02three", 2, lines=False) is None  # a text holds "\x02"


@pytest.mark.parametrize("sizes", [[3, 4000, 2, 3124, 3125, 3126], [8000], [1600] * 5 + [1] * 40])
def test_batch_signatures_across_minhash_blocks(sizes):
    """Texts of more shingles than one MinHash block, exactly one block, and many per block."""
    from dedupe_releases.sketch import block_shingles, minhash, shingle_hashes, tokens

    assert block_shingles(128) == 3125  # the sizes around it; 8000 spans two blocks and more
    words = [f"w{i % 997}x{i % 13}" for i in range(sum(sizes) + 4 * len(sizes))]
    texts, at = [], 0
    for size in sizes:
        texts.append(" ".join(words[at : at + size + 4]))  # size + 4 words: `size` 5-grams
        at += size + 4
    batch = sketch_texts(texts)
    for i, text in enumerate(texts):
        expected = minhash(shingle_hashes(tokens(text), 5))
        assert batch.signatures[i].tolist() == expected.tolist()


@settings(max_examples=300, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 30), min_size=1, max_size=12),
    gaps=st.lists(st.integers(0, 5), min_size=12, max_size=12),
    block=st.integers(1, 40),
    seed=st.integers(0, 2**32 - 1),
)
def test_minhash_segments_equal_the_plain_minimum(sizes, gaps, block, seed):
    """``_minhash_segments`` with small blocks (so segments span, fill and share blocks)
    against the plain definition: each segment's minimum of ``a * v + b`` (mod 2**32)."""
    from dedupe_releases import sketch

    rng = np.random.default_rng(seed)
    a, b = sketch.permutations(16, 1)
    starts, ends, at = [], [], 0
    for size, gap in zip(sizes, gaps, strict=False):
        at += gap
        starts.append(at)
        ends.append(at + size)
        at += size
    values = rng.integers(0, 2**32, at + 3, dtype=np.uint32)
    rows = np.arange(len(sizes), dtype=np.int64)[::-1].copy()
    out = np.zeros((len(sizes), 16), dtype=np.uint32)
    sketch._minhash_segments(values, np.array(starts), np.array(ends), a, b, out, rows, block)
    for k, (lo, hi) in enumerate(zip(starts, ends, strict=True)):
        with np.errstate(over="ignore"):
            plain = (a[None, :] * values[lo:hi, None] + b[None, :]).min(axis=0)
        assert out[rows[k]].tolist() == plain.tolist()


@settings(max_examples=300, deadline=None)
@given(
    lengths=st.lists(st.integers(1, 4), min_size=1, max_size=30),
    owner_steps=st.lists(st.integers(0, 2), min_size=30, max_size=30),
    many=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_distinct_runs_are_each_owners_distinct_run_hashes_sorted(lengths, owner_steps, many, seed):
    """``_distinct_runs`` against its definition: each owner's distinct run hashes, sorted,
    owner after owner, and how many each has (also with more owners than 16 bits hold)."""
    from dedupe_releases import sketch

    rng = np.random.default_rng(seed)
    hashes = rng.integers(0, 4, sum(lengths) + 2, dtype=np.uint64)  # few values: repeats
    starts = np.cumsum([0, *lengths[:-1]]).astype(np.int64)
    base = 70_000 if many else 0
    owners = base + np.cumsum(owner_steps[: len(lengths)]).astype(np.int64)
    n = int(owners[-1]) + 1
    found, counts = sketch._distinct_runs(
        sketch.run_prefix(hashes), starts, np.array(lengths, dtype=np.int64), owners, n
    )
    runs = sketch.run_hashes(hashes, starts, np.array(lengths, dtype=np.int64)).tolist()
    expected: dict[int, set[int]] = {}
    for owner, h in zip(owners.tolist(), runs, strict=True):
        expected.setdefault(owner, set()).add(h)
    assert found.tolist() == [h for o in sorted(expected) for h in sorted(expected[o])]
    assert counts.tolist() == [len(expected.get(o, ())) for o in range(n)]


_ITEM = st.binary(min_size=1, max_size=80).map(lambda b: b.replace(b" ", b"x")) | st.sampled_from(
    [
        *(b"\x00", b"\x01", b"\x02", "é£".encode(), b"a" * 7, b"b" * 8, b"c" * 9),
        *(b"g" * 16, b"h" * 17, b"i" * 64, b"j" * 65, b"\xff" * 8),  # at the steps' edges
        *(b"d" * 300, b"e" * 255, b"f" * 256),  # past the steps: one by one
    ]
)


@settings(max_examples=500, deadline=None)
@given(items=st.lists(_ITEM, max_size=30), spaces=st.lists(st.integers(1, 3), min_size=31))
def test_spaced_hashes_and_single_spaced_equal_the_plain_definitions(items, spaces):
    """The numpy token hashes and spacing of the batch tokeniser against ``word_hash`` item
    by item and ``bytes.join``, on items of any bytes (long ones too) between runs of
    spaces."""
    from dedupe_releases.sketch import single_spaced, spaced_hashes, word_hash

    data = b" " * (spaces[0] - 1)
    for item, gap in zip(items, spaces[1:], strict=False):
        data += item + b" " * gap
    data = data[: len(data) - spaces[-1] % 2]  # sometimes no space at the end
    plain = data.split(b" ")
    plain = [p for p in plain if p]
    assert spaced_hashes(data).tolist() == [word_hash(p) for p in plain]
    assert spaced_hashes(data).dtype == np.uint64
    assert single_spaced(data) == b"".join(b" " + p for p in plain)


def test_word_hash_is_the_defined_function_of_the_bytes():
    """``word_hash`` as its docstring defines it, on a few hand-made values: eight bytes
    little-endian, mixed with the length, a step per further eight bytes."""
    from dedupe_releases.sketch import _COMBINE, _fmix64_int, word_hash

    k, mask = int(_COMBINE), (1 << 64) - 1
    assert word_hash(b"a") == _fmix64_int(0x61 ^ k)
    eight = int.from_bytes(b"abcdefgh", "little")
    assert word_hash(b"abcdefgh") == _fmix64_int(eight ^ (8 * k) & mask)
    first = eight ^ (9 * k) & mask
    assert word_hash(b"abcdefghi") == _fmix64_int((_fmix64_int(first) * k) & mask ^ 0x69)
    assert len({word_hash(bytes([c]) * n) for c in range(256) for n in range(1, 9)}) == 256 * 8


def _faults_of_a_second_ingest(dump: str) -> int:
    """Minor page faults of this process's second ingest of a dump's files, batch by batch as
    a worker does (the first ingest warms up), each batch's result pickled as if sent."""
    import pickle
    import resource

    from dedupe_releases.pipeline import ingest_files

    config = Config()
    items = [(p, str(p)) for p in sorted(Path(dump).rglob("*")) if p.is_file()]
    batches = [items[i : i + 4] for i in range(0, len(items), 4)]

    def ingest_all() -> None:
        for batch in batches:
            pickle.dumps(ingest_files(batch, config), protocol=pickle.HIGHEST_PROTOCOL)

    ingest_all()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    ingest_all()
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or os.confstr("CS_GNU_LIBC_VERSION") is None,
    reason="the allocator's options are glibc's",
)
def test_a_worker_reuses_the_memory_it_frees_for_its_next_batch(generated):
    """The same work in a worker of the pool and in a fresh process with glibc's defaults:
    the worker's pages come back from its own heap, not as new pages from the kernel."""
    from dedupe_releases.parallel import Workers

    with Workers(1) as workers:
        in_worker = workers.submit(_faults_of_a_second_ingest, str(generated)).result()
    plain = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, test_streaming as t; print(t._faults_of_a_second_ingest(sys.argv[1]))",
            str(generated),
        ],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    by_default = int(plain.stdout)
    assert in_worker * 10 < by_default, (in_worker, by_default)


def _append_records(target_and_parts: tuple[int, list[bytes]]) -> list[int]:
    """In a worker: append each part to the scan's spill file; where each went."""
    from dedupe_releases import spill

    assert spill._worker_file is not None
    return [spill._worker_file.append(part) for part in target_and_parts[1]]


def test_workers_append_to_the_spill_file_they_were_given_without_overlap(tmp_path):
    """Four workers of a pool append to one anonymous file at once, as a scan's do: each
    append lands whole where it says, none overlaps another, and the folder stays empty."""
    from dedupe_releases.parallel import Workers
    from dedupe_releases.spill import write_records_here

    store = SpillStore(folder=str(tmp_path))
    store.add_packed(ingest_packed((SAMPLES / "000_61910848183f3758.txt", "a"), Config()))
    kept = store._read(0)
    prepared = []

    def prepare():
        prepared.append(store.share())
        return partial(write_records_here, prepared[0])

    parts = [[bytes([k]) * (1 + (k * 7919 + i) % 50_000) for i in range(40)] for k in range(8)]
    with Workers(4) as workers:
        workers.prepare(prepare)
        done = [workers.submit(_append_records, (0, p)) for p in parts]
        offsets = [f.result() for f in done]
        with pytest.raises(ValueError, match="started"):
            workers.prepare(prepare)
    assert len(prepared) == 1
    assert store._read(0) == kept  # still in memory: the workers write when it is full
    spans = []
    for ps, os_ in zip(parts, offsets, strict=True):
        for part, at in zip(ps, os_, strict=True):
            assert os.pread(prepared[0].fd, len(part), at) == part
            spans.append((at, at + len(part)))
    spans.sort()
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans)), "appends overlap"
    assert list(tmp_path.iterdir()) == []  # no name: nothing left behind, however it ends
    store.close()


def test_a_pool_scan_sends_record_offsets_not_texts(generated, monkeypatch):
    """Once the store's memory is full, the workers of a scan's pool write the texts into
    the store's file: what reaches the parent then holds none, and the articles read back
    equal those of a scan in this process."""
    from dedupe_releases import pipeline, spill

    monkeypatch.setattr(spill, "IN_MEMORY", 1 << 16)
    received = []
    real_add = SpillStore.add_packed

    def add(self, packed):
        received.append((len(packed.records), packed.records_at, packed.articles))
        return real_add(self, packed)

    monkeypatch.setattr(SpillStore, "add_packed", add)
    pooled = pipeline.scan([generated], Config(), jobs=2)
    inline = pipeline.scan([generated], Config(), jobs=1)
    pooled_files = [(size, at) for size, at, n in received[: len(received) // 2] if n]
    assert pooled_files[0][1] == -1 and pooled_files[0][0] > 0  # memory first
    offsets = [(size, at) for size, at in pooled_files if at >= 0]
    assert offsets and all(size == 0 for size, _ in offsets)  # then the workers write
    assert all(at == -1 for _, at, _ in received[len(received) // 2 :])
    assert pooled.clusters == inline.clusters and pooled.related == inline.related
    ids = [a.id for a in inline.store][::5]
    assert [pooled.store.article(i) for i in ids] == [inline.store.article(i) for i in ids]


def test_a_small_pool_scan_keeps_its_records_in_memory(tmp_path):
    """The workers never start on an input of a batch or two: no spill file is made."""
    from dedupe_releases import pipeline

    result = pipeline.scan([SAMPLES], Config(), jobs=2)
    assert result.store._shared is None and result.store._file is None


def test_verification_batches_name_records_in_the_shared_file(generated, monkeypatch):
    """Once the workers share the spill file, a verification batch sends where each record
    is, not its bytes; the workers read them there and reach the verdicts of a scan in this
    process. A reference outlives nothing: with the file closed it reads as an error."""
    from dedupe_releases import pipeline, spill
    from dedupe_releases.spill import read_record

    monkeypatch.setattr(spill, "IN_MEMORY", 1 << 16)
    sent = []
    real = SpillStore.verify_data

    def verify_data(self, article_id, hashes):
        data = real(self, article_id, hashes)
        sent.append((data[2], self.article(article_id)))
        return data

    monkeypatch.setattr(SpillStore, "verify_data", verify_data)
    pooled = pipeline.scan([generated], Config(), jobs=2)
    assert sent and all(isinstance(record, tuple) for record, _ in sent)
    for record, article in sent[::25]:
        assert unpack_article(read_record(record), article.source, article.ordinal) == article
    monkeypatch.setattr(SpillStore, "verify_data", real)
    inline = pipeline.scan([generated], Config(), jobs=1)
    assert pooled.clusters == inline.clusters and pooled.related == inline.related
    pooled.store.close()
    with pytest.raises(LookupError):
        read_record(sent[0][0])


def test_closing_the_pool_without_waiting_returns_before_the_workers_end():
    """What a scan does when it is done: the workers finish and exit on their own."""
    import time

    from dedupe_releases.parallel import Workers

    workers = Workers(1)
    workers.submit(time.sleep, 0).result()  # started
    running = workers.submit(time.sleep, 3)
    started = time.monotonic()
    workers.close(wait=False)
    assert time.monotonic() - started < 2
    assert wait_until(lambda: running.done(), timeout=60)
    assert wait_until(lambda: not _descendants_alive(), timeout=60)


def _descendants_alive() -> list[int]:
    import multiprocessing

    return [p.pid for p in multiprocessing.active_children()]


def test_a_pool_scan_under_its_memory_needs_no_temporary_folder(generated, monkeypatch):
    """A scan whose records fit in memory runs with workers even where no temporary file
    can be made (they then send their records), as it did before the workers wrote them."""
    import tempfile

    from dedupe_releases import pipeline

    monkeypatch.setattr(tempfile, "tempdir", str(generated / "no such folder"))
    result = pipeline.scan([generated], Config(), jobs=2)
    assert result.store._shared is None and result.store._memory is not None
    assert result.clusters == pipeline.scan([generated], Config(), jobs=1).clusters


def test_a_full_temporary_folder_stops_the_scan_with_one_line(tmp_path):
    """Records past the store's memory that cannot be written (a file-size limit stands in
    for a full disk): one stderr line naming the folder and the reason, exit 6, no output."""
    from harness import fsize_limit, run_cli

    dump = generate_archive(tmp_path / "big", 14_000, seed=5)  # about 37 MB of records
    out = tmp_path / "out.json"
    result = run_cli("scan", dump, "--jobs", "2", "-o", out, preexec_fn=fsize_limit(1 << 20))
    assert result.rc == 6, result
    assert len(result.stderr_lines) == 1, result.stderr_lines
    assert "cannot write the scan's temporary file in" in result.stderr_lines[0]
    assert "File too large" in result.stderr_lines[0]
    assert not out.exists()


_DROPPED_AT_ONCE = """
import gc
from functools import partial
from dedupe_releases.parallel import Workers
from dedupe_releases.spill import SpillStore, write_records_here
if __name__ == "__main__":
    store = SpillStore()
    workers = Workers(2)
    workers.prepare(lambda: partial(write_records_here, store.share()))
    workers.submit(abs, -1)
    workers.close(wait=False)
    store.close()
    del store
    gc.collect()
"""


def test_workers_still_starting_when_the_spill_file_is_dropped_start_cleanly(tmp_path):
    """A scan that ends at once (every file skipped) drops its store while its workers are
    still being spawned: they must find what they were given (no named lock that is gone)."""
    script = tmp_path / "dropped.py"
    script.write_text(_DROPPED_AT_ONCE, encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr

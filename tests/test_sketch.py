"""Stages 4a/4b: signatures equal datasketch's; band-key candidates equal MinHashLSH's."""

from __future__ import annotations

import random

import numpy as np
from conftest import SAMPLES
from datasketch import LeanMinHash, MinHash, MinHashLSH
from hypothesis import given, settings
from hypothesis import strategies as st

from dedupe_releases.candidates import CandidateIndex, sentence_hashes
from dedupe_releases.config import Config
from dedupe_releases.pipeline import articles_of
from dedupe_releases.read import read_source
from dedupe_releases.sketch import band_keys, minhash, shingle_hashes, tokens


def _sample_texts() -> list[str]:
    config = Config()
    texts = []
    for path in sorted(SAMPLES.iterdir()):
        texts += [a.text for a in articles_of(read_source(path, path.name, config.read), config)]
    return texts


def _mutate(text: str, rate: float, rng: random.Random) -> str:
    words = text.split()
    return " ".join(
        w if rng.random() > rate else rng.choice(["alpha", "beta", "gamma"]) for w in words
    )


def test_signature_is_bit_identical_to_datasketch() -> None:
    for text in _sample_texts():
        shingles = shingle_hashes(tokens(text), 5)
        ours = minhash(shingles, 128, 1)
        theirs = MinHash(num_perm=128, seed=1, hashfunc=int)
        theirs.update_batch(shingles.tolist())
        assert np.array_equal(ours, theirs.hashvalues)


def test_signature_round_trips_through_lean_minhash_bytes() -> None:
    shingles = shingle_hashes(tokens(_sample_texts()[0]), 5)
    m = MinHash(num_perm=128, seed=1, scheme="affine32", hashvalues=minhash(shingles))
    lean = LeanMinHash(m)
    buf = bytearray(lean.bytesize())
    lean.serialize(buf)
    assert np.array_equal(LeanMinHash.deserialize(buf).hashvalues, minhash(shingles))


def test_estimate_tracks_exact_jaccard() -> None:
    rng = random.Random(7)
    text = _sample_texts()[0]
    for rate in (0.0, 0.02, 0.05, 0.1):
        a = shingle_hashes(tokens(text), 5)
        b = shingle_hashes(tokens(_mutate(text, rate, rng)), 5)
        exact = len(np.intersect1d(a, b)) / len(np.union1d(a, b))
        estimate = float(np.mean(minhash(a) == minhash(b)))
        assert abs(estimate - exact) < 0.15  # 4 standard errors at J=0.5, num_perm=128


def test_band_key_candidates_equal_datasketch_lsh() -> None:
    rng = random.Random(3)
    texts = []
    for text in _sample_texts():
        texts.append(text)
        texts += [_mutate(text, r, rng) for r in (0.01, 0.03, 0.06, 0.1)]
    sigs = [minhash(shingle_hashes(tokens(t), 5)) for t in texts]

    index = CandidateIndex()
    for sig in sigs:
        index.add(band_keys(sig, 16), np.zeros(0, np.uint64))
    ours = set(index.lsh_pairs(len(sigs)))  # no bucket is a star: all pairs, as datasketch

    lsh = MinHashLSH(num_perm=128, params=(16, 8))
    theirs: set[tuple[int, int]] = set()
    for i, sig in enumerate(sigs):
        m = MinHash(num_perm=128, seed=1, scheme="affine32", hashvalues=sig)
        theirs.update((j, i) for j in lsh.query(m))
        lsh.insert(i, m)
    assert ours == theirs
    assert len(ours) >= 30  # the comparison has something to compare


def test_short_texts_get_one_shingle_and_empty_texts_none() -> None:
    assert len(shingle_hashes(tokens("Flood warning"), 5)) == 1
    assert len(shingle_hashes([], 5)) == 0


def test_sentence_hashes_ignore_case_and_punctuation() -> None:
    a = sentence_hashes(
        "There is nothing more important than the safety and wellbeing of children."
    )
    b = sentence_hashes(
        "'There is NOTHING more important than the safety and wellbeing of children"
    )
    assert len(a) == 1 and np.array_equal(a, b)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.integers(0, 2**64 - 1), max_size=80), st.integers(0, 5))
def test_run_hash_of_one_run_is_run_hashes(values, before):
    """The plain-Python hash of one run (titles, lines) equals the batch one, wherever the run
    stands among other hashes."""
    from dedupe_releases.sketch import run_hash, run_hashes

    padded = np.array([7] * before + values + [9], dtype=np.uint64)
    batch = run_hashes(padded, np.array([before]), np.array([len(values)]))
    assert run_hash(values) == int(batch[0])

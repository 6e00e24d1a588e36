"""Candidate pairs from shared keys, against the plain definition."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from dedupe_releases.candidates import CandidateIndex, _bucket_pairs
from dedupe_releases.spill import SpillStore


def plain_pairs(
    keys: list[int], owners: list[int], star_above: int | None, skip_above: int | None
) -> list[int]:
    buckets: dict[int, set[int]] = {}
    for key, owner in zip(keys, owners, strict=True):
        buckets.setdefault(key, set()).add(owner)
    found = []
    for members in buckets.values():
        ordered = sorted(members)
        if skip_above is not None and len(ordered) > skip_above:
            continue
        if star_above is not None and len(ordered) > star_above:
            found += [(ordered[0], other) for other in ordered[1:]]
        else:
            found += list(itertools.combinations(ordered, 2))
    return sorted(a << 32 | b for a, b in found)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 12), st.integers(0, 40)), min_size=0, max_size=200
    ),  # (key, owner): few keys, so buckets of every size up to dozens
    st.one_of(st.none(), st.integers(1, 8)),
    st.one_of(st.none(), st.integers(2, 20)),
)
def test_bucket_pairs_are_the_pairs_of_owners_sharing_a_key(items, star_above, skip_above):
    # keys spread over the whole 64-bit space, as band keys are (the top bits pick a slice)
    keys = [(k * 0x9E3779B97F4A7C15) % 2**64 for k, _ in items]
    owners = [o for _, o in items]
    found = _bucket_pairs(
        np.array(keys, dtype=np.uint64), np.array(owners, dtype=np.uint32), star_above, skip_above
    )
    assert sorted(found.tolist()) == plain_pairs(keys, owners, star_above, skip_above)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(  # per article: its band keys and its sentence hashes, from few values
        st.tuples(
            st.lists(st.integers(0, 30), max_size=6), st.lists(st.integers(0, 30), max_size=6)
        ),
        max_size=40,
    ),
    st.integers(1, 8),
    st.integers(1, 3),
)
def test_both_searches_side_by_side_give_what_each_gives_alone(articles, star_above, shared):
    index = CandidateIndex()
    spread = 0x9E3779B97F4A7C15  # over the whole 64-bit space, as real keys are
    for bands, sentences in articles:
        index.add(
            np.array([b * spread % 2**64 for b in bands], dtype=np.uint64),
            np.array(sorted({s * spread % 2**64 for s in sentences}), dtype=np.uint64),
        )
    alone = set(index.lsh_pairs(star_above)) | set(index.sentence_pairs(shared))
    assert index.pairs(star_above, shared) == alone


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(0, 6), max_size=40), st.lists(st.integers(0, 4), min_size=1, max_size=8)
)
def test_exact_copies_and_ids_in_the_spill_store(hash_keys, files):
    """Each group of articles with one content hash gives its first with each other one, and
    pair numbers read back as ``source#ordinal`` in the files' order."""
    store = SpillStore()
    store._hash_keys.frombytes(np.array(hash_keys, dtype=np.uint64).tobytes())
    groups: dict[int, list[int]] = {}
    for number, key in enumerate(hash_keys):
        groups.setdefault(key, []).append(number)
    plain = sorted(members[0] << 32 | other for members in groups.values() for other in members[1:])
    assert sorted(store._same_hash_keys().tolist()) == plain
    numbers, ids = 0, []
    for n, count in enumerate(files):  # files of ``count`` articles each, in order
        store._sources.append(f"f{n}")
        store._file_first.append(numbers)
        ids += [f"f{n}#{k}" for k in range(1, count + 1)]
        numbers += count
    assert store._ids(np.arange(numbers, dtype=np.uint64)) == ids

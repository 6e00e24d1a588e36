"""Boilerplate learning against its plain definition."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from dedupe_releases.boilerplate import learn


def plain_learn(
    lines: list[set[int]], files: list[int], titles: list[int], min_titles: int, min_files: int
) -> tuple[set[int], int]:
    """The lines found in at least ``min_files`` files under ``min_titles`` titles, and how
    many of the articles' line occurrences they are."""
    where: dict[int, list[int]] = {}
    for number, hashes in enumerate(lines):
        for h in hashes:
            where.setdefault(h, []).append(number)
    learned = {
        h
        for h, owners in where.items()
        if len({files[n] for n in owners}) >= min_files
        and len({titles[n] for n in owners}) >= min_titles
    }
    return learned, sum(len(where[h]) for h in learned)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(  # per article: its distinct lines (few values, so lines repeat), file, title
        st.tuples(st.sets(st.integers(0, 15), max_size=6), st.integers(0, 6), st.integers(0, 6)),
        max_size=60,
    ),
    st.integers(1, 6),
    st.integers(1, 6),
)
def test_learned_lines_are_those_in_enough_files_under_enough_titles(
    articles, min_titles, min_files
):
    spread = 0x9E3779B97F4A7C15  # line hashes over the whole 64-bit space, as real ones are
    lines = [{h * spread % 2**64 for h in hashes} for hashes, _, _ in articles]
    files = [f for _, f, _ in articles]
    titles = [t for _, _, t in articles]
    found = learn(
        [np.array(sorted(x), dtype=np.uint64) for x in lines], files, titles, min_titles, min_files
    )
    assert (set(found.hashes), found.masked) == plain_learn(
        lines, files, titles, min_titles, min_files
    )

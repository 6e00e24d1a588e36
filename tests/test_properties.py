"""Invariants over generated input (Hypothesis): fixing is idempotent, spans are sound,
results do not depend on file order."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from conftest import SAMPLES
from hypothesis import given, settings
from hypothesis import strategies as st

from dedupe_releases.fix import fix_blocks, fix_line
from dedupe_releases.pipeline import scan
from dedupe_releases.records import FixedText
from dedupe_releases.split import split_text

# Text that looks like scraped pages: words, punctuation, quotes, brackets, odd spaces.
PIECES = st.sampled_from(
    [
        "Press release: ",
        "News story: ",
        "[",
        "](#)",
        "\n",
        "\n\n",
        "’",
        "“",
        "”",
        "&amp;",
        "&#163;",
        "Â£",
        "â€™",
        "\u00a0",
        "\u200b",
        "\u00ad",
        "\r\n",
        " ",
        ".",
        "the",
        "Minister",
        "million",
        "of",
        "and",
        "£17",
        "\x1b[31m",
        "\u202e",
        "é",
        "\t",
        "-",
        "a",
        "B",
    ]
)
SCRAPED = st.lists(st.one_of(PIECES, st.text(max_size=5)), max_size=60).map("".join)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(SCRAPED)
def test_fix_line_is_idempotent(text: str) -> None:
    once, _ = fix_line(text.replace("\n", " "))
    assert fix_line(once)[0] == once


@settings(max_examples=300, deadline=None, derandomize=True)
@given(SCRAPED)
def test_fixing_a_whole_text_twice_changes_nothing(text: str) -> None:
    blocks, _ = fix_blocks(text)
    once = "\n\n".join(b.text for b in blocks)
    again, _ = fix_blocks(once)
    assert "\n\n".join(b.text for b in again) == once


@settings(max_examples=300, deadline=None, derandomize=True)
@given(SCRAPED)
def test_article_spans_are_ordered_and_inside_the_file(text: str) -> None:
    blocks, fixes = fix_blocks(text)
    # lines as str.splitlines counts them (every Unicode line break), plus a last partial line
    n_lines = len((text + "x").splitlines())
    articles = split_text(FixedText("f", "0", "utf-8", blocks, fixes))
    previous_end = 0
    for i, a in enumerate(articles, start=1):
        assert a.ordinal == i and a.id == f"f#{i}"
        assert previous_end < a.lines[0] <= a.lines[1]
        previous_end = a.lines[1]
    assert previous_end <= n_lines


def _signature(result) -> list[tuple[str, tuple[str, ...]]]:  # type: ignore[no-untyped-def]
    return [(c.canonical, c.members) for c in result.clusters]


NAMES = sorted(p.name for p in SAMPLES.iterdir())


@settings(max_examples=5, deadline=None, derandomize=True)
@given(st.permutations(NAMES))
def test_clusters_do_not_depend_on_file_creation_order(names: list[str]) -> None:
    expected = _signature(scan([SAMPLES]))
    with tempfile.TemporaryDirectory() as tmp:
        dump = Path(tmp)
        for name in names:  # created in this order: the walk must not care
            shutil.copy(SAMPLES / name, dump / name)
        assert _signature(scan([dump])) == expected

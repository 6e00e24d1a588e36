"""Verification's fast paths give exactly what their plain definitions give."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from dedupe_releases.facts import _FACT, _fact, find_facts

# Pieces that make facts, and near misses of facts, likely in generated text: currency signs,
# months (cased, abbreviated, dotted, and a long s that matches "s" case-insensitively),
# scales, digits with separators, and every kind of space, control and typographic mark.
_PIECES = (
    *("£", "$", "€", "£ ", "$\u00a0", "%", " per cent", "percent", "pc", "st ", "th,"),
    *(
        "January",
        "September.",
        "september",
        "sept. ",
        "SEP",
        "ſep",
        "dec.",
        "Mar",
        "may",
        "Jun",
        "july ",
        "OCT",
    ),
    *(" million", "bn", "m", "k ", " thousand", "mn."),
    *("1", "09", "2018", "1999", "31", "1,500", "59,898.5", "12.5", "0.", ",3", "-07-", "-12-"),
    *(" ", "  ", "\n", "\n\n", "\t", "\u3000", "\u2009", "\x1c", "\x85", "\u2028", "\x00"),
    *("“", "”", "’", "â€™", "Ã©", "Â£", "é", "ß", "İ", "ﬁ", "_", ":", "-", ".", ",", "(", ")"),
    *("٣", "１", "²", "word", "Minister", "x2", "a1b"),
)
_TEXT = st.lists(st.sampled_from(_PIECES) | st.text(max_size=4), max_size=40).map("".join)


def plain_facts(text: str) -> list[tuple[object, int, int]]:
    """``find_facts`` by its definition: the fact pattern tried at every position."""
    return [(_fact(m), m.start(), m.end()) for m in _FACT.finditer(text)]


@settings(max_examples=3000)
@given(_TEXT)
def test_find_facts_is_the_pattern_over_the_whole_text(text: str) -> None:
    assert find_facts(text) == plain_facts(text)


def test_find_facts_examples() -> None:
    text = "On March \u3000 2, 2019 (sept.\n9 2020) we paid $ 5, £1,500.5bn and 7% x2 a1 "
    assert [(f.kind, f.value, f.shown) for f, _, _ in find_facts(text)] == [
        ("date", "2019-03-02", "March \u3000 2, 2019"),
        ("date", "2020-09-09", "sept.\n9 2020"),
        ("money", "$5", "$ 5"),
        ("money", "£1500500000000", "£1,500.5bn"),
        ("percent", "7%", "7%"),
    ]
    assert find_facts(text) == plain_facts(text)
    longest = "SEPTEMBER.\u3000\n 2018, September. 9 2018, $\u00a012"
    assert [f.shown for f, _, _ in find_facts(longest)] == [
        "SEPTEMBER.\u3000\n 2018",
        "September. 9 2018",
        "$\u00a012",
    ]
    for text in ("", "no digits at all", "x2 y3", "\x00 2018-07-09 \x00", "٣ July 2018", longest):
        assert find_facts(text) == plain_facts(text)

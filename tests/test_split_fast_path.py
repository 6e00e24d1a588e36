"""The split stage's shortcuts give what their plain definitions give."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dedupe_releases.config import SplitConfig
from dedupe_releases.fix import _ends_open, _is_prose
from dedupe_releases.split import _HEADER, _KINDS, CONTENT_TYPES, parse_header

_PIECES = (
    *CONTENT_TYPES,
    "PRESS RELEASE",
    "news STORY",
    "Speech",
    "ſpeech",  # long s: the same letter as "s" to a case-insensitive match
    "\u212a",  # Kelvin sign, likewise "k"
    ":",
    " : ",
    "：",  # full-width colon: not a colon to the header pattern
    "\n",
    "\r",
    "\x85",
    "\u2028",
    " ",
    "\t",
    "\u00a0",
    "[Title](#)",
    "PM meets Chancellor Kurz of",
    "Austria: 9 July 2018",
    "It’s “fine”",
    "Ã©",
    "12:30",
    "word " * 31,
)
_TEXT = st.lists(
    st.one_of(st.sampled_from(_PIECES), st.text(alphabet="aZ09 .:\n\t’é\x00", max_size=8)),
    max_size=8,
).map("".join)


def plain_parse_header(text: str, config: SplitConfig) -> tuple[str, str] | None:
    """``parse_header`` as first written: the pattern on every one-line paragraph."""
    if "\n" in text:
        return None
    m = _HEADER.match(text)
    if not m:
        return None
    title = m.group("title").strip()
    if len(title.split()) > config.max_title_words:
        return None
    return _KINDS[m.group("kind").casefold()], title


@settings(max_examples=4000, deadline=None)
@given(_TEXT)
def test_parse_header_equals_the_plain_match(text):
    for config in (SplitConfig(), SplitConfig(max_title_words=3)):
        assert parse_header(text, config) == plain_parse_header(text, config)


def plain_is_prose(text: str) -> bool:
    return "\n" not in text and len(text.split()) >= 8 and not _ends_open(text)


@settings(max_examples=4000, deadline=None)
@given(_TEXT)
def test_is_prose_equals_the_plain_word_count(text):
    assert _is_prose(text) == plain_is_prose(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Press release: PM meets Chancellor", ("Press release", "PM meets Chancellor")),
        ("news story :Flood warning", ("News story", "Flood warning")),
        ("Press release PM meets Chancellor", None),
        ("Press release：PM meets Chancellor", None),
        ("Speech: ", None),
        ("", None),
    ],
)
def test_parse_header_examples(text, expected):
    assert parse_header(text) == expected == plain_parse_header(text, SplitConfig())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("one two three four five six seven eight.", True),
        ("one two three four five six seven.", False),
        ("one two three four five six seven eight   ", False),
        ("one two three four five six seven eight nine", False),
        ("one two three four five six seven\teight!", True),
        ("one two three four\nfive six seven eight.", False),
    ],
)
def test_is_prose_examples(text, expected):
    assert _is_prose(text) is expected is plain_is_prose(text)

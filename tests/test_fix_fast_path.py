"""The fix fast path gives exactly what ftfy and every per-line fix give on every line."""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections import Counter
from pathlib import Path
from unittest import mock

import ftfy
import ftfy.badness
import ftfy.fixes
import pytest
from conftest import SAMPLES
from harness import generate_archive
from hypothesis import given, settings
from hypothesis import strategies as st

from dedupe_releases import quiet
from dedupe_releases.config import FixConfig
from dedupe_releases.fix import (
    _FTFY,
    PLAIN_CHARS,
    _as_fixes,
    _fix_line,
    fix_blocks,
    ftfy_fix,
    join_broken_paragraphs,
)
from dedupe_releases.quiet import LINE_BREAKS as _LINE_BREAKS
from dedupe_releases.quiet import QUIET_CHARS, normalise_breaks, quiet_lines, uncurl_quotes
from dedupe_releases.quiet import QUIET_RISK as _QUIET_RISK
from dedupe_releases.records import Block, Fix

# Characters that exercise every branch: quiet and plain typography, mojibake pieces, C1 and
# C0 controls, ligatures, full-width forms, combining marks, odd spaces, entities, brackets.
_ALPHABET = (
    "aZ09 .,;:'\"?!-_&[]()#\t"
    + QUIET_CHARS
    + "éÉñßÃÂâ€™œ©®°·»«¢¥¤¦¨¬¯´¸ºª×÷µ¶§"
    + "\x80\x85\x92\x93\x9d\x01\x1b\x7f"
    + "ﬁﬂＡ１\u3000\u0301\u0308\u00a0\u2009\u200b\u00ad\u2028\ufeff"
    + "ВГРСвЂΒΓ√≈‚"
)
_TEXT = st.text(alphabet=_ALPHABET, max_size=40)


def reference_blocks(text: str, config: FixConfig) -> tuple[tuple[Block, ...], tuple[Fix, ...]]:
    """``fix_blocks`` as first written: every line through the full per-line fix."""
    counts: Counter[str] = Counter()
    raw: list[Block] = []
    lines: list[str] = []
    block_fixes: Counter[str] = Counter()
    first = 0
    for number, line in enumerate(_LINE_BREAKS.sub("\n", text).split("\n"), start=1):
        fixed, found = _fix_line(line, config)
        line_fixes = found or Counter()
        counts.update(line_fixes)
        if fixed:
            if not lines:
                first = number
            lines.append(fixed)
            block_fixes.update(line_fixes)
        elif lines:
            raw.append(Block("\n".join(lines), first, number - 1, _as_fixes(block_fixes)))
            lines, block_fixes = [], Counter()
    if lines:
        raw.append(Block("\n".join(lines), first, first + len(lines) - 1, _as_fixes(block_fixes)))
    joined = list(join_broken_paragraphs(raw))
    if len(joined) != len(raw):
        counts["paragraph_join"] += len(raw) - len(joined)
    return tuple(joined), _as_fixes(counts)


@settings(max_examples=3000, deadline=None)
@given(_TEXT)
def test_ftfy_fix_equals_ftfy_on_any_line(line):
    line = line.replace("\n", " ")
    assert ftfy_fix(line) == ftfy.fix_text(line, _FTFY)


@settings(max_examples=1000, deadline=None)
@given(st.lists(_TEXT, max_size=8))
def test_fix_blocks_equals_the_line_by_line_fix(lines):
    text = "\n".join(lines)
    for config in (FixConfig(), FixConfig(ftfy=False)):
        assert fix_blocks(text, config) == reference_blocks(text, config)


@pytest.mark.parametrize(
    "text",
    [
        " lead\ntrail \n\nok",
        "a\n b\n\nc ",
        "x  y\n[a](#)\n&amp;",
        "“£5” ‘x’\n”£ and £“ and ££",
        "It’s the Government\u00e2\u20ac\u2122s plan\n\nnext",
        "",
        "\n\n\n",
        "\x85 \n 0",
        " \n \n \n",
        "an entity&#10;that breaks the line\n\n“next” one\n&#10;\n\nlast",
        "“quiet” line\n“loud”  line\n\n\u00e2\u20ac\u2122 and “more”",
    ],
)
def test_fix_blocks_edge_cases(text):
    for config in (FixConfig(), FixConfig(ftfy=False)):
        assert fix_blocks(text, config) == reference_blocks(text, config)


def test_quiet_text_is_bad_only_where_the_risk_pattern_says():
    """Exhaustive over short strings: the claim behind skipping ftfy's ``is_bad`` on quiet text."""
    alphabet = QUIET_CHARS + "aZ1 .'\"_,?"
    for n in range(1, 5):
        for chars in itertools.product(alphabet, repeat=n):
            s = "".join(chars)
            if ftfy.badness.is_bad(s):
                assert _QUIET_RISK.search(s), s


def test_plain_characters_never_change_under_nfc_or_ftfy_fixers():
    assert set(QUIET_CHARS) <= set(PLAIN_CHARS)
    plain = [c for c in PLAIN_CHARS if not c.isascii()] + list("aZ ")
    for a, b in itertools.product(plain, repeat=2):
        assert unicodedata.normalize("NFC", a + b) == a + b


def test_samples_fix_the_same_as_the_full_fix():
    for path in sorted(SAMPLES.iterdir()):
        text = path.read_text(encoding="utf-8")
        assert fix_blocks(text) == reference_blocks(text, FixConfig()), path.name


def test_generated_damage_fixes_the_same_as_the_full_fix(tmp_path: Path):
    generate_archive(tmp_path, 600, seed=7, dup_rate=0.5, encodings=True)
    from dedupe_releases.config import ReadConfig
    from dedupe_releases.read import read_sources
    from dedupe_releases.records import SourceText

    changed = lines = 0
    for source in read_sources([tmp_path / "dump"], ReadConfig()):
        assert isinstance(source, SourceText)
        assert fix_blocks(source.text) == reference_blocks(source.text, FixConfig())
        for line in _LINE_BREAKS.sub("\n", source.text).split("\n"):
            lines += 1
            fixed = ftfy_fix(line)
            assert fixed == ftfy.fix_text(line, _FTFY)
            changed += fixed != line
    assert lines > 1000 and changed > 100  # the corpus did exercise the repairs


# Whole pieces the per-character alphabet rarely forms: link brackets, headers, split titles,
# entities, every line break, mojibake of quiet characters, the probe's stand-ins.
_PIECES = (
    "[Title](#)",
    "[[a](#)](https://x.example/y)",
    "Press release: ",
    "News story: PM meets Chancellor Kurz of",
    "Austria: 9 July 2018",
    "&amp;",
    "&pound;",
    "\r\n",
    "\r",
    "\n\n",
    "\x0b",
    "\x0c",
    "\x1c",
    "\x85",
    "\u2028",
    "\u2029",
    "\u00e2\u20ac\u2122",
    "\u00e2\u20ac\u0153",
    "\u00c2\u00a3",
    "\u201d\u00a3",
    "\u20ac\u2018",
    "{|}",
    "{{",
    "}|",
    "\u02bc\u201a\u201b\u201e\u201f",
    "  ",
    " ",
    "\t",
    "12:30",
)
_RICH_TEXT = st.lists(
    st.one_of(st.text(alphabet=_ALPHABET + "{}|\r\n", max_size=12), st.sampled_from(_PIECES)),
    max_size=16,
).map("".join)


_WIDER_RISK = re.compile("[\u00a3\u20ac\u201d\u201c\u2018]{2}")


def plain_quiet(line: str) -> bool:
    """The definition ``quiet_lines`` stands in for (the regexes it replaced)."""
    return not (
        re.search(r"[^\x20-\x25\x27-\x5a\x5c-\x7e" + QUIET_CHARS + "]", line)
        or _QUIET_RISK.search(line)
        or "  " in line
        or line.startswith(" ")
        or line.endswith(" ")
    )


@settings(max_examples=3000, deadline=None)
@given(_RICH_TEXT)
def test_quiet_lines_are_plain_quiet_lines(text):
    text = normalise_breaks(text)
    lines = text.split("\n")
    quiet = quiet_lines(text)
    assert len(quiet) == len(lines)
    for line, is_quiet in zip(lines, quiet, strict=True):
        if is_quiet:
            assert plain_quiet(line), line
        elif "{" not in line:  # the stand-ins only ever add lines, and
            # any pair of quotes and pound or euro signs is taken for a QUIET_RISK match
            assert not plain_quiet(line) or _WIDER_RISK.search(line), line


@settings(max_examples=1000, deadline=None)
@given(_RICH_TEXT, st.integers(1, 8))
def test_quiet_lines_is_the_same_in_pieces_of_any_size(text, size):
    """A big file is looked at a piece at a time: a pair of characters across a cut, or a
    line's break at one, marks the same lines as in one piece."""
    text = normalise_breaks(text)
    whole = quiet_lines(text)
    with mock.patch.object(quiet, "_CHUNK", size):
        assert quiet_lines(text) == whole


@settings(max_examples=3000, deadline=None)
@given(_RICH_TEXT)
def test_a_quiet_line_only_has_its_quotes_uncurled(text):
    text = normalise_breaks(text)
    for line, is_quiet in zip(text.split("\n"), quiet_lines(text), strict=True):
        if is_quiet:
            fixed, fixes = _fix_line(line, FixConfig())
            assert fixed == ftfy.fixes.uncurl_quotes(line)
            assert fixes == (Counter({"ftfy": 1}) if fixed != line else None)
            assert _fix_line(line, FixConfig(ftfy=False)) == (line, None)


@settings(max_examples=3000, deadline=None)
@given(_RICH_TEXT)
def test_normalise_breaks_and_uncurl_quotes_equal_their_regexes(text):
    assert normalise_breaks(text) == _LINE_BREAKS.sub("\n", text)
    assert uncurl_quotes(text) == ftfy.fixes.uncurl_quotes(text)


@settings(max_examples=1500, deadline=None)
@given(_RICH_TEXT)
def test_fix_blocks_equals_the_line_by_line_fix_on_rich_text(text):
    for config in (FixConfig(), FixConfig(ftfy=False)):
        assert fix_blocks(text, config) == reference_blocks(text, config)


@pytest.mark.parametrize(
    ("text", "quiet"),
    [
        ("", [True]),
        ("It’s “fine” – £5…", [True]),
        ("”£5\n£“x\n€‘y", [False, False, False]),
        ("{{ is not risky but checked\nplain", [False, True]),
        ("“‘nested’” is not risky but checked", [False]),
        ("a &amp; b\n[Title](#)\n\x7f\ttab", [False, False, False]),
        ("é\nÃ©\n ok\nok \nok  ok", [False, False, False, False, False]),
    ],
)
def test_quiet_lines_examples(text, quiet):
    assert quiet_lines(text) == quiet


def test_normalise_breaks_examples():
    assert normalise_breaks("a\r\r\nb") == "a\n\nb"
    assert normalise_breaks("a\r\n\rb\x85c") == "a\n\nb\nc"
    plain = "no breaks but newlines\n"
    assert normalise_breaks(plain) is plain

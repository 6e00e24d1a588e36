"""The fix fast path gives exactly what ftfy and every per-line fix give on every line."""

from __future__ import annotations

import itertools
import unicodedata
from collections import Counter
from pathlib import Path

import ftfy
import ftfy.badness
import pytest
from conftest import SAMPLES
from harness import generate_archive
from hypothesis import given, settings
from hypothesis import strategies as st

from dedupe_releases.config import FixConfig
from dedupe_releases.fix import (
    _FTFY,
    _LINE_BREAKS,
    _QUIET_RISK,
    PLAIN_CHARS,
    QUIET_CHARS,
    _as_fixes,
    _fix_line,
    fix_blocks,
    ftfy_fix,
    join_broken_paragraphs,
)
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

"""Whole-file passes that let ``fix.fix_blocks`` skip the per-line fix on quiet lines.

Most lines of an English archive are ASCII plus a few typographic characters
(:data:`QUIET_CHARS`) with nothing for any fixer to do but uncurl quotes. These functions
find such lines, normalise line breaks and uncurl quotes with a few C-level string scans
per file instead of a regular expression over every character. Each one is an exact
stand-in for a plain definition, named in its docstring and compared with it in
``tests/test_fix_fast_path.py``.
"""

from __future__ import annotations

import re
from itertools import repeat

#: The typographic characters of most English archive text. Of ftfy's mojibake patterns
#: (``ftfy.badness.BADNESS_RE``) a text made of these and ASCII can match only where a
#: closing quote or currency sign is followed by a currency sign or opening quote.
QUIET_CHARS = "\u2018\u2019\u201c\u201d\u2013\u2014\u2026\u00a3\u20ac"
QUIET_RISK = re.compile("[\u00a3\u20ac\u201d][\u00a3\u20ac\u201c\u2018]")

# Every line break Unicode knows, so line numbers agree with what `str.splitlines` shows
# ("\r\n" as one). The plain form r"\r\n|[\r\x0b...]", written to start with one character
# class, which the regex engine scans for about 3x faster (the same matches, tested).
LINE_BREAKS = re.compile(r"[\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029](?:(?<=\r)\n)?")
_BREAK_CHARS = "\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"

# The classes of ftfy.fixes.uncurl_quotes: DOUBLE_QUOTE_RE [\u201c-\u201f] and
# SINGLE_QUOTE_RE [\u02bc\u2018-\u201b].
_DOUBLE_QUOTES = "\u201c\u201d\u201e\u201f"
_SINGLE_QUOTES = "\u02bc\u2018\u2019\u201a\u201b"

# The probe: the text with each quiet character replaced by a printable ASCII stand-in, and
# "&" and "[" (an entity, a link) and "?" by a character that marks the line. Encoded as
# ASCII with "?" for every other character, a line of the probe then holds nothing but
# printable ASCII other than "?" exactly when the original line is made of quiet characters
# and has no entity or link. The stand-in "{" for the pound and euro signs and the quotes
# that QUIET_RISK looks for shows where it can match ("{{"); "a" stands for the rest.
_PROBE = (
    ("?", "a"),
    ("&", "\x00"),
    ("[", "\x00"),
    ("\u00a3", "{"),
    ("\u20ac", "{"),
    ("\u201d", "{"),
    ("\u201c", "{"),
    ("\u2018", "{"),
    ("\u2019", "a"),
    ("\u2013", "a"),
    ("\u2014", "a"),
    ("\u2026", "a"),
)
# What marks a line of the encoded probe as not quiet ("?", C0 controls but "\n", DEL) to 0.
_MARKED = bytes([*range(0x00, 0x0A), *range(0x0B, 0x20), 0x3F, 0x7F])
_MARK = bytes.maketrans(_MARKED, bytes(len(_MARKED)))
# Where QUIET_RISK can match, in the probe. A "{" of the text, or a pair of those
# characters that QUIET_RISK does not name (two quotes in a row), only adds lines to check.
_RISK = b"{{"


def normalise_breaks(text: str) -> str:
    """``LINE_BREAKS.sub("\\n", text)``: every line break as "\\n".

    Exact because the regex matches nothing in a text that holds none of the characters its
    matches start with; looking for each of them is a fast scan, and text with only "\\n"
    breaks (nearly every file) is returned as it is.

    >>> normalise_breaks("a\\r\\nb\\rc\\u2028d")
    'a\\nb\\nc\\nd'
    """
    for c in _BREAK_CHARS:
        if c in text:
            return LINE_BREAKS.sub("\n", text)
    return text


def uncurl_quotes(text: str) -> str:
    """``ftfy.fixes.uncurl_quotes``: straight quotes for curly ones, by ``str.replace``.

    ftfy substitutes two character classes; replacing each member of them in turn gives the
    same text (the classes do not overlap and a replacement never makes a new curly quote),
    about 20x faster on a file with non-ASCII text.

    >>> uncurl_quotes("\\u201chere\\u2019s a test\\u201d")
    '"here\\'s a test"'
    """
    for c in _DOUBLE_QUOTES:
        text = text.replace(c, '"')
    for c in _SINGLE_QUOTES:
        text = text.replace(c, "'")
    return text


def quiet_lines(text: str) -> list[bool]:
    """For each line of ``text`` (split at "\\n"): True if it is quiet, else False.

    A quiet line is made of printable ASCII and :data:`QUIET_CHARS`, holds no "&", "[",
    QUIET_RISK match or two spaces in a row, and neither starts nor ends with a space. On
    such a line every fix but quote uncurling is a no-op (see ``fix.ftfy_fix``). Lines that
    are quiet may be reported as not quiet (a "{" of the text next to a pound sign or quote,
    or two quotes in a row that QUIET_RISK does not name); that costs only time, as they take
    the full per-line fix.

    >>> quiet_lines("It\\u2019s \\u00a35\\n  two\\n&amp;\\n\\u00e2\\u20ac\\u2122\\n")
    [True, False, False, False, True]
    """
    probe = text
    for c, stand_in in _PROBE:
        probe = probe.replace(c, stand_in)
    data = probe.encode("ascii", "replace")  # one byte a character, "?" if not ASCII
    found: list[int] = []  # positions, in lines that are not quiet
    _find_lines(data, data.translate(_MARK), b"\x00", found)
    _find_lines(data, data, _RISK, found)
    _find_lines(data, data, b"  ", found)
    lines = data.split(b"\n")
    quiet = [True] * len(lines)
    found.sort()
    number = start = 0
    for at in found:
        number += data.count(b"\n", start, at)
        start = at
        quiet[number] = False
    # A space to strip: one C-level pass over the lines, and a loop only if there is one.
    spaces = repeat(b" ")
    if any(map(bytes.startswith, lines, spaces)) or any(map(bytes.endswith, lines, spaces)):
        for number, line in enumerate(lines):
            if line[:1] == b" " or line[-1:] == b" ":
                quiet[number] = False
    return quiet


def _find_lines(data: bytes, haystack: bytes, needle: bytes, found: list[int]) -> None:
    """Add where ``needle`` is in ``haystack``, once per line of ``data`` (same length)."""
    pos = haystack.find(needle)
    while pos >= 0:
        found.append(pos)
        end = data.find(b"\n", pos)
        pos = haystack.find(needle, end) if end >= 0 else -1

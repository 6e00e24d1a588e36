"""Whole-file passes that let ``fix.fix_blocks`` skip the per-line fix on quiet lines.

Most lines of an English archive are ASCII plus a few typographic characters
(:data:`QUIET_CHARS`) with nothing for any fixer to do but uncurl quotes. These functions
find such lines, normalise line breaks and uncurl quotes with a few C-level string scans and
numpy steps per file instead of a regular expression over every character. Each one is an
exact stand-in for a plain definition, named in its docstring and compared with it in
``tests/test_fix_fast_path.py``.
"""

from __future__ import annotations

import re

import numpy as np
import numpy.typing as npt

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
# What marks a line of the encoded probe as not quiet: "?", C0 controls but "\n", DEL.
_QUESTION, _DELETE = ord("?"), 0x7F
# Where QUIET_RISK can match, in the probe: "{{". A "{" of the text, or a pair of those
# characters that QUIET_RISK does not name (two quotes in a row), only adds lines to check.
_BRACE, _SPACE, _NEWLINE = ord("{"), ord(" "), ord("\n")
#: Bytes of the probe looked at in one numpy step of ``quiet_lines``.
_CHUNK = 1 << 20


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
    data = np.frombuffer(probe.encode("ascii", "replace"), dtype=np.uint8)  # "?" if not ASCII
    breaks: list[npt.NDArray[np.intp]] = []  # where the line breaks are, piece by piece
    marks: list[npt.NDArray[np.intp]] = []  # positions in lines that are not quiet
    for start in range(0, len(data), _CHUNK):
        # The positions from ``start`` on that mark their line, found with numpy a piece at
        # a time (so the temporaries stay small), each pair seen from its first byte.
        here = data[start : start + _CHUNK]
        after = data[start + 1 : start + _CHUNK + 1]  # the byte after each, but the last's
        pair = len(after)
        space = here == _SPACE
        newline = here == _NEWLINE
        # "?" (not ASCII), "&" and "[" (now "\x00"), the other controls but "\n", and DEL
        marked = ((here < 0x20) ^ newline) | (here == _QUESTION) | (here == _DELETE)
        after_space = after == _SPACE
        marked[:pair] |= (
            (space[:pair] & after_space)  # two spaces in a row
            | ((here[:pair] == _BRACE) & (after == _BRACE))  # where QUIET_RISK can match
            | (space[:pair] & (after == _NEWLINE))  # a space at a line's end
        )
        breaks.append(np.flatnonzero(newline) + start)
        marks.append(np.flatnonzero(marked) + start)
        marks.append(np.flatnonzero(newline[:pair] & after_space) + start + 1)  # a line's start
    lines = np.concatenate(breaks) if breaks else np.zeros(0, dtype=np.intp)
    quiet = np.ones(len(lines) + 1, dtype=np.bool_)
    if marks:  # the breaks before a position: its line
        quiet[np.searchsorted(lines, np.concatenate(marks))] = False
    if len(data) and data[0] == _SPACE:
        quiet[0] = False
    if len(data) and data[-1] == _SPACE:
        quiet[-1] = False
    return quiet.tolist()

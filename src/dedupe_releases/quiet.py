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

# The probe: the text with each quiet character replaced by a printable ASCII stand-in and
# "&" and "[" (an entity, a link) by a control character, so that a line of the probe is
# ASCII and printable exactly when the original line is made of quiet characters and has no
# entity or link. The stand-ins keep the two sides of QUIET_RISK apart: "{" for a pound or
# euro sign (either side), "}" for a closing double quote (first side only), "|" for an
# opening quote (second side only), "a" for the rest.
_PROBE = (
    ("\u00a3", "{"),
    ("\u20ac", "{"),
    ("\u201d", "}"),
    ("\u201c", "|"),
    ("\u2018", "|"),
    ("\u2019", "a"),
    ("\u2013", "a"),
    ("\u2014", "a"),
    ("\u2026", "a"),
    ("&", "\x00"),
    ("[", "\x00"),
)
# Where QUIET_RISK can match, in the probe: (pound/euro or closing quote) then (pound/euro or
# opening quote). A "{", "}" or "|" that was in the text can only add a line to check.
_PROBE_RISKS = ("{{", "{|", "}{", "}|")


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
    are quiet may be reported as not quiet (a "{", "}" or "|" next to each other or to a
    typographic character); that costs only time, as they take the full per-line fix.

    >>> quiet_lines("It\\u2019s \\u00a35\\n  two\\n&amp;\\n\\u00e2\\u20ac\\u2122\\n")
    [True, False, False, False, True]
    """
    probe = text
    for c, stand_in in _PROBE:
        probe = probe.replace(c, stand_in)
    risky: set[int] = set()
    for pair in _PROBE_RISKS:
        pos = probe.find(pair)
        while pos >= 0:
            risky.add(probe.count("\n", 0, pos))
            pos = probe.find(pair, pos + 1)
    # Substrings are stored in the narrowest form their characters allow, so ``isascii``
    # of a line is a flag test; ``isprintable`` on ASCII rejects exactly the C0 controls,
    # DEL and the "\x00" stand-ins.
    quiet = [
        line.isascii()
        and line.isprintable()
        and "  " not in line
        and line[:1] != " "
        and line[-1:] != " "
        for line in probe.split("\n")
    ]
    for number in risky:
        quiet[number] = False
    return quiet

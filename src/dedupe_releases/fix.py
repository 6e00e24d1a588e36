"""Stage 2: repair a decoded file's text, keeping each paragraph's original line span.

Takes a ``SourceText``; returns a ``FixedText`` whose blocks (paragraphs) carry the lines
they came from, plus the repairs made. Every fixer is a pure ``str -> str`` function, and
fixing fixed text changes nothing. Never decides where articles start (that is ``split``).
"""

from __future__ import annotations

import html
import itertools
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence

import ftfy
import ftfy.badness
import ftfy.fixes

from dedupe_releases.config import FixConfig
from dedupe_releases.quiet import (
    QUIET_CHARS,
    QUIET_RISK,
    normalise_breaks,
    quiet_lines,
    uncurl_quotes,
)
from dedupe_releases.records import Block, Fix, FixedText, SourceText, merge_fixes

# ftfy does mojibake, quotes, control characters, terminal escapes, width and ligatures.
# HTML entities are ours (below): ftfy's "auto" mode skips any text holding a "<".
_FTFY = ftfy.TextFixerConfig(unescape_html=False, fix_line_breaks=False, explain=False)

# Entities need their semicolon: html.unescape alone turns "Marks &notes" into "Marks ¬es".
_ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
_SPACES = re.compile(r"[\u00a0\u2000-\u200a\u202f\u205f\u3000\t]")
# Zero-width and soft characters: soft hyphen, ZWSP, word joiner, BOM, and the bidi
# embedding/override/isolate controls (they reorder text on screen and hide nothing useful).
_INVISIBLE = re.compile(r"[\u00ad\u200b\u200e\u200f\u202a-\u202e\u2060\u2066-\u2069\ufeff]")
_MULTISPACE = re.compile(r" {2,}")
# [text](target): markdown links left by the scraper; the target is "#" or a URL.
_LINK = re.compile(r"\[([^\[\]\n]*)\]\(([^()\s]*)\)")
_FINAL_PUNCT = frozenset(".!?:;\"')]”’…")


def _plain_chars() -> str:
    """Characters on which every ftfy step but mojibake repair and quote uncurling is a no-op.

    Printable ASCII, tab, Latin-1, Latin Extended-A, general punctuation and currency signs,
    each kept only if ftfy's ligature, width, control-character and C1 fixers and NFC leave
    it alone and it never combines with a neighbour (no combining marks in the set).
    """
    import unicodedata

    candidates = itertools.chain(
        [0x09],
        range(0x20, 0x7F),
        range(0xA0, 0x180),
        range(0x2010, 0x2028),
        range(0x2030, 0x205F),
        range(0x20A0, 0x20C1),
        [0x2122],
    )
    kept = []
    for code in candidates:
        c = chr(code)
        if (
            ftfy.fixes.fix_latin_ligatures(c) == c
            and ftfy.fixes.fix_character_width(c) == c
            and ftfy.fixes.remove_control_chars(c) == c
            and ftfy.fixes.remove_terminal_escapes(c) == c
            and unicodedata.normalize("NFC", c) == c
            and unicodedata.combining(c) == 0
            and unicodedata.category(c) not in {"Mn", "Mc", "Me", "Cc", "Cf", "Cs", "Co", "Cn"}
        ):
            kept.append(c)
    return "".join(kept)


PLAIN_CHARS = _plain_chars()
_NOT_PLAIN = re.compile("[^" + re.escape(PLAIN_CHARS) + "]")
_NOT_QUIET = re.compile(r"[^\t\x20-\x7e" + QUIET_CHARS + "]")
_FTFY_SEGMENT = _FTFY.max_decode_length
# What the cheap per-line fixes look for; a line without any of these skips them.
_CHEAP_FIXES = re.compile(f"{_SPACES.pattern}|{_INVISIBLE.pattern}|  |\\[")


def _looks_bad(line: str) -> bool:
    """ftfy's mojibake test (``is_bad``), answered without it for quiet text."""
    if _NOT_QUIET.search(line) is None:
        return QUIET_RISK.search(line) is not None and ftfy.badness.is_bad(line)
    return ftfy.badness.is_bad(line)


def ftfy_fix(line: str) -> str:
    """``ftfy.fix_text(line, _FTFY)``, skipping ftfy where it provably changes nothing else.

    ASCII without control characters is returned as it is. On a line of :data:`PLAIN_CHARS`
    that ftfy's own mojibake check passes, ftfy's only possible change is uncurling quotes,
    so that is applied directly (ftfy runs its fixers to a fixed point: after uncurling, the
    one step left to check is the mojibake test on the new text). Everything else goes
    through ftfy. Equality with ftfy is tested line by line (``tests/test_fix_fast_path.py``).

    >>> ftfy_fix("It\u2019s \u00a317m")
    "It's £17m"
    >>> ftfy_fix("the Government\u00e2\u20ac\u2122s plan")
    "the Government's plan"
    """
    if line.isascii():
        if not _has_control(line):
            return line
    elif len(line) <= _FTFY_SEGMENT and not _NOT_PLAIN.search(line) and not _looks_bad(line):
        new = ftfy.fixes.uncurl_quotes(line)
        if new == line or new.isascii() or not _looks_bad(new):
            return new
    return ftfy.fix_text(line, _FTFY)


def fix_line(line: str, config: FixConfig = FixConfig()) -> tuple[str, Counter[str]]:
    """Repair one line of text. Returns the new line and the count of each repair.

    >>> fix_line("[Austria: 9 July 2018](#)")[0]
    'Austria: 9 July 2018'
    >>> fix_line("It\u2019s \u00a3\u200b17\u00a0million &amp; more")[0]
    "It's £17 million & more"
    >>> fix_line("the Government\u00e2\u20ac\u2122s plan")[0]
    "the Government's plan"

    The steps feed each other (an entity can decode to mojibake, removing a zero-width
    space can complete one), so they repeat until nothing changes: fixing twice is a no-op.
    """
    fixed, fixes = _fix_line(line, config)
    return fixed, fixes if fixes is not None else Counter()


def _fix_line(line: str, config: FixConfig) -> tuple[str, Counter[str] | None]:
    """``fix_line``; the counts are None when nothing was repaired (the common case)."""
    fixes: Counter[str] = Counter()
    for _ in range(4):
        line, others_changed = _fix_once(line, config, fixes)
        if not others_changed:
            break
    return line, fixes or None


def _fix_once(line: str, config: FixConfig, fixes: Counter[str]) -> tuple[str, bool]:
    """One pass of every step; says whether a step other than ftfy changed the line."""
    changed = False
    for _ in range(3):  # entities may be escaped twice ("&amp;amp;"): unescape to a fixed point
        if "&" not in line:
            break
        new = _ENTITY.sub(_unescape, line)
        if new == line:
            break
        fixes["html_entities"] += 1
        line, changed = new, True
    if config.ftfy:
        new = ftfy_fix(line)
        if new != line:
            fixes["ftfy"] += 1
            line = new
    if not (_CHEAP_FIXES.search(line) or line[:1].isspace() or line[-1:].isspace()):
        return line, changed  # nothing below can change it
    new = _SPACES.sub(" ", _INVISIBLE.sub("", line))
    if new != line:
        fixes["spaces"] += 1
        line, changed = new, True
    for _ in range(3):  # nested links: "[[a](#)](#)"
        new = _LINK.sub(r"\1", line)
        if new == line:
            break
        fixes["link_brackets"] += 1
        line, changed = new, True
    new = _MULTISPACE.sub(" ", line).strip()
    return new, changed or new != line


# C0, DEL and C1 controls. A regex, not a per-character loop: one 50 MB line took 6 s.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _has_control(line: str) -> bool:
    return _CONTROL.search(line) is not None


def _unescape(m: re.Match[str]) -> str:
    return html.unescape(m.group(0))


def fix_source(source: SourceText, config: FixConfig = FixConfig()) -> FixedText:
    """Repair a whole file: lines, then paragraphs (blocks) with their line spans."""
    blocks, fixes = fix_blocks(source.text, config)
    return FixedText(source.source, source.sha256, source.encoding, blocks, fixes)


def fix_blocks(
    text: str, config: FixConfig = FixConfig()
) -> tuple[tuple[Block, ...], tuple[Fix, ...]]:
    """Split text into paragraphs (blank-line separated), fix each line, re-join broken ones.

    >>> blocks, fixes = fix_blocks("A line that stops\\n\\nmid-sentence here.\\n\\nNext.")
    >>> [(b.text, b.first_line, b.last_line) for b in blocks]
    [('A line that stops mid-sentence here.', 1, 3), ('Next.', 5, 5)]
    >>> fixes
    (Fix(rule='paragraph_join', count=1),)

    The result is that of running ``fix_line`` on every line; only the lines that
    :func:`quiet_lines` cannot vouch for take that road. Every other line is quiet text
    whose only possible repair is uncurling its quotes, done once for the whole file.
    """
    counts: Counter[str] = Counter()
    raw: list[Block] = []
    lines: list[str] = []
    block_fixes: Counter[str] = Counter()
    uncurled = 0  # quiet lines of the current paragraph whose quotes were uncurled
    total_uncurled = 0
    first = 0
    normalised = normalise_breaks(text)
    originals = normalised.split("\n")
    uncurled_text = uncurl_quotes(normalised) if config.ftfy else normalised
    quick = originals if uncurled_text is normalised else uncurled_text.split("\n")
    quiet = quiet_lines(normalised)
    for number, line, fixed, is_quiet in zip(itertools.count(1), originals, quick, quiet):
        if is_quiet:
            if fixed:
                if not lines:
                    first = number
                lines.append(fixed)
                if fixed is not line and fixed != line:
                    uncurled += 1
                continue
        else:
            fixed, line_fixes = _fix_line(line, config)
            if line_fixes:
                counts.update(line_fixes)
            if fixed:
                if not lines:
                    first = number
                lines.append(fixed)
                if line_fixes:
                    block_fixes.update(line_fixes)
                continue
        if lines:  # a blank line ends the paragraph
            raw.append(
                Block("\n".join(lines), first, number - 1, _block_fixes(block_fixes, uncurled))
            )
            lines = []
            total_uncurled += uncurled
            uncurled = 0
            if block_fixes:
                block_fixes = Counter()
    if lines:
        last = first + len(lines) - 1
        raw.append(Block("\n".join(lines), first, last, _block_fixes(block_fixes, uncurled)))
        total_uncurled += uncurled
    if total_uncurled:
        counts["ftfy"] += total_uncurled
    joined = list(join_broken_paragraphs(raw))
    if len(joined) != len(raw):
        counts["paragraph_join"] += len(raw) - len(joined)
    return tuple(joined), _as_fixes(counts)


_UNCURLED_ONCE = (Fix("ftfy", 1),)


def _block_fixes(counts: Counter[str], uncurled: int) -> tuple[Fix, ...]:
    """``_as_fixes`` of a paragraph's counts plus its ``uncurled`` quiet lines (as "ftfy")."""
    if not counts:
        if not uncurled:
            return ()
        return _UNCURLED_ONCE if uncurled == 1 else (Fix("ftfy", uncurled),)
    if uncurled:
        counts["ftfy"] += uncurled
    return _as_fixes(counts)


def _as_fixes(counts: Counter[str]) -> tuple[Fix, ...]:
    if not counts:
        return ()
    return tuple(Fix(rule, n) for rule, n in sorted(counts.items()) if n)


def join_broken_paragraphs(blocks: Iterable[Block]) -> Iterator[Block]:
    """Join a paragraph that ends mid-sentence to a next one that starts in lower case.

    Scrapers break paragraphs at links and line wraps ("...protecting the environment" /
    "and promoting sustainable development."). A paragraph that ends in final punctuation,
    or a next one that starts with anything but a lower-case letter, is left alone.
    """
    current: Block | None = None
    for block in blocks:
        # The cheaper test first: most paragraphs start with a capital.
        if current is not None and block.text[:1].islower() and _ends_open(current.text):
            fixes = merge_fixes(current.fixes, block.fixes, [Fix("paragraph_join")])
            current = Block(
                f"{current.text} {block.text}", current.first_line, block.last_line, fixes
            )
            continue
        if current is not None:
            yield current
        current = block
    if current is not None:
        yield current


def _ends_open(text: str) -> bool:
    last = text.rstrip()[-1:]
    return bool(last) and last not in _FINAL_PUNCT


def _is_prose(text: str) -> bool:
    """A real paragraph: one line of at least eight words ending in final punctuation."""
    # Cheapest test first; ``split(None, 7)`` has 8 parts exactly when there are 8 words.
    return not _ends_open(text) and "\n" not in text and len(text.split(None, 7)) == 8


def _is_listing(text: str) -> bool:
    """Page furniture: several lines of one paragraph that are not a bulleted list.

    Article paragraphs are one line each in these dumps (blank-line separated); a site's
    sign-up box or job listing comes through as lines separated by single newlines.
    """
    lines = text.split("\n")
    if len(lines) < 2:
        return False
    bullets = sum(1 for ln in lines if re.match(r"(?:[-*•·]|\d+[.)])\s", ln))
    return bullets < len(lines) / 2


def strip_boilerplate(blocks: Sequence[Block]) -> tuple[tuple[Block, ...], int]:
    """Drop a tail of site furniture glued after an article's last prose paragraph.

    The tail is everything after the last prose paragraph; it is dropped from its first
    listing on (several single-newline lines, as sign-up boxes and job ads are scraped), so a
    closing short line or a final bulleted list of an article stays. Returns the kept blocks and the
    number of dropped ones.

    >>> body = [Block("He said the plan will help every council in the region.", 1, 1),
    ...         Block("SIGN UP\\nFor your free daily news bulletin", 3, 4),
    ...         Block("Catering Assistant", 6, 6)]
    >>> kept, dropped = strip_boilerplate(body)
    >>> [b.text for b in kept], dropped
    (['He said the plan will help every council in the region.'], 2)
    """
    last_prose = next((i for i in reversed(range(len(blocks))) if _is_prose(blocks[i].text)), -1)
    if last_prose < 0:
        return tuple(blocks), 0
    # Cut at the first listing after the last prose paragraph: a bulleted list that closes
    # the article (before the site's "Share this page" box) stays with it.
    cut = next((i for i in range(last_prose + 1, len(blocks)) if _is_listing(blocks[i].text)), None)
    if cut is None:
        return tuple(blocks), 0
    return tuple(blocks[:cut]), len(blocks) - cut


def fix_sources(
    sources: Iterable[SourceText], config: FixConfig = FixConfig()
) -> Iterator[FixedText]:
    """Stream fixed texts from a stream of decoded files."""
    for source in sources:
        yield fix_source(source, config)

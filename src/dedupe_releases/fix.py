"""Stage 2: repair a decoded file's text, keeping each paragraph's original line span.

Takes a ``SourceText``; returns a ``FixedText`` whose blocks (paragraphs) carry the lines
they came from, plus the repairs made. Every fixer is a pure ``str -> str`` function, and
fixing fixed text changes nothing. Never decides where articles start (that is ``split``).
"""

from __future__ import annotations

import html
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence

import ftfy

from dedupe_releases.config import FixConfig
from dedupe_releases.records import Block, Fix, FixedText, SourceText, merge_fixes

# ftfy does mojibake, quotes, control characters, terminal escapes, width and ligatures.
# HTML entities are ours (below): ftfy's "auto" mode skips any text holding a "<".
_FTFY = ftfy.TextFixerConfig(unescape_html=False, fix_line_breaks=False, explain=False)

# Every line break Unicode knows, so line numbers agree with what `str.splitlines` shows.
_LINE_BREAKS = re.compile(r"\r\n|[\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
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
    fixes: Counter[str] = Counter()
    for _ in range(4):
        line, others_changed = _fix_once(line, config, fixes)
        if not others_changed:
            break
    return line, fixes


def _fix_once(line: str, config: FixConfig, fixes: Counter[str]) -> tuple[str, bool]:
    """One pass of every step; says whether a step other than ftfy changed the line."""
    changed = False
    for _ in range(3):  # entities may be escaped twice ("&amp;amp;"): unescape to a fixed point
        new = _ENTITY.sub(lambda m: html.unescape(m.group(0)), line)
        if new == line:
            break
        fixes["html_entities"] += 1
        line, changed = new, True
    # ftfy cannot change ASCII text without control characters: skip its cost there.
    if config.ftfy and (not line.isascii() or _has_control(line)):
        new = ftfy.fix_text(line, _FTFY)
        if new != line:
            fixes["ftfy"] += 1
            line = new
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
    """
    counts: Counter[str] = Counter()
    raw: list[Block] = []
    lines: list[str] = []
    block_fixes: Counter[str] = Counter()
    first = 0
    normalised = _LINE_BREAKS.sub("\n", text)
    for number, line in enumerate(normalised.split("\n"), start=1):
        fixed, line_fixes = fix_line(line, config)
        counts.update(line_fixes)
        if fixed:
            if not lines:
                first = number
            lines.append(fixed)
            block_fixes.update(line_fixes)
        elif lines:
            raw.append(Block("\n".join(lines), first, number - 1, _as_fixes(block_fixes)))
            lines = []
            block_fixes = Counter()
    if lines:
        raw.append(Block("\n".join(lines), first, first + len(lines) - 1, _as_fixes(block_fixes)))
    joined = list(join_broken_paragraphs(raw))
    if len(joined) != len(raw):
        counts["paragraph_join"] += len(raw) - len(joined)
    return tuple(joined), _as_fixes(counts)


def _as_fixes(counts: Counter[str]) -> tuple[Fix, ...]:
    return tuple(Fix(rule, n) for rule, n in sorted(counts.items()) if n)


def join_broken_paragraphs(blocks: Iterable[Block]) -> Iterator[Block]:
    """Join a paragraph that ends mid-sentence to a next one that starts in lower case.

    Scrapers break paragraphs at links and line wraps ("...protecting the environment" /
    "and promoting sustainable development."). A paragraph that ends in final punctuation,
    or a next one that starts with anything but a lower-case letter, is left alone.
    """
    current: Block | None = None
    for block in blocks:
        if current is not None and _ends_open(current.text) and block.text[:1].islower():
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
    return "\n" not in text and len(text.split()) >= 8 and not _ends_open(text)


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
    last_prose = max((i for i, b in enumerate(blocks) if _is_prose(b.text)), default=-1)
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

"""Stage 3: split a fixed file into articles, keeping where each came from.

Takes a ``FixedText``; yields ``Article`` records with a stable id, the source file, the
line span in the original file, the content type, the title (joined when a scraper broke it
over two paragraphs) and the body. Never changes the text of a paragraph.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace

from dedupe_releases.config import SplitConfig
from dedupe_releases.records import Article, Block, Fix, FixedText, merge_fixes

# GOV.UK's content types ("document types") as they appear in scraped headers.
CONTENT_TYPES: tuple[str, ...] = (
    "Accredited official statistics",
    "Authored article",
    "Case study",
    "Closed consultation",
    "Consultation outcome",
    "Corporate report",
    "Correspondence",
    "Decision",
    "Detailed guide",
    "FOI release",
    "Fatality notice",
    "Form",
    "Government response",
    "Guidance",
    "Guide",
    "Impact assessment",
    "Independent report",
    "International treaty",
    "Map",
    "National statistics",
    "News story",
    "Notice",
    "Official statistics",
    "Open consultation",
    "Oral statement to Parliament",
    "Policy paper",
    "Press release",
    "Promotional material",
    "Regulation",
    "Research and analysis",
    "Speech",
    "Statement",
    "Statement to Parliament",
    "Statistical data set",
    "Statistics",
    "Statutory guidance",
    "Transparency data",
    "World news story",
    "Written statement to Parliament",
)
_KINDS = {k.casefold(): k for k in CONTENT_TYPES}
_HEADER = re.compile(
    r"^(?P<kind>"
    + "|".join(re.escape(k) for k in sorted(CONTENT_TYPES, key=len, reverse=True))
    + r")\s*:\s*(?P<title>\S.*)$",
    re.IGNORECASE,
)
# A title that ends on one of these words was cut by the scraper: "...Chancellor Kurz of".
_DANGLING_WORDS = (
    "a an and as at by for from in into of on or nor the to with about after against "
    "between during over under via vs versus its their his her our your this that"
)
_DANGLING = frozenset(_DANGLING_WORDS.split())
_SENTENCE_END = frozenset(".!?")


def parse_header(text: str, config: SplitConfig = SplitConfig()) -> tuple[str, str] | None:
    """``(kind, title)`` if a paragraph is an article header line, else None.

    >>> parse_header("Press release: PM meets Chancellor")
    ('Press release', 'PM meets Chancellor')
    >>> parse_header("NEWS STORY: Flood warning") is None
    False
    >>> parse_header("Statement: " + "word " * 60) is None
    True
    """
    # _HEADER needs a ":" (a literal, with no other case form): most paragraphs have none,
    # and looking for it is cheaper than a failed match of the alternation of every kind.
    if ":" not in text or "\n" in text:
        return None
    m = _HEADER.match(text)
    if not m:
        return None
    title = m.group("title").strip()
    if len(title.split()) > config.max_title_words:
        return None
    return _KINDS[m.group("kind").casefold()], title


def title_is_cut(title: str) -> bool:
    """True when a title visibly stops mid-phrase (a dangling word or mark).

    >>> title_is_cut("Prime Minister's meeting with Chancellor Kurz of")
    True
    >>> title_is_cut("Prime Minister's meeting with Chancellor Kurz of Austria: 9 July 2018")
    False
    """
    stripped = title.rstrip()
    if stripped[-1:] in {",", ":", ";", "-", "–", "—", "&"}:
        return True
    words = stripped.split()
    return bool(words) and words[-1].casefold() in _DANGLING


def _continues_title(block: Block, config: SplitConfig) -> bool:
    """A paragraph that can be the rest of a cut title: one short line, not a sentence."""
    text = block.text
    return (
        "\n" not in text
        and len(text.split()) <= 15
        and text[-1:] not in _SENTENCE_END
        and parse_header(text, config) is None
    )


def content_hash(title: str, body: str) -> str:
    return hashlib.sha256(f"{title}\n\n{body}".encode()).hexdigest()


Trimmer = Callable[[Sequence[Block]], tuple[tuple[Block, ...], int]]


def split_text(
    text: FixedText, config: SplitConfig = SplitConfig(), trim: Trimmer | None = None
) -> list[Article]:
    """Split one file's fixed text into articles. Pure; this is what tests call.

    A paragraph that is a header line (``Press release: Title``) starts an article. Text
    before the first header, or a file with no header at all, is an article whose title is
    its first line. ``trim`` drops site furniture from each body (``fix.strip_boilerplate``).
    """
    groups: list[tuple[tuple[str, str] | None, list[Block]]] = []
    for block in text.blocks:
        header = parse_header(block.text, config)
        if header is not None or not groups:
            groups.append((header, [block]))
        else:
            groups[-1][1].append(block)
    articles = []
    for ordinal, (header, blocks) in enumerate(groups, start=1):
        articles.append(_make_article(text, ordinal, header, blocks, config, trim))
    return articles


def _make_article(
    text: FixedText,
    ordinal: int,
    header: tuple[str, str] | None,
    blocks: list[Block],
    config: SplitConfig,
    trim: Trimmer | None,
) -> Article:
    lines = (blocks[0].first_line, blocks[-1].last_line)
    fixes: list[Fix] = []
    repaired = False
    if header is not None:
        kind: str | None
        kind, title = header
        rest = blocks[1:]
        if rest and title_is_cut(title) and _continues_title(rest[0], config):
            title = f"{title} {rest[0].text}"
            rest = rest[1:]
            repaired = True
            fixes.append(Fix("title_join"))
    else:
        kind = None
        first, _, remainder = blocks[0].text.partition("\n")
        title = first
        rest = (
            [Block(remainder, blocks[0].first_line + 1, blocks[0].last_line)] if remainder else []
        ) + blocks[1:]
    if trim is not None:
        kept, dropped = trim(rest)
        if dropped:
            fixes.append(Fix("boilerplate", dropped))
        rest = list(kept)
    body = "\n\n".join([b.text for b in rest])
    block_fixes = [b.fixes for b in blocks if b.fixes]  # merge_fixes of none is ()
    return Article(
        id=f"{text.source}#{ordinal}",
        source=text.source,
        ordinal=ordinal,
        lines=lines,
        kind=kind,
        title=title,
        body=body,
        content_hash=content_hash(title, body),
        fixes=merge_fixes(fixes, *block_fixes) if fixes or block_fixes else (),
        title_repaired=repaired,
    )


def truncate_article(article: Article, max_chars: int) -> Article:
    """Cut an article whose text (title + body) is longer than ``max_chars``, flagged ``truncated``.

    Bounds what hashing, verification and output cost for one article (rapidfuzz's cost grows
    with the product of two lengths); the cut is at a fixed character count, so two copies of
    one over-long article are cut alike and still match.

    >>> a = _make_article(FixedText("f", "", "utf-8", (Block("T", 1, 1), Block("x" * 20, 3, 3))),
    ...                   1, None, [Block("T", 1, 1), Block("x" * 20, 3, 3)], SplitConfig(), None)
    >>> cut = truncate_article(a, 10)
    >>> cut.title, cut.body, cut.truncated, len(cut.text)
    ('T', 'xxxxxxx', True, 10)
    >>> truncate_article(a, 1000) is a
    True
    """
    if len(article.text) <= max_chars:
        return article
    title = article.title[:max_chars]
    body = article.body[: max(max_chars - len(title) - 2, 0)]
    return replace(
        article, title=title, body=body, content_hash=content_hash(title, body), truncated=True
    )


def split_articles(
    texts: Iterable[FixedText], config: SplitConfig = SplitConfig(), trim: Trimmer | None = None
) -> Iterator[Article]:
    """Stream articles from a stream of fixed texts, one file at a time."""
    for text in texts:
        yield from split_text(text, config, trim)

"""Boilerplate learned from the archive: lines that recur under many different titles.

Takes each article's body lines as 64-bit hashes (collected per file while ingesting, so
workers need no shared state) and learns which lines are site furniture: a line found in the
articles of at least ``min_titles`` distinct titles and ``min_files`` files ("Share this page",
"SIGN UP", a job ad's "Recruiter: ..." line). Copies of one release share its title, so
republishing a release many times never turns its own paragraphs into boilerplate. Masking
drops those lines before verification. Never looks at titles' words or decides a relation.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from dedupe_releases.records import Article
from dedupe_releases.sketch import (
    U64,
    distinct_run_hashes,
    run_hash,
    runs,
    sentence_tokens,
    token_hashes,
    tokens,
)


def line_hash(line: str) -> int:
    """64-bit hash of a line's case-folded words (quotes, spacing and brackets do not count).

    >>> line_hash("Share this page") == line_hash("  SHARE this   page!")
    True
    """
    return words_hash(tokens(line))


def words_hash(words: list[str]) -> int:
    """``line_hash`` of a line from its tokens (``sketch.tokens``): ``sketch.run_hashes`` of
    their hashes (``sketch.token_hashes``), as a sentence is hashed, so that a batch of texts
    hashes all its lines at once from the tokens it already has (``sketch.sketch_texts``)."""
    return run_hash(token_hashes(words).tolist())


def line_hashes(article: Article) -> U64:
    """Sorted, distinct hashes of an article's body lines: what ingest keeps per article.

    The same as ``line_hash`` of each line of the body that holds a token (a paragraph or a
    listing's line), with one pass over the body's tokens.

    >>> from dedupe_releases.verify import _art
    >>> from dataclasses import replace
    >>> a = replace(_art("Title"), body="Share this page\\n\\n  SHARE this, page!\\n--\\nOther")
    >>> line_hashes(a).tolist() == sorted({line_hash("Share this page"), line_hash("Other")})
    True
    """
    return body_line_hashes(article.body)


def body_line_hashes(body: str, hashes: Callable[[list[str]], U64] = token_hashes) -> U64:
    """``line_hashes`` of an article with this body (``hashes``: of its tokens; an index
    upgrade gives an older schema's)."""
    words: list[str] = []
    counts = []
    for line in body.split("\n"):
        found = tokens(line)
        if found:
            words += found
            counts.append(len(found))
    lengths = np.array(counts, dtype=np.int64)
    return distinct_run_hashes(hashes(words), np.cumsum(lengths) - lengths, lengths)


@dataclass(frozen=True, slots=True)
class Boilerplate:
    """The learned boilerplate lines (their hashes) and how often they were masked."""

    hashes: frozenset[int] = frozenset()
    masked: int = 0  # line occurrences masked, over all articles (distinct per article)

    def __len__(self) -> int:
        return len(self.hashes)

    def mask(self, article: Article) -> str:
        """The article's text with boilerplate lines removed (the title always stays).

        >>> from dedupe_releases.verify import _art
        >>> from dataclasses import replace
        >>> a = replace(_art("A title"), body="Real text here.\\n\\nShare this page\\nTwitter")
        >>> b = Boilerplate(frozenset([line_hash("Share this page")]))
        >>> b.mask(a)
        'A title\\n\\nReal text here.\\n\\nTwitter'
        """
        return self.mask_words(article)[0]

    def mask_words(
        self, article: Article, seen: dict[str, tuple[list[str], list[int], bool]] | None = None
    ) -> tuple[str, list[str], list[int]]:
        """``mask(article)`` with its tokens and its tokens per sentence, each line tokenised
        once (for its hash and for what is kept), not the masked text again.

        ``seen``: what lines gave before (their tokens, their tokens per sentence, whether
        they are this boilerplate), filled in here, for a caller masking many articles that
        share lines (the copies and versions of one release): a line's are its text's alone.

        The words are exactly ``sketch.sentence_tokens(mask(article))``'s; the counts are its
        counts with or without some sentences of no words: every line break ends a sentence
        and no sentence break holds a word character or runs past a line's end but for the
        line break itself, so the masked text's sentences are its lines' sentences.

        >>> from dedupe_releases.verify import _art
        >>> from dataclasses import replace
        >>> a = replace(_art("A title"), body="Real text. Here\\n\\nShare this page\\nTwitter")
        >>> Boilerplate(frozenset([line_hash("Share this page")])).mask_words(a)
        ('A title\\n\\nReal text. Here\\n\\nTwitter', ['a', 'title', 'real', 'text', 'here', \
'twitter'], [2, 2, 1, 1])
        """
        if not self.hashes or not article.body:
            return (article.text, *sentence_tokens(article.text))
        words, counts = sentence_tokens(article.title)
        paragraphs = []
        for paragraph in article.body.split("\n\n"):
            kept = []
            for ln in paragraph.split("\n"):
                known = seen.get(ln) if seen is not None else None
                if known is None:
                    line_words, line_counts = sentence_tokens(ln)
                    known = (line_words, line_counts, words_hash(line_words) in self.hashes)
                    if seen is not None:
                        seen[ln] = known
                line_words, line_counts, dropped = known
                if not dropped:
                    kept.append(ln)
                    words += line_words
                    counts += line_counts
            if kept:
                paragraphs.append("\n".join(kept))
        return "\n\n".join([article.title, *paragraphs]), words, counts


def learn(
    lines: Sequence[U64],
    files: Sequence[int],
    titles: Sequence[int],
    min_titles: int,
    min_files: int,
) -> Boilerplate:
    """Boilerplate from per-article line hashes, each article's file number and title hash.

    >>> h = [np.array([1, 2], np.uint64), np.array([1, 3], np.uint64), np.array([1], np.uint64)]
    >>> b = learn(h, [0, 1, 2], [10, 11, 12], min_titles=3, min_files=2)
    >>> sorted(b.hashes), b.masked
    ([1], 3)
    >>> learn(h, [0, 1, 2], [10, 10, 10], min_titles=3, min_files=2).hashes
    frozenset()
    """
    lengths = np.array([len(x) for x in lines], dtype=np.int64)
    if not lengths.sum():
        return Boilerplate()
    return learn_flat(np.concatenate(list(lines)), lengths, files, titles, min_titles, min_files)


def learn_flat(
    flat: U64,
    lengths: npt.NDArray[np.int64],
    files: Sequence[int] | npt.NDArray[np.uint32],
    titles: Sequence[int] | U64,
    min_titles: int,
    min_files: int,
) -> Boilerplate:
    """``learn`` from every article's line hashes laid end to end (``lengths[i]`` each)."""
    if not len(flat):
        return Boilerplate()
    # One sixteenth of the key space at a time (by the keys' top bits), each line's owners
    # looked up through its article number: for a million articles' lines, the temporaries
    # stay a small fraction of the line hashes themselves.
    article_of = np.repeat(np.arange(len(lengths), dtype=np.uint32), lengths)
    file_numbers = np.asarray(files, dtype=np.uint64)
    title_hashes = np.asarray(titles, dtype=np.uint64)
    top = np.empty(len(flat), dtype=np.uint8)
    for lo in range(0, len(flat), 1 << 20):  # no full-size 64-bit temporary
        top[lo : lo + (1 << 20)] = flat[lo : lo + (1 << 20)] >> np.uint64(60)
    found = [np.zeros(0, dtype=np.uint64)]
    masked = 0
    # A learned line is in at least this many articles (an article's line hashes are
    # distinct): the rest, nearly every line of an archive, is dropped after one plain sort,
    # before the two sorts by (line, file) and (line, title).
    least = max(min_files, min_titles, 1)
    for part in range(16):
        mask = top == part
        keys, owners = flat[mask], article_of[mask]
        if not len(keys):
            continue
        ordered = np.sort(keys)
        starts, counts = runs(ordered)
        frequent = ordered[starts[counts >= least]]
        if not len(frequent):
            continue
        at = np.minimum(np.searchsorted(frequent, keys), len(frequent) - 1)
        kept = frequent[at] == keys
        keys, owners = keys[kept], owners[kept]
        many_files = _distinct_count_at_least(keys, file_numbers[owners], min_files)
        many_titles = _distinct_count_at_least(keys, title_hashes[owners], min_titles)
        hashes = np.intersect1d(many_files, many_titles, assume_unique=True)
        if len(hashes):
            found.append(hashes)
            masked += int(np.isin(keys, hashes).sum())
    learned = np.concatenate(found)
    return Boilerplate(frozenset(learned.tolist()), masked)


def _distinct_count_at_least(
    keys: U64, owners: npt.NDArray[np.uint64], minimum: int
) -> npt.NDArray[np.uint64]:
    """Sorted keys that occur with at least ``minimum`` distinct owners."""
    order = np.lexsort((owners, keys))
    k, o = keys[order], owners[order]
    first = np.r_[True, (k[1:] != k[:-1]) | (o[1:] != o[:-1])]  # one per (key, owner)
    distinct = k[first]  # still sorted
    starts, counts = runs(distinct)
    found: U64 = distinct[starts[counts >= minimum]]
    return found


def title_hash(title: str) -> int:
    """A title's identity for counting distinct titles (case and punctuation ignored)."""
    return line_hash(title)

"""Word-level differences between two texts, paragraph by paragraph, for people to read.

Takes two fixed texts; returns ``Row``s (one per aligned pair of paragraphs, or a paragraph
found on one side only) whose ``Segment``s say which words are shared, removed or added.
``explain`` draws them side by side in the terminal and ``report`` inline in HTML. Pure:
never decides whether two texts are copies.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher

from rapidfuzz import fuzz

from dedupe_releases.candidates import long_sentences

#: Words, runs of spaces and runs of punctuation: a changed comma does not mark its word.
_TOKEN = re.compile(r"\w+|\s+|[^\w\s]+")
#: Two paragraphs in a changed stretch are shown as one edited paragraph when their
#: rapidfuzz ratio reaches this; below it they are a removed one and an added one.
PAIR_RATIO = 60.0
#: A paragraph pair whose token counts multiply past this is shown as replaced whole:
#: SequenceMatcher's worst case grows with that product (a 200,000-character paragraph).
MAX_TOKEN_PRODUCT = 4_000_000


@dataclass(frozen=True, slots=True)
class Segment:
    op: str  # "equal", "delete" (only in the first text) or "insert" (only in the second)
    text: str


@dataclass(frozen=True, slots=True)
class Row:
    """One paragraph of each text (or of one of them) and how they differ."""

    kind: str  # "equal", "changed", "deleted" (first text only), "inserted" (second only)
    segments: tuple[Segment, ...]  # in reading order, deletions before their insertions

    @property
    def left(self) -> tuple[Segment, ...]:
        """What the first text says here."""
        return tuple(s for s in self.segments if s.op != "insert")

    @property
    def right(self) -> tuple[Segment, ...]:
        """What the second text says here."""
        return tuple(s for s in self.segments if s.op != "delete")


@dataclass(frozen=True, slots=True)
class Gap:
    """A run of identical paragraphs left out of a compact view."""

    count: int


def paragraphs(text: str) -> list[str]:
    """The blank-line separated paragraphs of a fixed text.

    >>> paragraphs("Title\\n\\nFirst one.\\n\\n\\nSecond.")
    ['Title', 'First one.', 'Second.']
    """
    return [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]


def word_diff(a: str, b: str) -> tuple[Segment, ...]:
    """The words of ``a`` and ``b`` as shared, removed and added segments.

    >>> [(s.op, s.text) for s in word_diff("the cat sat", "the dog sat")]
    [('equal', 'the '), ('delete', 'cat'), ('insert', 'dog'), ('equal', ' sat')]
    """
    ta, tb = _TOKEN.findall(a), _TOKEN.findall(b)
    if len(ta) * len(tb) > MAX_TOKEN_PRODUCT:
        return _merge([Segment("delete", a), Segment("insert", b)])
    out: list[Segment] = []
    matcher = SequenceMatcher(None, ta, tb, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            out.append(Segment("equal", "".join(ta[i1:i2])))
            continue
        if i2 > i1:
            out.append(Segment("delete", "".join(ta[i1:i2])))
        if j2 > j1:
            out.append(Segment("insert", "".join(tb[j1:j2])))
    return _merge(_absorb_spaces(out))


def _absorb_spaces(segments: list[Segment]) -> list[Segment]:
    """Fold a lone space between two changes into both: 'a b' -> 'x y' reads as one edit."""
    out: list[Segment] = []
    for i, s in enumerate(segments):
        between_changes = (
            s.op == "equal"
            and s.text.isspace()
            and 0 < i < len(segments) - 1
            and segments[i - 1].op != "equal"
            and segments[i + 1].op != "equal"
        )
        if between_changes:
            out.extend((Segment("delete", s.text), Segment("insert", s.text)))
        else:
            out.append(s)
    # Deletions first, then insertions, within each changed stretch.
    result: list[Segment] = []
    stretch: list[Segment] = []
    for s in [*out, Segment("equal", "")]:
        if s.op == "equal":
            result.extend(x for x in stretch if x.op == "delete")
            result.extend(x for x in stretch if x.op == "insert")
            stretch = []
            result.append(s)
        else:
            stretch.append(s)
    return result


def _merge(segments: Sequence[Segment]) -> tuple[Segment, ...]:
    """Join neighbours with the same op and drop empty segments."""
    out: list[Segment] = []
    for s in segments:
        if not s.text:
            continue
        if out and out[-1].op == s.op:
            out[-1] = Segment(s.op, out[-1].text + s.text)
        else:
            out.append(s)
    return tuple(out)


def diff_texts(a: str, b: str) -> list[Row]:
    """Align the paragraphs of two texts and diff the words of each edited pair.

    >>> rows = diff_texts("T\\n\\nSame.\\n\\nOld words here.", "T\\n\\nSame.\\n\\nNew words here.")
    >>> [r.kind for r in rows]
    ['equal', 'equal', 'changed']
    >>> [(s.op, s.text) for s in rows[2].segments]
    [('delete', 'Old'), ('insert', 'New'), ('equal', ' words here.')]
    """
    pa, pb = paragraphs(a), paragraphs(b)
    rows: list[Row] = []
    matcher = SequenceMatcher(None, pa, pb, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            rows.extend(Row("equal", (Segment("equal", p),)) for p in pa[i1:i2])
        else:
            rows.extend(_pair_up(pa[i1:i2], pb[j1:j2]))
    return rows


def _pair_up(left: list[str], right: list[str]) -> Iterator[Row]:
    """Rows for a changed stretch: similar paragraphs paired in order, the rest on one side."""
    j = 0
    for para in left:
        match = next(
            (k for k in range(j, len(right)) if fuzz.ratio(para, right[k]) >= PAIR_RATIO), None
        )
        if match is None:
            yield Row("deleted", (Segment("delete", para),))
            continue
        for k in range(j, match):
            yield Row("inserted", (Segment("insert", right[k]),))
        yield Row("changed", word_diff(para, right[match]))
        j = match + 1
    for k in range(j, len(right)):
        yield Row("inserted", (Segment("insert", right[k]),))


def compact(rows: Sequence[Row], context: int = 1) -> list[Row | Gap]:
    """Keep ``context`` identical paragraphs around each change; fold the rest into a ``Gap``.

    >>> same = "a\\n\\nb\\n\\nc\\n\\nd\\n\\n"
    >>> rows = diff_texts(same + "the end", same + "The end")
    >>> [r.count if isinstance(r, Gap) else r.kind for r in compact(rows)]
    [3, 'equal', 'changed']
    """
    keep = [False] * len(rows)
    for i, row in enumerate(rows):
        if row.kind != "equal":
            for k in range(max(0, i - context), min(len(rows), i + context + 1)):
                keep[k] = True
    out: list[Row | Gap] = []
    run = 0
    for row, kept in zip(rows, keep, strict=True):
        if kept:
            if run:
                out.append(Gap(run))
                run = 0
            out.append(row)
        else:
            run += 1
    if run:
        out.append(Gap(run))
    return out


def shared_passages(a: str, b: str) -> list[str]:
    """The long sentences of ``a`` that ``b`` has too (same words, any case), in ``a``'s order.

    These are the sentences verification counts as shared.

    >>> shared_passages("A quote that both of the two texts carry. Only here.",
    ...                 "Intro. A quote that BOTH of the two texts carry!")
    ['A quote that both of the two texts carry.']
    """
    in_b = {" ".join(words) for _, words in long_sentences(b)}
    out: list[str] = []
    seen: set[str] = set()
    for sentence, words in long_sentences(a):
        key = " ".join(words)
        if key in in_b and key not in seen:
            seen.add(key)
            out.append(sentence)
    return out

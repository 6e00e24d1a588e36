"""Stage 7: choose each cluster's canonical copy by an ordered, documented rule chain.

Takes the member articles of one cluster; returns the canonical, the runner-up and the reasons
the canonical won. The rules, in order (the first that tells two copies apart decides):

1. ``header``: it has a content-type header (``Press release: ...``), so its title is the
   published title rather than the first line of a bare page;
2. ``most_complete``: more words once learned boilerplate is masked (a copy that lost a
   paragraph is the worse copy; a copy with a footer glued on is not the better one);
3. ``whole_title``: its title was found whole, not joined from two broken paragraphs;
4. ``fewest_repairs``: fewer repairs were needed (mojibake, quotes, brackets, joins);
5. ``earliest_date``: the earliest full date found in the text (a later copy may carry a
   republication date);
6. ``content``: the smaller content hash -- arbitrary, but a property of the text, so the
   choice never depends on file names or the order files were written in;
7. ``first_seen``: earlier in path order (only exact copies get this far).

The reasons list every rule up to the deciding one (ties as ``rule: tie``), then the later
rules 2-5 on which the canonical is also better. A reviewer can pin a canonical copy
(``decisions.py``): a pinned member wins before the rules. Never looks at other clusters.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence

from dedupe_releases.facts import find_facts
from dedupe_releases.records import Article

RULES: tuple[tuple[str, str], ...] = (
    ("header", "has a content-type header"),
    ("most_complete", "most complete text after boilerplate"),
    ("whole_title", "title found whole, not joined from two paragraphs"),
    ("fewest_repairs", "fewest repairs"),
    ("earliest_date", "earliest date found in the text"),
    ("content", "smallest content hash (a tie-break independent of file names)"),
    ("first_seen", "first in path order"),
)

#: Rules that only break ties: not listed as further reasons once another rule decided.
TIE_BREAKS = frozenset({"content", "first_seen"})

#: Sorts after every real date: an article without a full date loses ``earliest_date``.
NO_DATE = "9999-99-99"

Key = tuple[int, int, int, int, str, str, int]


def earliest_date(text: str) -> str:
    """The earliest full date (``YYYY-MM-DD``) in a text, or ``NO_DATE``.

    >>> earliest_date("Updated 3 May 2019; first published on 9 July 2018.")
    '2018-07-09'
    >>> earliest_date("No date at all, only July 2018.")
    '9999-99-99'
    """
    dates = [f.value for f, _, _ in find_facts(text) if f.kind == "date" and len(f.value) == 10]
    return min(dates, default=NO_DATE)


def _earliest_date(article: Article) -> str:
    return earliest_date(article.text)


def _words(article: Article) -> int:
    return len(article.text.split())


def _key(
    article: Article, position: int, size: Callable[[Article], int], date: Callable[[Article], str]
) -> Key:
    """Sort key: smaller is better, one element per rule in ``RULES`` order."""
    return (
        0 if article.kind else 1,
        -size(article),
        1 if article.title_repaired else 0,
        article.repairs,
        date(article),
        article.content_hash,
        position,
    )


#: The reason given when a reviewer's pin decided.
PINNED = "pinned: chosen by a reviewer (decisions file)"


def pick_canonical(
    members: Sequence[Article],
    position: Callable[[str], int],
    size: Callable[[Article], int] | None = None,
    pinned: Collection[str] = (),
    date: Callable[[Article], str] | None = None,
) -> tuple[Article, Article | None, tuple[str, ...]]:
    """``(canonical, runner_up, reasons)`` for a cluster's members.

    ``size`` measures completeness (words after boilerplate is masked; all words if None).
    ``reasons`` names the rules on which the two tie up to the deciding one, that rule, then
    later rules on which the canonical is also better, e.g. ``("header: tie", ...)``. A member
    in ``pinned`` wins before any rule (the rules order several pinned members). ``date``
    gives an article's ``earliest_date`` when it is already known.
    """
    measure = size or _words
    dated = date or _earliest_date
    keys = {a.id: _key(a, position(a.id), measure, dated) for a in members}
    ranked = sorted(members, key=lambda a: keys[a.id])
    if pinned and any(a.id in pinned for a in ranked):
        ranked.sort(key=lambda a: a.id not in pinned)  # stable: the rules order the rest
        if len(ranked) > 1 and ranked[0].id in pinned and ranked[1].id not in pinned:
            return ranked[0], ranked[1], (PINNED,)
    best = ranked[0]
    if len(ranked) == 1:
        return best, None, ()
    runner = ranked[1]
    kb, kr = keys[best.id], keys[runner.id]
    reasons: list[str] = []
    decided = False
    for (rule, text), vb, vr in zip(RULES, kb, kr, strict=True):
        if decided:
            if rule not in TIE_BREAKS and _less(vb, vr):
                reasons.append(f"{rule}: also {text} ({_explain(rule, vb, vr, best, runner)})")
        elif vb != vr:
            reasons.append(f"{rule}: {text} ({_explain(rule, vb, vr, best, runner)})")
            decided = True
        else:
            reasons.append(f"{rule}: tie")
    return best, runner, tuple(reasons)


def _less(x: object, y: object) -> bool:
    if isinstance(x, int) and isinstance(y, int):
        return x < y
    return isinstance(x, str) and isinstance(y, str) and x < y


def _explain(rule: str, vb: object, vr: object, best: Article, runner: Article) -> str:
    if rule == "header":
        return f"{best.kind!s} vs no header"
    if rule == "most_complete":
        return f"{-vb:,} vs {-vr:,} words" if isinstance(vb, int) and isinstance(vr, int) else ""
    if rule == "whole_title":
        return "runner-up's title was joined from two paragraphs"
    if rule == "fewest_repairs":
        return f"{best.repairs} vs {runner.repairs}"
    if rule == "earliest_date":
        return f"{vb} vs {'none' if vr == NO_DATE else vr}"
    if rule == "content":
        return f"{best.content_hash[:12]} < {runner.content_hash[:12]}"
    return f"{best.id} before {runner.id}"

"""Stage 7: choose each cluster's canonical copy by an ordered, documented rule chain.

Takes the member articles of one cluster; returns the canonical, the runner-up and the reasons
the canonical won. The rules, in order (the first that tells two copies apart decides):

1. ``header``: it has a content-type header (``Press release: ...``), so its title is the
   published title rather than the first line of a bare page;
2. ``whole_title``: its title was found whole, not joined from two broken paragraphs;
3. ``fewest_repairs``: fewer repairs were needed (mojibake, quotes, brackets, joins);
4. ``longest``: more text (a copy that lost a paragraph is the worse copy);
5. ``first_seen``: earlier in path order (file name, then position in the file).

A reviewer can pin a canonical copy (``decisions.py``): a pinned member wins before the rules.
Never looks at other clusters.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence

from dedupe_releases.records import Article

RULES: tuple[tuple[str, str], ...] = (
    ("header", "has a content-type header"),
    ("whole_title", "title found whole, not joined from two paragraphs"),
    ("fewest_repairs", "fewest repairs"),
    ("longest", "longest text"),
    ("first_seen", "first in path order"),
)


def _key(article: Article, position: int) -> tuple[int, int, int, int, int]:
    """Sort key: smaller is better, one element per rule in ``RULES`` order."""
    return (
        0 if article.kind else 1,
        1 if article.title_repaired else 0,
        article.repairs,
        -len(article.text),
        position,
    )


#: The reason given when a reviewer's pin decided.
PINNED = "pinned: chosen by a reviewer (decisions file)"


def pick_canonical(
    members: Sequence[Article],
    position: Callable[[str], int],
    pinned: Collection[str] = (),
) -> tuple[Article, Article | None, tuple[str, ...]]:
    """``(canonical, runner_up, reasons)`` for a cluster's members.

    ``reasons`` names the rule that decided against the runner-up first, then the rules on
    which the two tie, e.g. ``("has a content-type header", ...)``. A member in ``pinned``
    wins before any rule (the rules order several pinned members).
    """
    ranked = sorted(members, key=lambda a: _key(a, position(a.id)))
    if pinned and any(a.id in pinned for a in ranked):
        ranked.sort(key=lambda a: a.id not in pinned)  # stable: the rules order the rest
        if len(ranked) > 1 and ranked[0].id in pinned and ranked[1].id not in pinned:
            return ranked[0], ranked[1], (PINNED,)
    best = ranked[0]
    if len(ranked) == 1:
        return best, None, ()
    runner = ranked[1]
    kb, kr = _key(best, position(best.id)), _key(runner, position(runner.id))
    reasons: list[str] = []
    for (rule, text), vb, vr in zip(RULES, kb, kr, strict=True):
        if vb != vr:
            reasons.append(f"{rule}: {text} ({_explain(rule, best, runner)})")
            break
        reasons.append(f"{rule}: tie")
    return best, runner, tuple(reasons)


def _explain(rule: str, best: Article, runner: Article) -> str:
    if rule == "header":
        return f"{best.kind!s} vs no header"
    if rule == "whole_title":
        return "runner-up's title was joined from two paragraphs"
    if rule == "fewest_repairs":
        return f"{best.repairs} vs {runner.repairs}"
    if rule == "longest":
        return f"{len(best.text):,} vs {len(runner.text):,} characters"
    return f"{best.id} before {runner.id}"

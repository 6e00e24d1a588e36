"""Build an ``Article`` by hand, for the tests of the comparison and clustering stages."""

from __future__ import annotations

from dedupe_releases.records import Article, Fix
from dedupe_releases.split import content_hash


def make_article(
    aid: str,
    body: str,
    *,
    title: str = "A title",
    kind: str | None = "Press release",
    repaired: bool = False,
    fixes: tuple[Fix, ...] = (),
) -> Article:
    """An article with id ``aid`` (``FILE#N``: source and ordinal are taken from it)."""
    return Article(
        id=aid,
        source=aid.split("#")[0],
        ordinal=int(aid.split("#")[1]),
        lines=(1, 2),
        kind=kind,
        title=title,
        body=body,
        content_hash=content_hash(title, body),
        fixes=fixes,
        title_repaired=repaired,
    )

"""Stage 6: clusters from verified matches, with no chaining.

Takes the verified ``exact``/``near`` pairs; returns ``Cluster`` records. Connected components
are only a first grouping: every member must itself match the component's canonical copy, so
A~B and B~C never put A and C together unless A~C. Members that do not match the canonical
are clustered again among themselves. Never reads text: it asks ``match`` for verdicts.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Sequence

from dedupe_releases.canonical import pick_canonical
from dedupe_releases.records import Article, Cluster, Match

CLUSTER_RELATIONS = frozenset({"exact", "near"})


def _components(ids: Iterable[str], edges: Iterable[tuple[str, str]]) -> list[list[str]]:
    parent: dict[str, str] = {i: i for i in ids}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in edges:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    groups: dict[str, list[str]] = defaultdict(list)
    for i in parent:
        groups[find(i)].append(i)
    return [g for g in groups.values() if len(g) > 1]


def _edges_by_group(
    groups: list[list[str]], edges: Iterable[tuple[str, str]]
) -> dict[str, list[tuple[str, str]]]:
    """The edges inside each of some disjoint groups, keyed by the group's first member."""
    key = {member: group[0] for group in groups for member in group}
    out: dict[str, list[tuple[str, str]]] = {group[0]: [] for group in groups}
    for a, b in edges:
        k = key.get(a)
        if k is not None and key.get(b) == k:
            out[k].append((a, b))
    return out


def cluster_id(member_ids: Sequence[str], position: Callable[[str], int]) -> str:
    """A short id from the cluster's earliest member: stable while that article is there."""
    first = min(member_ids, key=position)
    return "c" + hashlib.sha256(first.encode()).hexdigest()[:10]


def cluster_matches(
    matches: Iterable[Match],
    article: Callable[[str], Article],
    match: Callable[[str, str], Match | None],
    position: Callable[[str], int],
    size: Callable[[Article], int] | None = None,
    pinned: Collection[str] = (),
    date: Callable[[Article], str] | None = None,
    prefetch: Callable[[list[tuple[str, str]]], None] | None = None,
) -> list[Cluster]:
    """Group articles joined by exact/near matches; every member verified against the canonical.

    ``size`` measures an article's completeness for the canonical choice (``pick_canonical``);
    ``pinned``: article ids a reviewer chose as canonical; ``date``: ``canonical.earliest_date``
    of an article's text, when known. ``prefetch`` is given every (canonical, member) pair of
    the first grouping at once, before ``match`` is asked for them one by one: a caller can
    verify them together (in worker processes) instead.
    """
    edges = [(m.a, m.b) for m in matches if m.relation in CLUSTER_RELATIONS]
    nodes = sorted({x for e in edges for x in e}, key=position)
    clusters: list[Cluster] = []
    pending = [sorted(c, key=position) for c in _components(nodes, edges)]
    # Each pending group's own edges, by its first member: a group split below looks only
    # at its own, not at every edge of the archive again.
    group_edges = _edges_by_group(pending, edges)
    # The first grouping's choices, by ids (kept for the loop below, never whole articles).
    chosen: dict[str, tuple[str, str | None, tuple[str, ...]]] = {}
    if prefetch is not None:
        wanted: list[tuple[str, str]] = []
        for group in pending:
            best, runner, why = pick_canonical(
                [article(i) for i in group], position, size, pinned, date
            )
            chosen[group[0]] = (best.id, runner.id if runner else None, why)
            wanted += [(best.id, member) for member in group if member != best.id]
        prefetch(wanted)
    while pending:
        group = pending.pop()
        own_edges = group_edges.pop(group[0], [])
        # Ids only from here on: an article is read again only if the choice is made again.
        if group[0] in chosen:  # a first grouping's component (later groups are new ones)
            canonical, runner_up, reasons = chosen.pop(group[0])
        else:
            best, runner, reasons = pick_canonical(
                [article(i) for i in group], position, size, pinned, date
            )
            canonical, runner_up = best.id, runner.id if runner else None
        kept: dict[str, float] = {canonical: 1.0}
        rejected: list[str] = []
        for member in group:
            if member == canonical:
                continue
            m = match(canonical, member)
            if m is not None and m.relation in CLUSTER_RELATIONS:
                kept[member] = m.scores.jaccard
            else:
                rejected.append(member)
        if len(kept) > 1:
            members = tuple(sorted(kept, key=position))
            if runner_up is not None and runner_up not in kept:
                best, runner, reasons = pick_canonical(
                    [article(i) for i in members], position, size, pinned, date
                )
                canonical, runner_up = best.id, runner.id if runner else None
            clusters.append(
                Cluster(
                    id=cluster_id(members, position),
                    canonical=canonical,
                    members=members,
                    similarity={k: round(v, 4) for k, v in kept.items()},
                    reasons=reasons,
                    runner_up=runner_up,
                )
            )
        if len(rejected) > 1:
            inner = set(rejected)
            sub_edges = [(a, b) for a, b in own_edges if a in inner and b in inner]
            groups = [sorted(c, key=position) for c in _components(rejected, sub_edges)]
            group_edges.update(_edges_by_group(groups, sub_edges))
            pending.extend(groups)
    clusters.sort(key=lambda c: position(c.members[0]))
    return clusters

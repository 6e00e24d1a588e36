"""Stages 5-7: verdicts, chain-free clusters, the canonical rule chain."""

from __future__ import annotations

import random
from typing import Any

from articles import make_article as _article

from dedupe_releases.candidates import sentence_hashes
from dedupe_releases.canonical import pick_canonical
from dedupe_releases.cluster import cluster_matches
from dedupe_releases.config import SketchConfig, VerifyConfig
from dedupe_releases.records import Article, Fix, Match, Scores
from dedupe_releases.verify import Verifier, classify, features

WORDS = (
    "council",
    "minister",
    "children",
    "services",
    "funding",
    "programme",
    "support",
    "local",
    "authority",
    "improvement",
    "social",
    "care",
    "families",
    "partners",
    "practice",
    "national",
    "assessment",
)


def _text(seed: int, n: int = 300) -> str:
    rng = random.Random(seed)
    return " ".join(rng.choice(WORDS) + str(rng.randrange(50)) for _ in range(n))


def _classify(a: Article, b: Article) -> Match | None:
    f = lambda x: features(x, SketchConfig(), sentence_hashes)  # noqa: E731
    return classify(a, b, f(a), f(b), VerifyConfig())


def test_same_text_is_exact() -> None:
    body = _text(1)
    m = _classify(_article("a#1", body), _article("b#1", body))
    assert m is not None and m.relation == "exact"


def test_small_edit_is_near_and_scored() -> None:
    body = _text(1)
    words = body.split()
    words[100] = "changed"
    m = _classify(_article("a#1", body), _article("b#1", " ".join(words)))
    assert m is not None and m.relation == "near"
    assert 0.9 < m.scores.jaccard < 1 and m.scores.ratio > 95


def test_reused_quotes_are_related_not_near() -> None:
    quote = (
        "There is nothing more important than the safety and wellbeing of children. "
        "My commitment is that we will build a self-improving system that spots problems. "
    )
    m = _classify(_article("a#1", _text(1) + ". " + quote), _article("b#1", quote + _text(2, 60)))
    assert m is not None and m.relation == "related"
    assert "2 shared sentences" in m.evidence


def test_unrelated_texts_give_nothing() -> None:
    assert _classify(_article("a#1", _text(1)), _article("b#1", _text(2))) is None


def _verifier(articles: dict[str, Article]) -> Verifier:
    return Verifier(articles.__getitem__, SketchConfig(), VerifyConfig(), sentence_hashes)


def test_chain_a_b_c_is_split_when_a_and_c_differ() -> None:
    # A~B and B~C, but A and C are too far apart: no cluster may hold both.
    base = _text(5, 400).split()
    a = " ".join(base)
    b = " ".join(base[:360] + _text(6, 40).split())
    c = " ".join(base[:320] + _text(6, 40).split() + _text(7, 40).split())
    arts = {"f#1": _article("f#1", a), "f#2": _article("f#2", b), "f#3": _article("f#3", c)}
    v = _verifier(arts)
    assert v.match("f#1", "f#2").relation == "near"  # type: ignore[union-attr]
    assert v.match("f#2", "f#3").relation == "near"  # type: ignore[union-attr]
    ac = v.match("f#1", "f#3")
    assert ac is None or ac.relation not in ("exact", "near")
    matches = [m for p in (("f#1", "f#2"), ("f#2", "f#3")) if (m := v.match(*p))]
    position = {"f#1": 0, "f#2": 1, "f#3": 2}.__getitem__
    clusters = cluster_matches(matches, arts.__getitem__, v.match, position)
    for cluster in clusters:
        assert not {"f#1", "f#3"} <= set(cluster.members)
        for member in cluster.members:  # every member matches the canonical itself
            if member != cluster.canonical:
                m = v.match(cluster.canonical, member)
                assert m is not None and m.relation in ("exact", "near")
    assert sum(len(c.members) for c in clusters) == 2


def test_canonical_rule_chain_in_order() -> None:
    pos = {"a#1": 0, "b#1": 1, "c#1": 2, "d#1": 3}.__getitem__
    body = _text(9)
    bare = _article("a#1", body, kind=None)
    joined = _article("b#1", body, repaired=True)
    repaired = _article("c#1", body, fixes=(Fix("ftfy", 3),))
    clean = _article("d#1", body)
    best, runner, reasons = pick_canonical([bare, joined, repaired, clean], pos)
    assert (best.id, runner and runner.id) == ("d#1", "c#1")
    assert reasons[-1].startswith("fewest_repairs")
    best, _, reasons = pick_canonical([bare, joined], pos)
    assert best.id == "b#1" and reasons[0].startswith("header")
    longer = _article("e#1", body + " one more paragraph here")
    best, _, reasons = pick_canonical([clean, longer], {"d#1": 0, "e#1": 1}.__getitem__)
    assert best.id == "e#1" and reasons[1].startswith("most_complete")
    twin = _article("e#1", body)
    best, _, reasons = pick_canonical([twin, clean], {"d#1": 0, "e#1": 1}.__getitem__)
    assert best.id == "d#1" and reasons[-1].startswith("first_seen")


def test_scores_dict_is_rounded_and_finite() -> None:
    s = Scores(0.123456, 1.0, 99.999).as_dict()
    assert s == {"jaccard": 0.1235, "containment": 1.0, "ratio": 100.0}


def test_prefetch_is_given_every_pair_the_first_grouping_asks_for() -> None:
    """With ``prefetch``, the (canonical, member) pairs of the first grouping arrive at once,
    before ``match`` is asked for any of them, and the clusters are the same as without."""
    base = _text(5, 400).split()
    a = " ".join(base)
    b = " ".join(base[:360] + _text(6, 40).split())
    c = " ".join(base[:320] + _text(6, 40).split() + _text(7, 40).split())
    d = " ".join(_text(8, 300).split())
    texts = {"f#1": a, "f#2": b, "f#3": c, "g#1": d, "g#2": d + " more", "g#3": d + " other"}
    arts = {k: _article(k, t) for k, t in texts.items()}
    order = list(arts)
    position = order.index
    # Stars: each group is linked from a member that is not its canonical copy.
    links = [("f#2", "f#1"), ("f#2", "f#3"), ("g#3", "g#1"), ("g#3", "g#2")]
    plain = _verifier(arts)
    matches = [m for p in links if (m := plain.match(*p))]
    expected = cluster_matches(matches, arts.__getitem__, plain.match, position)

    v = _verifier(arts)
    asked: list[tuple[str, str]] = []
    prefetched: list[tuple[str, str]] = []

    def match(x: str, y: str) -> Match | None:
        asked.append((x, y))
        return v.match(x, y)

    def prefetch(pairs: list[tuple[str, str]]) -> None:
        assert not asked  # before any pair is asked for
        prefetched.extend(pairs)

    found = cluster_matches(matches, arts.__getitem__, match, position, prefetch=prefetch)
    assert found == expected
    assert len(prefetched) == 4 and set(asked[:4]) == set(prefetched)


def test_a_split_group_looks_only_at_its_own_edges() -> None:
    """Splitting a group that failed its canonical gives the clusters that looking at every
    edge of the archive gave (the first version of ``cluster_matches``), on random graphs
    whose verdicts chain: members near a canonical are often not near each other."""
    import pytest

    from dedupe_releases import cluster

    real = cluster._edges_by_group
    split_edges: list[int] = []  # edges handed to the groups of each split

    def counted(groups: list[list[str]], edges: list[tuple[str, str]]) -> Any:
        if groups and edges and calls:  # a split (the first call is the first grouping)
            split_edges.append(len(edges))
        calls.append(1)
        return real(groups, edges)

    for seed in range(40):
        rng = random.Random(seed)
        n = rng.randrange(4, 40)
        arts = {f"f#{i}": _article(f"f#{i}", "word " * rng.randrange(20, 60)) for i in range(n)}
        ids = list(arts)
        near = {
            (a, b)
            for i, a in enumerate(ids)
            for b in ids[i + 1 : i + 1 + rng.randrange(1, 5)]
            if rng.random() < 0.7
        }

        def match(x: str, y: str, near: Any = near, ids: list[str] = ids) -> Match | None:
            a, b = sorted((x, y), key=ids.index)
            if (a, b) not in near:
                return None
            return Match(a, b, "near", Scores(0.9, 0.9, 95.0), ("test",))

        matches = [m for a, b in sorted(near) if (m := match(a, b)) is not None]
        calls: list[int] = []
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(cluster, "_edges_by_group", counted)
            found = cluster_matches(matches, arts.__getitem__, match, ids.index)
        with pytest.MonkeyPatch.context() as patch:  # every group given every edge, as before
            patch.setattr(
                cluster,
                "_edges_by_group",
                lambda groups, edges: {g[0]: list(edges) for g in groups},
            )
            expected = cluster_matches(matches, arts.__getitem__, match, ids.index)
        assert found == expected
        members = [m for c in found for m in c.members]
        assert len(members) == len(set(members))
    assert len(split_edges) >= 10  # groups were split, with edges among the rest

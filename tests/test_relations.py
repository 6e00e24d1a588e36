"""Typed relations, the fact check, short articles and learned boilerplate."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest
from articles import make_article

from dedupe_releases.boilerplate import line_hash
from dedupe_releases.candidates import sentence_hashes
from dedupe_releases.canonical import earliest_date, pick_canonical
from dedupe_releases.config import Config, SketchConfig, VerifyConfig
from dedupe_releases.facts import differing_facts, extract_facts
from dedupe_releases.output import document
from dedupe_releases.pipeline import scan
from dedupe_releases.records import Article, Match
from dedupe_releases.verify import classify, features

TITLE = "Minister announces £17 million to improve children's services in Leeds"
RELEASE = [
    "Children and Families Minister Jane Hollis has today (9 July 2018) announced £17 million "
    "to improve children's services in Leeds, with councils across Yorkshire set to benefit.",
    "The funding will help councils work with families earlier, before problems escalate, and "
    "will support 1,200 social workers over the next three years.",
    "It forms part of a wider programme that has already reached 45 local authorities, where "
    "the number of children taken into care fell by 12% last year.",
    "Jane Hollis said:",
    "“Every child deserves a safe and loving home. This investment will give social workers "
    "the time and the tools they need to keep families together where it is right to do so.”",
    "Leeds City Council, which pioneered the approach, will share its practice with twenty "
    "partner councils, and an independent evaluation will report in the spring.",
    "Rachel Green, director of children's services at Leeds City Council, said:",
    "“We have seen first-hand how much difference early help makes. We are delighted that "
    "other councils will now be able to learn from what our teams have built together.”",
    "Bids for the second round open in September, and guidance for applicants will be "
    "published on the department's website alongside the full terms of the grant.",
]
UPDATE = [
    "Update, 3 May 2019: the first round has now closed, and the department has confirmed "
    "which councils will take part in the next stage of the programme this summer.",
    "Successful councils include Bradford, Wakefield and Calderdale, which together will "
    "receive support to recruit and train additional family workers over the coming year.",
    "A further announcement about the second round, including the criteria that will be used "
    "to assess applications from smaller district councils, is expected before the autumn.",
]


def _article(aid: str, title: str, paragraphs: list[str], kind: str | None = "Press release"):
    return make_article(aid, "\n\n".join(paragraphs), title=title, kind=kind)


def _classify(a: Article, b: Article, config: VerifyConfig = VerifyConfig()) -> Match | None:
    f = lambda x: features(x, SketchConfig(), sentence_hashes)  # noqa: E731
    return classify(a, b, f(a), f(b), config)


def _replace(paragraphs: list[str], old: str, new: str) -> list[str]:
    return [p.replace(old, new) for p in paragraphs]


# ---- one test per relation ---------------------------------------------------------------


def test_exact_same_fixed_text() -> None:
    m = _classify(_article("a#1", TITLE, RELEASE), _article("b#1", TITLE, RELEASE))
    assert m is not None and m.relation == "exact"


def test_near_copy_with_straight_quotes_and_a_reworded_phrase() -> None:
    edited = _replace(_replace(RELEASE, "“", '"'), "earlier, before", "sooner, before")
    m = _classify(_article("a#1", TITLE, RELEASE), _article("b#1", TITLE, edited))
    assert m is not None and m.relation == "near", m
    assert m.scores.jaccard > 0.9 and m.facts == ()


def test_near_copy_that_lost_a_sentence_with_numbers_still_agrees_on_facts() -> None:
    # Only one copy states "45 local authorities" and "12%": missing is not differing.
    shorter = [p for p in RELEASE if "45 local authorities" not in p]
    m = _classify(_article("a#1", TITLE, RELEASE), _article("b#1", TITLE, shorter))
    assert m is not None and m.relation == "near", m


def test_update_that_adds_paragraphs_contains_the_release() -> None:
    release = _article("a#1", TITLE, RELEASE)
    update = _article("b#1", TITLE, [*RELEASE, *UPDATE])
    m = _classify(update, release)
    assert m is not None and m.relation == "contains", m
    assert m.scores.containment == 1.0
    assert any("more shingles" in e for e in m.evidence)
    m = _classify(release, update)
    assert m is not None and m.relation == "contained_in"


def test_contains_keeps_its_direction_in_the_scan_output(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text(_file(TITLE, [*RELEASE, *UPDATE]), encoding="utf-8")
    (tmp_path / "b.txt").write_text(_file(TITLE, RELEASE), encoding="utf-8")
    result = scan([tmp_path])
    assert result.clusters == []
    assert [(m.a, m.b, m.relation) for m in result.related] == [("a.txt#1", "b.txt#1", "contains")]


def test_a_passage_shared_by_a_long_and_a_short_text_is_not_containment() -> None:
    # The short text is wholly inside the long one, but it is a small part of it (J < 0.2).
    long_text = [*RELEASE, *UPDATE, *[p.replace("Leeds", "Hull") for p in RELEASE[4:]]]
    short = _article("b#1", "Early help", RELEASE[4:6])
    m = _classify(_article("a#1", TITLE, long_text), short)
    assert m is None or m.relation not in ("contains", "contained_in", "near")


def test_rewrite_reusing_quotes_is_related() -> None:
    rewrite = [
        "Councils in Yorkshire are to share new money for early help, the government said.",
        RELEASE[4],
        "Sector leaders welcomed the move but warned that demand was still rising fast, and "
        "several directors said the sums involved would not cover the gap left by past cuts.",
        RELEASE[7],
        "The department did not say how the money would be split between councils this year.",
    ]
    m = _classify(_article("a#1", TITLE, RELEASE), _article("b#1", "Early help cash", rewrite))
    assert m is not None and m.relation == "related", m
    assert m.scores.jaccard < 0.5


# ---- the fact check ----------------------------------------------------------------------


def test_pair_differing_only_in_an_amount_is_a_template_sibling() -> None:
    other = _replace(RELEASE, "£17 million", "£18 million")
    m = _classify(
        _article("a#1", TITLE, RELEASE),
        _article("b#1", TITLE.replace("£17", "£18"), other),
    )
    assert m is not None and m.relation == "template_sibling", m
    assert ("money", "£17 million", "£18 million") in m.facts
    assert "money differs: £17 million vs £18 million" in m.evidence
    assert m.scores.jaccard >= VerifyConfig().threshold  # the texts do match


def test_pair_differing_only_in_a_date_is_a_template_sibling() -> None:
    other = _replace(RELEASE, "9 July 2018", "16 July 2018")
    m = _classify(_article("a#1", TITLE, RELEASE), _article("b#1", TITLE, other))
    assert m is not None and m.relation == "template_sibling", m
    assert m.facts == (("date", "9 July 2018", "16 July 2018"),)


def test_pair_differing_only_in_the_place_named_in_the_title_is_a_template_sibling() -> None:
    other = _replace(RELEASE, "Leeds", "Bradford")
    m = _classify(
        _article("a#1", TITLE, RELEASE), _article("b#1", TITLE.replace("Leeds", "Bradford"), other)
    )
    assert m is not None and m.relation == "template_sibling", m
    assert any(kind == "title" and "Leeds" in x for kind, x, _ in m.facts)


def test_amounts_are_compared_by_value_not_spelling() -> None:
    a = extract_facts("The council gets £17 million to improve roads, the minister said today.")
    b = extract_facts("The council gets £17m to improve roads, the minister said today.")
    c = extract_facts("The council gets £17,000,000 to improve roads, the minister said today.")
    assert differing_facts(a, b) == [] and differing_facts(a, c) == []
    d = extract_facts("The council gets £2.5bn to improve roads, the minister said today.")
    assert [x.kind for x in differing_facts(a, d)] == ["money"]


def test_template_siblings_are_never_clustered(tmp_path: Path) -> None:
    for n, amount in enumerate(("£17 million", "£18 million", "£19 million", "£25 million")):
        text = _file(TITLE.replace("£17 million", amount), _replace(RELEASE, "£17 million", amount))
        (tmp_path / f"{n}.txt").write_text(text, encoding="utf-8")
    result = scan([tmp_path])
    assert result.clusters == []
    assert {m.relation for m in result.related} == {"template_sibling"}
    assert len(result.related) == 6


# ---- short articles ----------------------------------------------------------------------


def test_short_articles_with_a_shared_line_are_never_clustered(tmp_path: Path) -> None:
    stubs = [
        f"Notice: Flood warning for {place}: 9 July 2018\n\n"
        "Read the full statement on the council website.\n"
        for place in ("Leeds", "Hull", "York", "Selby", "Goole", "Ripon", "Otley", "Ilkley")
    ]
    for n, text in enumerate(stubs):
        (tmp_path / f"{n}.txt").write_text(text, encoding="utf-8")
    (tmp_path / "copy.txt").write_text(stubs[0].replace("Leeds", "LEEDS"), encoding="utf-8")
    result = scan([tmp_path])
    # Only the copy with the same words is clustered: with the stub it copies.
    assert [sorted(c.members) for c in result.clusters] == [["0.txt#1", "copy.txt#1"]]


def test_short_articles_with_the_same_title_and_other_words_are_related() -> None:
    a = _article("a#1", "Flood warning for Leeds: 9 July 2018", ["Roads are closed."])
    b = _article("b#1", "Flood warning for Leeds: 9 July 2018", ["Read the statement."])
    m = _classify(a, b)
    assert m is not None and m.relation == "related"
    assert m.evidence[0].startswith("short")


# ---- boilerplate -------------------------------------------------------------------------

# Single-line paragraphs: fix.strip_boilerplate (which drops glued-on listings) leaves them.
FOOTER = (
    "Share this page\n\nSign up for our newsletter to get the latest news delivered every morning."
)


def _file(title: str, paragraphs: list[str], footer: str = "") -> str:
    return "\n\n".join([f"Press release: {title}", *paragraphs, *([footer] if footer else [])])


def test_boilerplate_is_learned_counted_and_masked(tmp_path: Path) -> None:
    # Six unrelated short releases, each with the same footer, in six files.
    for n in range(6):
        words = [f"word{n}x{i}" for i in range(60)]
        body = [" ".join(words[:30]) + ".", " ".join(words[30:]) + "."]
        (tmp_path / f"{n}.txt").write_text(_file(f"Release {n}", body, FOOTER), encoding="utf-8")
    result = scan([tmp_path])
    assert len(result.boilerplate) >= 2
    assert line_hash("Share this page") in result.boilerplate.hashes
    assert result.boilerplate.masked >= 12
    doc = document(result)
    assert doc["counts"]["boilerplate_lines"] == len(result.boilerplate)
    assert doc["counts"]["masked_lines"] == result.boilerplate.masked
    assert result.clusters == [] and result.related == []
    masked = result.boilerplate.mask(result.article("0.txt#1"))
    assert "Share this page" not in masked and "word0x59" in masked


def test_copies_of_one_release_never_become_boilerplate(tmp_path: Path) -> None:
    # The same release in eight files: its lines recur, but always under one title.
    for n in range(8):
        (tmp_path / f"{n}.txt").write_text(_file(TITLE, RELEASE), encoding="utf-8")
    result = scan([tmp_path])
    assert len(result.boilerplate) == 0
    assert [len(c.members) for c in result.clusters] == [8]


def test_boilerplate_masking_can_be_turned_off(tmp_path: Path) -> None:
    for n in range(6):
        body = [" ".join(f"w{n}y{i}" for i in range(50)) + "."]
        (tmp_path / f"{n}.txt").write_text(_file(f"Release {n}", body, FOOTER), encoding="utf-8")
    config = Config(verify=VerifyConfig(mask_boilerplate=False))
    assert len(scan([tmp_path], config).boilerplate) == 0


# ---- canonical ---------------------------------------------------------------------------


def test_canonical_prefers_the_earliest_date_when_all_else_ties() -> None:
    later = _article("b#1", TITLE, [*RELEASE[:-1], RELEASE[-1] + " Published 1 June 2020."])
    early = _article("c#1", TITLE, [*RELEASE[:-1], RELEASE[-1] + " Published 1 June 2001."])
    assert earliest_date(early.text) == "2001-06-01"
    pos = {"b#1": 1, "c#1": 2}.__getitem__
    best, runner, reasons = pick_canonical([later, early], pos)
    assert (best.id, runner and runner.id) == ("c#1", "b#1")
    assert reasons[-1].startswith("earliest_date") and "2001-06-01" in reasons[-1]


def test_scan_json_reports_facts_and_validates(tmp_path: Path, scan_schema) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "a.txt").write_text(_file(TITLE, RELEASE), encoding="utf-8")
    other = _replace(RELEASE, "9 July 2018", "16 July 2018")
    (tmp_path / "b.txt").write_text(_file(TITLE, other), encoding="utf-8")
    doc = document(scan([tmp_path]))
    jsonschema.validate(doc, scan_schema)
    (rel,) = doc["related"]
    assert rel["relation"] == "template_sibling"
    assert rel["facts"] == [{"kind": "date", "a": "9 July 2018", "b": "16 July 2018"}]


@pytest.mark.parametrize("threshold", [0.6, 0.7, 0.8])
def test_relations_are_symmetric_up_to_direction(threshold: float) -> None:
    config = VerifyConfig(threshold=threshold)
    pairs = [
        (_article("a#1", TITLE, RELEASE), _article("b#1", TITLE, [*RELEASE, *UPDATE])),
        (_article("a#1", TITLE, RELEASE), _article("b#1", TITLE, _replace(RELEASE, "£17", "£9"))),
    ]
    flip = {"contains": "contained_in", "contained_in": "contains"}
    for a, b in pairs:
        ab, ba = _classify(a, b, config), _classify(b, a, config)
        assert ab is not None and ba is not None
        assert flip.get(ab.relation, ab.relation) == ba.relation

"""Stage 3: articles, titles and spans. Golden file: cases/split/samples.expected.json."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

from conftest import BIG, KURZ, SAMPLES, sample_text

from dedupe_releases.config import Config
from dedupe_releases.fix import fix_blocks, strip_boilerplate
from dedupe_releases.pipeline import articles_of
from dedupe_releases.read import read_source
from dedupe_releases.records import Article, FixedText
from dedupe_releases.split import parse_header, split_text, title_is_cut

GOLDEN = Path(__file__).parent / "cases" / "split" / "samples.expected.json"


def _split(text: str, source: str = "t.txt") -> list[Article]:
    blocks, fixes = fix_blocks(text)
    return split_text(FixedText(source, "0", "utf-8", blocks, fixes), trim=strip_boilerplate)


def test_samples_split_into_the_golden_articles() -> None:
    found = []
    for path in sorted(SAMPLES.iterdir()):
        for a in articles_of(read_source(path, path.name, Config().read), Config()):
            found.append({"id": a.id, "lines": list(a.lines), "kind": a.kind, "title": a.title})
    assert found == json.loads(GOLDEN.read_text(encoding="utf-8"))
    assert len(found) == 13


def test_bracketed_split_title_is_joined() -> None:
    (a,) = _split(
        "Press release: Prime Minister's meeting with Chancellor Kurz of\n\n"
        "[Austria: 9 July 2018](#)\n\nThe Prime Minister welcomed Chancellor Kurz."
    )
    assert a.title == "Prime Minister's meeting with Chancellor Kurz of Austria: 9 July 2018"
    assert a.title_repaired
    assert a.body == "The Prime Minister welcomed Chancellor Kurz."
    assert a.lines == (1, 5)


def test_bracketed_header_starts_an_article() -> None:
    articles = _split(
        "Intro text of a page.\n\n[News story: Tougher laser misuse laws come into force](#)\n\n"
        "Body of the story.\n\nSpeech: A speech\n\nWords."
    )
    assert [(a.kind, a.title, a.lines) for a in articles] == [
        (None, "Intro text of a page.", (1, 1)),
        ("News story", "Tougher laser misuse laws come into force", (3, 5)),
        ("Speech", "A speech", (7, 9)),
    ]


def test_file_without_header_is_one_article_titled_by_its_first_line() -> None:
    (a,) = _split("Mark Whitehead 13 October 2017\n\nCouncils awarded £20m.\n\nMore.")
    assert (a.kind, a.title, a.body) == (
        None,
        "Mark Whitehead 13 October 2017",
        "Councils awarded £20m.\n\nMore.",
    )


def test_every_gov_uk_type_is_a_header() -> None:
    for kind in (
        "Written statement to Parliament",
        "Oral statement to Parliament",
        "Government response",
        "Policy paper",
        "Consultation outcome",
        "Research and analysis",
        "Case study",
        "Correspondence",
        "Notice",
    ):
        assert parse_header(f"{kind}: Something happened") == (kind, "Something happened")


def test_prose_that_starts_like_a_header_is_not_one() -> None:
    assert parse_header("Statement: " + "the minister said that " * 10) is None
    assert parse_header("Notice:") is None
    assert parse_header("Noticeboard: hello") is None


def test_titles_cut_on_a_dangling_word() -> None:
    assert title_is_cut("Minister announces funding for")
    assert title_is_cut("Extremism Commissioner confirms plans –")
    assert not title_is_cut("Extremism Commissioner confirms plans for 2018")


def test_ids_and_spans_in_the_sample_with_the_kurz_copies() -> None:
    path = SAMPLES / KURZ
    articles = articles_of(read_source(path, KURZ, Config().read), Config())
    lines = sample_text(KURZ).split("\n")
    for a in articles:
        assert a.id == f"{KURZ}#{a.ordinal}"
        assert lines[a.lines[0] - 1].strip() != ""  # a span starts on its header
    kurz = [a for a in articles if "Kurz" in a.title]
    assert [a.lines for a in kurz] == [(266, 280), (282, 296)]


def test_spans_follow_each_other_in_file_order() -> None:
    path = SAMPLES / BIG
    articles = articles_of(read_source(path, BIG, Config().read), Config())
    for before, after in itertools.pairwise(articles):
        assert before.lines[1] < after.lines[0]


def test_empty_and_blank_files_give_no_article() -> None:
    assert _split("") == []
    assert _split("\n\n  \n") == []

"""Stage 2: repairs. Line cases live in cases/fix/*.json (ftfy's format: expect pass|fail)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import BIG, KURZ, SAMPLES, TRADE, sample_text

from dedupe_releases.fix import fix_blocks, fix_line, strip_boilerplate
from dedupe_releases.records import Block

CASES = [
    case
    for path in sorted((Path(__file__).parent / "cases" / "fix").glob("*.json"))
    for case in json.loads(path.read_text(encoding="utf-8"))
]


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(c, id=c["label"], marks=[pytest.mark.xfail] if c["expect"] == "fail" else [])
        for c in CASES
    ],
)
def test_line_case(case: dict[str, str]) -> None:
    fixed, _ = fix_line(case["original"])
    assert fixed == case["fixed"]
    assert fix_line(fixed)[0] == fixed  # fixing twice changes nothing


def test_line_endings_are_normalised_and_spans_counted() -> None:
    blocks, _ = fix_blocks("One.\r\n\r\nTwo\rthree.\n\nFour.\u2028Five.")
    assert [(b.text, b.first_line, b.last_line) for b in blocks] == [
        ("One.", 1, 1),
        ("Two\nthree.", 3, 4),
        ("Four.\nFive.", 6, 7),
    ]


def test_paragraph_broken_mid_sentence_is_joined() -> None:
    text = (
        "help us work towards protecting the environment\n\nand promoting sustainable "
        "development.\n\nNext paragraph."
    )
    blocks, fixes = fix_blocks(text)
    assert [b.text for b in blocks] == [
        "help us work towards protecting the environment and promoting sustainable development.",
        "Next paragraph.",
    ]
    assert (blocks[0].first_line, blocks[0].last_line) == (1, 3)
    assert ("paragraph_join", 1) in [(f.rule, f.count) for f in fixes]


def test_paragraphs_ending_in_punctuation_or_followed_by_capitals_stay_apart() -> None:
    blocks, _ = fix_blocks("Funding\n\n£59,898\n\nEnd user\n\nA sentence.\n\nlower start")
    assert len(blocks) == 5


def test_bracketed_header_with_cut_title_is_rejoined() -> None:
    text = "[News story: Minister announces £17](#)\n\nmillion to improve children’s services"
    blocks, _ = fix_blocks(text)
    assert [b.text for b in blocks] == [
        "News story: Minister announces £17 million to improve children's services"
    ]


def test_trade_paper_furniture_is_stripped_by_shape_not_by_words() -> None:
    body = [
        Block("He said the councils would get the tools they need to build services.", 1, 1),
        Block("Subscribe today\nGet the weekly digest\nMore vacancies", 3, 5),
        Block("Porter", 7, 7),
        Block("Borsetshire Council\n£10 per hour", 9, 10),
    ]
    kept, dropped = strip_boilerplate(body)
    assert [b.text for b in kept] == [body[0].text]
    assert dropped == 3


def test_a_closing_list_of_an_article_is_kept() -> None:
    body = [
        Block("The new Partners in Practice are listed below for each region.", 1, 1),
        Block("- Ealing\n- Camden\n- Essex", 3, 5),
    ]
    assert strip_boilerplate(body) == (tuple(body), 0)


def test_sample_trade_paper_loses_its_job_ads() -> None:
    blocks, _ = fix_blocks(sample_text(TRADE))
    kept, dropped = strip_boilerplate(blocks[1:])
    assert dropped > 5
    assert kept[-1].text.startswith("'My commitment is that we will build")
    assert not any("Recuriter" in b.text or "SIGN UP" in b.text for b in kept)


@pytest.mark.parametrize("name", sorted(p.name for p in SAMPLES.iterdir()))
def test_fixing_fixed_text_changes_nothing(name: str) -> None:
    blocks, _ = fix_blocks(sample_text(name))
    once = "\n\n".join(b.text for b in blocks)
    again, fixes = fix_blocks(once)
    assert "\n\n".join(b.text for b in again) == once
    assert fixes == ()


def test_sample_mojibake_and_quotes_are_fixed() -> None:
    blocks, _ = fix_blocks(sample_text(BIG))
    text = "\n".join(b.text for b in blocks)
    assert "’" not in text and "“" not in text and "](#)" not in text
    assert "Government's 25 Year Plan" in text


def test_kurz_title_parts_stay_separate_paragraphs_for_the_splitter() -> None:
    # "…Kurz of" / "[Austria: 9 July 2018](#)": the next part starts in upper case, so it
    # is not a broken sentence; the splitter joins it as a cut title (see test_split).
    blocks, _ = fix_blocks(sample_text(KURZ))
    texts = [b.text for b in blocks]
    i = texts.index("Press release: Prime Minister's meeting with Chancellor Kurz of")
    assert texts[i + 1] == "Austria: 9 July 2018"

"""Verification's fast paths give exactly what their plain definitions give."""

from __future__ import annotations

import re
import sys
from collections import defaultdict
from dataclasses import replace
from decimal import Decimal
from difflib import SequenceMatcher
from functools import partial

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from dedupe_releases.boilerplate import Boilerplate, line_hash
from dedupe_releases.candidates import sentence_hashes
from dedupe_releases.config import Config, SketchConfig
from dedupe_releases.facts import (
    _FACT,
    _NAME_WORD,
    _UNFOLDABLE,
    _WORD,
    CONTEXT_WORDS,
    TITLE_ALIGN_RATIO,
    Fact,
    FactDiff,
    Facts,
    _all_values,
    _decimal,
    _fact,
    _folded,
    _is_name,
    _number,
    _plain,
    _slot,
    _values,
    _vocabulary,
    differing_facts,
    extract_facts,
    facts_of_kept_lines,
    find_facts,
)
from dedupe_releases.records import Article
from dedupe_releases.sketch import sentence_tokens, tokens
from dedupe_releases.verify import features, normalised
from dedupe_releases.verify_batch import batch_features, stored_features, stored_words

# Pieces that make facts, and near misses of facts, likely in generated text: currency signs,
# months (cased, abbreviated, dotted, and a long s that matches "s" case-insensitively),
# scales, digits with separators, and every kind of space, control and typographic mark.
_PIECES = (
    *("£", "$", "€", "£ ", "$\u00a0", "%", " per cent", "percent", "pc", "st ", "th,"),
    *(
        "January",
        "September.",
        "september",
        "sept. ",
        "SEP",
        "ſep",
        "dec.",
        "Mar",
        "may",
        "Jun",
        "july ",
        "OCT",
    ),
    *(" million", "bn", "m", "k ", " thousand", "mn."),
    *(
        "1",
        "09",
        "2018",
        " 2018",
        " 5,",
        "1999",
        "31",
        "1,500",
        "59,898.5",
        "12.5",
        "0.",
        ",3",
        "-07-",
        "-12-",
    ),
    *(" ", "  ", "\n", "\n\n", "\t", "\u3000", "\u2009", "\x1c", "\x85", "\u2028", "\x00"),
    *("“", "”", "’", "â€™", "Ã©", "Â£", "é", "ß", "İ", "ﬁ", "_", ":", "-", ".", ",", "(", ")"),
    *("٣", "１", "²", "word", "Minister", "x2", "a1b"),
    *(
        "The council has today announced that it will spend ",
        "roads and bridges, the minister said. ",
    ),
    *(
        "Ünïcödé wörds “quoted” — İstanbul’s ΣΊΣΥΦΟΣ straße ﬁnance ",
        "a b c d e f g h i j k l m n o p ",
        *("x" * 60, "_y" * 30, "\x00abc", "q\x00 "),
    ),
)
_TEXT = st.lists(st.sampled_from(_PIECES) | st.text(max_size=4), max_size=40).map("".join)


def plain_extract_facts(text: str, title: str = "") -> Facts:
    """``extract_facts`` by its definition: every stretch between two facts tokenised."""
    words: list[str] = []
    at: list[int] = []
    facts: list[Fact] = []
    last = 0
    for fact, start, end in find_facts(text):
        words += _WORD.findall(text[last:start].casefold())
        at.append(len(words))
        words.append("\x00" + fact.kind)  # a slot that ``_slot`` reads as the kind
        facts.append(fact)
        last = end
    words += _WORD.findall(text[last:].casefold())
    keyed: dict[tuple[str, str], list[Fact]] = defaultdict(list)
    for i, fact in zip(at, facts, strict=True):
        before = [_slot(x) for x in words[max(0, i - CONTEXT_WORDS) : i]]
        after = [_slot(x) for x in words[i + 1 : i + 1 + CONTEXT_WORDS]]
        if len(before) == CONTEXT_WORDS:
            keyed[(fact.kind, " ".join([*before, "|"]))].append(fact)
        if len(after) == CONTEXT_WORDS:
            keyed[(fact.kind, " ".join(["|", *after]))].append(fact)
    return Facts(
        tuple(sorted((k, tuple(v)) for k, v in keyed.items())),
        tuple(_NAME_WORD.findall(title)),
        text,
    )


def plain_facts(text: str) -> list[tuple[object, int, int]]:
    """``find_facts`` by its definition: the fact pattern tried at every position."""
    return [(_fact(m), m.start(), m.end()) for m in _FACT.finditer(text)]


@settings(max_examples=3000)
@given(_TEXT)
def test_find_facts_is_the_pattern_over_the_whole_text(text: str) -> None:
    assert find_facts(text) == plain_facts(text)


def test_find_facts_examples() -> None:
    text = "On March \u3000 2, 2019 (sept.\n9 2020) we paid $ 5, £1,500.5bn and 7% x2 a1 "
    assert [(f.kind, f.value, f.shown) for f, _, _ in find_facts(text)] == [
        ("date", "2019-03-02", "March \u3000 2, 2019"),
        ("date", "2020-09-09", "sept.\n9 2020"),
        ("money", "$5", "$ 5"),
        ("money", "£1500500000000", "£1,500.5bn"),
        ("percent", "7%", "7%"),
    ]
    assert find_facts(text) == plain_facts(text)
    assert [f.value for f, _, _ in find_facts("Mar 2019, may\t5, 2020 and OCT. 3 1999")] == [
        "2019-03",
        "2020-05-05",
        "1999-10-03",
    ]
    longest = "SEPTEMBER.\u3000\n 2018, September. 9 2018, $\u00a012"
    assert [f.shown for f, _, _ in find_facts(longest)] == [
        "SEPTEMBER.\u3000\n 2018",
        "September. 9 2018",
        "$\u00a012",
    ]
    for text in ("", "no digits at all", "x2 y3", "\x00 2018-07-09 \x00", "٣ July 2018", longest):
        assert find_facts(text) == plain_facts(text)


@settings(max_examples=2000)
@given(_TEXT, _TEXT)
def test_extract_facts_is_its_plain_definition(text: str, title: str) -> None:
    # The values first, while the contexts are not made yet (most pairs need no more)
    assert _all_values(extract_facts(text, title)) == _values(plain_extract_facts(text, title))
    assert extract_facts(text, title) == plain_extract_facts(text, title)
    assert extract_facts(text, title).words == tuple(_NAME_WORD.findall(text))
    assert extract_facts(text, title, find_facts(text)) == plain_extract_facts(text, title)


def test_extract_facts_examples() -> None:
    filler = "and then some more words follow here, " * 4
    text = f"On 9 July 2018 {filler} £17 million {filler}, İstanbul’s 12% {filler}"
    facts = extract_facts(text)
    assert [k for k, _ in facts.keyed] == [
        ("date", "| and then some"),
        ("money", "words follow here |"),
        ("money", "| and then some"),
        ("percent", "i stanbul s |"),
        ("percent", "| and then some"),
    ]
    assert facts == plain_extract_facts(text)
    cut = "c" * 100  # a word cut short by either end's characters
    for text in (
        "",
        "no facts",
        "\x00x1\x00 said 5 " + filler,
        filler + "\x00" + "_x" * 30 + "\x00 5",  # a slot-like word the tail would split
        "x" * 200 + " 5 " + "y" * 200,
        f"1 aa bb {cut} dd ee ff gg 2",
        f"1 aa bb cc dd {cut} ee ff 2",
    ):
        assert extract_facts(text, text) == plain_extract_facts(text, text)


@given(st.text("0123456789٣١２", max_size=30), st.sampled_from([1, 1000, 10**12]))
def test_number_is_the_plain_decimal(digits: str, scale: int) -> None:
    assert _number(digits, scale) == _plain((_decimal(digits) or Decimal(0)) * scale)
    for text in (digits + ".50", digits + ",000", "1,500.25"):
        assert _number(text, scale) == _plain((_decimal(text) or Decimal(0)) * scale)


def test_number_examples() -> None:
    assert [_number(x) for x in ("0", "00", "0012", "1500", "12.50", "1,500")] == [
        "0",
        "0",
        "12",
        "1500",
        "12.5",
        "1500",
    ]
    assert _number("5", 1_000_000) == "5000000"
    many = "9" * 5000  # beyond int's digit limit; Decimal rounds it to 28 digits
    assert _number(many) == _plain(Decimal(many)) == "1" + "0" * 5000


@given(_TEXT)
def test_folded_is_each_word_casefolded(text: str) -> None:
    words = tuple(_NAME_WORD.findall(text))
    assert _folded(words) == [w.casefold() for w in words]


def test_no_word_character_casefolds_to_a_space() -> None:
    chars = map(chr, range(sys.maxunicode + 1))
    assert not [c for c in chars if _NAME_WORD.fullmatch(c) and " " in c.casefold()]


# Lines for generated bodies: some are learned boilerplate (in any case and spacing), some
# hold sentence breaks at their ends, quotes, facts and odd whitespace.
_LINES = (
    "Share this page",
    "  SHARE this,   page!",
    "Twitter",
    "The minister said: “It is £17 million.” Then 9 July 2018.",
    'He left. "Yes!" \t',
    "Sentence one. Sentence two? Three!",
    "",
    "  ",
    "...",
    "Ünïcödé İstanbul’s straße (2%)",
    "Sign up for our free daily bulletin and get every story first.",
    "sign UP for our free daily bulletin, and get every story first",
)
_SIGN_UP = "Sign up for our free daily bulletin and get every story first."
_BOILERPLATE = Boilerplate(
    frozenset([line_hash("Share this page"), line_hash("Twitter"), line_hash(_SIGN_UP)])
)
_BODY = st.lists(st.sampled_from(_LINES) | _TEXT, max_size=12).map("\n".join)


def _article(title: str, body: str) -> Article:
    return Article("a#1", "a", 1, (1, 1), None, title, body, "hash")


def _plain_mask(boilerplate: Boilerplate, article: Article) -> str:
    """``Boilerplate.mask`` as first written: each line hashed on its own, the title kept."""
    if not boilerplate.hashes or not article.body:
        return article.text
    paragraphs = []
    for paragraph in article.body.split("\n\n"):
        kept = [ln for ln in paragraph.split("\n") if line_hash(ln) not in boilerplate.hashes]
        if kept:
            paragraphs.append("\n".join(kept))
    return "\n\n".join([article.title, *paragraphs])


@settings(max_examples=1000)
@given(_TEXT, _BODY)
def test_mask_words_are_the_masked_texts_words(title: str, body: str) -> None:
    article = _article(title, body)
    text, words, counts = _BOILERPLATE.mask_words(article)
    plain_words, plain_counts = sentence_tokens(_plain_mask(_BOILERPLATE, article))
    assert text == _plain_mask(_BOILERPLATE, article)
    assert _BOILERPLATE.mask(article) == text
    assert words == plain_words
    assert [c for c in counts if c] == [c for c in plain_counts if c]


@settings(max_examples=300)
@given(st.lists(st.tuples(_TEXT, _BODY), min_size=1, max_size=6))
def test_mask_words_with_lines_seen_before(articles: list[tuple[str, str]]) -> None:
    """Articles masked one after another, sharing what their lines gave, are each masked as
    on their own (the lines of ``_LINES`` recur, in and out of boilerplate)."""
    seen: dict[str, tuple[list[str], list[int], bool]] = {}
    for title, body in [*articles, *articles]:
        article = _article(title, body)
        assert _BOILERPLATE.mask_words(article, seen) == _BOILERPLATE.mask_words(article)


@settings(max_examples=500)
@given(_TEXT, _BODY, st.sampled_from([1000, 60, 5]))
def test_masked_features_are_the_features_of_the_masked_text(
    title: str, body: str, max_chars: int
) -> None:
    article = _article(title, body)
    config = Config(sketch=replace(SketchConfig(), max_article_chars=max_chars))
    fast = stored_features(article, np.zeros(0, np.uint64), True, config, _BOILERPLATE)
    text = _plain_mask(_BOILERPLATE, article)
    plain = features(article, config.sketch, sentence_hashes, text)
    assert fast.shingles.tolist() == plain.shingles.tolist()
    assert fast.sentences.tolist() == plain.sentences.tolist()
    assert (fast.normalised, fast.words, fast.title) == (plain.normalised, plain.words, plain.title)
    assert fast.facts == plain.facts


@settings(max_examples=500)
@given(st.lists(st.tuples(_TEXT, _BODY, st.booleans()), max_size=6), st.booleans(), st.booleans())
def test_batch_features_are_each_articles_stored_features(
    articles: list[tuple[str, str, bool]], learned: bool, whole_facts: bool
) -> None:
    """Masked or not, sharing lines or not, in a batch: each article's features are those
    ``stored_features`` gives it alone (which the test above ties to the plain definition),
    the facts of a masked text taken from those of the whole text or found anew."""
    config = Config()
    boilerplate = _BOILERPLATE if learned else Boilerplate()
    items = [
        (_article(title, body), sentence_hashes(_article(title, body).text), masked)
        for title, body, masked in [*articles, *articles[:2]]
    ]
    found = [partial(find_facts, a.text) if whole_facts else None for a, _, _ in items]
    batch = batch_features(items, config, boilerplate, found)
    for (article, sentences, masked), fast in zip(items, batch, strict=True):
        alone = stored_features(article, sentences, masked, config, boilerplate)
        assert fast.shingles.tolist() == alone.shingles.tolist()
        assert fast.sentences.tolist() == alone.sentences.tolist()
        assert (fast.normalised, fast.words, fast.title) == (
            alone.normalised,
            alone.words,
            alone.title,
        )
        assert fast.facts == alone.facts


@settings(max_examples=500)
@given(_TEXT, _BODY, st.sampled_from([1000, 60, 5]), st.booleans())
def test_stored_words_are_the_words_of_the_plain_masked_text(
    title: str, body: str, max_chars: int, masked: bool
) -> None:
    article = _article(title, body)
    config = Config(sketch=replace(SketchConfig(), max_article_chars=max_chars))
    text = _plain_mask(_BOILERPLATE, article) if masked else article.text
    expected = len(tokens(text[:max_chars]))
    assert stored_words(article, masked, config, _BOILERPLATE) == expected
    seen: dict[str, tuple[list[str], list[int], bool]] = {}
    for _ in range(2):  # lines remembered from the first call give the same count
        assert stored_words(article, masked, config, _BOILERPLATE, seen) == expected


def test_masked_features_example() -> None:
    body = "Share this page\nThe minister said. It costs £17 million in total for the roads.\n\n"
    article = _article("Roads get £17 million", body + "TWITTER\nMore text here.")
    text, words, counts = _BOILERPLATE.mask_words(article)
    assert text == "Roads get £17 million\n\nThe minister said. It costs £17 million in total" + (
        " for the roads.\n\nMore text here."
    )
    assert words[:6] == ["roads", "get", "17", "million", "the", "minister"]
    assert counts == [4, 3, 9, 3]


def test_str_methods_are_the_pattern_classes() -> None:
    """``_starts`` reads ``\\s`` as ``str.isspace`` and ``\\w`` as ``str.isalnum`` or "_"."""
    space, word = re.compile(r"\s"), re.compile(r"\w")
    for c in map(chr, range(sys.maxunicode + 1)):
        assert bool(space.match(c)) == c.isspace()
        assert bool(word.match(c)) == (c.isalnum() or c == "_")


def plain_differing_facts(a: Facts, b: Facts) -> list[FactDiff]:
    """``differing_facts`` by its definition: every shared context looked at, nothing kept."""
    out: list[FactDiff] = []
    seen: set[tuple[str, str, str]] = set()
    other = dict(b.keyed)
    all_a, all_b = _values(a), _values(b)
    for key, facts_a in a.keyed:
        facts_b = other.get(key)
        if facts_b is None:
            continue
        only_a = sorted({f.value for f in facts_a} - all_b)
        only_b = sorted({f.value for f in facts_b} - all_a)
        if only_a and only_b:
            shown_a = next(f.shown for f in facts_a if f.value == only_a[0])
            shown_b = next(f.shown for f in facts_b if f.value == only_b[0])
            mark = (key[0], only_a[0], only_b[0])
            if mark not in seen:
                seen.add(mark)
                out.append(FactDiff(key[0], shown_a, shown_b))
    out.extend(_plain_title_diffs(a.title, b.title))
    if not out:
        out.extend(_plain_name_diffs(a, b))
    if not out:
        out.extend(FactDiff(d.kind, d.b, d.a) for d in _plain_name_diffs(b, a))
    return out


def _plain_name_diffs(a: Facts, b: Facts) -> list[FactDiff]:
    low_b = [w.casefold() for w in b.words]
    vocab_b = set(low_b)
    missing = {w for w in a.title if _is_name(w) and w.casefold() not in vocab_b}
    if not missing:
        return []
    low_a = [w.casefold() for w in a.words]
    vocab_a = set(low_a)
    n = CONTEXT_WORDS
    after_ctx: dict[tuple[str, ...], set[str]] = defaultdict(set)
    before_ctx: dict[tuple[str, ...], set[str]] = defaultdict(set)
    for i, w in enumerate(b.words):
        if _is_name(w) and low_b[i] not in vocab_a:
            if i >= n:
                after_ctx[tuple(low_b[i - n : i])].add(w)
            if i + n < len(b.words):
                before_ctx[tuple(low_b[i + 1 : i + 1 + n])].add(w)
    for i, w in enumerate(a.words):
        if w not in missing:
            continue
        found = after_ctx.get(tuple(low_a[i - n : i])) if i >= n else None
        if not found and i + n < len(a.words):
            found = before_ctx.get(tuple(low_a[i + 1 : i + 1 + n]))
        if found:
            return [FactDiff("name", w, sorted(found)[0])]
    return []


def _plain_title_diffs(a: tuple[str, ...], b: tuple[str, ...]) -> list[FactDiff]:
    if not a or not b:
        return []
    fa = [w.casefold() for w in a]
    fb = [w.casefold() for w in b]
    matcher = SequenceMatcher(None, fa, fb, autojunk=False)
    if matcher.ratio() < TITLE_ALIGN_RATIO:
        return []
    out = []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op != "replace":
            continue
        names_a = [w for w in a[i1:i2] if _is_name(w)]
        names_b = [w for w in b[j1:j2] if _is_name(w)]
        if names_a and names_b:
            out.append(FactDiff("title", " ".join(a[i1:i2]), " ".join(b[j1:j2])))
    return out


# Words of related texts, few so that contexts recur: a shared frame, with names, sums and
# dates that an edit swaps (several values of one context, names in both texts' places).
_NAMES = ("Kurz", "Macron", "kurz", "Rutte", "Hasina", "İstanbul", "ISTANBUL", "2019", "Straße")
_FRAME = (
    *_NAMES,
    *("met", "Prime", "Minister", "of", "the", "Netherlands", "said.", "and", "council"),
    *("£17 million", "£18m", "9 July 2018", "10 July 2018", "5%", "12 per cent", "7%"),
    *("1,500", "1500", "2020", "roads", "\n", "the", "the", "of"),
)
_FRAME_TEXT = st.lists(
    st.sampled_from(_FRAME) | st.sampled_from(_FRAME) | _TEXT, min_size=1, max_size=40
)


@st.composite
def _related(draw: st.DrawFn) -> tuple[str, str]:
    """A text and an edit of it: a few pieces replaced, dropped or added."""
    pieces = draw(_FRAME_TEXT)
    edited = list(pieces)
    for _ in range(draw(st.integers(0, 4))):
        at = draw(st.integers(0, len(edited)))
        new = draw(st.sampled_from(_FRAME) | _TEXT)
        op = draw(st.sampled_from(["replace", "insert", "drop"]))
        if op == "insert" or at == len(edited):
            edited.insert(at, new)
        elif op == "replace":
            edited[at] = new
        else:
            del edited[at]
    return " ".join(pieces), " ".join(edited)


_SLOTS = ("£17 million", "£18m", "£5bn", "9 July 2018", "10 July 2018", "5%", *_NAMES[:5])
_SENTENCE = st.tuples(
    st.sampled_from(["met Prime Minister", "the council has", "The Minister of"]),
    st.sampled_from(_SLOTS),
    st.sampled_from(["of the Netherlands.", "to improve roads", "Kurz and Rutte", "\n"]),
).map(" ".join)


@st.composite
def _sentences(draw: st.DrawFn) -> tuple[str, str]:
    """Texts of a few sentences that share their words, with the facts and names between
    them drawn again: contexts hold several values in each text, names several places."""
    a = draw(st.lists(_SENTENCE, min_size=1, max_size=8))
    b = draw(st.lists(_SENTENCE, min_size=1, max_size=8))
    return " ".join(a), " ".join(a[: len(a) // 2] + b)


@settings(max_examples=1500)
@given(_related() | _sentences(), _related() | st.tuples(st.sampled_from(_NAMES), _TEXT))
def test_differing_facts_is_its_plain_definition(
    texts: tuple[str, str], titles: tuple[str, str]
) -> None:
    a = extract_facts(texts[0], titles[0], tokens=normalised(texts[0]))  # tokens joined
    b = extract_facts(texts[1], titles[1], tokens=tokens(texts[1]))  # as a list
    c = extract_facts(texts[1], titles[0])
    for x, y in ((a, b), (b, a), (a, c), (c, b), (a, a), (b, c), (a, b)):  # kept parts reused
        assert differing_facts(x, y) == plain_differing_facts(x, y)


def test_differing_facts_examples() -> None:
    frame = "Yesterday the council met Prime Minister {} of the country to talk. "
    cases = [
        (frame.format("Rutte") * 2, "Rutte visits Leeds", frame.format("Hasina") * 2, "Visit"),
        ("Leeds gets £17 million to improve roads.", "A", "Leeds gets £18m to improve roads.", "B"),
        ("x " * 10, "Kurz of Austria in Paris", "x " * 10, "Macron of France in Paris"),
        ("Same words here and there", "Same Title", "Same words here and there", "same title"),
    ]
    for text_a, title_a, text_b, title_b in cases:
        a, b = extract_facts(text_a, title_a), extract_facts(text_b, title_b)
        assert differing_facts(a, b) == plain_differing_facts(a, b)
        assert differing_facts(b, a) == plain_differing_facts(b, a)
    a, b = extract_facts(cases[0][0], cases[0][1]), extract_facts(cases[0][2], cases[0][3])
    assert [d.describe() for d in differing_facts(a, b)] == ["name differs: Rutte vs Hasina"]
    a, b = extract_facts(cases[2][0], cases[2][1]), extract_facts(cases[2][2], cases[2][3])
    assert [d.describe() for d in differing_facts(a, b)] == [
        "title differs: Kurz vs Macron",
        "title differs: Austria vs France",
    ]


def test_a_fact_is_the_same_whatever_matched_before() -> None:
    """``find_facts`` keeps each kind and text's ``_fact``: the same text gives the same fact
    in any context (here after other matches of the same text, cut short differently)."""
    texts = ["£17m", "£17mx", "x £17 million", "(£17) m", "9 July 2018", "9th July 2018", "5 %"]
    for text in [*texts, *reversed(texts), " ".join(texts), "".join(texts)]:
        assert find_facts(text) == plain_facts(text)


def test_unfoldable_are_the_characters_whose_casefold_changes_class() -> None:
    """``_vocabulary`` reads the casefolded words from ``sketch.tokens`` unless the text holds
    one of these: "_", or a character whose casefolded form is empty or mixes word and other
    characters against the character's own class."""
    found = []
    for c in map(chr, range(sys.maxunicode + 1)):
        folded = c.casefold()
        if c == "_" or any(x.isalnum() != c.isalnum() or x == "_" for x in folded) or not folded:
            found.append(c)
    assert found == [c for c in map(chr, range(sys.maxunicode + 1)) if _UNFOLDABLE.match(c)]


@settings(max_examples=1000)
@given(_TEXT)
def test_vocabulary_is_the_casefolded_words(text: str) -> None:
    plain = {w.casefold() for w in _NAME_WORD.findall(text)}
    for given_tokens in (None, tokens(text), normalised(text, limit=None)):
        assert _vocabulary(extract_facts(text, tokens=given_tokens)) == plain
    if _UNFOLDABLE.search(text) is None:
        assert tokens(text) == [w.casefold() for w in _NAME_WORD.findall(text)]


def test_vocabulary_examples() -> None:
    for text in ("", "İstanbul x", "a_b", "Straße STRASSE", "ﬁnance", "ΣΊΣΥΦΟΣ", "ǰ", " \u0345 "):
        plain = {w.casefold() for w in _NAME_WORD.findall(text)}
        assert _vocabulary(extract_facts(text, tokens=tokens(text))) == plain
        assert _vocabulary(extract_facts(text, tokens=normalised(text))) == plain


@settings(max_examples=1000)
@given(st.lists(st.sampled_from([*_SLOTS, "2019", "the", "council", "\n", ".", "x"]), max_size=24))
def test_fact_values_are_those_of_the_contexts(items: list[str]) -> None:
    """Many facts and few words: every fact with a full side, and those without one."""
    text = " ".join(items)
    assert _all_values(extract_facts(text)) == _values(plain_extract_facts(text, ""))


_FACT_PIECES = st.lists(
    st.sampled_from(
        [
            *"0123456789 ,.%£$€",
            *("st", "th", "Jan", "sept", "Sept.", "May", "July", "per", "cent", "million"),
            *("percent", "bn", "a", "x1", "2018", "19", "ſep", "ＭＡＹ", "\t", "\u2009"),
        ]
    ),
    max_size=8,
).map("".join)
#: A line's start and end, often what a fact across a line break would be made of.
_LINE_STARTS = ("", "July 2018 x", "2018.", "million", "% up", "per cent", "cent", "May 9, 2019")
_LINE_ENDS = ("", "£", "on 9", "the 9th,", "in May", "Sept.", "up 5 per", "3", " ", "y.")
_FACT_LINE = st.tuples(
    st.sampled_from(_LINE_STARTS), _FACT_PIECES, st.sampled_from(_LINE_ENDS)
).map("".join)


@settings(max_examples=1500, deadline=None)
@given(
    _FACT_LINE,
    st.lists(st.lists(st.tuples(_FACT_LINE, st.booleans()), min_size=1, max_size=4), max_size=5),
)
def test_facts_of_kept_lines_are_the_facts_of_the_kept_text(
    title: str, paragraphs: list[list[tuple[str, bool]]]
) -> None:
    """Lines left out of a text as verification masks them (dates, sums and percentages
    across line breaks, kept lines of white space): the facts taken from the whole text's
    are those of the kept text, whenever ``facts_of_kept_lines`` gives any."""
    body = "\n\n".join("\n".join(line for line, _ in p) for p in paragraphs)
    text = f"{title}\n\n{body}" if body else title
    at = kept_at = len(title) + 2
    spans = [(0, len(title), 0)]
    kept_paragraphs = []
    for paragraph in paragraphs:
        lines = []
        for line, keep in paragraph:
            if keep:
                lines.append(line)
                spans.append((at, at + len(line), kept_at))
                kept_at += len(line) + 1
            at += len(line) + 1
        at += 1
        if lines:
            kept_paragraphs.append("\n".join(lines))
            kept_at += 1
    kept = "\n\n".join([title, *kept_paragraphs])
    derived = facts_of_kept_lines(text, find_facts(text), kept, spans)
    if derived is not None:
        assert derived == find_facts(kept)


def test_facts_of_kept_lines_decline_where_a_fact_may_cross_a_new_break():
    text = "On 9\nSign up now\nJuly 2018 we paid £5.\nMore on 3 May."
    spans = [(0, 4, 0), (17, 37, 5), (38, 52, 26)]  # "Sign up now" left out
    kept = "On 9\nJuly 2018 we paid £5.\nMore on 3 May."
    assert kept[5:25] == text[17:37]
    assert facts_of_kept_lines(text, find_facts(text), kept, spans) is None
    assert next(f.value for f, _, _ in find_facts(kept)) == "2018-07-09"  # a new date
    text2 = "We paid £5.\nSign up now\nOn 9 July 2018 it rose 3%."
    kept2 = "We paid £5.\nOn 9 July 2018 it rose 3%."
    derived = facts_of_kept_lines(text2, find_facts(text2), kept2, [(0, 11, 0), (24, 49, 12)])
    assert derived == find_facts(kept2) and len(derived) == 3

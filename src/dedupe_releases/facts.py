"""The facts that make two releases different: money, dates, percentages, numbers, title names.

Takes a text (and a title); returns its facts, each with a normalised value and the words
around it. Two texts *disagree* on a fact when the same context holds a different value in
each (``announced £17 million to`` / ``announced £18 million to``), never when a fact is only
missing from one of them: a copy that lost a sentence, or gained a footer, still agrees.
Never decides a relation (that is ``verify``).
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from difflib import SequenceMatcher

MONTHS = (
    *("january", "february", "march", "april", "may", "june", "july"),
    *("august", "september", "october", "november", "december"),
)
_MONTH_NUMBER = {m: i for i, m in enumerate(MONTHS, start=1)} | {
    m[:3]: i for i, m in enumerate(MONTHS, start=1)
}
_MONTH_NUMBER["sept"] = 9
_MONTH = r"(?:" + "|".join(sorted(_MONTH_NUMBER, key=len, reverse=True)) + r")\.?"
_NUM = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
_SCALE = {
    "k": 1_000,
    "thousand": 1_000,
    "m": 1_000_000,
    "mn": 1_000_000,
    "million": 1_000_000,
    "bn": 1_000_000_000,
    "billion": 1_000_000_000,
    "trillion": 1_000_000_000_000,
}
_SCALE_RE = r"(?:\s?(?:thousand|million|billion|trillion)\b|(?:k|m|mn|bn)\b)"

# One pass, left to right, longest kinds first: a date's year and a sum's digits are not also
# counted as bare numbers. Every kind starts with a currency sign, a digit or a month's first
# three letters; the leading lookahead says so, which lets the engine skip every other
# position without trying the seven alternatives there (about 3x faster, the same matches).
_KIND_PATTERNS = {
    "money": rf"(?P<money>(?P<cur>[£$€])\s?(?P<amount>{_NUM})(?P<scale>{_SCALE_RE})?)",
    "dmy": rf"(?P<dmy>\b(?P<d1>[0-3]?\d)(?:st|nd|rd|th)?\s+(?P<m1>{_MONTH})\s+"
    r"(?P<y1>(?:19|20)\d\d)\b)",
    "mdy": rf"(?P<mdy>\b(?P<m2>{_MONTH})\s+(?P<d2>[0-3]?\d)(?:st|nd|rd|th)?,?\s+"
    r"(?P<y2>(?:19|20)\d\d)\b)",
    "iso": r"(?P<iso>\b(?P<y3>(?:19|20)\d\d)-(?P<m3>[01]\d)-(?P<d3>[0-3]\d)\b)",
    "my": rf"(?P<my>\b(?P<m4>{_MONTH})\s+(?P<y4>(?:19|20)\d\d)\b)",
    "pct": rf"(?P<pct>(?<![\w.,])(?P<p>{_NUM})\s?(?:%|per\s?cent\b|percent\b))",
    "num": rf"(?P<num>(?<![\w.,])(?P<n>{_NUM})(?![\w]|[.,]\d))",
}


def _kinds(*kinds: str) -> str:
    """The alternation of these kinds' patterns, in the order of ``_KIND_PATTERNS``."""
    return "(?:" + "|".join(p for k, p in _KIND_PATTERNS.items() if k in kinds) + ")"


_FACT = re.compile(
    r"(?=[£$€\d]|(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec))" + _kinds(*_KIND_PATTERNS),
    re.IGNORECASE,
)
# ``_FACT`` where the match starts with a digit, a currency sign or anything else (a month
# word): only the kinds that can start with that character, in the same order, so the same
# match, without trying the others (1.6x on a match at a digit). Tested against ``_FACT``.
_FACT_AT_DIGIT = re.compile(_kinds("dmy", "iso", "pct", "num"), re.IGNORECASE)
_FACT_AT_CURRENCY = re.compile(_kinds("money"), re.IGNORECASE)
_FACT_AT_WORD = re.compile(_kinds("mdy", "my"), re.IGNORECASE)
_WORD = re.compile(r"[^\W_]+|\x00\w+\x00")
_NAME_WORD = re.compile(r"[^\W_]+")
#: Words either side of a fact that make its context. Three: "has today ( DATE ) announced"
#: is specific to one sentence, yet one edited word near a fact loses only that fact's key.
CONTEXT_WORDS = 3


@dataclass(frozen=True, slots=True)
class Fact:
    kind: str  # "money", "date", "percent", "number"
    value: str  # normalised: "£17000000", "2018-07-09", "2018-07", "12.5%", "1500"
    shown: str  # as written: "£17 million"


@dataclass(frozen=True, slots=True)
class FactDiff:
    """A fact on which two texts disagree: the same place holds ``a`` in one, ``b`` in the other."""

    kind: str  # "money", "date", "percent", "number", "title"
    a: str
    b: str

    def describe(self) -> str:
        return f"{self.kind} differs: {self.a} vs {self.b}"


class _Derived:
    """What ``differing_facts`` derives of one ``Facts``, each part made when first needed.

    Only ever filled from the ``Facts`` it belongs to, so it never changes a result: an
    article's facts are compared with several others', and these parts are the same each time.
    """

    __slots__ = ("folded", "names", "title", "tokens", "values", "vocab", "words")

    def __init__(self) -> None:
        #: ``_values``.
        self.values: set[str] | None = None
        #: ``Facts.words``.
        self.words: tuple[str, ...] | None = None
        #: ``_folded(words)``, and its set.
        self.folded: list[str] | None = None
        self.vocab: set[str] | None = None
        #: ``sketch.tokens`` of the text when the caller had them: a list, or joined by spaces.
        self.tokens: str | list[str] | None = None
        #: Where in ``words`` the names are (``_is_name``).
        self.names: list[int] | None = None
        #: The title's words casefolded.
        self.title: list[str] | None = None


Keyed = tuple[tuple[tuple[str, str], tuple[Fact, ...]], ...]  # ((kind, context), facts)


class _Contexts:
    """What ``Facts.keyed`` is made of, kept until it is first asked for: a text and its facts
    with their spans (``find_facts``). Most pairs never ask: when every value of one text is
    stated in the other, ``differing_facts`` looks at the values alone (``values``).
    """

    __slots__ = ("found", "text")

    def __init__(self, text: str, found: list[tuple[Fact, int, int]]) -> None:
        self.text, self.found = text, found

    def words(self) -> tuple[list[str], list[int]]:
        """The context words of the text, each fact replaced by its kind, and where the facts
        are among them. Each stretch between two facts is tokenised on its own (no word spans
        a fact), and of a long one only the words a context can reach are kept
        (``_reachable_words``)."""
        text = self.text
        words: list[str] = []
        at: list[int] = []
        edges = "\x00" not in text  # else a word may read as a fact's slot: tokenise it all
        last = 0
        for fact, start, end in self.found:
            words += _reachable_words(text, last, start, bool(at), True, edges)
            at.append(len(words))
            words.append(fact.kind)  # a fact stands in the context as its kind (``_slot``)
            last = end
        if at:
            words += _reachable_words(text, last, len(text), True, False, edges)
        return words, at

    def keyed(self) -> Keyed:
        words, at = self.words()
        keyed: dict[tuple[str, str], list[Fact]] = defaultdict(list)
        for i, (fact, _, _) in zip(at, self.found, strict=True):
            # Each side of a fact is a key of its own, so a copy that dropped the sentence
            # after a date still lines up with the words before it. A side cut short by the
            # start or end of the text is too weak a key to use.
            if i >= CONTEXT_WORDS:
                keyed[(fact.kind, " ".join(words[i - CONTEXT_WORDS : i]) + " |")].append(fact)
            if i + CONTEXT_WORDS < len(words):
                after = " ".join(words[i + 1 : i + 1 + CONTEXT_WORDS])
                keyed[(fact.kind, "| " + after)].append(fact)
        return tuple(sorted((k, tuple(v)) for k, v in keyed.items()))

    def values(self) -> set[str]:
        """``_values`` of ``keyed()``, without making it: the values of the facts that have a
        full side (``CONTEXT_WORDS`` words or facts before or after them).

        With ``2 * CONTEXT_WORDS + 1`` facts or more, every fact has one: the words and facts
        either side of it number ``2 * CONTEXT_WORDS`` at least, so one side has
        ``CONTEXT_WORDS``; and ``words`` keeps the ``CONTEXT_WORDS`` nearest either side of
        every fact (only a stretch's middle is left out), so its place shows that side whole.
        Then no word need be found. Tested against ``keyed`` on generated texts.
        """
        if len(self.found) > 2 * CONTEXT_WORDS:
            return {f.value for f, _, _ in self.found}
        words, at = self.words()
        n = len(words)
        return {
            f.value
            for i, (f, _, _) in zip(at, self.found, strict=True)
            if i >= CONTEXT_WORDS or i + CONTEXT_WORDS < n
        }


@dataclass(frozen=True, slots=True, eq=False)
class Facts:
    """A text's facts keyed by their context, and its title's words (for name changes).

    ``contexts`` is ``keyed`` itself, or what it is made of (``extract_facts``), made into it
    when first asked for. Two ``Facts`` are equal when ``keyed``, ``title`` and ``text`` are.
    """

    contexts: Keyed | _Contexts
    title: tuple[str, ...]  # title words as written (case kept: names are capitalised)
    text: str = ""  # the text itself: its words are looked at for names from the other title
    #: What ``differing_facts`` derives of these facts, kept for the article's next pair.
    derived: _Derived = field(default_factory=lambda: _Derived(), repr=False)

    @property
    def keyed(self) -> Keyed:
        """The facts by ``(kind, context)``: the words on one side of a fact, facts replaced
        by their kinds (``"council has today |"``, ``"| date announced money"``)."""
        found = self.contexts
        if isinstance(found, _Contexts):
            found = found.keyed()
            object.__setattr__(self, "contexts", found)  # made once, frozen otherwise
        return found

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Facts):
            return NotImplemented
        return (self.keyed, self.title, self.text) == (other.keyed, other.title, other.text)

    def __hash__(self) -> int:
        return hash((self.keyed, self.title, self.text))

    @property
    def words(self) -> tuple[str, ...]:
        """The text's words as written (case kept), found when first asked for: most pairs
        need only the set of their casefolded forms (``_vocabulary``)."""
        if self.derived.words is None:
            self.derived.words = tuple(_NAME_WORD.findall(self.text))
        return self.derived.words

    @property
    def count(self) -> int:
        return sum(len(f) for _, f in self.keyed)


def _decimal(text: str) -> Decimal | None:
    try:
        return Decimal(text.replace(",", ""))
    except InvalidOperation:
        return None


def _plain(d: Decimal) -> str:
    """``Decimal('17000000.0')`` -> ``'17000000'``; ``Decimal('2.50')`` -> ``'2.5'``."""
    text = format(d.normalize(), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _number(text: str, scale: int = 1) -> str:
    """``_plain((_decimal(text) or Decimal(0)) * scale)``: digits alone are an integer's.

    Exact because a run of decimal digits is an integer, which ``int`` reads as ``Decimal``
    does (any script's digits) and multiplies exactly, and ``_plain`` of an integer is its
    digits without leading zeros. Longer runs than a 64-bit integer's go through ``Decimal``
    (``int`` refuses very long digit strings).
    """
    if len(text) <= 18 and text.isdecimal():
        return str(int(text) * scale)
    return _plain((_decimal(text) or Decimal(0)) * scale)


def _fact(m: re.Match[str]) -> Fact:
    # The seven kinds are the outermost groups and each closes after the groups inside it,
    # so ``lastgroup`` names the kind that matched (no dictionary of all 25 groups).
    kind = m.lastgroup
    shown = m.group(0)
    if kind == "money":
        scale = _SCALE.get((m.group("scale") or "").strip().casefold(), 1)
        return Fact("money", f"{m.group('cur')}{_number(m.group('amount'), scale)}", shown)
    if kind == "dmy" or kind == "mdy":
        d, mo, y = m.group("d1", "m1", "y1") if kind == "dmy" else m.group("d2", "m2", "y2")
        month = _MONTH_NUMBER[mo.rstrip(".").casefold()]
        return Fact("date", f"{y}-{month:02d}-{int(d):02d}", shown)
    if kind == "iso":
        return Fact("date", "{}-{}-{}".format(*m.group("y3", "m3", "d3")), shown)
    if kind == "my":
        month = _MONTH_NUMBER[m.group("m4").rstrip(".").casefold()]
        return Fact("date", f"{m.group('y4')}-{month:02d}", shown)
    if kind == "pct":
        return Fact("percent", f"{_number(m.group('p'))}%", shown)
    return Fact("number", _number(m.group("n")), shown)


_DIGIT = re.compile(r"\d")
_CURRENCY = "£$€"
#: The longest month word ("september").
_MONTH_CHARS = max(map(len, _MONTH_NUMBER))


def _starts(text: str, pos: int, at: int) -> list[int]:
    """Where, from ``pos`` on, a match whose first digit is at ``at`` can start, left to right.

    What comes before a match's first digit is one of: nothing (a number, a percentage, a
    date written day first or ISO); a currency sign, perhaps with one whitespace character
    (money); or a month word starting a word (``\\b``), perhaps a dot, then whitespace (a
    date written month first). A month word is letters only (even the non-ASCII letters that
    match one case-insensitively, like "ſ"), so it is the whole run of word characters
    before the dot and whitespace; only a run of at most ``_MONTH_CHARS`` can be one.
    Positions in the list that cannot start a match are harmless: the pattern is tried there
    and fails. ``str.isspace`` is ``\\s`` and ``str.isalnum`` or "_" is ``\\w``, character
    for character.
    """
    if at <= pos:
        return [at]
    before = text[at - 1]
    if before in _CURRENCY:
        return [at - 1, at]
    if not before.isspace():
        return [at]
    out = [at]
    space = at - 1
    while space > pos and text[space - 1].isspace():
        space -= 1
    if space == at - 1 and space > pos and text[space - 1] in _CURRENCY:
        out.insert(0, space - 1)
    end = space - 1 if space > pos and text[space - 1] == "." else space
    word = end
    while (
        word > pos
        and end - word <= _MONTH_CHARS
        and (text[word - 1].isalnum() or text[word - 1] == "_")
    ):
        word -= 1
    if end - word >= 3:
        out.insert(0, word)
    return out


def fact_matches(text: str) -> list[re.Match[str]]:
    """``list(_FACT.finditer(text))``, trying the pattern only where a match can start.

    Every kind of fact holds a digit, so a match is looked for around each digit in turn,
    only at the few positions ``_starts`` gives, left to right from the end of the last
    match, as ``finditer`` does. No match can start anywhere else: one starting between
    the last match's end and the next digit would hold that digit and have it first.
    ``match(text, p)`` sees the text before ``p`` (lookbehinds and ``\\b``), unlike a slice.

    >>> [m.group(0) for m in fact_matches("On March  2, 2019 we paid $ 5 (x2)")]
    ['March  2, 2019', '$ 5']
    """
    out: list[re.Match[str]] = []
    digit = _DIGIT.search
    at_digit, at_currency, at_word = (
        _FACT_AT_DIGIT.match,
        _FACT_AT_CURRENCY.match,
        _FACT_AT_WORD.match,
    )
    pos = 0
    while (found := digit(text, pos)) is not None:
        at = found.start()
        for p in _starts(text, pos, at):
            # ``_FACT.match(text, p)``: a kind can match only where its first character is
            if p == at or text[p].isdecimal():  # ``\d`` is a decimal digit (category Nd)
                m = at_digit(text, p)
            elif text[p] in _CURRENCY:
                m = at_currency(text, p)
            else:
                m = at_word(text, p)
            if m is not None:
                out.append(m)
                pos = m.end()
                break
        else:
            pos = at + 1
    return out


def find_facts(text: str) -> list[tuple[Fact, int, int]]:
    """Every fact in a text with its character span (``_FACT.finditer``, via ``fact_matches``).

    >>> [(f.kind, f.value) for f, _, _ in find_facts("£2.5bn on 9 July 2018, up 12 per cent")]
    [('money', '£2500000000'), ('date', '2018-07-09'), ('percent', '12%')]
    >>> [f.value for f, _, _ in find_facts("£17 million, £17m and £59,898 for 1,500 homes")]
    ['£17000000', '£17000000', '£59898', '1500']
    """
    out: list[tuple[Fact, int, int]] = []
    known = _KNOWN
    for m in fact_matches(text):
        key = (m.lastgroup, m.group(0))
        fact = known.get(key)
        if fact is None:
            if len(known) >= _KNOWN_SIZE:
                known.clear()
            fact = known[key] = _fact(m)
        out.append((fact, m.start(), m.end()))
    return out


#: What ends the text before a line break that a fact could continue across: a currency
#: sign, a digit (perhaps with an ordinal suffix and a comma), a month word (perhaps with its
#: dot) or "per". Wider than it need be (no word boundaries) is only slower.
_MAY_CONTINUE = re.compile(rf"(?:[£$€]|\d(?:st|nd|rd|th)?,?|{_MONTH}|per)\Z", re.IGNORECASE)
#: What starts the text after it that a fact could hold: a digit, "%", a month word, a
#: scale word or "per"/"percent"/"cent".
_MAY_HOLD = re.compile(
    rf"\s*(?:\d|%|{_MONTH}|thousand|million|billion|trillion|per|cent)", re.IGNORECASE
)
#: Characters of the text before a break that ``_MAY_CONTINUE`` looks at.
_CONTINUE_CHARS = 16


def facts_of_kept_lines(
    text: str,
    found: list[tuple[Fact, int, int]],
    kept: str,
    spans: Sequence[tuple[int, int, int]],
) -> list[tuple[Fact, int, int]] | None:
    """``find_facts(kept)`` from ``found = find_facts(text)``, where ``kept`` is ``text`` with
    some of its lines left out: ``spans`` gives each piece of ``text`` in ``kept``, in order,
    as ``(start in text, end in text, start in kept)``; between two pieces there is only
    white space (line breaks) in ``kept``, and in ``text`` the lines left out too. None when
    it cannot be told that way.

    Exact because no fact of ``text`` holds a line break (else None), so each line's facts
    depend on that line alone: its neighbours are seen only as the line break next to it, in
    both texts; and where lines were left out (the white space between two pieces differs)
    no fact of ``kept`` can hold the new break: the text before it does not end with
    what a fact could continue after white space (``_MAY_CONTINUE``), or the text after it
    does not start with what a fact could hold after white space (``_MAY_HOLD``); else None.
    Tested against ``find_facts`` on generated texts.
    """
    for _, start, end in found:
        if "\n" in text[start:end]:
            return None
    previous: tuple[int, int, int] | None = None
    for piece in spans:
        if previous is not None:
            end_in_kept = previous[2] + previous[1] - previous[0]
            if text[previous[1] : piece[0]] != kept[end_in_kept : piece[2]]:
                before = end_in_kept  # the end of what comes before, white space left out
                while before > 0 and kept[before - 1].isspace():
                    before -= 1
                if _MAY_CONTINUE.search(
                    kept, max(0, before - _CONTINUE_CHARS), before
                ) and _MAY_HOLD.match(kept, piece[2]):
                    return None
        previous = piece
    out: list[tuple[Fact, int, int]] = []
    starts = [start for start, _, _ in spans]
    for fact, start, end in found:
        i = bisect_right(starts, start) - 1
        if i >= 0 and end <= spans[i][1]:
            shift = spans[i][2] - spans[i][0]
            out.append((fact, start + shift, end + shift))
    return out


#: ``_fact`` of the matches seen lately, by kind and text: press releases about one subject
#: state the same years, sums and dates again and again. ``_fact`` reads nothing but the
#: kind and the groups, and a kind's groups split its text one way only: each group is
#: told from its neighbours by its characters (the digits, commas and dots of an amount
#: from a currency sign, a space or a scale's letters; a day's digits from a month's
#: letters; ...), whatever the text around the match.
_KNOWN: dict[tuple[str | None, str], Fact] = {}
_KNOWN_SIZE = 1 << 16


def extract_facts(
    text: str,
    title: str = "",
    found: list[tuple[Fact, int, int]] | None = None,
    tokens: str | list[str] | None = None,
) -> Facts:
    """A text's facts keyed by ``(kind, context)``: the words either side, facts replaced.

    ``found``: ``find_facts(text)`` when the caller already has it. ``tokens``:
    ``sketch.tokens(text)`` when the caller has them, as a list or joined by spaces
    (``verify.normalised``), for ``_vocabulary``.

    >>> f = extract_facts("The council has today (9 July 2018) announced £17 million.")
    >>> [(k, [x.shown for x in v]) for k, v in f.keyed]
    [(('date', 'council has today |'), ['9 July 2018']), \
(('money', 'today date announced |'), ['£17 million'])]
    """
    found = find_facts(text) if found is None else found
    out = Facts(_Contexts(text, found), tuple(_NAME_WORD.findall(title)), text)
    out.derived.tokens = tokens
    return out


#: Characters tokenised at each end of a long stretch between two facts.
_EDGE_CHARS = 48


def _reachable_words(
    text: str, start: int, end: int, head: bool, tail: bool, edges: bool
) -> list[str]:
    """``_WORD.findall(text[start:end].casefold())``, each word as ``_slot`` reads it; or of
    a long stretch only its first ``CONTEXT_WORDS`` words (``head``: a fact comes before it)
    and its last (``tail``: a fact comes after it), the only ones a context can reach.

    Exact because, without "\\x00" in the text (``edges``), a word is a run of one class of
    characters and ``casefold`` folds character by character: in the casefolded first
    ``_EDGE_CHARS`` characters only the last word may be cut short, in the last ones only
    the first. So when each end holds more than ``CONTEXT_WORDS`` words, the words it gives
    are the stretch's own; the two ends do not overlap, and the stretch then has at least
    twice ``CONTEXT_WORDS`` words, so no context crosses the words left out.
    """
    if edges and end - start > 2 * _EDGE_CHARS:
        first = _WORD.findall(text[start : start + _EDGE_CHARS].casefold()) if head else []
        last = _WORD.findall(text[end - _EDGE_CHARS : end].casefold()) if tail else []
        if (not head or len(first) > CONTEXT_WORDS) and (not tail or len(last) > CONTEXT_WORDS):
            return first[:CONTEXT_WORDS] + (last[-CONTEXT_WORDS:] if tail else [])
    words: list[str] = _WORD.findall(text[start:end].casefold())
    # Only a word of the text's own "\\x00"s (never when ``edges``) reads as a fact's slot.
    return words if edges else [_slot(w) for w in words]


def _slot(word: str) -> str:
    """A word of the text between "\\x00"s stands in a context as a fact's kind would (the
    facts themselves are put there as their kinds: "money", "date")."""
    return word.strip("\x00").rstrip("0123456789") if word.startswith("\x00") else word


def _values(facts: Facts) -> set[str]:
    return {f.value for _, group in facts.keyed for f in group}


def _is_name(word: str) -> bool:
    return word[:1].isupper() or word[:1].isdigit()


def _all_values(facts: Facts) -> set[str]:
    """``_values(facts)``, kept in ``facts.derived``."""
    derived = facts.derived
    if derived.values is None:
        found = facts.contexts
        derived.values = found.values() if isinstance(found, _Contexts) else _values(facts)
    return derived.values


def differing_facts(a: Facts, b: Facts) -> list[FactDiff]:
    """Facts on which two texts disagree (empty when they agree or only one states a fact).

    A context found in both texts whose values differ on both sides -- each text has a value
    there that the other never states anywhere -- is a disagreement. So is a title whose
    names were swapped: the titles line up word for word except where both put a different
    capitalised word or number (``... Kurz of Austria`` / ``... Macron of France``), or a
    name from one title is missing from the other text, which has another name in its place.

    What is derived of each side's facts alone is kept with them (``Facts.derived``) for the
    article's other pairs. When every value of one text is stated somewhere in the other,
    no context can disagree, so the contexts are not looked at.

    >>> x = extract_facts("Leeds gets £17 million to improve roads, the minister said.")
    >>> y = extract_facts("Leeds gets £18 million to improve roads, the minister said.")
    >>> [d.describe() for d in differing_facts(x, y)]
    ['money differs: £17 million vs £18 million']
    >>> z = extract_facts("Leeds gets £17m to improve roads. It costs 5% more.")
    >>> differing_facts(x, z)
    []
    """
    out: list[FactDiff] = []
    all_a, all_b = _all_values(a), _all_values(b)
    if not all_a <= all_b and not all_b <= all_a:
        seen: set[tuple[str, str, str]] = set()
        other = dict(b.keyed)
        for key, facts_a in a.keyed:
            facts_b = other.get(key)
            if facts_b is None:
                continue
            # A value counts only if the other text never states it: an update that reuses
            # a sentence pattern for a new date still states the old one where it was.
            only_a = {f.value for f in facts_a} - all_b
            if not only_a:
                continue
            only_b = {f.value for f in facts_b} - all_a
            if not only_b:
                continue
            first_a, first_b = min(only_a), min(only_b)
            mark = (key[0], first_a, first_b)
            if mark not in seen:
                seen.add(mark)
                shown_a = next(f.shown for f in facts_a if f.value == first_a)
                shown_b = next(f.shown for f in facts_b if f.value == first_b)
                out.append(FactDiff(key[0], shown_a, shown_b))
    out.extend(_title_diffs(a.title, b.title, a, b))
    if not out:
        out.extend(_name_diffs(a, b))
    if not out:
        out.extend(FactDiff(d.kind, d.b, d.a) for d in _name_diffs(b, a))
    return out


def _folded_words(facts: Facts) -> list[str]:
    """``_folded(facts.words)``, kept in ``facts.derived``."""
    derived = facts.derived
    if derived.folded is None:
        derived.folded = _folded(facts.words)
    return derived.folded


#: Characters whose casefolded form is not all word characters where they are one, or all
#: others where they are not (``"İ"`` folds to ``"i"`` and a combining dot), and "_" (a
#: word character to ``sketch.tokens``, not to ``_NAME_WORD``). Tested over every code point.
_UNFOLDABLE = re.compile(
    "[_\u0130\u01f0\u0345\u0390\u03b0\u1e96-\u1e99\u1f50\u1f52\u1f54\u1f56"
    "\u1fb6\u1fb7\u1fc6\u1fc7\u1fd2\u1fd3\u1fd6\u1fd7\u1fe2-\u1fe4\u1fe6\u1fe7"
    "\u1ff6\u1ff7]"
)


def _vocabulary(facts: Facts) -> set[str]:
    """``set(_folded(facts.words))``, kept in ``facts.derived``: from the text's tokens when
    the caller gave them (``extract_facts``) and the text holds none of ``_UNFOLDABLE``.

    Exact because then a word character's casefolded form is all word characters, any other
    character's all others (never none), and ``casefold`` folds character by character, so
    the tokens of the casefolded text (``sketch.tokens``) are the casefolded words.
    """
    derived = facts.derived
    if derived.vocab is None:
        tokens = derived.tokens
        if tokens is not None and _UNFOLDABLE.search(facts.text) is None:
            if isinstance(tokens, str):
                derived.vocab = set(tokens.split(" ")) if tokens else set()
            else:
                derived.vocab = set(tokens)
        else:
            derived.vocab = set(_folded_words(facts))
        derived.tokens = None
    return derived.vocab


def _name_places(facts: Facts) -> list[int]:
    """Where in ``facts.words`` the names are, in order, kept in ``facts.derived``."""
    derived = facts.derived
    if derived.names is None:
        derived.names = [i for i, w in enumerate(facts.words) if _is_name(w)]
    return derived.names


def _name_diffs(a: Facts, b: Facts) -> list[FactDiff]:
    """Names in ``a``'s title that ``b`` never uses, where ``b`` has another name instead.

    A title that lost its second half to a scraper cannot be lined up word for word, but
    its names still appear in the text: ``met Prime Minister Rutte of the Netherlands`` in
    one text and ``met Prime Minister Hasina of Bangladesh`` in the other, with the same
    words around them, is a swapped name. Only the names of each text are walked (a word
    of ``missing`` is a name).
    """
    vocab_b = _vocabulary(b)
    missing = {w for w in a.title if _is_name(w) and w.casefold() not in vocab_b}
    if not missing:
        return []
    low_b, vocab_a = _folded_words(b), _vocabulary(a)
    n = CONTEXT_WORDS
    after_ctx: dict[tuple[str, ...], set[str]] = defaultdict(set)  # words before -> word
    before_ctx: dict[tuple[str, ...], set[str]] = defaultdict(set)  # words after -> word
    words_b = b.words
    for i in _name_places(b):
        if low_b[i] not in vocab_a:
            w = words_b[i]
            if i >= n:
                after_ctx[tuple(low_b[i - n : i])].add(w)
            if i + n < len(words_b):
                before_ctx[tuple(low_b[i + 1 : i + 1 + n])].add(w)
    if not after_ctx and not before_ctx:
        return []
    words_a, low_a = a.words, _folded_words(a)
    for i in _name_places(a):
        w = words_a[i]
        if w not in missing:
            continue
        found = after_ctx.get(tuple(low_a[i - n : i])) if i >= n else None
        if not found and i + n < len(words_a):
            found = before_ctx.get(tuple(low_a[i + 1 : i + 1 + n]))
        if found:
            return [FactDiff("name", w, min(found))]
    return []


def _folded(words: tuple[str, ...]) -> list[str]:
    """``[w.casefold() for w in words]`` in one call on their join.

    Exact because the words (``_NAME_WORD``'s) hold no space, no word character
    case-folds to anything holding one (tested over every code point), and ``casefold``
    folds character by character.
    """
    return " ".join(words).casefold().split(" ") if words else []


#: Titles are compared word by word only when they are mostly the same words (a republished
#: title, not a page whose first line stands in for the title): 2*matches/total >= 0.6.
TITLE_ALIGN_RATIO = 0.6


def _title_diffs(
    a: tuple[str, ...], b: tuple[str, ...], fa: Facts | None = None, fb: Facts | None = None
) -> list[FactDiff]:
    """Names swapped between two titles (``fa``/``fb``: the facts they are the titles of,
    to keep their casefolded words in). Titles of the same words have none: no word is
    replaced."""
    if not a or not b:
        return []
    fold_a = _folded_title(a, fa)
    fold_b = _folded_title(b, fb)
    if fold_a == fold_b:
        return []
    matcher = SequenceMatcher(None, fold_a, fold_b, autojunk=False)
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


def _folded_title(title: tuple[str, ...], facts: Facts | None) -> list[str]:
    if facts is None:
        return [w.casefold() for w in title]
    if facts.derived.title is None:
        facts.derived.title = [w.casefold() for w in title]
    return facts.derived.title

"""Explain one pair of articles: every score, the relation and why, the repairs, a diff.

Takes two article references (``SOURCE#N`` ids from a scan, relative to its root, or files);
returns an ``Explanation`` that ``render`` draws with rich, every data string escaped with
``output.safe_text``. Scores come from the same ``verify`` and ``sketch`` functions a scan
uses, so what it says is what a scan decided. Reads files; never writes anything.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
from rich import box
from rich.console import Console, Group, RenderableType
from rich.padding import Padding
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

from dedupe_releases.candidates import sentence_hashes
from dedupe_releases.config import Config
from dedupe_releases.diff import Gap, Row, Segment, compact, diff_texts, shared_passages
from dedupe_releases.errors import NoInputError, UsageError
from dedupe_releases.output import safe_text
from dedupe_releases.pipeline import articles_of
from dedupe_releases.read import SkipFile, read_source
from dedupe_releases.records import Article, Match, Scores
from dedupe_releases.sketch import minhash, tokens
from dedupe_releases.verify import classify, features, score, shared_sentences

#: What each repair rule (``Fix.rule``) did, in words; an unknown rule is shown by name.
REPAIRS = {
    "html_entities": "HTML entities decoded",
    "ftfy": "mojibake or curly quotes repaired by ftfy",
    "spaces": "odd spaces or zero-width characters normalised",
    "link_brackets": "link brackets unwrapped",
    "paragraph_join": "paragraphs broken mid-sentence re-joined",
    "title_join": "title joined from two paragraphs",
    "boilerplate": "site furniture after the article dropped",
}

#: What each relation means to a reader.
RELATIONS = {
    "exact": "the same text after repairs: a copy",
    "near": "the same release with small differences: a copy",
    "related": "shares passages but is not a copy: never merged",
}

_ID = re.compile(r"^(?P<source>.+)#(?P<ordinal>[0-9]+)$")
#: Money, percentages and plain numbers (with their unit word), the facts a rewrite changes.
_FACT = re.compile(
    r"[£$€]\s?\d[\d,.]*(?:\s?(?:million|billion|bn|m|k)\b)?"
    r"|\d[\d,.]*\s?(?:%|per cent|percent|million|billion)"
    r"|\b\d[\d,.]*\b"
)


@dataclass(frozen=True, slots=True)
class Found:
    """An article and the decoded text of its file before repairs (for the title as found)."""

    article: Article
    raw: str


@dataclass(frozen=True, slots=True)
class RawTitle:
    """The lines a title was taken from, as they stand in the file."""

    first_line: int
    last_line: int
    lines: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Explanation:
    a: Found
    b: Found
    scores: Scores
    minhash: float  # share of equal MinHash values: the estimate LSH works with
    contained_ab: float  # share of A's shingles found in B
    contained_ba: float  # share of B's shingles found in A
    shingles: tuple[int, int]
    shared_sentences: int
    match: Match | None
    why: tuple[str, ...]
    facts: tuple[tuple[str, str], ...]  # (what, detail) lines
    passages: tuple[str, ...]
    rows: tuple[Row, ...]
    config: Config


def find_article(ref: str, root: Path, config: Config) -> Found:
    """The article a reference names: ``SOURCE#N`` under ``root``, or a file (``FILE#N``).

    A file with one article needs no ``#N``. Raises ``UsageError`` when nothing matches
    and ``NoInputError`` when the file cannot be read.
    """
    path, label, ordinal = _locate(ref, root)
    try:
        source = read_source(path, label, config.read)
    except SkipFile as exc:
        raise NoInputError(f"{label}: skipped: {exc}") from None
    except OSError as exc:
        raise NoInputError(f"{label}: cannot read ({exc.strerror or exc})") from None
    articles = articles_of(source, config)
    if ordinal is None:
        if len(articles) == 1:
            return Found(articles[0], source.text)
        ids = ", ".join(a.id for a in articles[:5]) + (", ..." if len(articles) > 5 else "")
        raise UsageError(f"{label} holds {len(articles)} articles; name one: {ids}")
    for article in articles:
        if article.ordinal == ordinal:
            return Found(article, source.text)
    raise UsageError(f"{label} has no article #{ordinal} (it holds {len(articles)})")


def _locate(ref: str, root: Path) -> tuple[Path, str, int | None]:
    for candidate, label in ((root / ref, ref), (Path(ref), ref)):
        if candidate.is_file():
            return candidate, label, None
    m = _ID.match(ref)
    if m:
        source, ordinal = m.group("source"), int(m.group("ordinal"))
        for candidate in (root / source, Path(source)):
            if candidate.is_file():
                return candidate, source, ordinal
    raise UsageError(f"{ref}: neither an article id (FILE#N) under {root} nor a file")


def raw_title(found: Found) -> RawTitle | None:
    """The file's lines the title (with its header) came from, before any repair.

    Lines are taken from the article's first line on, skipping blank ones, until they hold
    as many words as the repaired heading; ``None`` if they do not spell it.
    """
    article = found.article
    heading = f"{article.kind}: {article.title}" if article.kind else article.title
    want = tokens(heading)
    lines = found.raw.split("\n")
    got: list[str] = []
    taken: list[str] = []
    first = last = article.lines[0]
    for number in range(article.lines[0], min(article.lines[1], len(lines)) + 1):
        line = lines[number - 1]
        if not line.strip():
            continue
        got.extend(tokens(line))
        taken.append(line)
        last = number
        if len(got) >= len(want):
            break
    if got[: len(want)] != want or not taken:
        return None
    return RawTitle(first, last, tuple(taken))


def differing_facts(a: str, b: str) -> tuple[tuple[str, str], ...]:
    """Numbers and amounts found in one text and not the other (counted, in text order).

    >>> differing_facts("It costs £17 million in 2018.", "It costs £20 million in 2018.")
    (('only in A', '£17 million'), ('only in B', '£20 million'))
    """
    fa = [m.group(0).strip() for m in _FACT.finditer(a)]
    fb = [m.group(0).strip() for m in _FACT.finditer(b)]
    only_a = Counter(fa) - Counter(fb)
    only_b = Counter(fb) - Counter(fa)
    out: list[tuple[str, str]] = []
    for side, found, extra in (("only in A", fa, only_a), ("only in B", fb, only_b)):
        for fact in dict.fromkeys(found):
            if extra[fact]:
                out.append((side, fact))
    return tuple(out)


def explain_pair(a: Found, b: Found, config: Config) -> Explanation:
    """Every score of a pair, its relation and the reasons, and the diff of the texts."""
    sk, ver = config.sketch, config.verify
    fa = features(a.article, sk, sentence_hashes)
    fb = features(b.article, sk, sentence_hashes)
    scores = score(fa, fb)
    inter = len(np.intersect1d(fa.shingles, fb.shingles, assume_unique=True))
    na, nb = len(fa.shingles), len(fb.shingles)
    sig_a = minhash(fa.shingles, sk.num_perm, sk.seed)
    sig_b = minhash(fb.shingles, sk.num_perm, sk.seed)
    match = classify(a.article, b.article, fa, fb, ver)
    shared = shared_sentences(fa, fb)
    text_a = a.article.text[: sk.max_article_chars]
    text_b = b.article.text[: sk.max_article_chars]
    return Explanation(
        a=a,
        b=b,
        scores=scores,
        minhash=float(np.mean(sig_a == sig_b)) if na and nb else 0.0,
        contained_ab=inter / na if na else 0.0,
        contained_ba=inter / nb if nb else 0.0,
        shingles=(na, nb),
        shared_sentences=shared,
        match=match,
        why=_why(match, scores, shared, config),
        facts=_facts(match, text_a, text_b),
        passages=tuple(shared_passages(text_a, text_b)),
        rows=tuple(diff_texts(text_a, text_b)),
        config=config,
    )


def _why(match: Match | None, s: Scores, shared: int, config: Config) -> tuple[str, ...]:
    v = config.verify
    if match is not None:
        return (RELATIONS.get(match.relation, match.relation), *match.evidence)
    return (
        "no relation: neither a copy nor a rewrite that reuses passages",
        f"jaccard {s.jaccard:.3f} < {v.threshold}"
        if s.jaccard < v.threshold
        else f"ratio {s.ratio:.1f} < {v.min_ratio}",
        f"{shared} shared sentences < {v.min_shared_sentences}",
        f"containment {s.containment:.3f} < {v.related_containment}",
    )


_MATCH_FIELDS = {"a", "b", "relation", "scores", "evidence"}


def _facts(match: Match | None, a: str, b: str) -> tuple[tuple[str, str], ...]:
    """The facts that differ: the match's own ``facts`` when verify gives them, else numbers."""
    given = getattr(match, "facts", None) if match is not None else None
    if given:
        return tuple(("", _plain(f)) for f in given)
    return differing_facts(a, b)


def extra_fields(value: Any, known: set[str]) -> list[tuple[str, str]]:
    """Fields of a record that this view does not know by name, as (name, text) pairs."""
    out = []
    for f in fields(value):
        if f.name not in known and f.name != "facts":
            out.append((f.name, _plain(getattr(value, f.name))))
    return out


def _plain(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, tuple | list):
        return ", ".join(_plain(v) for v in value)
    if hasattr(value, "__dataclass_fields__"):
        return " ".join(f"{f.name}={_plain(getattr(value, f.name))}" for f in fields(value))
    return str(value)


# --- rendering -------------------------------------------------------------------------------

#: Styles of changed words; with ``markers`` (no colour) they are wrapped as wdiff does.
DELETE_STYLE, INSERT_STYLE = "bold red", "bold green"
MARKERS = {"delete": ("[-", "-]"), "insert": ("{+", "+}")}


def render(expl: Explanation, console: Console, markers: bool = False, full: bool = False) -> None:
    """Draw an explanation. ``markers``: mark changes with [-…-] {+…+} (for plain text)."""
    for part in _parts(expl, markers, full):
        console.print(part)


def _parts(expl: Explanation, markers: bool, full: bool) -> list[RenderableType]:
    a, b = expl.a.article, expl.b.article
    relation = expl.match.relation if expl.match else "none"
    head = Text().append("Explain ", style="bold").append_text(safe_text(a.id, "cyan"))
    head.append("  and  ").append_text(safe_text(b.id, "cyan"))
    parts: list[RenderableType] = [Rule(head, align="left")]

    who = Table.grid(padding=(0, 1))
    who.add_column(style="bold", no_wrap=True)
    who.add_column()
    for label, found in (("A", expl.a), ("B", expl.b)):
        art = found.article
        line = Text().append_text(safe_text(art.title, "bold")).append("\n")
        line.append_text(safe_text(art.kind or "no content-type header", "dim"))
        line.append(" · ", style="dim").append_text(safe_text(art.source, "dim"))
        line.append(f" lines {art.lines[0]}–{art.lines[1]} · {len(art.text.split())} words")
        who.add_row(label, line)
    parts.append(who)

    style = {"exact": "bold green", "near": "bold green", "related": "bold yellow"}
    verdict = Text().append("Relation: ", style="bold")
    verdict.append(relation, style.get(relation, "bold"))
    parts.append(Padding(verdict, (1, 0, 0, 0)))
    for reason in expl.why:
        parts.append(Text("  · ").append_text(safe_text(reason)))
    if expl.match is not None:
        for name, value in extra_fields(expl.match, _MATCH_FIELDS):
            parts.append(Text(f"  · {name}: ").append_text(safe_text(value)))

    parts.append(Padding(_scores_table(expl), (1, 0, 0, 0)))
    parts.append(_titles(expl))
    parts.append(_repairs(expl))
    parts.append(_facts_view(expl))
    parts.append(_passages(expl, relation))
    parts.append(Padding(_side_by_side(expl, markers, full), (1, 0, 0, 0)))
    return parts


def _scores_table(expl: Explanation) -> Table:
    v, sk, s = expl.config.verify, expl.config.sketch, expl.scores
    t = Table(title="Scores", title_justify="left", box=box.SIMPLE_HEAD, title_style="bold")
    t.add_column("score")
    t.add_column("value", justify="right")
    t.add_column("test")
    t.add_column("met", justify="center")
    j = expl.minhash
    error = math.sqrt(j * (1 - j) / sk.num_perm)
    yes = Text("yes", style="green")
    no = Text("no", style="red")
    t.add_row(
        "MinHash estimate of Jaccard",
        f"{j:.3f}",
        f"{sk.num_perm} permutations, ±{error:.3f}; LSH {sk.bands}×{sk.rows}",
        "",
    )
    t.add_row(
        f"word {sk.shingle_size}-shingle Jaccard (exact)",
        f"{s.jaccard:.3f}",
        f"≥ {v.threshold} for a copy",
        yes if s.jaccard >= v.threshold else no,
    )
    t.add_row(
        "rapidfuzz ratio",
        f"{s.ratio:.1f}",
        f"≥ {v.min_ratio:g} for a copy",
        yes if s.ratio >= v.min_ratio else no,
    )
    t.add_row(
        "containment of A in B",
        f"{expl.contained_ab:.3f}",
        f"share of A's {expl.shingles[0]} shingles found in B",
        "",
    )
    t.add_row(
        "containment of B in A",
        f"{expl.contained_ba:.3f}",
        f"share of B's {expl.shingles[1]} shingles found in A",
        "",
    )
    t.add_row(
        "shared long sentences",
        str(expl.shared_sentences),
        f"≥ {v.min_shared_sentences} (or containment ≥ {v.related_containment}) for related",
        yes
        if expl.shared_sentences >= v.min_shared_sentences or s.containment >= v.related_containment
        else no,
    )
    for name, value in extra_fields(s, {"jaccard", "containment", "ratio"}):
        t.add_row(safe_text(name), safe_text(value), "", "")
    return t


def _section() -> Table:
    """A two-column grid: a short label, then text that wraps under itself."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True, min_width=3, justify="right")
    grid.add_column(ratio=1)
    return grid


def _titled(title: str, grid: Table) -> RenderableType:
    return Padding(Group(Text(title, style="bold"), grid), (1, 0, 0, 0))


def _titles(expl: Explanation) -> RenderableType:
    out = _section()
    title = "Titles"
    for label, found in (("A", expl.a), ("B", expl.b)):
        art = found.article
        cell = safe_text(art.title).append("\n")
        raw = raw_title(found)
        heading = f"{art.kind}: {art.title}" if art.kind else art.title
        if raw is None:
            cell.append("as found: not located in the file", style="dim")
        elif art.title_repaired or raw.lines != (heading,):
            how = "joined from two paragraphs" if art.title_repaired else "repaired"
            span = (
                f"line {raw.first_line}"
                if raw.first_line == raw.last_line
                else f"lines {raw.first_line}–{raw.last_line}"
            )
            cell.append(f"{how}; as found on {span}:", style="yellow")
            for line in raw.lines:
                cell.append("\n  ").append_text(safe_text(line, "dim"))
        else:
            cell.append(f"found whole on line {raw.first_line}", style="dim")
        out.add_row(label, cell)
    return _titled(title, out)


def _repairs(expl: Explanation) -> RenderableType:
    out = _section()
    title = "Repairs applied"
    for label, found in (("A", expl.a), ("B", expl.b)):
        art = found.article
        if not art.fixes and not art.truncated:
            out.add_row(label, Text("none", style="dim"))
            continue
        items = [
            Text()
            .append_text(safe_text(f"{f.rule} ×{f.count}", "yellow"))
            .append(f" ({REPAIRS[f.rule]})" if f.rule in REPAIRS else "")
            for f in art.fixes
        ]
        if art.truncated:
            items.append(Text("truncated for comparison", style="yellow"))
        out.add_row(label, Text("; ").join(items))
    return _titled(title, out)


def _facts_view(expl: Explanation) -> RenderableType:
    out = _section()
    title = "Facts that differ (numbers and amounts)"
    if not expl.facts:
        out.add_row("", Text("none", style="dim"))
    for side, fact in expl.facts:
        out.add_row(side, safe_text(fact))
    return _titled(title, out)


def _passages(expl: Explanation, relation: str, limit: int = 20) -> RenderableType:
    n = len(expl.passages)
    out = _section()
    title = f"Shared passages ({n} long sentence{'' if n == 1 else 's'} in both)"
    if relation in {"exact", "near"}:
        out.add_row("", Text("a copy: the texts are compared below", style="dim"))
        return _titled(title, out)
    if not n:
        out.add_row("", Text("none", style="dim"))
    for number, passage in enumerate(expl.passages[:limit], start=1):
        out.add_row(f"{number}.", safe_text(passage))
    if n > limit:
        out.add_row("", Text(f"... and {n - limit} more", style="dim"))
    return _titled(title, out)


def _side_by_side(expl: Explanation, markers: bool, full: bool) -> Table:
    a, b = expl.a.article, expl.b.article
    table = Table(
        title="Fixed texts side by side"
        + (" (changes marked [-removed-] {+added+})" if markers else ""),
        title_justify="left",
        title_style="bold",
        box=box.SIMPLE_HEAD,
        expand=True,
        show_lines=False,
    )
    table.add_column(safe_text(f"A  {a.id}"), ratio=1, overflow="fold")
    table.add_column(safe_text(f"B  {b.id}"), ratio=1, overflow="fold")
    items: list[Row | Gap] = list(expl.rows) if full else compact(expl.rows)
    for item in items:
        if isinstance(item, Gap):
            gap = Text(
                f"⋯ {item.count} identical paragraph{'s' if item.count > 1 else ''} ⋯",
                style="dim italic",
            )
            table.add_row(gap, gap.copy())
            continue
        table.add_row(_side(item.left, item, markers), _side(item.right, item, markers))
        table.add_row("", "")
    return table


def _side(segments: tuple[Segment, ...], row: Row, markers: bool) -> Text:
    out = Text()
    whole = row.kind in {"deleted", "inserted"}
    for seg in segments:
        if seg.op == "equal":
            out.append_text(
                safe_text(seg.text, "dim" if row.kind == "equal" else "", keep_newlines=True)
            )
            continue
        style = DELETE_STYLE if seg.op == "delete" else INSERT_STYLE
        if whole:
            style = style.replace("bold ", "")
        text = safe_text(seg.text, style, keep_newlines=True)
        if markers:
            opening, closing = MARKERS[seg.op]
            text = Text(opening).append_text(text).append(closing)
        out.append_text(text)
    return out

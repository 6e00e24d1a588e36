"""Typed records passed between the stages.

read -> ``SourceText`` -> fix -> ``FixedText`` (blocks with their original line spans)
-> split -> ``Article`` -> sketch -> ``Sketch`` -> candidates -> ``Candidate``
-> verify -> ``Match`` -> cluster/canonical -> ``Cluster``. A file that cannot be used
becomes a ``Problem``. Records are frozen: a stage makes new ones, never edits old ones.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple


@dataclass(frozen=True, slots=True)
class Fix:
    """One kind of repair applied to a text, and how often (ftfy's explanations, counted)."""

    rule: str
    count: int = 1


def merge_fixes(*groups: Iterable[Fix]) -> tuple[Fix, ...]:
    """Add up repair counts by rule.

    >>> merge_fixes([Fix("ftfy", 1)], [Fix("ftfy", 2), Fix("spaces", 1)])
    (Fix(rule='ftfy', count=3), Fix(rule='spaces', count=1))
    """
    counts: Counter[str] = Counter()
    for group in groups:
        for f in group:
            counts[f.rule] += f.count
    return tuple(Fix(rule, n) for rule, n in sorted(counts.items()) if n)


@dataclass(frozen=True, slots=True)
class Problem:
    """An input that was skipped (or read only in part), with the reason shown to the user."""

    source: str
    reason: str
    kind: str = "skipped"  # "skipped" (nothing used) or "warning" (used, with a caveat)
    source_bytes: bytes | None = None  # the exact name, when it is not UTF-8


@dataclass(frozen=True, slots=True)
class SourceText:
    """One decoded input file."""

    path: Path  # where it was read from
    source: str  # path relative to the scan root, POSIX separators: what the user sees
    sha256: str  # of the raw bytes (after gzip decompression)
    size: int
    encoding: str
    text: str
    warnings: tuple[str, ...] = ()  # caveats shown to the user ("warning: decoded with ...")
    source_bytes: bytes | None = None  # the exact name, when it is not UTF-8


class Block(NamedTuple):
    """A paragraph of fixed text and the 1-based inclusive line span it came from.

    A named tuple, immutable like the other records: a file makes one per paragraph, and a
    tuple is made in half the time of a frozen dataclass (218 against 451 ns).
    """

    text: str
    first_line: int
    last_line: int
    fixes: tuple[Fix, ...] = ()  # repairs made inside this paragraph


@dataclass(frozen=True, slots=True)
class FixedText:
    """A file's text after repairs, as paragraphs that remember their original lines."""

    source: str
    sha256: str
    encoding: str
    blocks: tuple[Block, ...]
    fixes: tuple[Fix, ...] = ()

    @property
    def text(self) -> str:
        return "\n\n".join(b.text for b in self.blocks)


@dataclass(frozen=True, slots=True)
class Article:
    """One press release, story or speech found in a file."""

    id: str  # f"{source}#{ordinal}": stable while the file does not change
    source: str
    ordinal: int  # 1-based position in the file
    lines: tuple[int, int]  # 1-based inclusive span in the original file
    kind: str | None  # "Press release", "News story", ... or None (no header)
    title: str
    body: str
    content_hash: str  # sha256 of the fixed title + body
    fixes: tuple[Fix, ...] = ()
    title_repaired: bool = False  # the title was joined from two paragraphs
    truncated: bool = False  # the text was cut at SketchConfig.max_article_chars
    source_bytes: bytes | None = None  # the exact name of the source, when it is not UTF-8

    @property
    def text(self) -> str:
        """Title and body: the text that is hashed and compared."""
        return f"{self.title}\n\n{self.body}" if self.body else self.title

    @property
    def body_from(self) -> int:
        """The number of the first body line of ``text`` (0-based): the title's lines, then
        a blank line."""
        return self.title.count("\n") + 2

    @property
    def repairs(self) -> int:
        return sum(f.count for f in self.fixes)


@dataclass(frozen=True, slots=True)
class Sketch:
    """What the candidate search keeps of an article: signature, band keys, sentence hashes."""

    article_id: str
    signature: bytes  # num_perm little-endian uint32 values (datasketch affine32 semantics)
    shingles: int  # number of distinct shingles (0: too short to sketch: no band keys)
    bands: bytes = b""  # one little-endian uint64 LSH key per band
    sentences: bytes = b""  # little-endian uint64 hashes of the distinct long sentences
    lines: bytes = b""  # little-endian uint64 hashes of the distinct body lines (boilerplate)


@dataclass(frozen=True, slots=True)
class FileRecord:
    """Everything one input file contributes: produced by a worker, stored in one step."""

    source: str
    sha256: str
    size: int
    encoding: str
    articles: tuple[Article, ...]
    sketches: tuple[Sketch, ...]  # one per article, same order
    warnings: tuple[str, ...] = ()  # caveats about the file (replacement characters, cuts)


@dataclass(frozen=True, slots=True)
class Candidate:
    a: str
    b: str
    via: str  # "lsh" (shared band) or "passage" (shared sentences) or "exact"


@dataclass(frozen=True, slots=True)
class Scores:
    jaccard: float  # exact Jaccard of the word-shingle sets
    containment: float  # share of the smaller shingle set found in the larger
    ratio: float  # rapidfuzz ratio of the normalised texts, 0-100

    def as_dict(self) -> dict[str, float]:
        return {
            "jaccard": round(self.jaccard, 4),
            "containment": round(self.containment, 4),
            "ratio": round(self.ratio, 2),
        }


@dataclass(frozen=True, slots=True)
class Match:
    """A verified candidate pair and what it is."""

    a: str
    b: str
    relation: str  # see verify.RELATIONS; "contains" means a holds b ("none" is never emitted)
    scores: Scores
    evidence: tuple[str, ...] = ()
    facts: tuple[tuple[str, str, str], ...] = ()  # (kind, value in a, value in b) that differ


@dataclass(frozen=True, slots=True)
class Cluster:
    id: str
    canonical: str  # article id
    members: tuple[str, ...]  # article ids, canonical first, then by id
    similarity: dict[str, float] = field(default_factory=dict)  # member -> Jaccard to canonical
    reasons: tuple[str, ...] = ()
    runner_up: str | None = None

    @property
    def weakest(self) -> float:
        others = [v for k, v in self.similarity.items() if k != self.canonical]
        return min(others) if others else 1.0

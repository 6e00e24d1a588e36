"""Settings of every stage, as frozen dataclasses with documented defaults.

One ``Config`` value is built by the command line (or by a library user) and passed down;
stages read only their own part. Every default says why it is what it is.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class ReadConfig:
    include: tuple[str, ...] = ()
    """Glob patterns a file's path (relative to its root) must match; empty = every file."""
    exclude: tuple[str, ...] = ()
    """Glob patterns that drop a file or folder (matched on the relative path and the name)."""
    hidden: bool = False
    """Read dot-files and dot-folders too (off: `.git`, editor swap files and the like)."""
    follow_links: bool = False
    """Follow symbolic links (off: a link may point outside the archive or into a loop)."""
    max_file_bytes: int = 256 * 1024 * 1024
    """Skip files larger than this, counted after gzip decompression (a gzip bomb stops here).
    256 MiB is ~100,000 press releases in one file: far above any real dump file."""


@dataclass(frozen=True, slots=True)
class FixConfig:
    ftfy: bool = True
    """Repair mojibake and straighten quotes with ftfy."""
    strip_boilerplate: bool = True
    """Drop site furniture glued after an article (sign-up boxes, job listings)."""


@dataclass(frozen=True, slots=True)
class SplitConfig:
    max_title_words: int = 30
    """A header line longer than this is prose that happens to start with 'Statement:'.
    GOV.UK titles run to about 25 words at the most (the longest sample title has 19)."""


@dataclass(frozen=True, slots=True)
class SketchConfig:
    shingle_size: int = 5
    """Word n-gram length. 5 words: long enough that unrelated releases share almost no
    shingles, short enough that a changed word spoils only 5 of ~400 shingles (1%)."""
    num_perm: int = 128
    """MinHash permutations. The standard error of the Jaccard estimate is
    sqrt(J(1-J)/num_perm): 0.035 at J=0.8 with 128."""
    bands: int = 16
    """LSH bands x rows = num_perm. 16 x 8: a pair at Jaccard 0.8 shares a band with
    probability 1-(1-0.8^8)^16 = 0.9988, one at 0.5 with 1-(1-0.5^8)^16 = 0.061; the
    stricter 9 x 13 that datasketch derives for 0.8 lost 11% of true pairs on our corpus."""
    seed: int = 1
    """Seed of the permutations (datasketch's default)."""
    max_article_chars: int = 200_000
    """Longer article texts are cut to this before hashing and verification (flagged
    `truncated`): rapidfuzz's cost grows with the product of the two lengths."""

    @property
    def rows(self) -> int:
        return self.num_perm // self.bands


@dataclass(frozen=True, slots=True)
class VerifyConfig:
    threshold: float = 0.7
    """Minimum exact word-shingle Jaccard for two articles to be the same release.
    Calibrated on the labelled benchmark (benchmarks/accuracy): copies with repaired
    damage sit above 0.85; rewrites that reuse quotes below 0.3."""
    min_ratio: float = 80.0
    """Minimum rapidfuzz ratio (0-100) of the normalised texts: a second, order-aware check
    that the shingle sets did not agree by accident (the same paragraphs in another order)."""
    related_containment: float = 0.2
    """Share of the smaller article's shingles found in the other above which two articles
    that are not copies are reported as `related` (a rewrite reusing quotes)."""
    min_shared_sentences: int = 2
    """Distinct long sentences two articles must share to be compared as possibly related."""


@dataclass(frozen=True, slots=True)
class Config:
    read: ReadConfig = field(default_factory=ReadConfig)
    fix: FixConfig = field(default_factory=FixConfig)
    split: SplitConfig = field(default_factory=SplitConfig)
    sketch: SketchConfig = field(default_factory=SketchConfig)
    verify: VerifyConfig = field(default_factory=VerifyConfig)

    def parameters(self) -> dict[str, object]:
        """The settings that change results, as reported in the output."""
        return {
            "threshold": self.verify.threshold,
            "min_ratio": self.verify.min_ratio,
            "related_containment": self.verify.related_containment,
            "shingle_size": self.sketch.shingle_size,
            "num_perm": self.sketch.num_perm,
            "bands": self.sketch.bands,
            "rows": self.sketch.rows,
            "seed": self.sketch.seed,
            "include": list(self.read.include),
            "exclude": list(self.read.exclude),
        }

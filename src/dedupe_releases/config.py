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

    max_bucket_pairs: int = 8
    """A band bucket holding more articles than this is linked as a star (its first article,
    in path order, with each other one) rather than all pairs. Copies of one release share
    buckets: 30 copies are 435 pairs, their star 29, and the clusters hardly change (every
    member is verified against the canonical copy anyway). 8: at 1M generated articles, where
    planted releases have up to 63 copies, 64 verified 413,722 pairs and 8 verifies 175,656,
    with the same precision and recall; at 100k only the count of candidates changes. An
    index keeps the value it was built with."""

    @property
    def rows(self) -> int:
        return self.num_perm // self.bands


@dataclass(frozen=True, slots=True)
class VerifyConfig:
    """Thresholds of the relations (see ``verify.classify``), calibrated on the labelled
    benchmark (``benchmarks/accuracy``). Scores are taken on the text after learned
    boilerplate is masked; J is the word-shingle Jaccard, C the share of the smaller
    article's shingles found in the larger."""

    threshold: float = 0.7
    """`near`: minimum J for two articles to be the same release. Copies with repaired
    damage sit above 0.85; rewrites that reuse quotes below 0.3; template siblings (same
    text, other facts) above it too, which is why facts are compared as well."""
    min_ratio: float = 80.0
    """`near`: minimum rapidfuzz ratio (0-100) of the normalised texts: a second, order-aware
    check that the shingle sets did not agree by accident (the same paragraphs reordered)."""
    contains_containment: float = 0.9
    """`contains`/`contained_in`: minimum C. An update that adds paragraphs, or a roundup
    quoting a release, keeps the whole of the smaller text (C = 1.0 for every planted update
    in the benchmark), and C ~0.93-0.97 against a copy of the release with small edits."""
    contains_growth: float = 0.25
    """... and the larger must have at least this share more distinct shingles than the
    smaller: an added paragraph or more. A copy with one sentence added grows by ~25/400 =
    6% (two copies edited in different places have C ~0.9-0.96 too, and stay `near`);
    planted updates grow by 35-80%. With C ~1, J ~ 1/(1 + growth): growth 0.25 is J 0.8."""
    contains_min_jaccard: float = 0.2
    """`contains` floor on J: a short text that merely shares a template or a footer with a
    long one (C high, J ~0.05) does not qualify. A roundup of up to four releases, each
    wholly quoted, keeps J >= 1/4 - a little."""
    related_containment: float = 0.2
    """`related`: minimum C for two articles that are not copies (a rewrite reusing quotes)."""
    min_shared_sentences: int = 2
    """`related`: distinct long sentences two articles must share (the other way in)."""
    sibling_min_jaccard: float = 0.5
    """`template_sibling`: minimum J of two articles whose facts differ (amounts, dates,
    percentages, numbers, names in the title). Siblings differ in a few facts only: each
    changed fact spoils 5 shingles per mention, so J stays above 0.8 for ~400-word texts."""
    short_words: int = 40
    """Articles with fewer words (after boilerplate) are short: a title and a line or two.
    Their shingle sets are too small for Jaccard to mean anything (one changed word in 15
    spoils a third of the shingles, and a shared footer line makes strangers look alike),
    so they are `near` only with the same words, and `related` with the same title."""
    boilerplate_min_titles: int = 5
    """A body line found under at least this many different titles is boilerplate, masked
    before verification. Copies of one release share its title, so they never count; five
    distinct releases with the very same line is a footer, a sign-up box or a job ad."""
    boilerplate_min_files: int = 3
    """... and in at least this many files (a line repeated within one file's articles is a
    local convention that verification can see for itself)."""
    mask_boilerplate: bool = True
    """Mask learned boilerplate lines before verification."""


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
            "contains_containment": self.verify.contains_containment,
            "contains_growth": self.verify.contains_growth,
            "contains_min_jaccard": self.verify.contains_min_jaccard,
            "sibling_min_jaccard": self.verify.sibling_min_jaccard,
            "short_words": self.verify.short_words,
            "boilerplate_min_titles": self.verify.boilerplate_min_titles,
            "boilerplate_min_files": self.verify.boilerplate_min_files,
            "mask_boilerplate": self.verify.mask_boilerplate,
            "shingle_size": self.sketch.shingle_size,
            "num_perm": self.sketch.num_perm,
            "bands": self.sketch.bands,
            "rows": self.sketch.rows,
            "seed": self.sketch.seed,
            "max_bucket_pairs": self.sketch.max_bucket_pairs,
            "include": list(self.read.include),
            "exclude": list(self.read.exclude),
        }

"""Where a scan keeps what it has seen: articles, band keys, sentence hashes, content hashes.

``MemoryStore`` serves one-off scans; the persistent index offers the same methods, so the
pipeline does not care which one it has (datasketch's storage seam). Never decides anything.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from typing import Protocol

import numpy as np

from dedupe_releases.boilerplate import Boilerplate, learn, title_hash
from dedupe_releases.candidates import CandidateIndex
from dedupe_releases.records import Article, FileRecord
from dedupe_releases.sketch import U64


class ArticleStore(Protocol):
    """What a scan's result needs from a store (``MemoryStore`` or ``index.Index``)."""

    @property
    def files(self) -> int: ...

    def __len__(self) -> int: ...

    def article(self, article_id: str) -> Article: ...

    def position(self, article_id: str) -> int: ...


class MemoryStore:
    """Articles and candidate keys of one scan, in memory, in path order."""

    def __init__(self) -> None:
        self._articles: dict[str, Article] = {}
        self._positions: dict[str, int] = {}
        self._ids: list[str] = []
        self._by_hash: dict[str, list[int]] = defaultdict(list)
        self._candidates = CandidateIndex()
        # per article, in path order: body-line hashes, file number, title hash (boilerplate)
        self._lines: list[U64] = []
        self._file_of: list[int] = []
        self._title_of: list[int] = []
        self.files = 0

    def add(self, record: FileRecord) -> None:
        """Add one file's articles and sketches (in path order)."""
        self.files += 1
        for article, sketch in zip(record.articles, record.sketches, strict=True):
            number = self._candidates.add(
                np.frombuffer(sketch.bands, dtype="<u8").astype(np.uint64),
                np.frombuffer(sketch.sentences, dtype="<u8").astype(np.uint64),
            )
            self._positions[article.id] = number
            self._ids.append(article.id)
            self._articles[article.id] = article
            self._by_hash[article.content_hash].append(number)
            self._lines.append(np.frombuffer(sketch.lines, dtype="<u8").astype(np.uint64))
            self._file_of.append(self.files)
            self._title_of.append(title_hash(article.title))

    def __len__(self) -> int:
        return len(self._ids)

    def __iter__(self) -> Iterator[Article]:
        return iter(self._articles.values())

    def article(self, article_id: str) -> Article:
        return self._articles[article_id]

    def position(self, article_id: str) -> int:
        return self._positions[article_id]

    def boilerplate(self, min_titles: int, min_files: int) -> Boilerplate:
        """Body lines found under at least ``min_titles`` titles in ``min_files`` files."""
        return learn(self._lines, self._file_of, self._title_of, min_titles, min_files)

    def candidate_pairs(
        self, min_shared_sentences: int, max_bucket_pairs: int
    ) -> list[tuple[str, str]]:
        """Pairs to verify, in path order: shared band, shared sentences, or same text."""
        pairs = self._candidates.pairs(max_bucket_pairs, min_shared_sentences)
        for group in self._by_hash.values():  # exact copies, even when too short to sketch
            pairs.update((group[0], other) for other in group[1:])
        return [(self._ids[i], self._ids[j]) for i, j in sorted(pairs)]

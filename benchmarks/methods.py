"""The pipelines the benchmark compares ``dedupe-releases scan`` with, written plainly.

Run one as its own process: ``python benchmarks/methods.py NAME DUMP OUT [--jobs N]``. It
writes ``OUT`` as JSON: ``{"articles": n, "clusters": [[id, ...], ...]}`` (no clusters for
the floor). Every method reads the same files the same way and splits them at the same header
lines, so article ids (``file#ordinal``) match the corpus truth.

* ``baseline``: the usual way. ``ftfy.fix_text`` on each article, a datasketch ``MinHash``
  per article (its defaults: SHA-1 of each shingle) over word 5-gram strings with
  ``update_batch``, a ``MinHashLSH`` (16 bands x 8 rows) queried then inserted, candidates kept
  at an estimated Jaccard of at least 0.8, clusters by union-find.
* ``rensa``: the same with rensa's ``RMinHash``/``RMinHashLSH`` (Rust), and no text fixing.
* ``floor``: read, split, tokenise and hash the word 5-grams (a CRC-32 per token, combined in
  numpy), nothing else: no fixing, no MinHash, no candidates.

With ``--jobs N`` above 1 the per-file work (everything but the LSH) runs in a
``multiprocessing`` pool of N processes, the plain way to use N cores.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import zlib
from collections.abc import Callable, Iterable, Iterator
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np

NUM_PERM = 128
BANDS = 16
ROWS = 8
THRESHOLD = 0.8
SHINGLE = 5

_TOKEN = re.compile(r"\w+")


def _header_pattern() -> re.Pattern[str]:
    from dedupe_releases.split import CONTENT_TYPES

    kinds = "|".join(re.escape(k) for k in sorted(CONTENT_TYPES, key=len, reverse=True))
    return re.compile(rf"^\[?(?:{kinds})\s*:", re.MULTILINE | re.IGNORECASE)


_HEADER = _header_pattern()


def files_of(dump: Path) -> list[Path]:
    return sorted((p for p in dump.rglob("*") if p.is_file()), key=lambda p: os.fsencode(p))


def read_articles(path: Path, root: Path) -> list[tuple[str, str]]:
    """``(id, text)`` of each article of a file: a header line starts an article."""
    data = path.read_bytes()
    if path.name.endswith(".gz"):
        import gzip

        data = gzip.decompress(data)
    text = data.decode("utf-8", errors="replace")
    name = path.relative_to(root).as_posix()
    starts = [m.start() for m in _HEADER.finditer(text)]
    if not starts or text[: starts[0]].strip():
        starts.insert(0, 0)
    bounds = [*starts, len(text)]
    return [(f"{name}#{i}", text[bounds[i - 1] : bounds[i]].strip()) for i in range(1, len(bounds))]


def shingle_strings(text: str) -> list[str]:
    words = _TOKEN.findall(text.lower())
    if len(words) < SHINGLE:
        return [" ".join(words)] if words else []
    return list({" ".join(words[i : i + SHINGLE]) for i in range(len(words) - SHINGLE + 1)})


# --- baseline: ftfy + datasketch ---------------------------------------------------------


def baseline_file(job: tuple[Path, Path]) -> list[tuple[str, Any]]:
    import ftfy
    from datasketch import LeanMinHash, MinHash

    out = []
    for article_id, text in read_articles(*job):
        m = MinHash(num_perm=NUM_PERM)
        m.update_batch([s.encode("utf-8") for s in shingle_strings(ftfy.fix_text(text))])
        out.append((article_id, LeanMinHash(m)))
    return out


def baseline(jobs: Iterable[tuple[Path, Path]], workers: int) -> tuple[int, list[list[str]]]:
    from datasketch import MinHashLSH

    lsh = MinHashLSH(threshold=THRESHOLD, num_perm=NUM_PERM, params=(BANDS, ROWS))
    kept: dict[str, Any] = {}
    pairs = []
    n = 0
    for article_id, m in _map(baseline_file, jobs, workers):
        n += 1
        for other in lsh.query(m):
            if m.jaccard(kept[other]) >= THRESHOLD:
                pairs.append((other, article_id))
        lsh.insert(article_id, m)
        kept[article_id] = m
    return n, components(pairs)


# --- rensa: RMinHash + RMinHashLSH, no fixing --------------------------------------------


def rensa_file(job: tuple[Path, Path]) -> list[tuple[str, Any]]:
    from rensa import RMinHash

    out = []
    for article_id, text in read_articles(*job):
        m = RMinHash(num_perm=NUM_PERM, seed=42)
        m.update(shingle_strings(text))
        out.append((article_id, m))
    return out


def rensa(jobs: Iterable[tuple[Path, Path]], workers: int) -> tuple[int, list[list[str]]]:
    from rensa import RMinHashLSH

    lsh = RMinHashLSH(threshold=THRESHOLD, num_perm=NUM_PERM, num_bands=BANDS)
    ids: list[str] = []
    kept: list[Any] = []
    pairs = []
    for article_id, m in _map(rensa_file, jobs, workers):
        number = len(ids)
        for other in lsh.query(m):
            if m.jaccard(kept[other]) >= THRESHOLD:
                pairs.append((ids[other], article_id))
        lsh.insert(number, m)
        ids.append(article_id)
        kept.append(m)
    return len(ids), components(pairs)


# --- floor: read, split, tokenise, hash shingles ------------------------------------------


def floor_file(job: tuple[Path, Path]) -> list[tuple[str, int]]:
    out = []
    for article_id, text in read_articles(*job):
        words = _TOKEN.findall(text.lower())
        th = np.fromiter((zlib.crc32(w.encode()) for w in words), dtype=np.uint64, count=len(words))
        n = max(len(th) - SHINGLE + 1, 0)
        acc = np.zeros(n, dtype=np.uint64)
        with np.errstate(over="ignore"):
            for j in range(SHINGLE):
                acc = acc * np.uint64(0x9E3779B97F4A7C15) + th[j : j + n]
        out.append((article_id, len(acc)))
    return out


def floor(jobs: Iterable[tuple[Path, Path]], workers: int) -> tuple[int, list[list[str]]]:
    return sum(1 for _ in _map(floor_file, jobs, workers)), []


# --- shared --------------------------------------------------------------------------------


def _map(
    func: Callable[[tuple[Path, Path]], list[Any]], jobs: Iterable[tuple[Path, Path]], workers: int
) -> Iterator[Any]:
    if workers <= 1:
        for job in jobs:
            yield from func(job)
        return
    with get_context("spawn").Pool(workers) as pool:
        for result in pool.imap(func, jobs, chunksize=4):
            yield from result


def components(pairs: list[tuple[str, str]]) -> list[list[str]]:
    """Connected components (of two or more) of a list of pairs, each sorted."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in pairs:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    groups: dict[str, list[str]] = {}
    for x in list(parent):
        groups.setdefault(find(x), []).append(x)
    return sorted(sorted(g) for g in groups.values() if len(g) > 1)


METHODS: dict[str, Callable[[Iterable[tuple[Path, Path]], int], tuple[int, list[list[str]]]]] = {
    "baseline": baseline,
    "rensa": rensa,
    "floor": floor,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("method", choices=sorted(METHODS))
    parser.add_argument("dump", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--jobs", type=int, default=1)
    args = parser.parse_args(argv)
    jobs = [(p, args.dump) for p in files_of(args.dump)]
    n, clusters = METHODS[args.method](jobs, args.jobs)
    args.out.write_text(json.dumps({"articles": n, "clusters": clusters}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

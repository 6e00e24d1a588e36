"""The local engine against Dask with 1 and 2 workers, with per-article costs per stage.

Generates an archive (``corpus.generate``), scans it with the local engine and with
``DaskEngine`` on a ``LocalCluster`` of 1 and 2 single-threaded worker processes (started
before the clock runs), checks that every run gives the local engine's bytes, and prints the
wall time of each stage:

* ``ingest``: read, fix, split, sketch, and the records back here in path order;
* ``pairs``: the candidate search (on Dask: the band-key shuffle);
* ``verify``: candidate verification;
* ``here``: what always runs in the calling process (boilerplate, clustering, canonicals).

Usage::

    python benchmarks/dask_bench.py --articles 6000 --seed 1 [--repeat 2]

Ratios against the local run in the same command are the result; absolute seconds depend on
the machine and on what else runs on it.
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from dedupe_releases import output
from dedupe_releases.boilerplate import Boilerplate
from dedupe_releases.config import Config
from dedupe_releases.pipeline import Engine, LocalEngine, make_verifier, scan
from dedupe_releases.records import Article, FileRecord, Match, Problem
from dedupe_releases.store import MemoryStore

HERE = Path(__file__).resolve().parent


class Timed:
    """An engine that records the wall time of each of its stages."""

    def __init__(self, inner: Engine) -> None:
        self.inner = inner
        self.seconds: dict[str, float] = {"ingest": 0.0, "pairs": 0.0, "verify": 0.0}

    def records(
        self, paths: Sequence[Path], config: Config, on_file: Callable[[str], None] | None
    ) -> Iterator[FileRecord | Problem]:
        start = time.perf_counter()
        for record in self.inner.records(paths, config, on_file):
            self.seconds["ingest"] += time.perf_counter() - start
            yield record
            start = time.perf_counter()
        self.seconds["ingest"] += time.perf_counter() - start

    def candidate_pairs(self, store: MemoryStore, config: Config) -> list[tuple[str, str]]:
        start = time.perf_counter()
        pairs = self.inner.candidate_pairs(store, config)
        self.seconds["pairs"] = time.perf_counter() - start
        return pairs

    def verify(
        self,
        pairs: Sequence[tuple[str, str]],
        articles: Callable[[str], Article],
        config: Config,
        boilerplate: Boilerplate,
    ) -> dict[tuple[str, str], Match | None]:
        start = time.perf_counter()
        known = self.inner.verify(pairs, articles, config, boilerplate)
        if isinstance(self.inner, LocalEngine):  # verify here what the scan would verify later
            verifier = make_verifier(articles, config, boilerplate)
            known = {(a, b) if a <= b else (b, a): verifier.match(a, b) for a, b in pairs}
        self.seconds["verify"] = time.perf_counter() - start
        return known


def run(dump: Path, engine: Engine) -> tuple[bytes, dict[str, float], int, int]:
    timed = Timed(engine)
    start = time.perf_counter()
    result = scan([dump], Config(), engine=timed)
    total = time.perf_counter() - start
    out = io.BytesIO()
    output.write_json(result, out)
    seconds = dict(timed.seconds)
    seconds["here"] = total - sum(seconds.values())
    seconds["total"] = total
    return out.getvalue(), seconds, len(result.store), result.candidates


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=6000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=1, help="runs per engine; the best counts")
    args = parser.parse_args(argv)

    spec = importlib.util.spec_from_file_location("corpus", HERE / "corpus.py")
    assert spec is not None and spec.loader is not None
    corpus: Any = importlib.util.module_from_spec(spec)
    sys.modules["corpus"] = corpus
    spec.loader.exec_module(corpus)

    from dedupe_releases.dask_engine import DaskEngine

    with tempfile.TemporaryDirectory() as tmp:
        corpus.generate(tmp, args.articles, args.seed)
        dump = Path(tmp) / "dump"
        rows: list[tuple[str, dict[str, float]]] = []
        expected, best, articles, pairs = b"", None, 0, 0
        for _ in range(args.repeat):
            got, seconds, articles, pairs = run(dump, LocalEngine())
            expected = expected or got
            if best is None or seconds["total"] < best["total"]:
                best = seconds
        assert best is not None
        rows.append(("local", best))
        for workers in (1, 2):
            with DaskEngine(None, workers=workers) as engine:
                best = None
                for _ in range(args.repeat):
                    got, seconds, _, _ = run(dump, engine)
                    if got != expected:
                        print(f"dask with {workers} workers: output differs", file=sys.stderr)
                        return 1
                    if best is None or seconds["total"] < best["total"]:
                        best = seconds
                assert best is not None
                rows.append((f"dask, {workers} worker{'s' * (workers > 1)}", best))

    base = rows[0][1]["total"]
    print(f"{articles:,} articles, {pairs:,} candidate pairs; every run gave the same bytes")
    print(f"{'engine':<16}{'ingest':>9}{'pairs':>9}{'verify':>9}{'here':>9}{'total':>9}  ratio")
    for name, s in rows:
        cells = "".join(f"{s[k]:>8.2f}s" for k in ("ingest", "pairs", "verify", "here", "total"))
        print(f"{name:<16}{cells}  {s['total'] / base:.2f}")
    local = rows[0][1]
    print("per article, local engine (one core):")
    for k in ("ingest", "pairs", "verify", "here"):
        print(f"  {k:<7}{local[k] / articles * 1e3:8.3f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())

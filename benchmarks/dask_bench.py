"""The local engine against Dask with 1 and 2 workers, with per-article costs per stage.

Generates an archive (``corpus.generate``), scans it with the local engine (``--jobs`` 1 and
2) and with ``DaskEngine`` on a ``LocalCluster`` of 1 and 2 single-threaded worker
processes (started before the clock runs), checks that every run gives the same bytes, and
prints the wall time of each stage, measured at the engine seam of ``pipeline.scan``:

* ``ingest``: read, fix, split, sketch, and the records taken into the spill store here
  in path order (the store's own work is counted under ``here``);
* ``pairs``: the candidate search (on Dask: the shuffle of band keys, sentence and content
  hashes);
* ``verify``: candidate verification;
* ``here``: what always runs in the calling process: adding records to the spill store,
  learning boilerplate, clustering, canonicals (writing the JSON is not counted).

The local engine is timed through the same seam: ``Local`` runs exactly what ``scan`` runs
without an engine (``ordered_batches`` of ``ingest_files``, ``store.candidate_pairs``, the
scan's verifier with the stored features), so its stages are those of a plain local scan.

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
from collections.abc import Iterable, Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from dedupe_releases import output
from dedupe_releases.boilerplate import Boilerplate
from dedupe_releases.candidates import sentence_hashes
from dedupe_releases.config import Config
from dedupe_releases.parallel import ordered_batches
from dedupe_releases.pipeline import INGEST_FILES, _stored_features, ingest_files, scan
from dedupe_releases.records import Match
from dedupe_releases.verify import Verifier

HERE = Path(__file__).resolve().parent
STAGES = ("ingest", "pairs", "verify")


class Local:
    """What ``pipeline.scan`` does without an engine, behind the engine seam."""

    def __init__(self, jobs: int) -> None:
        self.jobs = jobs

    def ingest(self, items: Iterable[Any], config: Config) -> Iterator[Any]:
        work = partial(ingest_files, config=config)
        return ordered_batches(work, items, self.jobs, INGEST_FILES)

    def candidate_pairs(self, store: Any, config: Config) -> list[tuple[str, str]]:
        pairs: list[tuple[str, str]] = store.candidate_pairs(
            config.verify.min_shared_sentences, config.sketch.max_bucket_pairs
        )
        return pairs

    def verify(
        self, pairs: Sequence[tuple[str, str]], store: Any, config: Config, bp: Boilerplate
    ) -> dict[tuple[str, str], Match | None]:
        mask = bp.mask if bp.hashes else None
        fast = partial(_stored_features, store, config, bp)
        verifier = Verifier(
            store.article, config.sketch, config.verify, sentence_hashes, text=mask, features=fast
        )
        return {(a, b) if a <= b else (b, a): verifier.match(a, b) for a, b in pairs}


class Timed:
    """An engine that records the wall time of each of its stages."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.seconds: dict[str, float] = dict.fromkeys(STAGES, 0.0)

    def ingest(self, items: Iterable[Any], config: Config) -> Iterator[Any]:
        stream = iter(self.inner.ingest(items, config))
        while True:
            start = time.perf_counter()
            item = next(stream, None)
            self.seconds["ingest"] += time.perf_counter() - start
            if item is None:
                return
            yield item

    def candidate_pairs(self, store: Any, config: Config) -> list[tuple[str, str]]:
        start = time.perf_counter()
        pairs: list[tuple[str, str]] = self.inner.candidate_pairs(store, config)
        self.seconds["pairs"] = time.perf_counter() - start
        return pairs

    def verify(
        self, pairs: Sequence[tuple[str, str]], store: Any, config: Config, bp: Boilerplate
    ) -> dict[tuple[str, str], Match | None]:
        start = time.perf_counter()
        known: dict[tuple[str, str], Match | None] = self.inner.verify(pairs, store, config, bp)
        self.seconds["verify"] = time.perf_counter() - start
        return known


def run(dump: Path, engine: Any) -> tuple[bytes, dict[str, float], int, int]:
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


#: The tasks of each stage on the cluster, by task prefix.
TASKS = {"ingest": "ingest_batch", "pairs": "group_partition", "verify": "verify_chunk"}


def compute_seconds(engine: Any) -> dict[str, float]:
    """Seconds the workers spent computing each stage's tasks so far (Dask's own record)."""

    def durations(dask_scheduler: Any) -> dict[str, float]:
        return {
            k: float(p.all_durations.get("compute", 0.0))
            for k, p in dask_scheduler.task_prefixes.items()
        }

    found = engine.client.run_on_scheduler(durations)
    return {stage: found.get(prefix, 0.0) for stage, prefix in TASKS.items()}


def best_of(dump: Path, engine: Any, repeat: int, expected: bytes) -> dict[str, float]:
    best: dict[str, float] | None = None
    for _ in range(repeat):
        before = compute_seconds(engine) if hasattr(engine, "client") else {}
        got, seconds, _, _ = run(dump, engine)
        if before:
            after = compute_seconds(engine)
            seconds.update({f"{k} on workers": after[k] - before[k] for k in TASKS})
        if expected and got != expected:
            raise SystemExit("the output differs from the local engine's")
        if best is None or seconds["total"] < best["total"]:
            best = seconds
    assert best is not None
    return best


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
        expected, _, articles, pairs = run(dump, Local(1))
        rows = [
            (f"local, --jobs {jobs}", best_of(dump, Local(jobs), args.repeat, expected))
            for jobs in (1, 2)
        ]
        for workers in (1, 2):
            with DaskEngine(None, workers=workers) as engine:
                name = f"dask, {workers} worker{'s' * (workers > 1)}"
                rows.append((name, best_of(dump, engine, args.repeat, expected)))

    base = rows[0][1]["total"]
    print(f"{articles:,} articles, {pairs:,} candidate pairs; every run gave the same bytes")
    print(f"{'engine':<18}{'ingest':>9}{'pairs':>9}{'verify':>9}{'here':>9}{'total':>9}  ratio")
    for name, s in rows:
        cells = "".join(f"{s[k]:>8.2f}s" for k in (*STAGES, "here", "total"))
        print(f"{name:<18}{cells}  {s['total'] / base:.2f}")
    for name, s in (rows[0], rows[2], rows[3]):
        print(f"per article, {name} (wall time of the stage here):")
        for k in (*STAGES, "here"):
            print(f"  {k:<7}{s[k] / articles * 1e3:8.3f} ms")
        print(f"  verify per candidate pair: {s['verify'] / max(pairs, 1) * 1e3:.3f} ms")
        if "ingest on workers" in s:
            cells = ", ".join(f"{k} {s[f'{k} on workers'] / articles * 1e3:.3f} ms" for k in TASKS)
            print(f"  task compute time on the workers, per article: {cells}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

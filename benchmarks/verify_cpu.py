"""CPU per candidate pair of ``verify_batch``: an older revision's against this tree's.

Scans a dump once in this process (``--jobs`` workers for reading and hashing), keeping every
batch of candidate pairs that the scan sends to ``verify_batch``. The package as it was at
``--rev`` is extracted (``git archive``) into a temporary folder and imported under another
name, so both implementations run in the same process on the same batches: rounds alternate
between them, each round timing every batch once with ``time.process_time``. Prints the
median microseconds per pair of each and their ratio, and checks that both give the same
verdicts and measures.

    python benchmarks/verify_cpu.py [DUMP] [--rev main] [--rounds 5] [--jobs 2] [--max-pairs N]
"""

from __future__ import annotations

import argparse
import importlib
import io
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DUMP = ROOT / "benchmarks" / "out" / "corpus-10000-seed1-546f90e8" / "dump"
OLD_NAME = "dedupe_releases_old"

Batch = tuple[Any, ...]


def load_old(rev: str, into: Path) -> Any:
    """The ``verify_batch`` module of revision ``rev``, imported as ``dedupe_releases_old``."""
    tar = subprocess.run(
        ["git", "-C", str(ROOT), "archive", rev, "src/dedupe_releases"],
        check=True,
        capture_output=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(tar)) as archive:
        archive.extractall(into, filter="data")
    package = into / OLD_NAME
    (into / "src" / "dedupe_releases").rename(package)
    for path in package.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        path.write_text(text.replace("dedupe_releases.", f"{OLD_NAME}."), encoding="utf-8")
    sys.path.insert(0, str(into))
    return importlib.import_module(f"{OLD_NAME}.verify_batch")


def collect(dump: Path, jobs: int) -> tuple[list[Batch], Any]:
    """Every batch (its arguments) that a scan of ``dump`` verifies, and the scan's config."""
    from dedupe_releases import pipeline
    from dedupe_releases.config import Config

    batches: list[Batch] = []
    real = pipeline.verify_batch
    real_stored = pipeline._verify_stored

    def in_process(*args: Any, **kwargs: Any) -> Any:
        from dedupe_releases.parallel import Workers

        return real_stored(*args, **{**kwargs, "workers": Workers(1)})  # the recorder is local

    def recording(batch: Any, config: Any, boilerplate: tuple[int, ...] | None = None) -> Any:
        if boilerplate is None:  # the lines the scan installed in this process
            from dedupe_releases.verify_batch import installed_boilerplate

            boilerplate = installed_boilerplate()
        from dedupe_releases.spill import read_record

        articles, pairs = batch  # each record as bytes: the scan's spill file goes with it
        kept = [(s, n, read_record(r), sent, m) for s, n, r, sent, m in articles]
        batches.append(((kept, pairs), boilerplate))
        return real(batch, config, boilerplate)

    pipeline.verify_batch = recording  # type: ignore[assignment]
    pipeline._verify_stored = in_process  # type: ignore[assignment]
    try:
        config = Config()
        pipeline.scan([dump], config, jobs=jobs)
    finally:
        pipeline.verify_batch = real
        pipeline._verify_stored = real_stored  # type: ignore[assignment]
    return batches, config


def run_all(func: Callable[..., Any], batches: list[Batch]) -> tuple[float, list[Any]]:
    """CPU seconds to verify every batch once, and the results."""
    out = []
    start = time.process_time()
    for batch, boilerplate in batches:
        out.append(func(batch, boilerplate=boilerplate))
    return time.process_time() - start, out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dump", type=Path, nargs="?", default=DEFAULT_DUMP)
    parser.add_argument("--rev", default="main", help="git revision of the old implementation")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=2, help="workers for the one scan")
    parser.add_argument(
        "--max-pairs",
        type=int,
        default=0,
        help="time only the first batches, about this many pairs",
    )
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT / "src"))
    from dedupe_releases import verify_batch as new

    batches, config = collect(args.dump, args.jobs)
    if args.max_pairs:
        kept, total = [], 0
        for batch in batches:
            if total >= args.max_pairs:
                break
            kept.append(batch)
            total += len(batch[0][1])
        batches = kept
    pairs = sum(len(batch[1]) for batch, _ in batches)
    with tempfile.TemporaryDirectory() as work:
        old = load_old(args.rev, Path(work))
        old_config = importlib.import_module(f"{OLD_NAME}.config").Config()
        funcs = {
            "old": partial(old.verify_batch, config=old_config),
            "new": partial(new.verify_batch, config=config),
        }
        times: dict[str, list[float]] = {"old": [], "new": []}
        results: dict[str, list[Any]] = {}
        for n in range(args.rounds):
            for name in ("old", "new") if n % 2 == 0 else ("new", "old"):
                seconds, results[name] = run_all(funcs[name], batches)
                times[name].append(seconds)
    same = results["old"] == results["new"]
    old_us = statistics.median(times["old"]) / pairs * 1e6
    new_us = statistics.median(times["new"]) / pairs * 1e6
    ratios = [o / n for o, n in zip(times["old"], times["new"], strict=True)]
    print(f"{args.dump}: {len(batches)} batches, {pairs} candidate pairs, {args.rounds} rounds")
    print(f"old ({args.rev}): {old_us:8.1f} us/pair (median)")
    print(f"new (this tree): {new_us:8.1f} us/pair (median)")
    print(f"ratio old/new: {statistics.median(ratios):.2f}x (median of per-round ratios)")
    print("same verdicts and measures:", same)
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())

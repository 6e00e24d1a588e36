"""What asking for stored articles ahead (``SpillStore.prefetch``) saves when the page cache
no longer holds the scan's temporary file.

On a big archive the temporary file that holds the articles' texts (a few GB at a million
articles) outgrows what the page cache keeps, so the articles that verification, clustering
and output read back one by one come from the disk. This script makes that happen on any
machine: it scans a dump in this process (``--jobs`` workers), and once the files are read
it drops the temporary file's pages from the cache (``posix_fadvise`` ``DONTNEED``). It then
times everything after the ingest (candidate search, verification, clustering, JSON output to
a null sink), with the prefetch as it is and with it turned off, in alternating rounds, and
prints the median of each and their ratio. Both must give the same JSON document.

    python benchmarks/cold_spill.py benchmarks/out/corpus-100000-seed1-546f90e8/dump --rounds 3
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


class _Hashing(io.RawIOBase):
    def __init__(self) -> None:
        self.digest = hashlib.sha256()

    def writable(self) -> bool:
        return True

    def write(self, b: Any) -> int:
        self.digest.update(b)
        return len(b)


def one_round(dump: Path, jobs: int, prefetch: bool) -> tuple[float, str]:
    """Seconds from the end of the ingest to the end of the JSON output, and its digest."""
    from dedupe_releases import output, pipeline
    from dedupe_releases.config import Config
    from dedupe_releases.spill import SpillStore

    started: list[float] = []
    real_pairs, real_prefetch = SpillStore.candidate_pairs, SpillStore.prefetch

    def cold_then_search(self: SpillStore, *args: Any) -> Any:
        if not started:
            if self._file is not None:
                self._flush()
                os.fsync(self._file.fileno())  # dirty pages cannot be dropped
                os.posix_fadvise(self._file.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
            started.append(time.perf_counter())
        return real_pairs(self, *args)

    SpillStore.candidate_pairs = cold_then_search  # type: ignore[method-assign]
    if not prefetch:
        SpillStore.prefetch = lambda self, ids: None  # type: ignore[method-assign]
    try:
        result = pipeline.scan([dump], Config(), jobs=jobs)
        sink = _Hashing()
        output.write_json(result, sink)
        return time.perf_counter() - started[0], sink.digest.hexdigest()
    finally:
        SpillStore.candidate_pairs = real_pairs  # type: ignore[method-assign]
        SpillStore.prefetch = real_prefetch  # type: ignore[method-assign]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dump", type=Path)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    if not hasattr(os, "posix_fadvise"):
        print("no posix_fadvise on this system: nothing to measure")
        return 1
    sys.path.insert(0, str(ROOT / "src"))
    times: dict[bool, list[float]] = {True: [], False: []}
    digests: set[str] = set()
    for n in range(args.rounds):
        for prefetch in (True, False) if n % 2 == 0 else (False, True):
            seconds, digest = one_round(args.dump, args.jobs, prefetch)
            times[prefetch].append(seconds)
            digests.add(digest)
            label = "prefetch" if prefetch else "no prefetch"
            print(f"round {n + 1}: {label:<12} {seconds:7.2f} s after the ingest", flush=True)
    with_, without = statistics.median(times[True]), statistics.median(times[False])
    print(
        f"median after the ingest, cold temporary file: {with_:.2f} s with prefetch, "
        f"{without:.2f} s without: {without / with_:.2f}x; "
        f"same JSON: {'yes' if len(digests) == 1 else 'NO'}"
    )
    return 0 if len(digests) == 1 else 1


if __name__ == "__main__":
    sys.exit(main())

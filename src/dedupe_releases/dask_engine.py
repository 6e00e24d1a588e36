"""Run a scan's heavy stages as tasks on a Dask cluster (``scan --engine dask``).

The same functions as the local engine, placed elsewhere:

* ingest: the files, walked here in path order, are cut into batches; each batch is one task
  that reads, fixes, splits and sketches its files (``pipeline.ingest_files``, what a local
  worker process runs) and cuts its articles' band keys, sentence hashes and content-hash
  keys into ``partitions`` by key. The packed records (without band keys) come back here in
  path order, a bounded number of batches ahead, into the scan's spill store;
* the shuffle: one task per partition takes that partition from every batch (Dask moves the
  pieces from worker to worker) and groups its keys with the local code
  (``candidates._bucket_pairs``). A key lives in exactly one partition, so each bucket is
  whole in one task; owners are numbered in path order, so a large bucket's star has the
  same centre as in the local engine. The partitions' pair keys are merged here (shared
  sentences counted over every partition);
* verification: the candidate pairs, in chunks with the articles they need, are verified by
  ``verify.Verifier``, the local verifier, with the learned boilerplate masked.

Clustering and the canonical choice run here, so the result is byte for byte the local
engine's. A task whose worker dies is run again elsewhere (Dask keeps every task's recipe);
a run that cannot finish raises ``EngineError``.

For an incremental run (``--index``), ``prefetch`` reads, fixes, splits and sketches the new
and changed files on the cluster while the index takes them in one by one here.

The files must be readable on every worker under the same absolute path (a shared disk).
Records travel between this process and the workers with Dask's own serialisation: run the
scheduler and workers on a network you trust, as Dask's documentation says.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import logging
import operator
import os
import signal
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from dedupe_releases.boilerplate import Boilerplate
from dedupe_releases.candidates import MAX_SENTENCE_ARTICLES, _bucket_pairs
from dedupe_releases.config import Config
from dedupe_releases.errors import EngineError
from dedupe_releases.parallel import block_stop_signals
from dedupe_releases.pipeline import ingest, ingest_files
from dedupe_releases.records import Article, FileRecord, Match, Problem
from dedupe_releases.sketch import U32, U64, sentence_hashes
from dedupe_releases.spill import PackedFile
from dedupe_releases.store import ArticleStore
from dedupe_releases.verify import Verifier

#: The environment variable naming the scheduler when ``--scheduler`` is not given.
SCHEDULER_ENV = "DASK_SCHEDULER_ADDRESS"
#: Files per ingest task at first: large enough that a task outweighs its scheduling (~1 ms).
FILES_PER_TASK = 8
#: Files per ingest task at most. Batches grow with the files seen (1/64 of them per batch),
#: so a large archive is not cut into millions of tasks (each batch makes 3 + 1 per shuffle
#: partition of them); the result does not depend on the batches.
MAX_FILES_PER_TASK = 512
#: Candidate pairs per verification task, at most (about 5 ms each).
PAIRS_PER_TASK = 2_000
#: Tasks submitted ahead of the one being gathered, per worker: enough to keep every worker
#: busy, few enough that finished results waiting to be gathered stay bounded.
AHEAD_PER_WORKER = 4

Item = tuple[Path, str] | Problem
#: One partition of one batch: (band keys, owners, sentence keys, owners, hash keys, owners);
#: owners are ordinals within the batch.
Part = tuple[U64, U32, U64, U32, U64, U32]
_NO_KEYS = np.zeros(0, np.uint64)


def ingest_batch(
    items: Sequence[Item], config: Config, partitions: int
) -> tuple[list[PackedFile | Problem], list[Part]]:
    """One ingest task: the files' packed records, and their keys cut into ``partitions``."""
    records = ingest_files(items, config)
    packed = [r for r in records if isinstance(r, PackedFile)]
    parts = _partitioned(packed, partitions)
    light: list[PackedFile | Problem] = [
        replace(r, bands=_NO_KEYS, band_counts=np.zeros(r.articles, np.int64))
        if isinstance(r, PackedFile)
        else r
        for r in records
    ]
    return light, parts


def _partitioned(packed: Sequence[PackedFile], partitions: int) -> list[Part]:
    counts = [p.articles for p in packed]
    ordinals = np.arange(sum(counts), dtype=np.uint32)

    def flat(keys: list[U64], per: list[Any]) -> tuple[U64, U32]:
        if not keys:
            return _NO_KEYS, np.zeros(0, np.uint32)
        lengths = np.concatenate(per).astype(np.int64) if per else np.zeros(0, np.int64)
        return np.concatenate(keys).astype(np.uint64), np.repeat(ordinals, lengths)

    bands = flat([p.bands for p in packed], [p.band_counts for p in packed])
    sentences = flat([p.sentences for p in packed], [p.sentence_counts for p in packed])
    hashes = flat([p.hash_keys for p in packed], [np.ones(p.articles, np.int64) for p in packed])
    out: list[Part] = []
    cuts = [k % np.uint64(partitions) for k, _ in (bands, sentences, hashes)]
    for part in range(partitions):
        picked: list[Any] = []
        for (keys, owners), cut in zip((bands, sentences, hashes), cuts, strict=True):
            mine = cut == np.uint64(part)
            picked += [keys[mine], owners[mine]]
        out.append((picked[0], picked[1], picked[2], picked[3], picked[4], picked[5]))
    return out


def group_partition(
    firsts: Sequence[int], max_bucket_pairs: int, *parts: Part
) -> tuple[U64, U64, U64, U64]:
    """One shuffle task: the pairs of one partition's buckets, as ``i << 32 | j`` keys.

    ``firsts[b]`` is the number (in path order) of batch ``b``'s first article; a band
    bucket of more than ``max_bucket_pairs`` articles gives its star. Returns the
    band pairs, the sentence pairs with how many sentences each shares here, and the pairs of
    equal content hashes (the first copy with each other one).
    """
    joined: list[tuple[U64, U32]] = []
    for kind in range(3):
        keys: U64 = np.concatenate([_NO_KEYS, *(p[2 * kind] for p in parts)])
        owners: U32 = np.concatenate(
            [
                np.zeros(0, np.uint32),
                *(
                    p[2 * kind + 1].astype(np.uint32) + np.uint32(first)
                    for p, first in zip(parts, firsts, strict=True)
                ),
            ]
        ).astype(np.uint32)
        joined.append((keys, owners))
    bands: U64 = np.unique(_bucket_pairs(*joined[0], max_bucket_pairs, None))
    found = _bucket_pairs(*joined[1], None, MAX_SENTENCE_ARTICLES)
    sentence_pairs: U64 = np.unique(found)
    shared = np.unique(found, return_counts=True)[1].astype(np.uint64)
    copies = _bucket_pairs(*joined[2], 1, None)  # a star from the first copy, at any size
    return bands, sentence_pairs, shared.astype(np.uint64), copies


def verify_chunk(
    pairs: Sequence[tuple[str, str]],
    articles: dict[str, Article],
    config: Config,
    boilerplate: Boilerplate,
) -> list[Match | None]:
    """One verification task: the relation of each pair, by the local verifier."""
    mask = boilerplate.mask if boilerplate.hashes else None
    verifier = Verifier(
        articles.__getitem__, config.sketch, config.verify, sentence_hashes, text=mask
    )
    return [verifier.match(a, b) for a, b in pairs]


def _batches(items: Iterable[Item], smallest: int) -> Iterator[list[Item]]:
    """Items in batches of ``smallest`` at first, growing with the items seen so far."""
    batch: list[Item] = []
    for seen, item in enumerate(items, 1):
        if not isinstance(item, Problem):
            item = (item[0].absolute(), item[1])  # the same file from any worker's directory
        batch.append(item)
        if len(batch) >= min(max(smallest, seen // 64), max(smallest, MAX_FILES_PER_TASK)):
            yield batch
            batch = []
    if batch:
        yield batch


@contextlib.contextmanager
def _stop_signals_held() -> Iterator[None]:
    """Hold SIGINT and SIGTERM while processes start: they inherit the blocked mask.

    Ctrl-C reaches the whole process group: this process stops the run with its one line and
    closes the cluster, and the workers of a local cluster, which never see the signal, must
    not print tracebacks of their own. (Dask's nanny still ends them with this process.) A
    signal that comes meanwhile is delivered here when the block ends.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held = block_stop_signals()
    try:
        yield
    finally:
        if held is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)


class DaskEngine:
    """A scan's ingest, candidate search and verification as tasks on a Dask cluster.

    ``address`` is a scheduler (``tcp://host:8786``); ``None`` starts a ``LocalCluster`` of
    ``workers`` processes on this machine for the length of the scan. ``timeout`` bounds the
    connection, in seconds (default: Dask's ``distributed.comm.timeouts.connect``, 30 s,
    which ``DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT`` sets).
    """

    def __init__(
        self,
        address: str | None = None,
        workers: int | None = None,
        files_per_task: int = FILES_PER_TASK,
        pairs_per_task: int = PAIRS_PER_TASK,
        timeout: float | None = None,
    ) -> None:
        try:
            import distributed  # noqa: F401
        except ImportError as exc:
            raise EngineError(
                "--engine dask needs Dask: pip install 'dedupe-releases[dask]'"
            ) from exc
        self.address = address
        self.workers = workers
        self.files_per_task = files_per_task
        self.pairs_per_task = pairs_per_task
        self.timeout = timeout
        self._client: Any = None
        self._cluster: Any = None
        self._parts: list[list[Any]] = []  # per batch: one future per partition
        self._firsts: list[int] = []  # per batch: the number of its first article
        self._file_first: list[int] = []  # per file read: the number of its first article
        self._sources: list[str] = []

    def __enter__(self) -> DaskEngine:
        from distributed import Client, LocalCluster

        wait = {} if self.timeout is None else {"timeout": self.timeout}
        try:
            if self.address is None:
                with _stop_signals_held():
                    self._cluster = LocalCluster(  # type: ignore[no-untyped-call]
                        n_workers=self.workers or max(len(os.sched_getaffinity(0)), 1),
                        threads_per_worker=1,
                        processes=True,
                        dashboard_address=None,
                        # no dashboard; its HTTP server (health checks) on any free port
                        scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"},
                        host="127.0.0.1",
                        silence_logs=logging.CRITICAL,
                    )
                self._client = Client(self._cluster, **wait)  # type: ignore[no-untyped-call]
            else:
                self._client = Client(self.address, **wait)  # type: ignore[no-untyped-call]
        except (OSError, TimeoutError, ValueError) as exc:
            self.close()
            where = self.address or "a local cluster"
            raise EngineError(f"cannot reach the Dask scheduler at {where}: {exc}") from None
        except BaseException:  # an interruption: no cluster left behind
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._parts = []
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None

    @property
    def client(self) -> Any:
        if self._client is None:
            raise EngineError("a DaskEngine is used inside a with block")
        return self._client

    def _workers(self) -> int:
        return max(len(self.client.scheduler_info(n_workers=-1)["workers"]), 1)

    @property
    def partitions(self) -> int:
        """Shuffle partitions: a few per worker, so the grouping spreads over the cluster."""
        return max(2 * self._workers(), 2)

    def _gather(self, future: Any) -> Any:
        from distributed import KilledWorker

        try:
            return future.result()
        except KilledWorker as exc:
            raise EngineError(
                f"the Dask cluster lost a task on every worker that tried it ({exc}); "
                "no output was written: run the scan again"
            ) from None
        except (OSError, TimeoutError, concurrent.futures.CancelledError) as exc:
            raise EngineError(
                f"lost the Dask cluster ({type(exc).__name__}: {exc}); no output was written:"
                " run the scan again"
            ) from None

    def _ahead(self) -> int:
        return AHEAD_PER_WORKER * self._workers()

    def _ordered(
        self, submit: Callable[[Any], Any], inputs: Iterable[Any]
    ) -> Iterator[tuple[Any, Any]]:
        """``(input, result)`` of ``submit(input)``'s futures, in order, a bounded number ahead."""
        window: deque[tuple[Any, Any]] = deque()
        stream = iter(inputs)
        ahead = self._ahead()
        while True:
            while len(window) < ahead:
                nxt = next(stream, None)
                if nxt is None:
                    break
                window.append((nxt, submit(nxt)))
            if not window:
                return
            given, future = window.popleft()
            result = self._gather(future)
            future.release()
            yield given, result

    # -- a scan from scratch ---------------------------------------------------------------

    def ingest(self, items: Iterable[Item], config: Config) -> Iterator[PackedFile | Problem]:
        """Each file's packed record (band keys left on the cluster) or problem, in path order."""
        client = self.client
        partitions = self.partitions
        self._parts, self._firsts, self._file_first, self._sources = [], [], [], []

        def submit(batch: list[Item]) -> Any:
            task = client.submit(ingest_batch, batch, config, partitions, pure=False)
            keys = client.submit(operator.getitem, task, 1, pure=False)
            self._parts.append(
                [client.submit(operator.getitem, keys, i, pure=False) for i in range(partitions)]
            )
            return client.submit(operator.getitem, task, 0, pure=False)

        number = 0
        for _batch, records in self._ordered(submit, _batches(items, self.files_per_task)):
            self._firsts.append(number)
            for record in records:
                if isinstance(record, PackedFile):
                    self._file_first.append(number)
                    self._sources.append(record.source)
                    number += record.articles
                yield record

    def candidate_pairs(self, store: ArticleStore, config: Config) -> list[tuple[str, str]]:
        """``store.candidate_pairs`` of what ``ingest`` read, grouped on the cluster (the
        store has no band keys: they stayed there)."""
        client = self.client
        found: list[U64] = [_NO_KEYS]
        sentence_keys: list[U64] = [_NO_KEYS]
        sentence_counts: list[U64] = [_NO_KEYS]
        if self._parts:
            groups = [
                client.submit(
                    group_partition,
                    self._firsts,
                    config.sketch.max_bucket_pairs,
                    *[b[i] for b in self._parts],
                    pure=False,
                )
                for i in range(len(self._parts[0]))
            ]
            self._parts = []
            for future in groups:
                bands, sentences, shared, copies = self._gather(future)
                future.release()
                found += [bands, copies]
                sentence_keys.append(sentences)
                sentence_counts.append(shared)
        keys = np.concatenate(sentence_keys)
        if len(keys):
            distinct, where = np.unique(keys, return_inverse=True)
            total = np.bincount(where, weights=np.concatenate(sentence_counts).astype(np.float64))
            found.append(distinct[total >= config.verify.min_shared_sentences])
        pairs = np.unique(np.concatenate(found))  # sorted: in path order, as the local store
        firsts = np.array(self._file_first, dtype=np.int64)
        names: dict[int, str] = {}

        def name(number: int) -> str:
            if number not in names:
                index = int(np.searchsorted(firsts, number, "right")) - 1
                names[number] = f"{self._sources[index]}#{number - int(firsts[index]) + 1}"
            return names[number]

        return [
            (name(i), name(j))
            for i, j in zip(
                (pairs >> np.uint64(32)).tolist(),
                (pairs & np.uint64(0xFFFFFFFF)).tolist(),
                strict=True,
            )
        ]

    def verify(
        self,
        pairs: Sequence[tuple[str, str]],
        store: ArticleStore,
        config: Config,
        boilerplate: Boilerplate,
    ) -> dict[tuple[str, str], Match | None]:
        """The relation of every pair, verified on the cluster, by (smaller id, larger id)."""
        client = self.client
        # A key of its own each call: a second call with equal data would otherwise share the
        # first call's key while that one is being released, and its tasks could wait forever.
        shared = client.scatter([config, boilerplate], broadcast=True, hash=False)
        # At least a few tasks per worker, so a small run spreads too.
        size = max(min(self.pairs_per_task, -(-len(pairs) // (4 * self._workers()))), 1)
        chunks = (pairs[i : i + size] for i in range(0, len(pairs), size))

        def submit(chunk: Sequence[tuple[str, str]]) -> Any:
            needed = {x: store.article(x) for pair in chunk for x in pair}
            return client.submit(verify_chunk, chunk, needed, *shared, pure=False)

        known: dict[tuple[str, str], Match | None] = {}
        for chunk, matches in self._ordered(submit, chunks):
            for (a, b), match in zip(chunk, matches, strict=True):
                known[(a, b) if a <= b else (b, a)] = match
        return known

    # -- an incremental run ----------------------------------------------------------------

    def prefetch(self, files: Iterable[tuple[Path, str]], config: Config) -> Prefetched:
        """Records of ``files`` (``pipeline.ingest``), made on the cluster ahead of their use."""
        client = self.client

        def submit(batch: list[Item]) -> Any:
            return client.submit(ingest_records, batch, config, pure=False)

        listed = list(files)
        stream = self._ordered(submit, _batches(listed, self.files_per_task))
        return Prefetched({source for _path, source in listed}, stream)


def ingest_records(items: Sequence[Item], config: Config) -> list[FileRecord | Problem]:
    """One ingest task of an incremental run: each file's ``FileRecord`` (or problem)."""
    return [i if isinstance(i, Problem) else ingest(i[0], i[1], config) for i in items]


class Prefetched:
    """Records made ahead on the cluster, taken in the order they were asked for."""

    def __init__(self, sources: set[str], batches: Iterator[tuple[Any, Any]]) -> None:
        self._sources = sources
        self._batches = batches
        self._ready: deque[FileRecord | Problem] = deque()

    def take(self, source: str) -> FileRecord | Problem | None:
        """The record of ``source`` (None if it was not asked for); earlier ones are dropped."""
        if source not in self._sources:
            return None
        self._sources.discard(source)
        while True:
            while self._ready:
                record = self._ready.popleft()
                if record.source == source:
                    return record
                self._sources.discard(record.source)  # not asked for in its turn: not needed
            nxt = next(self._batches, None)
            if nxt is None:
                return None
            self._ready.extend(nxt[1])


def scheduler_address(option: str | None) -> str | None:
    """``--scheduler``, else ``$DASK_SCHEDULER_ADDRESS``, else None (a local cluster)."""
    return option or os.environ.get(SCHEDULER_ENV) or None


__all__ = ["SCHEDULER_ENV", "DaskEngine", "Prefetched", "scheduler_address"]

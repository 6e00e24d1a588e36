"""Run a scan's heavy stages as tasks on a Dask cluster (``scan --engine dask``).

The same functions as the local engine, placed elsewhere:

* ingest: the files, walked here in path order, are cut into batches; each batch is one task
  that reads, fixes, splits and sketches its files (``pipeline.ingest``) and also cuts its
  articles' band keys and sentence hashes into ``partitions`` by key;
* the shuffle: one task per partition takes that partition from every batch and groups the
  keys (``candidates._bucket_pairs``, the local code): a key lives in exactly one partition,
  so the pairs are those of the whole archive. Articles are named ``batch << 32 | ordinal in
  batch`` on the workers, an order-preserving stand-in for their number in path order, so
  the star links of large buckets pick the same first member as the local engine;
* verification: the candidate pairs, in chunks with the articles they need, are verified by
  ``pipeline.make_verifier``, the local verifier.

Records come back here in path order; clustering and the canonical choice run here, so the
result is byte for byte the local engine's. A task whose worker dies is run again elsewhere
(Dask keeps every task's recipe); a run that cannot finish raises ``EngineError``.

The files must be readable on every worker under the same absolute path (a shared disk).
Records travel between this process and the workers with Dask's own serialisation: run the
scheduler and workers on a network you trust, as Dask's documentation says.
"""

from __future__ import annotations

import operator
import os
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from dedupe_releases.boilerplate import Boilerplate
from dedupe_releases.candidates import MAX_BUCKET_PAIRS, MAX_SENTENCE_ARTICLES, _bucket_pairs
from dedupe_releases.config import Config
from dedupe_releases.errors import EngineError
from dedupe_releases.pipeline import ingest, make_verifier
from dedupe_releases.read import walk
from dedupe_releases.records import Article, FileRecord, Match, Problem
from dedupe_releases.store import MemoryStore

#: The environment variable naming the scheduler when ``--scheduler`` is not given.
SCHEDULER_ENV = "DASK_SCHEDULER_ADDRESS"
#: Files per ingest task: large enough that a task outweighs its scheduling (~1 ms).
FILES_PER_TASK = 8
#: Candidate pairs per verification task.
PAIRS_PER_TASK = 2_000

Keys = tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint64]]  # (keys, owners)
Item = tuple[Path, str] | Problem


def ingest_batch(
    batch: int, items: Sequence[Item], config: Config, partitions: int
) -> tuple[list[FileRecord | Problem], list[tuple[Keys, Keys]]]:
    """One ingest task: the files' records, and their keys cut into ``partitions``."""
    records = [i if isinstance(i, Problem) else ingest(i[0], i[1], config) for i in items]
    bands: list[npt.NDArray[np.uint64]] = []
    sentences: list[npt.NDArray[np.uint64]] = []
    for record in records:
        if isinstance(record, FileRecord):
            for sketch in record.sketches:
                bands.append(np.frombuffer(sketch.bands, dtype="<u8").astype(np.uint64))
                sentences.append(np.frombuffer(sketch.sentences, dtype="<u8").astype(np.uint64))
    return records, [
        (_cut(bands, batch, part, partitions), _cut(sentences, batch, part, partitions))
        for part in range(partitions)
    ]


def _cut(per_article: list[npt.NDArray[np.uint64]], batch: int, part: int, partitions: int) -> Keys:
    """The keys of one partition with their owners (``batch << 32 | ordinal in batch``)."""
    if not per_article or not sum(len(k) for k in per_article):
        return np.zeros(0, np.uint64), np.zeros(0, np.uint64)
    keys = np.concatenate(per_article)
    lengths = [len(k) for k in per_article]
    local = np.repeat(np.arange(len(per_article), dtype=np.uint64), lengths)
    owners = local | np.uint64(batch << 32)
    mine = keys % np.uint64(partitions) == np.uint64(part)
    return keys[mine], owners[mine]


def group_partition(
    *parts: tuple[Keys, Keys],
) -> tuple[list[tuple[int, int]], Counter[tuple[int, int]]]:
    """One shuffle task: band pairs, and sentence pairs with their shared-sentence counts."""
    bands = _join([p[0] for p in parts])
    sentences = _join([p[1] for p in parts])
    lsh = list(_bucket_pairs(bands[0], bands[1], MAX_BUCKET_PAIRS, None))  # type: ignore[arg-type]
    shared: Counter[tuple[int, int]] = Counter(
        _bucket_pairs(sentences[0], sentences[1], None, MAX_SENTENCE_ARTICLES)  # type: ignore[arg-type]
    )
    return lsh, shared


def _join(parts: list[Keys]) -> Keys:
    return np.concatenate([k for k, _ in parts]), np.concatenate([o for _, o in parts])


def verify_chunk(
    pairs: Sequence[tuple[str, str]],
    articles: dict[str, Article],
    config: Config,
    boilerplate: Boilerplate,
) -> list[Match | None]:
    """One verification task: the relation of each pair, by the local verifier."""
    verifier = make_verifier(articles.__getitem__, config, boilerplate)
    return [verifier.match(a, b) for a, b in pairs]


def _batches(items: Iterator[Item], size: int) -> Iterator[list[Item]]:
    batch: list[Item] = []
    for item in items:
        if not isinstance(item, Problem):
            item = (item[0].absolute(), item[1])  # the same file from any worker's directory
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


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
        self._batches: list[int] = []  # per batch: the number of the first article

    def __enter__(self) -> DaskEngine:
        from distributed import Client, LocalCluster

        wait = {} if self.timeout is None else {"timeout": self.timeout}
        try:
            if self.address is None:
                self._cluster = LocalCluster(  # type: ignore[no-untyped-call]
                    n_workers=self.workers or max(len(os.sched_getaffinity(0)), 1),
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                    host="127.0.0.1",
                )
                self._client = Client(self._cluster, **wait)  # type: ignore[no-untyped-call]
            else:
                self._client = Client(self.address, **wait)  # type: ignore[no-untyped-call]
        except (OSError, TimeoutError) as exc:
            self.close()
            where = self.address or "a local cluster"
            raise EngineError(f"cannot reach the Dask scheduler at {where}: {exc}") from exc
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
    def partitions(self) -> int:
        """Shuffle partitions: a few per worker, so the grouping spreads over the cluster."""
        workers = len(self._client.scheduler_info(n_workers=-1)["workers"])
        return max(2 * workers, 2)

    def _gather(self, future: Any) -> Any:
        from distributed import KilledWorker

        try:
            return future.result()
        except KilledWorker as exc:
            raise EngineError(
                f"the Dask cluster lost a task on every worker that tried it ({exc}); "
                "nothing was written: run the scan again"
            ) from exc
        except (OSError, TimeoutError) as exc:
            raise EngineError(f"lost the Dask scheduler: {exc}; nothing was written") from exc

    def records(
        self, paths: Sequence[Path], config: Config, on_file: Callable[[str], None] | None
    ) -> Iterator[FileRecord | Problem]:
        if self._client is None:
            raise EngineError("DaskEngine is used inside a with block")
        client = self._client
        partitions = self.partitions
        pending = []
        for number, batch in enumerate(_batches(walk(paths, config.read), self.files_per_task)):
            task = client.submit(ingest_batch, number, batch, config, partitions, pure=False)
            records = client.submit(operator.getitem, task, 0, pure=False)
            parts = client.submit(operator.getitem, task, 1, pure=False)
            self._parts.append(
                [client.submit(operator.getitem, parts, i, pure=False) for i in range(partitions)]
            )
            pending.append(records)
        self._batches = []
        first = 0
        for future in pending:
            self._batches.append(first)
            batch_records = self._gather(future)
            future.release()
            for record in batch_records:
                if isinstance(record, FileRecord):
                    first += len(record.articles)
                if on_file is not None:
                    on_file(record.source)
                yield record

    def candidate_pairs(self, store: MemoryStore, config: Config) -> list[tuple[str, str]]:
        client = self._client
        ids = [a.id for a in store]
        pairs: set[tuple[int, int]] = set()
        if self._parts:
            count = len(self._parts[0])
            groups = [
                client.submit(group_partition, *[b[i] for b in self._parts], pure=False)
                for i in range(count)
            ]
            shared: Counter[tuple[int, int]] = Counter()
            for future in groups:
                lsh, sentences = self._gather(future)
                pairs.update((self._number(a), self._number(b)) for a, b in lsh)
                for (a, b), n in sentences.items():
                    shared[self._number(a), self._number(b)] += n
            pairs.update(p for p, n in shared.items() if n >= config.verify.min_shared_sentences)
            self._parts = []
        by_hash: dict[str, list[int]] = defaultdict(list)
        for number, article in enumerate(store):  # exact copies, as MemoryStore finds them
            by_hash[article.content_hash].append(number)
        for group in by_hash.values():
            pairs.update((group[0], other) for other in group[1:])
        return [(ids[i], ids[j]) for i, j in sorted(pairs)]

    def _number(self, owner: int) -> int:
        """An article's number in path order, from its worker-side name."""
        return self._batches[owner >> 32] + (owner & 0xFFFFFFFF)

    def verify(
        self,
        pairs: Sequence[tuple[str, str]],
        articles: Callable[[str], Article],
        config: Config,
        boilerplate: Boilerplate,
    ) -> dict[tuple[str, str], Match | None]:
        client = self._client
        shared = client.scatter([config, boilerplate], broadcast=True)
        chunks = [
            pairs[i : i + self.pairs_per_task] for i in range(0, len(pairs), self.pairs_per_task)
        ]
        futures = []
        for chunk in chunks:
            needed = {x: articles(x) for pair in chunk for x in pair}
            futures.append(client.submit(verify_chunk, chunk, needed, *shared, pure=False))
        known: dict[tuple[str, str], Match | None] = {}
        for chunk, future in zip(chunks, futures, strict=True):
            for (a, b), match in zip(chunk, self._gather(future), strict=True):
                known[(a, b) if a <= b else (b, a)] = match
        return known


def scheduler_address(option: str | None) -> str | None:
    """``--scheduler``, else ``$DASK_SCHEDULER_ADDRESS``, else None (a local cluster)."""
    return option or os.environ.get(SCHEDULER_ENV) or None


__all__ = ["SCHEDULER_ENV", "DaskEngine", "scheduler_address"]

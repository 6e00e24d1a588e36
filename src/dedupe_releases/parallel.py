"""Run a pure per-item function over a stream in worker processes, results in input order.

``ordered_map(func, items, jobs)`` cuts the stream into batches, keeps a bounded number of
batches in flight in a process pool and yields every result in the order of ``items``, so
whatever consumes the results sees the same sequence for any ``jobs``. The design holds under
the ``spawn`` start method: ``func`` must be a module-level function (or a
``functools.partial`` of one) and workers share nothing with the parent but what is passed
to them. Our own in-flight records cross between our own processes; nothing is stored.
``ordered_batches`` is the same with ``func`` called on a whole batch (work that is cheaper
on several items at once); ``Workers`` is a pool that several maps share (a scan's ingest
and its verification).
"""

from __future__ import annotations

import contextlib
import itertools
import multiprocessing
import os
import signal
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from functools import partial
from multiprocessing import resource_tracker
from types import FrameType
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

#: Batches in flight per worker: enough to hide the parent's own work, few enough that
#: finished results waiting for an earlier slow batch stay a bounded amount of memory.
IN_FLIGHT_PER_JOB = 3


def default_jobs() -> int:
    """Every core this process may run on."""
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except AttributeError:  # not on Linux
        return max(os.cpu_count() or 1, 1)


def _run_batch(func: Callable[[T], R], batch: list[T]) -> list[R]:
    return [func(item) for item in batch]


def chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """``items`` in lists of ``size`` (the last may be shorter).

    >>> list(chunks(range(5), 2))
    [[0, 1], [2, 3], [4]]
    """
    iterator = iter(items)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


_STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}


def _die_with_parent() -> None:
    """Ask Linux to kill this worker when the parent dies (SIGKILL of a nightly run must not
    leave workers behind, holding the parent's pipes open). A no-op elsewhere."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, int(signal.SIGKILL), 0, 0, 0)
        if os.getppid() == 1:  # the parent died before the request took effect
            os._exit(1)
    except (OSError, AttributeError):
        pass


def _ignore_sigint() -> None:
    _die_with_parent()
    # Ctrl-C reaches the whole process group: the parent handles it and stops the pool.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):  # started with the parent's start-up mask
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})


def block_stop_signals() -> set[int | signal.Signals] | None:
    """Hold SIGINT/SIGTERM in this thread; returns the mask to restore.

    Worker processes started meanwhile inherit the blocked mask: a worker cut off in the
    middle of its start-up would print a traceback. A signal that comes meanwhile is
    delivered here when the old mask is restored.

    multiprocessing's resource tracker, started on first need, *unblocks* SIGINT in the
    thread that starts it (``SIG_UNBLOCK``, not a restore of the mask it found), so workers
    spawned after it would start with SIGINT open. It is started here, before the block.
    """
    if not hasattr(signal, "pthread_sigmask"):
        return None
    resource_tracker.ensure_running()
    return signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)


def submit_held(executor: ThreadPoolExecutor, func: Callable[..., R], *args: object) -> Future[R]:
    """``executor.submit(func, *args)`` with SIGINT/SIGTERM held meanwhile.

    ``submit`` may start the executor's thread, and a stop signal's handler (the command
    line's raises) that cuts into ``Thread.start`` leaves ``threading`` half done: the new
    thread prints a traceback. Held, the signal only takes note, and goes to its handler
    when ``submit`` has returned: the run stops as it would have. Held by handler, not by
    the thread's signal mask: numpy's own threads would take a masked signal and have the
    handler run anyway.
    """
    with _stop_signals_at_batch_boundaries():
        return executor.submit(func, *args)


#: glibc's ``mallopt`` parameters (malloc.h) and the values a worker sets.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
#: Blocks up to this size come from the heap, not from a mapping of their own...
WORKER_MMAP_THRESHOLD = 16 << 20
#: ... and the heap keeps up to this much freed memory at its top instead of returning it.
WORKER_TRIM_THRESHOLD = 32 << 20


def _keep_freed_memory() -> bool:
    """Have glibc's allocator keep the memory a worker frees, for its next batch; False
    where the C library has no ``mallopt`` (not glibc), which changes nothing there.

    A worker's numpy arrays are a few MB each, made and freed batch after batch. By default
    glibc gives each one a mapping of its own, or trims the heap when one is freed, so the
    next batch's arrays come back as new pages, each zeroed by the kernel on first touch:
    370,000 page faults and 0.9 s of system time in the workers of a 100k-article scan.
    Kept, the pages are reused: 26,000 faults. A worker's peak stays its largest batch's.
    """
    try:
        import ctypes

        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    return bool(
        mallopt(_M_MMAP_THRESHOLD, WORKER_MMAP_THRESHOLD)
        and mallopt(_M_TRIM_THRESHOLD, WORKER_TRIM_THRESHOLD)
    )


def _start_worker(*initializers: Callable[[], object] | None) -> None:
    _ignore_sigint()
    _keep_freed_memory()
    for initializer in initializers:
        if initializer is not None:
            initializer()


class Workers:
    """A pool of ``jobs`` worker processes that several ``ordered_map`` calls share.

    A scan reads and hashes its files in one map and verifies its candidate pairs in
    another; with one pool the second finds its workers started and the package imported
    (about 0.25 CPU-s a worker) instead of starting a pool of its own. The processes start
    with the first batch submitted and stop at ``close`` (or the end of a ``with`` block).
    ``initializer`` runs once in each worker as it starts, and so does what a ``prepare``
    callback returns.
    """

    def __init__(
        self,
        jobs: int,
        context: str = "spawn",
        initializer: Callable[[], object] | None = None,
    ) -> None:
        self.jobs = jobs
        self._context = context
        self._initializer = initializer
        self._pool: ProcessPoolExecutor | None = None
        self._submitted = 0
        self._prepare: Callable[[], Callable[[], object] | None] | None = None

    def prepare(self, callback: Callable[[], Callable[[], object] | None]) -> None:
        """Call ``callback`` here just before the workers start (if they ever do), and run
        what it returns (if not None) in each worker as it starts: for what only a worker
        being spawned can be given (a file descriptor), and only when there are workers."""
        if self._pool is not None:
            raise ValueError("the workers have started")
        self._prepare = callback

    def submit(self, func: Callable[..., R], *args: object) -> Future[R]:
        if self._submitted >= self.jobs and self._pool is not None:
            return self._pool.submit(func, *args)
        # A batch submitted while a worker may still be missing starts one: with the stop
        # signals held, so that it starts with them blocked (``block_stop_signals``).
        held = block_stop_signals()
        try:
            if self._pool is None:
                prepared = self._prepare() if self._prepare is not None else None
                self._pool = ProcessPoolExecutor(
                    max_workers=self.jobs,
                    mp_context=multiprocessing.get_context(self._context),
                    initializer=_start_worker,
                    initargs=(self._initializer, prepared),
                )
            future = self._pool.submit(func, *args)
        finally:
            if held is not None:
                signal.pthread_sigmask(signal.SIG_SETMASK, held)
        self._submitted += 1
        return future

    def close(self, wait: bool = True) -> None:
        """Stop the workers, dropping batches not yet started; waits for the running ones
        and for the workers to exit, unless not ``wait``: then they exit meanwhile (the
        interpreter's exit joins them)."""
        if self._pool is None:
            return
        pool, self._pool = self._pool, None
        # Held here too: a signal that interrupts shutdown(wait=True) while it joins the
        # executor's manager thread leaves that thread marked stopped but running, and the
        # interpreter's exit then waits for workers that never get their stop message.
        # Held, the signal is delivered when shutdown returns.
        held = block_stop_signals()
        try:
            pool.shutdown(wait=wait, cancel_futures=True)
        finally:
            if held is not None:
                signal.pthread_sigmask(signal.SIG_SETMASK, held)

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def ordered_map(
    func: Callable[[T], R],
    items: Iterable[T],
    jobs: int = 1,
    batch_size: int = 4,
    context: str = "spawn",
    initializer: Callable[[], object] | None = None,
    workers: Workers | None = None,
) -> Iterator[R]:
    """``map(func, items)`` computed by ``jobs`` worker processes, in the order of ``items``:
    ``ordered_batches`` of ``func`` called on each item of a batch.

    >>> list(ordered_map(abs, [-3, 1, -2], jobs=1))
    [3, 1, 2]
    """
    return ordered_batches(
        partial(_run_batch, func), items, jobs, batch_size, context, initializer, workers
    )


def ordered_batches(
    func: Callable[[list[T]], list[R]],
    items: Iterable[T],
    jobs: int = 1,
    batch_size: int = 4,
    context: str = "spawn",
    initializer: Callable[[], object] | None = None,
    workers: Workers | None = None,
) -> Iterator[R]:
    """The results of ``func`` on each batch of up to ``batch_size`` items (one result per
    item, in order), computed by ``jobs`` worker processes, in the order of ``items``: for
    work that is cheaper done on several items together.

    With ``jobs`` 1, or when the whole stream fits in one batch per worker, everything runs
    in this process (no start-up cost for a small input). ``initializer`` runs once in each
    process that calls ``func`` (this one, when it does), before its first item: what every
    item needs alike is sent to a worker once, not with each batch. ``workers``: a pool to
    use (and leave running) instead of one of this call's own; then ``jobs`` is its size,
    and ``initializer`` must be None (its workers have started already).

    >>> list(ordered_batches(lambda batch: [sum(batch)] * len(batch), [1, 2, 3], 1, 2))
    [3, 3, 3]
    """
    if workers is not None:
        if initializer is not None:
            raise ValueError("a shared pool's workers take no initializer of a map")
        jobs = workers.jobs
    iterator = iter(items)
    if jobs <= 1:
        if initializer is not None:
            initializer()
        for batch in chunks(iterator, batch_size):
            yield from func(batch)
        return
    head = list(itertools.islice(iterator, batch_size * jobs + 1))
    if len(head) <= batch_size * jobs:
        if initializer is not None:
            initializer()
        for batch in chunks(head, batch_size):
            yield from func(batch)
        return
    stream = itertools.chain(head, iterator)
    pool = Workers(jobs, context, initializer) if workers is None else workers
    pending: deque[Future[list[R]]] = deque()
    with _stop_signals_at_batch_boundaries() as check_stop:
        try:
            while True:
                check_stop()
                while len(pending) < jobs * IN_FLIGHT_PER_JOB:
                    batch = list(itertools.islice(stream, batch_size))
                    if not batch:
                        break
                    pending.append(pool.submit(func, batch))
                if not pending:
                    break
                results = pending.popleft().result()
                check_stop()
                yield from results
        finally:
            if workers is None:
                pool.close()
            else:  # the pool goes on: drop what this map left unstarted
                for future in pending:
                    future.cancel()


@contextlib.contextmanager
def _stop_signals_at_batch_boundaries() -> Iterator[Callable[[], None]]:
    """While the pool runs, SIGINT/SIGTERM only take note; ``check()`` acts on them.

    A handler that raises at an arbitrary point could fire inside the executor's own
    locking (``submit`` and ``shutdown`` share a lock) and hang the exit. Deferred to a
    batch boundary, the signal then goes to the handler that was installed before (the
    command line's, which stops the run with its exit code).
    """
    caught: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield lambda: None
        return

    def note(signum: int, frame: FrameType | None) -> None:
        caught.append(signum)

    previous = {sig: signal.signal(sig, note) for sig in _STOP_SIGNALS}
    restored = False

    def restore() -> None:
        nonlocal restored
        if not restored:
            restored = True
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def check() -> None:
        if not caught:
            return
        restore()
        signum = caught[0]
        handler = previous[signal.Signals(signum)]
        if callable(handler):
            handler(signum, None)
        elif handler == signal.SIG_DFL:
            signal.raise_signal(signum)
        caught.clear()  # SIG_IGN: nothing to do

    try:
        yield check
    finally:
        restore()
    check_after = caught[:1]
    if check_after:  # noted while shutting down: deliver it now
        signum = check_after[0]
        handler = previous[signal.Signals(signum)]
        if callable(handler):
            handler(signum, None)
        elif handler == signal.SIG_DFL:
            signal.raise_signal(signum)

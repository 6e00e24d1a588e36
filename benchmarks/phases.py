"""Where one scan's wall time goes, phase by phase.

Runs ``pipeline.scan`` on a dump in this process (``--jobs`` worker processes, as the CLI
does) and writes the JSON document to a null sink, timing each phase: reading, fixing,
splitting and signing the files (the workers; the parent stores what they send), the
candidate search and the boilerplate learning (side by side, in two threads: timed as one
phase, each one's own wall seconds printed below), verifying the candidates (the workers
again), clustering with the canonical choice, and the JSON output. Prints wall seconds, the
share of the total, the parent's own CPU seconds and the worker processes' CPU seconds for
each phase (a pool's CPU is counted when its workers have ended, which each phase waits for),
and how busy the cores were: all CPU seconds over wall seconds times ``--jobs``.

    python benchmarks/phases.py benchmarks/out/corpus-100000-seed1-546f90e8/dump --jobs 2
"""

from __future__ import annotations

import argparse
import functools
import io
import multiprocessing
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


class _Null(io.RawIOBase):
    def writable(self) -> bool:
        return True

    def write(self, b: Any) -> int:
        return len(b)


_local = threading.local()  # per thread: the timed phase running now, if any
_lock = threading.Lock()
_open: dict[str, list[float]] = {}  # phase -> [calls running, wall, CPU, workers' CPU at start]


def _children_cpu() -> float:
    """CPU seconds of this process's child processes (the pool's workers): those that ended,
    and those still running (the pool lives from the ingest to the end of verification)."""
    t = os.times()
    ended = t.children_user + t.children_system
    running = 0.0
    for child in multiprocessing.active_children():
        try:
            fields = Path(f"/proc/{child.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # it ended meanwhile: counted above, or next time
            continue
        running += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return ended + running


def _timed(
    owner: Any,
    name: str,
    phase: str,
    spent: dict[str, list[float]],
    alone: dict[str, float] | None = None,
) -> Callable[[], None]:
    """Wrap ``owner.name`` to add its wall and CPU seconds to ``spent[phase]``; returns an undo.

    A timed call made inside another one in the same thread (clustering's own verification
    round) counts for the outer phase only, so no second is counted twice. Calls of one
    phase that overlap in two threads (the candidate search and the boilerplate learning run
    side by side) count once, from the first start to the last end; ``alone`` then gets each
    function's own wall seconds, for information.
    """
    real = getattr(owner, name)

    @functools.wraps(real)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        inside = getattr(_local, "inside", None)
        if inside:
            return real(*args, **kwargs)
        _local.inside = phase
        began = time.perf_counter()
        with _lock:
            state = _open.setdefault(phase, [0, 0.0, 0.0, 0.0])
            if not state[0]:
                state[1], state[2], state[3] = began, time.process_time(), _children_cpu()
            state[0] += 1
        try:
            return real(*args, **kwargs)
        finally:
            _local.inside = None
            ended = time.perf_counter()
            if alone is not None:
                alone[name] = alone.get(name, 0.0) + ended - began
            with _lock:
                state[0] -= 1
                if not state[0]:
                    total = spent.setdefault(phase, [0.0, 0.0, 0.0])
                    total[0] += ended - state[1]
                    total[1] += time.process_time() - state[2]
                    total[2] += _children_cpu() - state[3]

    setattr(owner, name, wrapper)
    return lambda: setattr(owner, name, real)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dump", type=Path)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT / "src"))
    from dedupe_releases import output, pipeline
    from dedupe_releases.config import Config
    from dedupe_releases.spill import SpillStore

    spent: dict[str, list[float]] = {}
    alone: dict[str, float] = {}
    search = "candidate search + boilerplate"
    undo = [
        _timed(SpillStore, "candidate_pairs", search, spent, alone),
        _timed(SpillStore, "boilerplate", search, spent, alone),
        _timed(pipeline, "_verify_stored", "verification (workers)", spent),
        _timed(pipeline, "cluster_matches", "clustering and canonicals", spent),
    ]
    try:
        wall, cpu, child = time.perf_counter(), time.process_time(), _children_cpu()
        result = pipeline.scan([args.dump], Config(), jobs=args.jobs)
        scan = [time.perf_counter() - wall, time.process_time() - cpu, _children_cpu() - child]
        wall, cpu = time.perf_counter(), time.process_time()
        output.write_json(result, _Null())
        spent["JSON output"] = [time.perf_counter() - wall, time.process_time() - cpu, 0.0]
    finally:
        for step in undo:
            step()
    others = [sum(v[i] for k, v in spent.items() if k != "JSON output") for i in (0, 1, 2)]
    ingest = [s - o for s, o in zip(scan, others, strict=True)]
    phases = {"read, fix, split, sign (workers)": ingest}
    phases.update(spent)
    total = [sum(v[i] for v in phases.values()) for i in (0, 1, 2)]
    print(
        f"{args.dump}: {result.store.files:,} files, {result.candidates:,} candidate pairs, "
        f"{len(result.clusters):,} clusters, --jobs {args.jobs}"
    )
    print(
        f"{'phase':<34} {'wall s':>8} {'share':>6} {'parent CPU s':>13} {'workers CPU s':>14} "
        f"{'cores busy':>10}"
    )
    for label, (seconds, parent, workers) in [*phases.items(), ("total", total)]:
        busy = (parent + workers) / (seconds * args.jobs) if seconds else 0.0
        share = f"{seconds / total[0]:6.1%}" if label != "total" else " " * 6
        print(f"{label:<34} {seconds:8.2f} {share} {parent:13.2f} {workers:14.2f} {busy:10.0%}")
    print(
        "(side by side in two threads: the candidate search took "
        f"{alone.get('candidate_pairs', 0.0):.2f} s, the boilerplate learning "
        f"{alone.get('boilerplate', 0.0):.2f} s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

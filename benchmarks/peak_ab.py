"""Wall time, CPU time and peak memory of ``scan`` from two source trees on one dump, in one
command.

Runs ``python -m dedupe_releases scan DUMP -f json -o FILE`` with each tree's ``src`` first on
``PYTHONPATH`` (one after the other, never together; ``--rounds`` alternating pairs), samples
the resident size of the process and all its children every 20 ms (as ``run.py`` does), and
says whether the outputs are byte for byte the same. With several rounds it prints the median
wall and CPU times of each tree and the ratios of the medians (old / new: above 1, the new is
faster). CPU time, summed over the scan's processes, is the steadier of the two on a shared
machine.

    python benchmarks/peak_ab.py DUMP OLD_TREE NEW_TREE [--jobs N] [--rounds N]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import sys
import tempfile
from pathlib import Path

from run import Measured, run_measured


def measure(tree: Path, dump: Path, out: Path, jobs: int) -> Measured:
    env = {**os.environ, "PYTHONPATH": str(tree / "src")}
    cmd = [sys.executable, "-m", "dedupe_releases", "scan", str(dump), "-f", "json"]
    return run_measured([*cmd, "-o", str(out), "--jobs", str(jobs), "-q"], env)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dump", type=Path)
    parser.add_argument("old", type=Path, help="source tree measured first")
    parser.add_argument("new", type=Path, help="source tree measured second")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--rounds", type=int, default=1, help="alternating pairs of runs")
    args = parser.parse_args(argv)
    walls: dict[str, list[float]] = {"old": [], "new": []}
    cpus: dict[str, list[float]] = {"old": [], "new": []}
    with tempfile.TemporaryDirectory() as work:
        outs: dict[str, set[str]] = {"old": set(), "new": set()}  # digests of the outputs
        size = 0
        for _ in range(args.rounds):
            for name, tree in (("old", args.old), ("new", args.new)):
                out = Path(work) / f"{name}.json"
                m = measure(tree.resolve(), args.dump, out, args.jobs)
                print(
                    f"{name}: {tree}  wall {m.wall:.1f} s  CPU {m.cpu:.1f} s"
                    f"  peak {m.peak_mb:,.0f} MB  exit {m.returncode}"
                )
                data = out.read_bytes()
                outs[name].add(hashlib.sha256(data).hexdigest())
                size = len(data)
                walls[name].append(m.wall)
                cpus[name].append(m.cpu)
        same = len(outs["old"] | outs["new"]) == 1
        print("outputs byte-identical:", same, f"({size:,} bytes)")
    if args.rounds > 1:
        old, new = statistics.median(walls["old"]), statistics.median(walls["new"])
        print(f"median wall: old {old:.1f} s, new {new:.1f} s, old/new {old / new:.2f}x")
        old, new = statistics.median(cpus["old"]), statistics.median(cpus["new"])
        print(f"median CPU: old {old:.1f} s, new {new:.1f} s, old/new {old / new:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Peak memory of ``scan`` from two source trees on one dump, in one command.

Runs ``python -m dedupe_releases scan DUMP -f json -o FILE`` once with each tree's ``src`` first
on ``PYTHONPATH`` (one after the other, never together), samples the resident size of the
process and all its children every 20 ms (as ``run.py`` does), and says whether the two
outputs are byte for byte the same.

    python benchmarks/peak_ab.py DUMP OLD_TREE NEW_TREE [--jobs N]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from run import run_measured


def measure(tree: Path, dump: Path, out: Path, jobs: int) -> tuple[float, float, int]:
    env = {**os.environ, "PYTHONPATH": str(tree / "src")}
    cmd = [sys.executable, "-m", "dedupe_releases", "scan", str(dump), "-f", "json"]
    return run_measured([*cmd, "-o", str(out), "--jobs", str(jobs), "-q"], env)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dump", type=Path)
    parser.add_argument("old", type=Path, help="source tree measured first")
    parser.add_argument("new", type=Path, help="source tree measured second")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as work:
        outs = []
        for name, tree in (("old", args.old), ("new", args.new)):
            out = Path(work) / f"{name}.json"
            wall, peak, rc = measure(tree.resolve(), args.dump, out, args.jobs)
            print(f"{name}: {tree}  wall {wall:.1f} s  peak {peak:,.0f} MB  exit {rc}")
            outs.append(out.read_bytes())
        print("outputs byte-identical:", outs[0] == outs[1], f"({len(outs[1]):,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark: adding articles to a big index, against a scan from scratch, in one run.

For each archive size N: generate the archive of N articles and the same stream grown by
``--add`` articles (its last file longer, then new files), then time as separate processes

* ``scratch``: ``dedupe-releases scan`` of the grown archive (the baseline),
* ``build``: ``scan --index`` of the N-article archive into a new index (reported only),
* ``add``: ``scan --index --changes`` after the new and changed files arrived,

and report ``add`` as a share of ``scratch`` (wall and CPU time) and each process's peak
RSS. Times are ratios measured in the same run on the same machine; the absolute numbers
depend on the machine and its load. Files are aged by an hour before each indexed run, as
in a nightly job where the scraper wrote them during the day (no racy re-hashing).

Usage::

    python benchmarks/incremental.py --sizes 50000 100000 --add 1000 --out /tmp/bench
"""

from __future__ import annotations

import argparse
import filecmp
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import corpus  # the generator next to this script


def run(args: list[str], stdout: Any = subprocess.DEVNULL) -> dict[str, float]:
    """Run ``python -m dedupe_releases ARGS``; wall seconds, CPU seconds, peak RSS (MB).

    The peak RSS comes from ``/usr/bin/time`` when it exists: a child's own ``ru_maxrss``
    also counts what its parent had resident when it was forked, and this script keeps
    its own memory small for the same reason (it never holds the archive's bytes).
    """
    env = {**os.environ, "NO_COLOR": "1", "LC_ALL": "C.UTF-8", "PYTHONHASHSEED": "0"}
    command = [sys.executable, "-m", "dedupe_releases", *args]
    timer = Path("/usr/bin/time").exists()
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as rss:
        if timer:
            command = ["/usr/bin/time", "-o", rss.name, "-f", "%M", *command]
        start = time.perf_counter()
        proc = subprocess.Popen(command, stdout=stdout, env=env)
        _pid, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        peak_kib = int(rss.read().split()[-1]) if timer else usage.ru_maxrss
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 10):
        raise SystemExit(f"{' '.join(args)}: exit {code}")
    return {
        "wall_s": round(wall, 2),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
        "peak_rss_mb": round(peak_kib / 1024, 1),  # Linux reports KiB
        "exit": code,
    }


def age(paths: list[Path], seconds: float = 3600) -> None:
    """Old mtimes, as files a scraper wrote during the day. (Only the files that arrive:
    touching the others would move their ctime, and the next run would hash them again.)"""
    then = time.time() - seconds
    for p in paths:
        os.utime(p, (then, then))


def one_size(out: Path, n: int, add: int, seed: int, keep: bool = False) -> dict[str, Any]:
    base = out / f"base{n}"
    big = out / f"big{n}"
    for folder, size in ((base, n), (big, n + add)):
        if not (folder / "dump").exists():  # in a child: this process stays small
            subprocess.run(
                [
                    sys.executable,
                    corpus.__file__,
                    "--articles",
                    str(size),
                    "--seed",
                    str(seed),
                    "--out",
                    str(folder),
                ],
                check=True,
                stdout=subprocess.DEVNULL,
            )
    live = out / f"live{n}"
    db = out / f"index{n}.db"
    shutil.rmtree(live, ignore_errors=True)
    for p in out.glob(f"index{n}.db*"):
        p.unlink()
    shutil.copytree(base / "dump", live)
    age(list(live.iterdir()), 7200)
    time.sleep(3)  # past the racy window: the index must be able to trust these files

    scratch = run(["scan", str(big / "dump"), "--format", "json"])
    build = run(["scan", str(live), "--index", str(db), "--changes"])
    if keep:  # the freshly built index, to measure the add step again without rebuilding
        src, dst = sqlite3.connect(db), sqlite3.connect(out / f"index{n}.built.db")
        try:
            src.backup(dst)
        finally:
            src.close()
            dst.close()
    changed = added = 0
    arrived = []
    for p in sorted((big / "dump").iterdir()):
        target = live / p.name
        if not target.exists():
            added += 1
        elif not filecmp.cmp(p, target, shallow=False):
            changed += 1
        else:
            continue
        shutil.copyfile(p, target)
        arrived.append(target)
    age(arrived)
    events = out / f"events{n}.jsonl"
    with events.open("wb") as fh:
        incremental = run(["scan", str(live), "--index", str(db), "--changes"], stdout=fh)
    return {
        "articles": n,
        "added_articles": add,
        "files_added": added,
        "files_changed": changed,
        "events": sum(1 for _ in events.open()),
        "index_mb": round(db.stat().st_size / 1e6, 1),
        "scratch": scratch,
        "build": build,
        "add": incremental,
        "add_share_of_scratch_wall": round(incremental["wall_s"] / scratch["wall_s"], 4),
        "add_share_of_scratch_cpu": round(incremental["cpu_s"] / scratch["cpu_s"], 4),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[50_000, 100_000])
    parser.add_argument("--add", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument(
        "--keep", action="store_true", help="keep a copy of each built index (index<N>.built.db)"
    )
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    results = []
    for n in args.sizes:
        result = one_size(args.out, n, args.add, args.seed, args.keep)
        results.append(result)
        print(json.dumps(result), flush=True)
    print()
    print(
        "| articles | scratch wall s | add wall s | add / scratch (wall) | add / scratch (CPU)"
        " | add peak RSS MB | scratch peak RSS MB | build wall s |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['articles']:,} | {r['scratch']['wall_s']} | {r['add']['wall_s']} |"
            f" {r['add_share_of_scratch_wall']:.1%} | {r['add_share_of_scratch_cpu']:.1%} |"
            f" {r['add']['peak_rss_mb']} | {r['scratch']['peak_rss_mb']} | {r['build']['wall_s']} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

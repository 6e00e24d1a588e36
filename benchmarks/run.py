"""Benchmark ``dedupe-releases scan`` against the usual way, rensa and the hashing floor.

One command, e.g.::

    python benchmarks/run.py --sizes 10000,100000,1000000

For each size it generates (once; cached under ``benchmarks/out/``) a labelled corpus with
``benchmarks/corpus.py``, then runs each method as its own process and measures, from
outside: wall time (process start to exit, imports included), CPU time of all its processes
together (user and system seconds, from ``getrusage`` of this process's finished children,
which covers every worker its parent waited for), peak memory of all its processes together
(the sum of the resident sizes of the process and every descendant, sampled from ``/proc``
every 20 ms, so shared pages count once per process: an upper bound; a child that has not
yet started a program of its own, still running its parent's, is not counted, see
``tree_rss_kb``), and pair precision/recall of its clusters against
``truth.json`` (a pair is two articles in one cluster). Methods (see ``benchmarks/methods.py``):

* ``scan``: ``dedupe-releases scan DUMP --format json -o FILE --jobs N``;
* ``baseline``: ftfy + datasketch MinHash/MinHashLSH written plainly (one process unless
  ``--baseline-jobs``);
* ``rensa``: rensa's RMinHash/RMinHashLSH on the same shingles, no fixing (if installed:
  ``pip install -e ".[bench]"``);
* ``floor``: read, split, tokenise and hash shingles, nothing else.

Before each method every file of the archive is read once, untimed, so that each starts with
the files in the page cache as far as the machine keeps them: the first method of a size no
longer pays alone for reading them from disk.

It prints each result as it comes, then the ratios and a markdown table for the README.
Baseline and rensa run up to ``--compare-up-to`` articles (the usual way needs ~7 GB at 1M).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from itertools import combinations, pairwise
from pathlib import Path
from typing import Any

from methods import files_of

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = HERE / "out"


@dataclass
class Result:
    method: str
    articles: int
    cores: int
    wall: float
    peak_mb: float
    mb: float
    cpu: float = 0.0  # user + system seconds of the method's processes, all together
    precision: float | None = None
    recall: float | None = None
    returncode: int = 0
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def per_second(self) -> float:
        return self.articles / self.wall if self.wall else 0.0


# --- measuring a process tree ----------------------------------------------------------------


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_bytes()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(b")") + 2 :].split()[1])
        tree.setdefault(ppid, []).append(int(entry.name))
    return tree


_PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


def _rss_kb(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/statm").read_bytes().split()[1]) * _PAGE_KB
    except (OSError, IndexError, ValueError):
        return 0


def _cmdline(pid: int) -> bytes | None:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None


def tree_rss_kb(root: int) -> int:
    """Resident memory of ``root`` and all its descendants, in KiB.

    A descendant whose command line is still its parent's has not started its own program
    yet: it is a worker being spawned, between the fork (Python uses ``vfork`` where it can)
    and the exec, and its pages are its parent's. Counted, it would add the whole parent
    once more for that instant (seen with a 0.8 GB parent starting pools: 3 samples in 1,600
    at a sample every 0.5 ms), so it is left out; its own children are not. Every pipeline
    here starts its workers with the ``spawn`` method (fork, then exec), so no worker runs
    for long with its parent's command line.
    """
    tree = _children()
    total, todo = 0, [(root, None)]
    while todo:
        pid, parent_cmdline = todo.pop()
        cmdline = _cmdline(pid)
        if parent_cmdline is None or cmdline != parent_cmdline:
            total += _rss_kb(pid)
        todo.extend((child, cmdline) for child in tree.get(pid, ()))
    return total


@dataclass(frozen=True)
class Measured:
    """What ``run_measured`` saw of one command."""

    wall: float  # seconds from start to exit
    peak_mb: float  # peak of the summed resident sizes of its process tree
    returncode: int
    cpu: float  # user + system seconds of the command and every descendant it waited for


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_measured(cmd: list[str], env: dict[str, str] | None = None) -> Measured:
    """Run a command (one at a time: its CPU time is what this process's finished children
    gained meanwhile) and measure it from outside."""
    peak = 0
    done = threading.Event()
    cpu_before = _children_cpu()
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, tree_rss_kb(proc.pid))
            done.wait(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, stderr = proc.communicate()
    wall = time.perf_counter() - start
    cpu = _children_cpu() - cpu_before
    done.set()
    sampler.join()
    if proc.returncode not in (0, 1):
        sys.stderr.write(stderr.decode(errors="replace")[-2000:])
    return Measured(wall, peak / 1024, proc.returncode, cpu)


# --- corpora and scoring ---------------------------------------------------------------------


def corpus(size: int, seed: int) -> Path:
    """The corpus folder for a size (generated once, then reused)."""
    version = hashlib.sha256((HERE / "corpus.py").read_bytes()).hexdigest()[:8]
    folder = OUT / f"corpus-{size}-seed{seed}-{version}"
    truth = folder / "truth.json"
    if truth.exists() and json.loads(truth.read_text()).get("articles") == size:
        return folder
    sys.path.insert(0, str(HERE))
    import corpus as generator

    print(f"generating {size:,} articles -> {folder}", flush=True)
    generator.generate(folder, size, seed, quiet=False)
    return folder


def pairs_of(clusters: list[list[str]]) -> set[tuple[str, str]]:
    return {(a, b) for c in clusters for a, b in combinations(sorted(set(c)), 2)}


def score(predicted: list[list[str]], truth: list[list[str]]) -> tuple[float, float]:
    found, expected = pairs_of(predicted), pairs_of(truth)
    hits = len(found & expected)
    return (hits / len(found) if found else 1.0), (hits / len(expected) if expected else 1.0)


def dump_mb(dump: Path) -> float:
    return sum(p.stat().st_size for p in files_of(dump)) / 1e6


# --- methods -------------------------------------------------------------------------------


def run_scan(dump: Path, jobs: int, work: Path) -> tuple[Measured, int, list[list[str]]]:
    out = work / "scan.json"
    exe = shutil.which("dedupe-releases", path=str(Path(sys.executable).parent))
    cmd = [exe] if exe else [sys.executable, "-m", "dedupe_releases"]
    cmd += ["scan", str(dump), "--format", "json", "-o", str(out), "--jobs", str(jobs), "-q"]
    measured = run_measured(cmd)
    doc = json.loads(out.read_text())
    clusters = [[m["id"] for m in c["members"]] for c in doc["clusters"]]
    return measured, doc["counts"]["articles"], clusters


def run_method(
    name: str, dump: Path, jobs: int, work: Path
) -> tuple[Measured, int, list[list[str]]]:
    out = work / f"{name}.json"
    cmd = [sys.executable, str(HERE / "methods.py"), name, str(dump), str(out), "--jobs", str(jobs)]
    measured = run_measured(cmd)
    if measured.returncode != 0:
        raise RuntimeError(f"{name} failed with exit code {measured.returncode}")
    doc = json.loads(out.read_text())
    return measured, doc["articles"], doc["clusters"]


def warm(dump: Path) -> None:
    """Read every file under ``dump`` once (into the page cache), untimed."""
    for path in files_of(dump):
        with path.open("rb") as f:
            while f.read(1 << 20):
                pass


def has_rensa() -> bool:
    try:
        import rensa  # noqa: F401
    except ImportError:
        return False
    return True


def measure(size: int, args: argparse.Namespace) -> list[Result]:
    folder = corpus(size, args.seed)
    dump, truth = folder / "dump", json.loads((folder / "truth.json").read_text())["clusters"]
    mb = dump_mb(dump)
    results = []
    plan: list[tuple[str, int]] = []
    for method in args.methods:
        if method in ("baseline", "rensa") and size > args.compare_up_to:
            continue
        if method == "rensa" and not has_rensa():
            print("rensa is not installed: skipped (pip install -e '.[bench]')", flush=True)
            continue
        cores = args.baseline_jobs if method == "baseline" else args.jobs
        plan.append((method, cores))
    with tempfile.TemporaryDirectory(prefix="bench-", dir=OUT) as tmp:
        for method, cores in plan:
            warm(dump)
            if method == "scan":
                m, n, clusters = run_scan(dump, cores, Path(tmp))
            else:
                m, n, clusters = run_method(method, dump, cores, Path(tmp))
            p, r = score(clusters, truth) if method != "floor" else (None, None)
            result = Result(method, n, cores, m.wall, m.peak_mb, mb, m.cpu, p, r, m.returncode)
            results.append(result)
            print(_line(size, result), flush=True)
    return results


# --- reporting -----------------------------------------------------------------------------


def _line(size: int, r: Result) -> str:
    pr = f"P {r.precision:.3f} R {r.recall:.3f}" if r.precision is not None else "P/R -"
    return (
        f"{size:>9,} {r.method:<9} {r.cores} core(s) {r.wall:8.1f} s {r.cpu:8.1f} CPU-s "
        f"{r.per_second:9,.0f} articles/s {r.mb / r.wall:6.1f} MB/s "
        f"peak {r.peak_mb:7,.0f} MB  {pr}"
    )


def _fmt(x: float | None, digits: int = 3) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def report(all_results: dict[int, list[Result]], args: argparse.Namespace) -> str:
    lines = [
        "| articles | method | cores | wall s | CPU s | articles/s | MB/s"
        " | peak MB (all processes) | precision | recall | scan speed-up |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    ratios = []
    for size, results in all_results.items():
        by = {r.method: r for r in results}
        scan = by.get("scan")
        for r in results:
            up = f"{r.wall / scan.wall:.2f}x" if scan and r is not scan else "-"
            lines.append(
                f"| {size:,} | {r.method} | {r.cores} | {r.wall:.1f} | {r.cpu:.1f} |"
                f" {r.per_second:,.0f} |"
                f" {r.mb / r.wall:.1f} | {r.peak_mb:,.0f} | {_fmt(r.precision)} |"
                f" {_fmt(r.recall)} | {up} |"
            )
        if scan:
            for other in ("baseline", "rensa"):
                if other in by:
                    ratios.append(
                        f"{size:,}: scan is {scan.per_second / by[other].per_second:.2f}x"
                        f" {other}'s articles/s, using {scan.cpu / by[other].cpu:.2f}x its CPU"
                        f" time ({scan.cpu:.1f} against {by[other].cpu:.1f} s)"
                    )
            if "floor" in by:
                floor = by["floor"]
                ratios.append(
                    f"{size:,}: scan takes {scan.wall / floor.wall:.2f}x the floor's time"
                    f" and {scan.cpu / floor.cpu:.2f}x its CPU time"
                )
    scans = {size: by.wall for size, rs in all_results.items() for by in rs if by.method == "scan"}
    sizes = sorted(scans)
    for small, big in pairwise(sizes):
        ratios.append(
            f"scan {big:,} vs {small:,} articles: {scans[big] / scans[small]:.2f}x the time"
            f" for {big / small:.0f}x the articles"
        )
    machine = (
        f"{os.cpu_count()} cores ({platform.processor() or platform.machine()}), "
        f"Python {platform.python_version()}, {platform.system()} {platform.release()}"
    )
    command = "python benchmarks/run.py " + " ".join(sys.argv[1:])
    return "\n".join(
        [
            "",
            "Ratios:",
            *(f"- {r}" for r in ratios),
            "",
            f"Command: `{command}`",
            f"Machine: {machine}",
            "",
            *lines,
            "",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated article counts")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--jobs", type=int, default=os.cpu_count() or 1, help="cores for scan, rensa, floor"
    )
    parser.add_argument("--baseline-jobs", type=int, default=1, help="cores for the usual way")
    parser.add_argument("--methods", default="scan,baseline,rensa,floor")
    parser.add_argument(
        "--compare-up-to", type=int, default=100_000, help="largest size for baseline and rensa"
    )
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    args = parser.parse_args(argv)
    args.methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    OUT.mkdir(parents=True, exist_ok=True)
    all_results: dict[int, list[Result]] = {}
    for size in (int(s.replace("_", "")) for s in args.sizes.split(",")):
        all_results[size] = measure(size, args)
    text = report(all_results, args)
    print(text)
    if args.json:
        args.json.write_text(
            json.dumps({str(k): [r.__dict__ for r in v] for k, v in all_results.items()}, indent=1)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

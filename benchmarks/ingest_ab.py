"""CPU of a worker's read -> fix -> split (no sketch): a git revision against this tree.

Loads the package as it is at ``--old`` (default ``main``) from ``git archive`` into a
temporary, renamed copy, and times both in this one process, alternating rounds over the
same files, so load on the machine hits both alike. Per round and implementation it runs,
for every file of the dump, what ``pipeline.ingest_packed`` does before the sketch:
``read_source``, ``articles_of`` and ``file_warnings``; and separately ``fix_source`` alone
on the decoded texts. Prints ms per article for each, the median of the per-round ratios,
and whether both produced the same records (compared by ``repr``).

    python benchmarks/ingest_ab.py benchmarks/out/corpus-10000-seed1-546f90e8/dump
    python benchmarks/ingest_ab.py DUMP --old HEAD~3 --rounds 7
"""

from __future__ import annotations

import argparse
import importlib
import io
import re
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

REPO = Path(__file__).resolve().parent.parent
PACKAGE = "dedupe_releases"
REF = "dedupe_releases_ref"


def load_reference(rev: str, into: Path) -> str:
    """Extract ``src/dedupe_releases`` at ``rev`` as package ``REF`` under ``into``."""
    data = subprocess.run(
        ["git", "archive", "--format=tar", rev, f"src/{PACKAGE}"],
        cwd=REPO,
        check=True,
        capture_output=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        tar.extractall(into, filter="data")
    src = into / "src" / PACKAGE
    word = re.compile(rf"\b{PACKAGE}\b")
    for path in src.rglob("*.py"):
        path.write_text(word.sub(REF, path.read_text(encoding="utf-8")), encoding="utf-8")
    src.rename(into / REF)
    sys.path.insert(0, str(into))
    return subprocess.run(
        ["git", "rev-parse", "--short", rev], cwd=REPO, check=True, capture_output=True, text=True
    ).stdout.strip()


class Impl:
    """The functions of one implementation that a worker calls before the sketch."""

    def __init__(self, package: str) -> None:
        def mod(name: str) -> ModuleType:
            return importlib.import_module(f"{package}.{name}")

        self.config = mod("config").Config()
        self.walk = mod("read").walk
        self.read_source = mod("read").read_source
        self.articles_of = mod("pipeline").articles_of
        self.file_warnings = mod("pipeline").file_warnings
        self.fix_source = mod("fix").fix_source

    def ingest(self, item: tuple[Path, str]) -> tuple[Any, ...]:
        text = self.read_source(item[0], item[1], self.config.read)
        articles = self.articles_of(text, self.config)
        return (articles, self.file_warnings(text, articles, self.config))

    def fix(self, text: Any) -> Any:
        return self.fix_source(text, self.config.fix)


def timed(func: Callable[[Any], Any], items: list[Any]) -> tuple[float, list[Any]]:
    start = time.perf_counter()
    out = [func(item) for item in items]
    return time.perf_counter() - start, out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dump", type=Path)
    parser.add_argument("--old", default="main", help="git revision to compare with")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as work:
        rev = load_reference(args.old, Path(work))
        old, new = Impl(REF), Impl(PACKAGE)
        items = [i for i in new.walk([args.dump], new.config.read) if isinstance(i, tuple)]
        texts = {
            "old": [old.read_source(p, s, old.config.read) for p, s in items],
            "new": [new.read_source(p, s, new.config.read) for p, s in items],
        }
        n_articles = sum(len(new.ingest(i)[0]) for i in items)
        print(f"{len(items)} files, {n_articles} articles; old = {args.old} ({rev}), new = tree")
        same = True
        for stage in ("ingest", "fix"):
            times: dict[str, list[float]] = {"old": [], "new": []}
            for _ in range(args.rounds):
                outs = {}
                for name, impl in (("old", old), ("new", new)):
                    if stage == "ingest":
                        dt, outs[name] = timed(impl.ingest, items)
                    else:
                        dt, outs[name] = timed(impl.fix, texts[name])
                    times[name].append(dt)
                same = same and repr(outs["old"]) == repr(outs["new"])
            ratios = [o / n for o, n in zip(times["old"], times["new"], strict=True)]
            ms = {k: statistics.median(v) * 1e3 / n_articles for k, v in times.items()}
            print(
                f"{stage:7s} old {ms['old']:.4f} ms/article  new {ms['new']:.4f} ms/article  "
                f"old/new {statistics.median(ratios):.2f}x "
                f"(rounds: {' '.join(f'{r:.2f}' for r in ratios)})"
            )
        print("identical records:", same)
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())

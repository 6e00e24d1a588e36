"""CPU of a worker's ingest (read, fix, split, sketch, pack): a git revision against this tree.

Loads the package as it is at ``--old`` (default ``main``) from ``git archive`` into a
temporary, renamed copy, and times both in this one process, alternating file by file over
the same files, so load on the machine hits both alike. Per round and implementation it runs,
for every file of the dump, what ``pipeline.ingest_packed`` does before the sketch:
``read_source``, ``articles_of`` and ``file_warnings``; then ``fix_source`` alone on the
decoded texts, and ``split_text`` (with the boilerplate trim) alone on the fixed ones; then
the whole of ``ingest_packed`` (read to ``PackedFile``: the sketch, line and title hashes and
packing too) and ``sketch_texts`` alone on each file's article texts. Prints ms per article
for each, the median of the per-round ratios, and whether both produced the same results
(records compared by ``repr``, packed files and sketch batches field by field, arrays by
dtype and bytes). ``--stages`` picks some of them.

    python benchmarks/ingest_ab.py benchmarks/out/corpus-10000-seed1-546f90e8/dump
    python benchmarks/ingest_ab.py DUMP --old HEAD~3 --rounds 7 --stages packed sketch
"""

from __future__ import annotations

import argparse
import dataclasses
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

import numpy as np

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
        self.strip_boilerplate = mod("fix").strip_boilerplate
        self.split_text = mod("split").split_text
        self.ingest_packed = mod("pipeline").ingest_packed
        self.sketch_texts = mod("sketch").sketch_texts

    def ingest(self, item: tuple[Path, str]) -> tuple[Any, ...]:
        text = self.read_source(item[0], item[1], self.config.read)
        articles = self.articles_of(text, self.config)
        return (articles, self.file_warnings(text, articles, self.config))

    def fix(self, text: Any) -> Any:
        return self.fix_source(text, self.config.fix)

    def split(self, fixed: Any) -> Any:
        return self.split_text(fixed, self.config.split, self.strip_boilerplate)

    def packed(self, item: tuple[Path, str]) -> Any:
        return self.ingest_packed(item, self.config)

    def sketch(self, articles: list[Any]) -> Any:
        # The third argument is each text's first body line (``body_from``); revisions before
        # the body lines were hashed from the batch's tokens took ``lines`` there, a flag that
        # a non-empty list sets.
        body_from = [a.title.count("\n") + 2 for a in articles]
        return self.sketch_texts([a.text for a in articles], self.config.sketch, body_from)


def comparable(value: Any) -> Any:
    """``value`` in a form that ``==`` compares exactly: arrays as dtype and bytes, dataclasses
    (a ``PackedFile``, a ``SketchBatch``) field by field, anything else by ``repr``."""
    if isinstance(value, np.ndarray):
        return (value.dtype.str, value.shape, value.tobytes())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return tuple(comparable(getattr(value, f.name)) for f in dataclasses.fields(value))
    if isinstance(value, tuple | list):
        return tuple(comparable(v) for v in value)
    return repr(value)


def one_round(
    old: Callable[[Any], Any], new: Callable[[Any], Any], inputs: tuple[list[Any], list[Any]]
) -> tuple[float, float, bool]:
    """Seconds of thread CPU time of each function over its inputs, file by file in turn.

    Alternating per file (and which goes first) lets a burst of load from another process
    fall on both alike; thread CPU time leaves out the time this process waits for a core.
    """
    spent = [0.0, 0.0]
    same = True
    for i, pair in enumerate(zip(*inputs, strict=True)):
        outs: list[Any] = [None, None]
        for side in (0, 1) if i % 2 else (1, 0):
            func = (old, new)[side]
            start = time.thread_time()
            outs[side] = func(pair[side])
            spent[side] += time.thread_time() - start
        same = same and comparable(outs[0]) == comparable(outs[1])
    return spent[0], spent[1], same


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dump", type=Path)
    parser.add_argument("--old", default="main", help="git revision to compare with")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--stages",
        nargs="+",
        choices=("ingest", "fix", "split", "packed", "sketch"),
        default=("ingest", "fix", "split", "packed", "sketch"),
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as work:
        rev = load_reference(args.old, Path(work))
        old, new = Impl(REF), Impl(PACKAGE)
        items = [i for i in new.walk([args.dump], new.config.read) if isinstance(i, tuple)]
        texts = {
            "old": [old.read_source(p, s, old.config.read) for p, s in items],
            "new": [new.read_source(p, s, new.config.read) for p, s in items],
        }
        fixed = {
            name: [impl.fix(t) for t in texts[name]] for name, impl in (("old", old), ("new", new))
        }
        file_articles = [new.ingest(i)[0] for i in items]
        n_articles = sum(map(len, file_articles))
        print(f"{len(items)} files, {n_articles} articles; old = {args.old} ({rev}), new = tree")
        same = True
        stages: dict[str, tuple[Callable[[Any], Any], Callable[[Any], Any], Any]] = {
            "ingest": (old.ingest, new.ingest, (items, items)),
            "fix": (old.fix, new.fix, (texts["old"], texts["new"])),
            "split": (old.split, new.split, (fixed["old"], fixed["new"])),
            "packed": (old.packed, new.packed, (items, items)),
            "sketch": (old.sketch, new.sketch, (file_articles, file_articles)),
        }
        for stage, (old_func, new_func, inputs) in stages.items():
            if stage not in args.stages:
                continue
            times: dict[str, list[float]] = {"old": [], "new": []}
            for _ in range(args.rounds):
                old_s, new_s, same_round = one_round(old_func, new_func, inputs)
                times["old"].append(old_s)
                times["new"].append(new_s)
                same = same and same_round
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

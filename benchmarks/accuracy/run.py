"""Generate a labelled archive, scan it with default settings, score it: one command.

    python benchmarks/accuracy/run.py                      # 5,000 articles, seed 1
    python benchmarks/accuracy/run.py --articles 20000 --seed 2 --keep /tmp/acc

Prints the scorer's table (cluster-pair precision/recall/F1, per-relation P/R/F1, adjusted
Rand index, template siblings and stubs clustered, recall by kind of damage) and checks the
floors the project promises: cluster-pair precision >= 0.99 and recall >= 0.97, no template
sibling and no two stubs in one cluster. Exit 0 when they hold, 1 when not.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

from dedupe_releases.config import Config
from dedupe_releases.output import document, dumps
from dedupe_releases.pipeline import scan

HERE = Path(__file__).resolve().parent

#: The promise of the README: precision and recall of cluster pairs on the default benchmark.
MIN_PRECISION = 0.99
MIN_RECALL = 0.97


def _load(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while being defined
    spec.loader.exec_module(module)
    return module


corpus = _load("dedupe_benchmark_corpus", HERE.parent / "corpus.py")
scorer = _load("dedupe_benchmark_score", HERE / "score.py")


def evaluate(
    workdir: Path,
    articles: int,
    seed: int,
    config: Config | None = None,
    dup_rate: float = 0.1,
) -> dict[str, Any]:
    """Generate ``workdir/dump`` + ``truth.json``, scan with ``config``, return the score report.

    The scan's JSON document is written to ``workdir/result.json`` so it can be looked at or
    scored again with ``score.py``.
    """
    corpus.generate(workdir, articles, seed, dup_rate)
    started = time.perf_counter()
    result = scan([workdir / "dump"], config or Config())
    seconds = time.perf_counter() - started
    doc = document(result)
    (workdir / "result.json").write_bytes(dumps(doc) + b"\n")
    report: dict[str, Any] = scorer.score(
        scorer.load_truth(workdir / "truth.json"), scorer.load_result(workdir / "result.json")
    )
    report["scan"] = {**doc["counts"], "seconds": round(seconds, 2)}
    return report


def failures(report: dict[str, Any]) -> list[str]:
    """The promises a report breaks (empty when all hold)."""
    out = []
    pairs = report["cluster_pairs"]
    if pairs["precision"] < MIN_PRECISION:
        out.append(f"cluster-pair precision {pairs['precision']:.4f} < {MIN_PRECISION}")
    if pairs["recall"] < MIN_RECALL:
        out.append(f"cluster-pair recall {pairs['recall']:.4f} < {MIN_RECALL}")
    if report["template_siblings_clustered"]:
        out.append(f"{report['template_siblings_clustered']} template siblings clustered")
    if report["stubs_clustered"]:
        out.append(f"{report['stubs_clustered']} pairs of stubs clustered")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=5000, help="articles (default 5000)")
    parser.add_argument("--seed", type=int, default=1, help="generator seed (default 1)")
    parser.add_argument(
        "--dup-rate", type=float, default=0.1, help="share of planted copies and relatives"
    )
    parser.add_argument("--keep", type=Path, help="write the corpus and result here and keep them")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="dedupe-accuracy-") as tmp:
        workdir = args.keep or Path(tmp)
        report = evaluate(workdir, args.articles, args.seed, dup_rate=args.dup_rate)
    broken = failures(report)
    if args.json:
        print(json.dumps({**report, "failures": broken}, indent=2))
    else:
        s = report["scan"]
        print(
            f"generated corpus: seed {args.seed}; scan with default settings: {s['files']:,} "
            f"files, {s['articles']:,} articles, {s['clusters']:,} clusters, {s['related']:,} "
            f"other relations, {s['boilerplate_lines']:,} boilerplate lines learned "
            f"({s['masked_lines']:,} masked), {s['seconds']:.1f} s\n"
        )
        print(scorer.format_table(report))
        print()
        print("promises: " + ("all hold" if not broken else "BROKEN: " + "; ".join(broken)))
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())

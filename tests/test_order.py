"""The result does not depend on file names or the order files were written in."""

from __future__ import annotations

import importlib.util
import random
import shutil
import sys
from pathlib import Path

from dedupe_releases.pipeline import ScanResult, scan

ROOT = Path(__file__).resolve().parent.parent


def _corpus():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("corpus_for_tests", ROOT / "benchmarks/corpus.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["corpus_for_tests"] = module
    spec.loader.exec_module(module)
    return module


def _summary(result: ScanResult, rename: dict[str, str]) -> tuple[set[object], set[object]]:
    """Clusters and relations with ids mapped back to the original names.

    A cluster is its members and its canonical's text (exact copies may swap canonicals);
    a `contains` pair is written container first, so the direction is compared too.
    """

    def back(aid: str) -> str:
        source, _, n = aid.rpartition("#")
        return f"{rename.get(source, source)}#{n}"

    clusters = {
        (frozenset(back(m) for m in c.members), result.article(c.canonical).content_hash)
        for c in result.clusters
    }
    relations: set[object] = set()
    for m in result.related:
        a, b = back(m.a), back(m.b)
        if m.relation == "contained_in":
            relations.add((b, a, "contains"))
        elif m.relation == "contains":
            relations.add((a, b, "contains"))
        else:
            relations.add((frozenset((a, b)), m.relation))
    return set(clusters), relations


def test_clusters_and_relations_do_not_depend_on_file_names_or_order(tmp_path: Path) -> None:
    _corpus().generate(tmp_path / "gen", 600, seed=11, dup_rate=0.3)
    original = sorted((tmp_path / "gen" / "dump").iterdir())
    # New names in the reverse order of the old ones, files created in a shuffled order.
    shuffled = list(original)
    random.Random(3).shuffle(shuffled)
    renamed = tmp_path / "renamed"
    renamed.mkdir()
    rename = {}
    for f in shuffled:
        new = f"r{len(original) - original.index(f):03d}.txt"
        shutil.copy(f, renamed / new)
        rename[new] = f.name
    first = scan([tmp_path / "gen" / "dump"])
    second = scan([renamed])
    assert len(first.clusters) > 20 and len(first.related) > 20  # the check has teeth
    assert _summary(second, rename) == _summary(first, {})

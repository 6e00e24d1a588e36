"""Score a dedupe-releases scan against a labelled truth file.

    python benchmarks/accuracy/score.py --truth DIR/truth.json --result result.json [--json]
        [--articles N] [--min-precision P] [--min-recall R]

``result.json`` is the output of ``dedupe-releases scan DIR/dump --format json`` (a JSON Lines
stream from ``--format jsonl`` is read too). ``truth.json`` is written by
``benchmarks/corpus.py`` or by hand in the same form (see README.md beside this file).

Scores:

* cluster pairs: precision, recall and F1 over unordered pairs of articles placed in one cluster;
* relations (``contains``, ``related``, ``template_sibling`` and any of them): precision, recall
  and F1 over unordered pairs. Each article is first mapped to its truth cluster (an original
  and its copies count as one release), so a relation reported against a copy of the original
  matches the labelled one; ``contained_in`` is ``contains`` with the pair reversed;
* the adjusted Rand index of the clustering, every unlisted article being a singleton in both;
* ``template_siblings_clustered``: labelled template-sibling pairs whose two releases (the
  articles or true copies of them) share a predicted cluster; must be 0;
* ``stubs_clustered``: pairs of distinct stubs in one predicted cluster; must be 0;
* recall by copy kind (``exact``, ``near`` and each kind of damage), when the truth has
  ``copy_kinds``.

Exit status: 0, or 1 when ``--min-precision``/``--min-recall`` are given and the cluster-pair
precision or recall falls below them (a quality gate for CI); 2 for bad arguments or files.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path
from typing import Any, TextIO

RELATION_TYPES: tuple[str, ...] = ("contains", "related", "template_sibling")
#: Relation names the tool may use for the same unordered relation.
RELATION_ALIASES: dict[str, str] = {"contained_in": "contains"}


class ExitCode(IntEnum):
    OK = 0
    GATE_FAILED = 1
    USAGE = 2


class ScoreError(Exception):
    """A truth or result file that cannot be read; the message names the file."""


@dataclass(frozen=True, slots=True)
class Truth:
    """Labels: groups of articles that are the same release, typed relations, stubs."""

    clusters: list[list[str]]
    relations: list[tuple[str, str, str]]  # (a, b, type)
    stubs: list[str] = field(default_factory=list)
    articles: int | None = None
    copy_kinds: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Prediction:
    """What the tool reported: clusters of article ids and typed pairs that are not clustered."""

    clusters: list[list[str]]
    relations: list[tuple[str, str, str]]
    articles: int | None = None


@dataclass(frozen=True, slots=True)
class PRF:
    """Precision, recall and F1 with the counts behind them.

    An empty denominator counts as 1.0: claiming nothing is never wrong (precision) and
    finding everything of nothing is complete (recall); F1 still shows the other side.
    """

    truth: int
    predicted: int
    correct: int

    @property
    def precision(self) -> float:
        return self.correct / self.predicted if self.predicted else 1.0

    @property
    def recall(self) -> float:
        return self.correct / self.truth if self.truth else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def as_dict(self) -> dict[str, float | int]:
        return {
            "precision": round(self.precision, 6),
            "recall": round(self.recall, 6),
            "f1": round(self.f1, 6),
            "truth": self.truth,
            "predicted": self.predicted,
            "correct": self.correct,
        }


# --------------------------------------------------------------------------------------------
# Reading.
# --------------------------------------------------------------------------------------------


def _load_json(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScoreError(f"{path}: cannot read: {exc.strerror}") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        pass
    try:  # JSON Lines: one record per line
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    except json.JSONDecodeError as exc:
        raise ScoreError(f"{path}: not JSON or JSON Lines: {exc}") from exc


def load_truth(path: Path) -> Truth:
    """Read a truth file (see README.md); ``clusters`` and ``relations`` may be empty."""
    doc = _load_json(path)
    if not isinstance(doc, dict):
        raise ScoreError(f"{path}: a truth file is one JSON object")
    try:
        clusters = [[str(i) for i in c] for c in doc.get("clusters", [])]
        relations = [(str(r["a"]), str(r["b"]), str(r["type"])) for r in doc.get("relations", [])]
        stubs = [str(i) for i in doc.get("stubs", [])]
    except (KeyError, TypeError) as exc:
        raise ScoreError(f"{path}: malformed truth entry: {exc!r}") from exc
    articles = doc.get("articles")
    return Truth(
        clusters,
        relations,
        stubs,
        int(articles) if articles is not None else None,
        dict(doc.get("copy_kinds", {})),
    )


def _member_id(member: Any) -> str:
    return str(member["id"]) if isinstance(member, dict) else str(member)


def load_result(path: Path) -> Prediction:
    """Read the tool's ``--format json`` document or ``--format jsonl`` stream."""
    doc = _load_json(path)
    if isinstance(doc, list):  # JSON Lines records, each with a "type"
        clusters_raw = [r for r in doc if r.get("type") == "cluster"]
        related_raw = [r for r in doc if r.get("type") == "related"]
        summary: dict[str, Any] = next((r for r in doc if r.get("type") == "summary"), {})
    elif isinstance(doc, dict):
        clusters_raw = doc.get("clusters", [])
        related_raw = doc.get("related", [])
        summary = doc
    else:
        raise ScoreError(f"{path}: expected the JSON output of dedupe-releases scan")
    try:
        clusters = [[_member_id(m) for m in c["members"]] for c in clusters_raw]
        relations = [(str(r["a"]), str(r["b"]), str(r["relation"])) for r in related_raw]
    except (KeyError, TypeError) as exc:
        raise ScoreError(f"{path}: malformed cluster or related entry: {exc!r}") from exc
    articles = (summary.get("counts") or {}).get("articles")
    return Prediction(clusters, relations, int(articles) if articles is not None else None)


# --------------------------------------------------------------------------------------------
# Scoring.
# --------------------------------------------------------------------------------------------


def _pairs(n: int) -> int:
    return n * (n - 1) // 2


def _labels(clusters: Iterable[Sequence[str]], what: str, warnings: list[str]) -> dict[str, int]:
    """Article id -> cluster number; an id listed twice keeps its first cluster."""
    labels: dict[str, int] = {}
    for number, members in enumerate(clusters):
        for aid in members:
            if aid in labels:
                if labels[aid] != number:
                    warnings.append(f"{what}: {aid} is in more than one cluster; kept the first")
                continue
            labels[aid] = number
    return labels


def adjusted_rand_index(both: int, truth_pairs: int, pred_pairs: int, n: int) -> float:
    """ARI from pair counts (Hubert and Arabie): singletons add no pairs, so they need no listing.

    ``both`` is sum C(n_ij, 2) over the contingency table, ``truth_pairs`` and ``pred_pairs``
    the sums over its rows and columns, ``n`` the number of articles.

    >>> adjusted_rand_index(1, 1, 1, 10)
    1.0
    >>> round(adjusted_rand_index(1, 1, 3, 10), 3)
    0.483
    """
    total = _pairs(n)
    if total == 0:
        return 1.0
    expected = truth_pairs * pred_pairs / total
    maximum = (truth_pairs + pred_pairs) / 2
    if maximum == expected:  # both partitions trivial (e.g. all singletons): identical
        return 1.0
    return (both - expected) / (maximum - expected)


def score(truth: Truth, pred: Prediction, articles: int | None = None) -> dict[str, Any]:
    """All the scores as one JSON-ready dict (see the module docstring)."""
    warnings: list[str] = []
    t_label = _labels(truth.clusters, "truth", warnings)
    p_label = _labels(pred.clusters, "result", warnings)

    # Cluster pairs: count each predicted cluster's members by truth cluster. Articles outside
    # every truth cluster are truth singletons and make no true pair.
    truth_pairs = sum(_pairs(len(set(c))) for c in truth.clusters)
    pred_members: dict[int, list[str]] = {}
    for aid, number in p_label.items():
        pred_members.setdefault(number, []).append(aid)
    pred_pairs = sum(_pairs(len(m)) for m in pred_members.values())
    both = 0
    for members in pred_members.values():
        counts = Counter(t_label[a] for a in members if a in t_label)
        both += sum(_pairs(k) for k in counts.values())
    cluster_prf = PRF(truth_pairs, pred_pairs, both)

    known = set(t_label) | set(p_label) | {x for r in truth.relations for x in r[:2]}
    known |= set(truth.stubs)
    n = articles or truth.articles or pred.articles or 0
    if n < len(known):
        if articles or truth.articles:
            warnings.append(
                f"{len(known)} distinct ids listed but only {n} articles; using {len(known)}"
            )
        n = len(known)
    ari = adjusted_rand_index(both, truth_pairs, pred_pairs, n)
    if p_label and not set(p_label) & (set(t_label) | set(truth.stubs)):
        warnings.append(
            "no predicted id is a labelled id: were the ids made relative to the same "
            "folder (scan DIR/dump, not DIR)?"
        )

    # Relations, between releases: an article stands for its truth cluster.
    rep = {aid: members[0] for members in truth.clusters for aid in members}

    def release_pair(a: str, b: str) -> frozenset[str]:
        return frozenset((rep.get(a, a), rep.get(b, b)))

    truth_rel: dict[str, set[frozenset[str]]] = {t: set() for t in RELATION_TYPES}
    for a, b, typ in truth.relations:
        if typ in truth_rel:
            truth_rel[typ].add(release_pair(a, b))
    pred_rel: dict[str, set[frozenset[str]]] = {t: set() for t in RELATION_TYPES}
    other_types: Counter[str] = Counter()
    for a, b, typ in pred.relations:
        typ = RELATION_ALIASES.get(typ, typ)
        pair = release_pair(a, b)
        if typ not in pred_rel:
            other_types[typ] += 1
        elif len(pair) == 2:
            pred_rel[typ].add(pair)
    relations = {
        t: PRF(len(truth_rel[t]), len(pred_rel[t]), len(truth_rel[t] & pred_rel[t]))
        for t in RELATION_TYPES
    }
    all_truth = set().union(*truth_rel.values())
    all_pred = set().union(*pred_rel.values())
    relations["any"] = PRF(len(all_truth), len(all_pred), len(all_truth & all_pred))

    # Template siblings must never share a cluster, nor may a sibling join its original's copies.
    family = {members[0]: members for members in truth.clusters}

    def predicted_clusters(aid: str) -> set[int]:
        return {p_label[x] for x in family.get(rep.get(aid, aid), [aid]) if x in p_label}

    siblings_clustered = sum(
        1
        for a, b, typ in truth.relations
        if typ == "template_sibling" and predicted_clusters(a) & predicted_clusters(b)
    )
    stub_set = set(truth.stubs)
    stubs_clustered = sum(_pairs(sum(1 for a in m if a in stub_set)) for m in pred_members.values())

    report: dict[str, Any] = {
        "articles": n,
        "truth_clusters": len(truth.clusters),
        "predicted_clusters": len(pred_members),
        "cluster_pairs": cluster_prf.as_dict(),
        "adjusted_rand_index": round(ari, 6),
        "relations": {t: prf.as_dict() for t, prf in relations.items()},
        "template_siblings_clustered": siblings_clustered,
        "stubs_clustered": stubs_clustered,
        "recall_by_copy_kind": _recall_by_kind(truth, t_label, p_label),
        "other_relation_types": dict(sorted(other_types.items())),
        "warnings": warnings,
    }
    return report


def _recall_by_kind(
    truth: Truth, t_label: dict[str, int], p_label: dict[str, int]
) -> dict[str, dict[str, float | int]]:
    """Share of labelled copies placed in a cluster with another member of their release.

    ``near:quotes,split`` counts under ``near``, ``near:quotes`` and ``near:split``.
    """
    if not truth.copy_kinds:
        return {}
    found: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for aid, kind in truth.copy_kinds.items():
        if aid not in t_label:
            continue
        mates = {p_label.get(x) for x in truth.clusters[t_label[aid]] if x != aid} - {None}
        hit = aid in p_label and p_label[aid] in mates
        base, _, damages = kind.partition(":")
        keys = [base] + [f"{base}:{d}" for d in damages.split(",") if d]
        for key in keys:
            total[key] += 1
            found[key] += hit
    return {
        k: {"found": found[k], "total": total[k], "recall": round(found[k] / total[k], 6)}
        for k in sorted(total)
    }


# --------------------------------------------------------------------------------------------
# Output and command line.
# --------------------------------------------------------------------------------------------


def format_table(report: dict[str, Any]) -> str:
    """The report as a plain-text table."""
    lines = [
        f"articles {report['articles']:,}: truth clusters {report['truth_clusters']:,}, "
        f"predicted clusters {report['predicted_clusters']:,}",
        "",
    ]
    lines.append(
        f"{'':30} {'precision':>9} {'recall':>7} {'f1':>7} {'truth':>8} "
        f"{'predicted':>9} {'correct':>8}"
    )

    def row(label: str, m: dict[str, Any]) -> str:
        return (
            f"{label:30} {m['precision']:9.4f} {m['recall']:7.4f} {m['f1']:7.4f} "
            f"{m['truth']:8,} {m['predicted']:9,} {m['correct']:8,}"
        )

    lines.append(row("cluster pairs", report["cluster_pairs"]))
    for name, m in report["relations"].items():
        lines.append(row(f"relation: {name}", m))
    lines += [
        "",
        f"{'adjusted Rand index':30} {report['adjusted_rand_index']:9.4f}",
        f"{'template_siblings_clustered':30} {report['template_siblings_clustered']:9,}",
        f"{'stubs_clustered':30} {report['stubs_clustered']:9,}",
    ]
    if report["recall_by_copy_kind"]:
        lines += ["", f"{'recall by copy kind':30} {'found':>9} {'total':>7} {'recall':>7}"]
        for kind, m in report["recall_by_copy_kind"].items():
            label = ("  " + kind) if ":" in kind else kind
            lines.append(f"{label:30} {m['found']:9,} {m['total']:7,} {m['recall']:7.4f}")
    if report["other_relation_types"]:
        other = ", ".join(f"{k} {v:,}" for k, v in report["other_relation_types"].items())
        lines += ["", f"other relation types reported (not scored): {other}"]
    if "gate" in report:
        gate = report["gate"]
        lines += [
            "",
            f"quality gate: {'passed' if gate['passed'] else 'FAILED'}"
            + "".join(f"; {f}" for f in gate["failures"]),
        ]
    return "\n".join(lines)


def check_gate(
    report: dict[str, Any], min_precision: float | None, min_recall: float | None
) -> dict[str, Any]:
    """Compare cluster-pair precision and recall with the floors given."""
    failures = []
    pairs = report["cluster_pairs"]
    if min_precision is not None and pairs["precision"] < min_precision:
        failures.append(f"cluster-pair precision {pairs['precision']:.4f} < {min_precision}")
    if min_recall is not None and pairs["recall"] < min_recall:
        failures.append(f"cluster-pair recall {pairs['recall']:.4f} < {min_recall}")
    return {
        "min_precision": min_precision,
        "min_recall": min_recall,
        "passed": not failures,
        "failures": failures,
    }


def main(
    argv: Sequence[str] | None = None, out: TextIO = sys.stdout, err: TextIO = sys.stderr
) -> int:
    parser = argparse.ArgumentParser(
        description="Score a dedupe-releases scan (--format json) against a truth file."
    )
    parser.add_argument("--truth", type=Path, required=True, help="truth.json")
    parser.add_argument(
        "--result",
        type=Path,
        required=True,
        help="output of: dedupe-releases scan DIR/dump --format json",
    )
    parser.add_argument(
        "--articles",
        type=int,
        help="number of articles scanned (default: the truth's 'articles', else "
        "the result's counts); unlisted articles are singletons",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--min-precision", type=float, help="exit 1 if cluster-pair precision < P")
    parser.add_argument("--min-recall", type=float, help="exit 1 if cluster-pair recall < R")
    args = parser.parse_args(argv)
    try:
        report = score(load_truth(args.truth), load_result(args.result), args.articles)
    except ScoreError as exc:
        print(f"score.py: {exc}", file=err)
        return ExitCode.USAGE
    for warning in report["warnings"]:
        print(f"score.py: warning: {warning}", file=err)
    gated = args.min_precision is not None or args.min_recall is not None
    if gated:
        report["gate"] = check_gate(report, args.min_precision, args.min_recall)
    if args.json:
        out.write(json.dumps(report, indent=2) + "\n")
    else:
        out.write(format_table(report) + "\n")
    if gated and not report["gate"]["passed"]:
        return ExitCode.GATE_FAILED
    return ExitCode.OK


if __name__ == "__main__":
    sys.exit(main())

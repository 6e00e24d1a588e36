"""The HTML report of a scan: one self-contained page for people to browse the clusters.

Takes a scan document (``output.document``, or its JSON read back) and a function that gives
an article's fixed text by id (from the scan in memory, from the files, later from an index);
returns the page as a string. Jinja2 renders it with autoescaping on, so titles, texts and
file names are always data, never markup; the page's Content-Security-Policy lets only its
own inline script run, and it loads nothing from anywhere. Never writes files.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from dedupe_releases.config import Config
from dedupe_releases.diff import Gap, Row, compact, diff_texts, shared_passages
from dedupe_releases.errors import NoInputError
from dedupe_releases.read import SkipFile, read_source

#: Gives an article's fixed text (title and body) by id, or None when it is not available.
TextOf = Callable[[str], str | None]

_KNOWN_RELATION_KEYS = {"a", "b", "relation", "scores", "evidence", "a_title", "b_title"}
_KNOWN_CLUSTER_KEYS = {
    "id",
    "size",
    "canonical",
    "reasons",
    "runner_up",
    "weakest_similarity",
    "members",
}


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    series: str  # CSS class of the bar
    tip: str  # tooltip


@dataclass(frozen=True, slots=True)
class Chart:
    """An inline-SVG bar chart, laid out here so the template only draws numbers."""

    title: str
    description: str
    width: int
    height: int
    left: int
    top: int
    plot_width: int
    plot_height: int
    bars: tuple[Bar, ...]
    xticks: tuple[tuple[float, str], ...]
    yticks: tuple[tuple[float, str], ...]
    legend: tuple[tuple[str, str], ...]  # (series, label)
    marker: tuple[float, str] | None  # a vertical line (x, label), e.g. the threshold
    xlabel: str


def _layout(
    title: str,
    description: str,
    columns: Sequence[tuple[str, Mapping[str, int]]],
    legend: Sequence[tuple[str, str]],
    xlabel: str,
    edges: Sequence[float] | None = None,
) -> Chart:
    """Stacked bars, one column per (label, counts by series), evenly spaced.

    ``edges``: label the x axis at these fractions of its width instead of under each bar.
    """
    width, height, left, top, right, bottom = 500, 230, 44, 12, 12, 46
    pw, ph = width - left - right, height - top - bottom
    peak = max((sum(c.values()) for _, c in columns), default=0)
    scale = ph / peak if peak else 0.0
    slot = pw / max(len(columns), 1)
    bars: list[Bar] = []
    xticks: list[tuple[float, str]] = []
    for i, (label, counts) in enumerate(columns):
        x = left + i * slot
        y = float(top + ph)
        for series, _ in legend:
            n = counts.get(series, 0)
            if not n:
                continue
            h = n * scale
            y -= h
            tip = f"{label}: {n} {dict(legend)[series]}"
            bar = min(slot * 0.8, 48.0)  # one wide bar reads as a wall, not as a count
            bars.append(
                Bar(
                    round(x + (slot - bar) / 2, 2),
                    round(y, 2),
                    round(bar, 2),
                    round(h, 2),
                    series,
                    tip,
                )
            )
        if edges is None:
            xticks.append((round(x + slot / 2, 2), label))
    if edges is not None:
        xticks = [(round(left + pw * v, 2), f"{v:g}") for v in edges]
    yticks = (
        tuple(
            (round(top + ph - v * scale, 2), str(v)) for v in sorted({0, math.ceil(peak / 2), peak})
        )
        if peak
        else ((float(top + ph), "0"),)
    )
    return Chart(
        title,
        description,
        width,
        height,
        left,
        top,
        pw,
        ph,
        tuple(bars),
        tuple(xticks),
        yticks,
        tuple(legend),
        None,
        xlabel,
    )


def size_chart(clusters: Sequence[Mapping[str, Any]], max_columns: int = 24) -> Chart:
    """How many clusters have 2, 3, 4... members."""
    sizes = Counter(int(c["size"]) for c in clusters)
    keys = sorted(sizes)
    columns: list[tuple[str, Mapping[str, int]]] = [
        (str(k), {"clusters": sizes[k]}) for k in keys[: max_columns - 1]
    ]
    if len(keys) >= max_columns:
        rest = keys[max_columns - 1 :]
        columns.append((f"≥{rest[0]}", {"clusters": sum(sizes[k] for k in rest)}))
    return _layout(
        "Cluster sizes",
        "Number of clusters by number of copies in them.",
        columns,
        (("clusters", "clusters"),),
        "copies in the cluster",
    )


def similarity_chart(doc: Mapping[str, Any], bins: int = 20) -> Chart:
    """Histogram of pair similarities: copies against their canonical, and other pairs."""
    counts: list[dict[str, int]] = [defaultdict(int) for _ in range(bins)]

    def add(value: float, series: str) -> None:
        counts[min(int(float(value) * bins), bins - 1)][series] += 1

    for c in doc.get("clusters", []):
        for m in c.get("members", []):
            if not m.get("canonical"):
                add(m["similarity"], "copy")
    for r in doc.get("related", []):
        add(r["scores"]["jaccard"], "pair")
    columns = [(f"{i / bins:.2f}–{(i + 1) / bins:.2f}", counts[i]) for i in range(bins)]
    chart = _layout(
        "Pair similarities",
        "Word-shingle Jaccard of each copy with its canonical copy, and of each related pair.",
        columns,
        (("copy", "copies vs canonical"), ("pair", "related pairs")),
        "word-shingle Jaccard",
        edges=(0, 0.25, 0.5, 0.75, 1),
    )
    threshold = doc.get("parameters", {}).get("threshold")
    if isinstance(threshold, int | float):
        x = chart.left + chart.plot_width * float(threshold)
        chart = dataclasses.replace(chart, marker=(round(x, 2), f"threshold {threshold:g}"))
    return chart


def _extras(record: Mapping[str, Any], known: Iterable[str]) -> list[tuple[str, str]]:
    """Keys this page does not know by name (added by later versions), shown as text."""
    known = set(known)
    return [(k, _as_text(v)) for k, v in sorted(record.items()) if k not in known]


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "; ".join(value)
    return json.dumps(value, ensure_ascii=False, sort_keys=True, allow_nan=False)


@dataclass(frozen=True, slots=True)
class MemberView:
    record: Mapping[str, Any]
    diff: tuple[Row | Gap, ...] | None  # against the canonical; None: text not available
    changed: int  # paragraphs that differ


def _member_views(cluster: Mapping[str, Any], text_of: TextOf) -> list[MemberView]:
    canonical_text = cluster["canonical"].get("text") or text_of(cluster["canonical"]["id"]) or ""
    out = []
    for m in cluster["members"]:
        if m.get("canonical"):
            continue
        text = text_of(m["id"])
        if text is None:
            out.append(MemberView(m, None, 0))
            continue
        rows = diff_texts(canonical_text, text)
        out.append(MemberView(m, tuple(compact(rows)), sum(1 for r in rows if r.kind != "equal")))
    return out


def context(doc: Mapping[str, Any], text_of: TextOf) -> dict[str, Any]:
    """Everything the template shows, computed; the template only lays it out."""
    clusters = list(doc.get("clusters", []))
    related = list(doc.get("related", []))
    by_member: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(related):
        by_member[r["a"]].append(i)
        by_member[r["b"]].append(i)
    cluster_views = []
    for c in clusters:
        ids = [m["id"] for m in c["members"]]
        rel = sorted({i for m in ids for i in by_member.get(m, [])})
        cluster_views.append(
            {
                "record": c,
                "paragraphs": [p for p in str(c["canonical"].get("text", "")).split("\n\n") if p],
                "fixes": sorted(c["canonical"].get("fixes", {}).items()),
                "members": _member_views(c, text_of),
                "related": [related[i] for i in rel],
                "extras": _extras(c, _KNOWN_CLUSTER_KEYS),
            }
        )
    relation_views = []
    for r in related:
        ta, tb = text_of(r["a"]), text_of(r["b"])
        relation_views.append(
            {
                "record": r,
                "scores": sorted(r.get("scores", {}).items()),
                "extras": _extras(r, _KNOWN_RELATION_KEYS),
                "passages": shared_passages(ta, tb) if ta is not None and tb is not None else None,
            }
        )
    return {
        "tool": doc.get("tool", {}),
        "counts": list(doc.get("counts", {}).items()),
        "parameters": [(k, _as_text(v)) for k, v in doc.get("parameters", {}).items()],
        "clusters": cluster_views,
        "related": relation_views,
        "skipped": list(doc.get("skipped", [])),
        "charts": [size_chart(clusters), similarity_chart(doc)],
    }


def _asset(name: str) -> str:
    return resources.files("dedupe_releases").joinpath(f"templates/{name}").read_text("utf-8")


def render_report(doc: Mapping[str, Any], text_of: TextOf) -> str:
    """The report page as HTML. Deterministic: the same document gives the same bytes."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("dedupe_releases", "templates"),
        autoescape=True,  # every {{ value }} is escaped, in text and in attributes
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    script = _asset("report.js")
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    return env.get_template("report.html.j2").render(
        **context(doc, text_of),
        style=_asset("report.css"),
        script=script,
        script_hash=f"sha256-{digest}",
    )


def check_document(doc: Any, label: str) -> Mapping[str, Any]:
    """A scan document, or ``NoInputError`` naming what is wrong with it."""
    if not isinstance(doc, dict) or doc.get("schema_version") != 1:
        raise NoInputError(f"{label}: not a dedupe-releases scan document (schema_version 1)")
    for key in ("clusters", "related"):
        if not isinstance(doc.get(key, []), list):
            raise NoInputError(f"{label}: not a scan document ({key} is not a list)")
    return doc


def texts_from_files(doc: Mapping[str, Any], root: Path, config: Config) -> TextOf:
    """Texts of a scan's articles read again from its root folder (for ``report --from``).

    A source must be a plain relative path inside ``root`` (a document naming ``../x`` or a
    symbolic link gets no text, so a crafted document cannot pull other files into a
    report), and an article whose title is no longer the one in the document gets none.
    """
    from dedupe_releases.pipeline import articles_of

    titles = {}
    for c in doc.get("clusters", []):
        for m in c.get("members", []):
            titles[m["id"]] = m.get("title")
    for r in doc.get("related", []):
        titles[r["a"]] = r.get("a_title")
        titles[r["b"]] = r.get("b_title")
    base = root.resolve()
    cache: dict[str, dict[str, str] | None] = {}

    def load(source: str) -> dict[str, str] | None:
        parts = Path(source).parts
        if not source or Path(source).is_absolute() or ".." in parts:
            return None
        path = base.joinpath(*parts)
        probe = base
        for part in parts:  # no symbolic link on the way, as a scan does not follow them
            probe = probe / part
            if probe.is_symlink():
                return None
        try:
            text = read_source(path, source, config.read)
        except (SkipFile, OSError):
            return None
        return {a.id: a.text for a in articles_of(text, config)}

    def text_of(article_id: str) -> str | None:
        source = article_id.rpartition("#")[0]
        if source not in cache:
            cache[source] = load(source)
        found = cache[source]
        if found is None or article_id not in found:
            return None
        text = found[article_id]
        title = titles.get(article_id)
        if title is not None and not text.startswith(title):
            return None
        return text

    return text_of

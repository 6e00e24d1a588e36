"""Stage 8: render a scan as JSON, JSON Lines or a terminal table. No decisions here.

JSON is built from the records in one place (``document``), written as UTF-8 bytes with
``allow_nan=False`` and the line separators U+2028/U+2029/U+0085 escaped, so every JSON Lines
record is exactly one line for any reader. Terminal text goes through ``safe_text``: data
can never carry escape sequences, C1 controls, bidi overrides or rich markup to the screen.
"""

from __future__ import annotations

import base64
import json
import math
import re
from collections.abc import Iterator
from typing import Any, BinaryIO

from rich.console import Console
from rich.table import Table
from rich.text import Text

from dedupe_releases import __version__
from dedupe_releases.pipeline import ScanResult
from dedupe_releases.records import Article, Cluster, Match, Problem

SCHEMA_VERSION = 1

# C0 (but tab/newline), DEL, C1, bidi and other invisible format controls.
_UNSAFE = re.compile(
    r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]"
)


def escape_control(text: str, keep_newlines: bool = False) -> str:
    """Show control characters as visible escapes (``\\x1b``, ``\\u202e``).

    >>> escape_control("ok\\x1b[2Jbad\\u202e")
    'ok\\\\x1b[2Jbad\\\\u202e'
    """

    def show(m: re.Match[str]) -> str:
        c = m.group(0)
        return f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}"

    if not keep_newlines:
        text = text.replace("\n", " ").replace("\t", " ")
    return _UNSAFE.sub(show, text)


def safe_text(text: str, style: str = "", keep_newlines: bool = False) -> Text:
    """A rich ``Text`` (never parsed as markup) with every control character made visible."""
    return Text(escape_control(text, keep_newlines), style=style)


def _article_ref(article: Article) -> dict[str, Any]:
    ref: dict[str, Any] = {
        "id": article.id,
        "source": article.source,
        **_source_bytes(article.source_bytes),
        "lines": list(article.lines),
        "kind": article.kind,
        "title": article.title,
    }
    if article.truncated:
        ref["truncated"] = True
    return ref


def _source_bytes(raw: bytes | None) -> dict[str, str]:
    """ripgrep's rule: a name that is not UTF-8 also travels as base64 of its exact bytes."""
    return {} if raw is None else {"source_bytes": base64.b64encode(raw).decode("ascii")}


def _decided(result: ScanResult, a: str, b: str) -> dict[str, str]:
    """``{"decision": "same"|"different"}`` for a pair a reviewer decided, else nothing."""
    verdict = result.decisions.verdict(a, b) if result.decisions else None
    return {"decision": verdict} if verdict else {}


def _cluster(cluster: Cluster, result: ScanResult) -> dict[str, Any]:
    canonical = result.article(cluster.canonical)
    return {
        "id": cluster.id,
        "size": len(cluster.members),
        "canonical": {
            **_article_ref(canonical),
            "text": canonical.text,
            "fixes": {f.rule: f.count for f in canonical.fixes},
        },
        "reasons": list(cluster.reasons),
        "runner_up": cluster.runner_up,
        "weakest_similarity": cluster.weakest,
        "members": [
            {
                **_article_ref(result.article(m)),
                "canonical": m == cluster.canonical,
                "similarity": cluster.similarity[m],
                **_decided(result, m, cluster.canonical),
            }
            for m in cluster.members
        ],
    }


def _relation(match: Match, result: ScanResult) -> dict[str, Any]:
    return {
        "a": match.a,
        "b": match.b,
        "relation": match.relation,
        "scores": match.scores.as_dict(),
        "evidence": list(match.evidence),
        "facts": [{"kind": k, "a": x, "b": y} for k, x, y in match.facts],
        "a_title": result.article(match.a).title,
        "b_title": result.article(match.b).title,
        **_decided(result, match.a, match.b),
    }


def _problem(problem: Problem) -> dict[str, Any]:
    return {
        "source": problem.source,
        **_source_bytes(problem.source_bytes),
        "reason": problem.reason,
    }


def counts(result: ScanResult) -> dict[str, int]:
    return {
        "files": result.files,
        "articles": len(result.store),
        "clusters": len(result.clusters),
        "clustered_articles": sum(len(c.members) for c in result.clusters),
        "related": len(result.related),
        "candidates": result.candidates,
        "skipped": len(result.skipped),
        "warnings": len(result.warnings),
        "boilerplate_lines": len(result.boilerplate),
        "masked_lines": result.boilerplate.masked,
    }


def document(result: ScanResult) -> dict[str, Any]:
    """The whole scan as one JSON-ready value (see ``schema/scan.schema.json``)."""
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "dedupe-releases", "version": __version__},
        "parameters": result.config.parameters(),
        "counts": counts(result),
        "clusters": [_cluster(c, result) for c in result.clusters],
        "related": [_relation(m, result) for m in result.related],
        "skipped": [_problem(p) for p in result.skipped],
        "warnings": [_problem(p) for p in result.warnings],
    }


def records(result: ScanResult) -> Iterator[dict[str, Any]]:
    """JSON Lines records: one per cluster, related pair, skipped file and warning, then a summary.

    The closing ``summary`` record lets a reader tell a complete stream from a cut one.
    """
    for c in result.clusters:
        yield {"type": "cluster", **_cluster(c, result)}
    for m in result.related:
        yield {"type": "related", **_relation(m, result)}
    for p in result.skipped:
        yield {"type": "skipped", **_problem(p)}
    for p in result.warnings:
        yield {"type": "warning", **_problem(p)}
    yield {
        "type": "summary",
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "dedupe-releases", "version": __version__},
        "parameters": result.config.parameters(),
        "counts": counts(result),
    }


def dumps(value: Any, indent: int | None = None) -> bytes:
    """Strict JSON as UTF-8 bytes: no NaN, and no raw line separators inside strings."""
    return _escaped(json.dumps(value, ensure_ascii=False, allow_nan=False, indent=indent))


def write_json(result: ScanResult, out: BinaryIO) -> None:
    """``dumps(document(result), indent=2)`` and a newline, written in pieces of about 1 MB.

    The document is never built whole: a big archive's is hundreds of MB of JSON, so each
    cluster and related pair is made, encoded and written in turn, byte for byte as
    ``json.dumps`` of the whole would write it.
    """
    encoder = json.JSONEncoder(ensure_ascii=False, allow_nan=False, indent=2)
    chunk: list[str] = []
    size = 0

    def put(text: str) -> None:
        nonlocal chunk, size
        chunk.append(text)
        size += len(text)
        if size > 1 << 20:
            out.write(_escaped("".join(chunk)))
            chunk, size = [], 0

    def value(item: Any, level: int) -> str:
        parts: list[str] = []
        _indented(item, "\n" + "  " * level, parts, encoder)
        return "".join(parts)

    fields: list[tuple[str, Any]] = [
        ("schema_version", SCHEMA_VERSION),
        ("tool", {"name": "dedupe-releases", "version": __version__}),
        ("parameters", result.config.parameters()),
        ("counts", counts(result)),
        ("clusters", (_cluster(c, result) for c in result.clusters)),
        ("related", (_relation(m, result) for m in result.related)),
        ("skipped", (_problem(p) for p in result.skipped)),
        ("warnings", (_problem(p) for p in result.warnings)),
    ]
    for n, (key, field) in enumerate(fields):
        put(("{" if n == 0 else ",") + "\n  " + encoder.encode(key) + ": ")
        if not isinstance(field, Iterator):
            put(value(field, 1))
            continue
        empty = True
        for item in field:
            put(("[" if empty else ",") + "\n    " + value(item, 2))
            empty = False
        put("[]" if empty else "\n  ]")
    put("\n}\n")
    out.write(_escaped("".join(chunk)))


def _indented(item: Any, newline: str, parts: list[str], encoder: json.JSONEncoder) -> None:
    """Append ``encoder.encode(item)`` (``indent=2``, ``ensure_ascii=False``), every line
    after the first starting with ``newline``'s indentation: the same bytes as ``json``'s
    own pure-Python indenting encoder, which spends most of its time in generators.

    A container's strings, integers and ``None`` are written in its own loop (most of a
    document's values), only other values through a call of their own.
    """
    kind = type(item)
    if kind is dict:
        if not item:
            parts.append("{}")
            return
        inner = newline + "  "
        opening = "{" + inner
        between = "," + inner
        for key, child in item.items():
            if type(key) is not str:  # json's own rules for other keys
                parts.append(encoder.encode(item).replace("\n", newline))
                return
            head = _KEYS.get(key)
            if head is None:
                head = _encode_string(key) + ": "
                if len(_KEYS) < 256:
                    _KEYS[key] = head
            kind = type(child)
            if kind is str:
                parts.append(opening + head + _encode_string(child))
            elif kind is int:
                parts.append(opening + head + int.__repr__(child))
            elif child is None:
                parts.append(opening + head + "null")
            else:
                parts.append(opening + head)
                _indented(child, inner, parts, encoder)
            opening = between
        parts.append(newline + "}")
    elif kind is list or kind is tuple:
        if not item:
            parts.append("[]")
            return
        inner = newline + "  "
        opening = "[" + inner
        between = "," + inner
        for child in item:
            kind = type(child)
            if kind is str:
                parts.append(opening + _encode_string(child))
            elif kind is int:
                parts.append(opening + int.__repr__(child))
            else:
                parts.append(opening)
                _indented(child, inner, parts, encoder)
            opening = between
        parts.append(newline + "]")
    elif kind is str:
        parts.append(_encode_string(item))
    elif item is None:
        parts.append("null")
    elif item is True:
        parts.append("true")
    elif item is False:
        parts.append("false")
    elif kind is int:
        parts.append(int.__repr__(item))
    elif kind is float and math.isfinite(item):
        parts.append(float.__repr__(item))
    elif isinstance(item, dict | list | tuple):  # their subclasses: as json writes them
        _indented(dict(item) if isinstance(item, dict) else list(item), newline, parts, encoder)
    else:  # anything else: json's own encoding (or its error)
        parts.append(encoder.encode(item).replace("\n", newline))


#: Keys as ``_indented`` writes them (the encoded key and ": "): a document has few.
_KEYS: dict[str, str] = {}


_encode_string = json.encoder.encode_basestring  # the C one where there is one, as json's


def _escaped(text: str) -> bytes:
    text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029").replace("\x85", "\\u0085")
    return text.encode("utf-8")


def write_jsonl(result: ScanResult, out: BinaryIO) -> None:
    for record in records(result):
        out.write(dumps(record) + b"\n")


def render_table(result: ScanResult, console: Console) -> None:
    """The terminal view: a summary line, the clusters, then the related pairs."""
    c = counts(result)
    console.print(
        Text.assemble(
            (f"{c['articles']} articles", "bold"),
            f" in {c['files']} files: ",
            (f"{c['clusters']} clusters", "bold green"),
            f" of {c['clustered_articles']} articles, ",
            (f"{c['related']} related pairs", "bold yellow"),
            f", {c['skipped']} files skipped",
        )
    )
    if result.clusters:
        table = Table(title="Clusters (★ canonical copy)", show_lines=True, expand=False)
        table.add_column("Cluster", style="cyan", no_wrap=True)
        table.add_column("Article")
        table.add_column("Lines", justify="right", no_wrap=True)
        table.add_column("Similarity", justify="right", no_wrap=True)
        for cluster in result.clusters:
            first = True
            for m in cluster.members:
                a = result.article(m)
                mark = "★ " if m == cluster.canonical else "  "
                title = Text(mark).append_text(safe_text(a.title, "bold" if mark.strip() else ""))
                title.append("\n").append_text(safe_text(a.source, "dim"))
                table.add_row(
                    cluster.id if first else "",
                    title,
                    f"{a.lines[0]}–{a.lines[1]}",
                    f"{cluster.similarity[m]:.3f}",
                )
                first = False
        console.print(table)
    if result.related:
        table = Table(title="Related, not copies", show_lines=True)
        table.add_column("Relation", style="yellow", no_wrap=True)
        table.add_column("Article A")
        table.add_column("Article B")
        table.add_column("Jaccard", justify="right")
        table.add_column("Contained", justify="right")
        for rel in result.related:
            a, b = result.article(rel.a), result.article(rel.b)
            table.add_row(
                rel.relation,
                safe_text(a.title).append("\n").append_text(safe_text(a.id, "dim")),
                safe_text(b.title).append("\n").append_text(safe_text(b.id, "dim")),
                f"{rel.scores.jaccard:.3f}",
                f"{rel.scores.containment:.3f}",
            )
        console.print(table)

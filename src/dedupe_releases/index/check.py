"""``dedupe-releases index check``: is an index whole and self-consistent?

Takes an index (a file or a PostgreSQL URL); returns findings (``error`` or ``info``), never
repairs anything. Checks SQLite's own ``integrity_check`` and ``foreign_key_check`` (on
PostgreSQL: foreign keys recounted, their triggers enabled, indexes valid; ``pg.integrity``),
the schema (on open), the settings, then the index's own invariants: band and sentence rows
exist exactly for the articles that are not gone, relations join visible articles, every
cluster has two or more members and its canonical among them, and no run is left unfinished
without saying so. ``deep`` also recomputes every article's band keys from its signature and
a sample of signatures from the stored text (a poisoned signature would silently hide
duplicates)."""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dedupe_releases.errors import IndexError_
from dedupe_releases.index.lock import lock_path
from dedupe_releases.index.schema import (
    DAMAGE,
    SCHEMA_VERSION,
    Connection,
    connect,
    damaged,
    schema_version,
)
from dedupe_releases.index.store import Index, signature_values, signed
from dedupe_releases.index.target import Target

#: ``--deep`` re-sketches at most this many articles from their stored text.
DEEP_SAMPLE = 1000


@dataclass(frozen=True, slots=True)
class Finding:
    level: str  # "error" or "info"
    message: str


def _writer_running(path: Target, con: Connection) -> bool:
    """True if a scan holds the index's lock right now.

    Read from ``/proc/locks`` (Linux; on PostgreSQL from ``pg_locks``) rather than by trying
    the lock: a probe that took even a shared lock for a moment could make a starting scan
    exit with LOCKED.
    """
    if not isinstance(path, Path):
        from dedupe_releases.index import pg

        assert isinstance(con, pg.PgConnection)
        return pg.writer_running(con)
    try:
        inode = os.stat(lock_path(path)).st_ino
        with open("/proc/locks", encoding="ascii", errors="replace") as fh:  # noqa: PTH123
            lines = fh.read().splitlines()
    except OSError:
        return False
    for line in lines:
        fields = line.split()
        if "FLOCK" in fields and len(fields) > 5 and fields[5].rsplit(":", 1)[-1] == str(inode):
            return True
    return False


def check_index(path: Target, deep: bool = False) -> list[Finding]:
    """Every finding about the index at ``path``; an empty error list means it is sound."""
    try:
        con = connect(path, reader=True, older=True)
    except IndexError_ as exc:
        return [Finding("error", str(exc))]
    try:
        version = schema_version(con)
        older = []
        if version < SCHEMA_VERSION:
            older = [
                Finding(
                    "info",
                    f"schema {version}, checked as it is; a scan with this version upgrades it"
                    f" to schema {SCHEMA_VERSION}",
                )
            ]
        return older + _check(Index(con, path), deep, current=not older)
    except IndexError_ as exc:  # a stored value that is not what it must be, a lost server
        return [Finding("error", str(exc))]
    except DAMAGE as exc:
        return [Finding("error", str(damaged(path, exc)))]
    finally:
        con.close()


def _integrity(con: Connection) -> list[str]:
    """The database's own consistency checks, one message per problem."""
    if not isinstance(con, sqlite3.Connection):
        from dedupe_releases.index import pg

        return pg.integrity(con)
    out = []
    rows = [r[0] for r in con.execute("PRAGMA integrity_check")]
    if rows != ["ok"]:
        out.append(f"integrity_check: {'; '.join(map(str, rows[:5]))}")
    fk = con.execute("PRAGMA foreign_key_check").fetchall()
    if fk:
        out.append(
            f"foreign_key_check: {len(fk)} rows point nowhere (first: {fk[0][0]} row {fk[0][1]})"
        )
    return out


def _check(index: Index, deep: bool, current: bool = True) -> list[Finding]:
    con = index.con
    out: list[Finding] = []

    def error(message: str) -> None:
        out.append(Finding("error", message))

    def scalar(sql: str) -> int:
        return int(con.execute(sql).fetchone()[0])

    for problem in _integrity(con):
        error(problem)
    settings = index.settings()
    if settings is None:
        if scalar("SELECT (SELECT count(*) FROM files) + (SELECT count(*) FROM runs)"):
            error("no settings recorded, yet the index holds files or runs")
        else:  # created, then killed before its first transaction: the next scan fills it
            out.append(Finding("info", "a new, empty index: no scan has written to it yet"))
        return out
    num_perm, bands, seed = int(settings["num_perm"]), int(settings["bands"]), int(settings["seed"])

    live = "state != 'gone'"
    band_orphans = scalar(
        "SELECT count(*) FROM bands b JOIN articles a ON a.id = b.article WHERE a.state = 'gone'"
    )
    if band_orphans:
        error(f"{band_orphans} band rows belong to articles that are gone")
    sketched = scalar(f"SELECT count(*) FROM articles WHERE {live} AND shingles > 0")
    band_rows = scalar("SELECT count(*) FROM bands")
    if band_rows > sketched * bands or (not deep and band_rows < sketched * bands):
        error(f"{band_rows} band rows for {sketched} sketched articles x {bands} bands")
    expected_sentences = scalar(
        f"SELECT coalesce(sum(length(sentences)), 0) / 8 FROM articles WHERE {live}"
    )
    sentence_rows = scalar("SELECT count(*) FROM sentences")
    if sentence_rows != expected_sentences:
        error(f"{sentence_rows} sentence rows, expected {expected_sentences} from the articles")
    sentence_orphans = scalar(
        "SELECT count(*) FROM sentences s JOIN articles a ON a.id = s.article"
        " WHERE a.state = 'gone'"
    )
    if sentence_orphans:
        error(f"{sentence_orphans} sentence rows belong to articles that are gone")
    line_rows = scalar("SELECT count(*) FROM lines")
    expected_lines = scalar(
        f"SELECT coalesce(sum(length(lines)), 0) / 8 FROM articles WHERE {live}"
    )
    if line_rows != expected_lines:
        error(f"{line_rows} body-line rows, expected {expected_lines} from the articles")
    bad_relations = scalar(
        "SELECT count(*) FROM relations r JOIN articles x ON x.id = r.a JOIN articles y"
        " ON y.id = r.b WHERE x.state NOT IN ('active', 'retiring')"
        " OR y.state NOT IN ('active', 'retiring')"
    )
    if bad_relations:
        error(f"{bad_relations} relations involve articles that are gone or not yet reconciled")
    small = scalar(
        "SELECT count(*) FROM clusters c WHERE c.state = 'active' AND"
        " (SELECT count(*) FROM cluster_members m WHERE m.cluster = c.id) < 2"
    )
    if small:
        error(f"{small} active clusters have fewer than two members")
    no_canonical = scalar(
        "SELECT count(*) FROM clusters c WHERE c.state = 'active' AND NOT EXISTS"
        " (SELECT 1 FROM cluster_members m WHERE m.cluster = c.id AND m.article = c.canonical)"
    )
    if no_canonical:
        error(f"{no_canonical} active clusters do not contain their canonical article")
    gone_members = scalar(
        "SELECT count(*) FROM cluster_members m JOIN clusters c ON c.id = m.cluster"
        " JOIN articles a ON a.id = m.article"
        " WHERE c.state = 'gone' OR a.state NOT IN ('active', 'retiring')"
    )
    if gone_members:
        error(f"{gone_members} cluster members are in retired clusters or are not visible")
    bad_signatures = 0
    for rid, blob, shingles in con.execute(
        f"SELECT id, signature, shingles FROM articles WHERE {live}"
    ):
        try:
            sig = signature_values(blob, num_perm, seed)
        except IndexError_:
            bad_signatures += 1
            continue
        if deep and shingles:
            from dedupe_releases.sketch import band_keys

            keys = signed(band_keys(sig, bands).astype("<u8").tobytes())
            stored = {
                k
                for k in keys
                if con.execute(
                    "SELECT 1 FROM bands WHERE key = ? AND article = ?", (k, rid)
                ).fetchone()
            }
            if len(stored) != len(set(keys)):
                error(f"article row {rid}: {len(set(keys)) - len(stored)} band keys missing")
    if bad_signatures:
        error(f"{bad_signatures} signatures are not {num_perm}-value affine32 LeanMinHash bytes")
    if deep:
        out.extend(_deep_sample(index, current))

    added = scalar(
        "SELECT count(*) FROM articles WHERE state IN ('added', 'retiring') AND state = 'added'"
    )
    retiring = scalar(
        "SELECT count(*) FROM articles WHERE state IN ('added', 'retiring') AND state = 'retiring'"
    )
    unfinished = [r["id"] for r in index.runs() if r["status"] == "running"]
    writer = _writer_running(index.path, con)
    if added or retiring:
        if writer:
            out.append(
                Finding(
                    "info", f"a scan is running: {added} articles added, {retiring} retiring so far"
                )
            )
        else:
            out.append(
                Finding(
                    "info",
                    f"{added} articles added and {retiring} retiring are pending from an"
                    " interrupted run; the next scan finishes them",
                )
            )
    if unfinished and not writer:
        out.append(
            Finding(
                "info", f"run {unfinished[-1]} did not finish (killed); the next scan completes it"
            )
        )
    files = scalar("SELECT count(*) FROM files WHERE state = 'present'")
    articles = scalar("SELECT count(*) FROM articles WHERE state IN ('active', 'retiring')")
    relations = scalar("SELECT count(*) FROM relations")
    clusters = scalar("SELECT count(*) FROM clusters WHERE state = 'active'")
    out.append(
        Finding(
            "info",
            f"{files:,} files, {articles:,} articles, {relations:,} relations,"
            f" {clusters:,} clusters after {index.generation} reconciled runs",
        )
    )
    return out


def _deep_sample(index: Index, current: bool = True) -> list[Finding]:
    """Re-sketch a spread sample of articles from their stored text; compare signatures and
    body-line hashes. An index of an older schema hashed its tokens otherwise (schema 3):
    nothing to compare until a scan upgrades it."""
    from dedupe_releases.boilerplate import line_hashes
    from dedupe_releases.index.store import sketch_config_of
    from dedupe_releases.sketch import sketch_article

    if not current:
        return [
            Finding(
                "info",
                "signatures and body-line hashes not recomputed: an older schema hashed"
                " tokens otherwise",
            )
        ]
    config = sketch_config_of(index.settings() or {})
    total = int(
        index.con.execute("SELECT count(*) FROM articles WHERE state != 'gone'").fetchone()[0]
    )
    step = max(1, total // DEEP_SAMPLE)
    wrong = wrong_lines = 0
    rows = index.con.execute(
        "SELECT id, signature, lines FROM articles WHERE state != 'gone' ORDER BY id"
    ).fetchall()
    for rid, blob, stored_lines in rows[::step]:
        article = index.article_by_rid(rid)
        fresh = sketch_article(article, config)
        if not np.array_equal(
            signature_values(blob, config.num_perm, config.seed),
            np.frombuffer(fresh.signature, dtype="<u4"),
        ):
            wrong += 1
        if bytes(stored_lines) != line_hashes(article).astype("<u8").tobytes():
            wrong_lines += 1
    out = []
    if wrong:
        out.append(Finding("error", f"{wrong} stored signatures differ from their text's"))
    if wrong_lines:
        out.append(
            Finding("error", f"{wrong_lines} stored body-line hashes differ from their text's")
        )
    return out or [
        Finding(
            "info",
            f"{len(rows[::step])} signatures and body-line hashes recomputed from text: all equal",
        )
    ]

"""Helpers for the index tests: the generated corpus, subprocess runs, an index digest."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent

#: Columns whose values depend on when a run happened, not on what it found.
VOLATILE = {("files", "seen_ns")}
#: Tables left out of the digest: the runs table records every attempt, killed ones too.
UNDIGESTED = {"runs"}


def corpus_module() -> Any:
    spec = importlib.util.spec_from_file_location("corpus", ROOT / "benchmarks" / "corpus.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("corpus", module)
    spec.loader.exec_module(module)
    return module


def generate(out: Path, articles: int, seed: int) -> Path:
    """``out/dump`` of a generated archive (the generator writes a deterministic stream, so
    a larger corpus of the same seed extends a smaller one: same files, the last one longer,
    then new files)."""
    corpus_module().generate(out, articles, seed)
    return out / "dump"


def grown(small: Path, large: Path, into: Path) -> dict[str, list[str]]:
    """Copy ``small`` to ``into``, then overlay ``large``: what changed, by kind."""
    shutil.copytree(small, into)
    names = {p.name for p in small.iterdir()}
    changed, added = [], []
    for p in sorted(large.iterdir()):
        if p.name in names:
            if p.read_bytes() != (into / p.name).read_bytes():
                changed.append(p.name)
                shutil.copyfile(p, into / p.name)
        else:
            added.append(p.name)
            shutil.copyfile(p, into / p.name)
    return {"changed": changed, "added": added}


def env(**extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "NO_COLOR": "1",
        "LC_ALL": "C.UTF-8",
        "PYTHONHASHSEED": "0",
        **extra,
    }


def cli(*args: str | Path, timeout: float = 600) -> subprocess.CompletedProcess[bytes]:
    """``python -m dedupe_releases ARGS`` in a subprocess, as cron runs it (no terminal)."""
    proc = subprocess.run(
        [sys.executable, "-m", "dedupe_releases", *map(str, args)],
        capture_output=True,
        timeout=timeout,
        env=env(),
        cwd=ROOT,
        check=False,
    )
    assert b"Traceback" not in proc.stderr, proc.stderr.decode(errors="replace")
    return proc


def popen(*args: str | Path, stdout: bool = False) -> subprocess.Popen[bytes]:
    """Start a run; its stdout is discarded unless asked for (a full pipe would block it)."""
    return subprocess.Popen(
        [sys.executable, "-m", "dedupe_releases", *map(str, args)],
        stdout=subprocess.PIPE if stdout else subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env(),
        cwd=ROOT,
    )


def read_only(db: Path) -> sqlite3.Connection:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    con.execute("PRAGMA trusted_schema = OFF")
    return con


def tables(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows (volatile columns and the runs table left out), sorted."""
    con = read_only(db)
    try:
        out = {}
        names = [
            n
            for (n,) in con.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
            )
        ]
        for name in names:
            if name in UNDIGESTED or name.startswith("sqlite_"):
                continue
            cols = [
                c[1]
                for c in con.execute(f"PRAGMA table_info({name})")
                if (name, c[1]) not in VOLATILE
            ]
            rows = con.execute(f"SELECT {', '.join(cols)} FROM {name}").fetchall()
            out[name] = sorted(rows, key=repr)
        return out
    finally:
        con.close()


def digest(db: Path) -> str:
    """sha256 of every table (see ``tables``), after SQLite's own checks pass."""
    con = read_only(db)
    try:
        assert [r[0] for r in con.execute("PRAGMA integrity_check")] == ["ok"]
        assert con.execute("PRAGMA foreign_key_check").fetchall() == []
    finally:
        con.close()
    h = hashlib.sha256()
    for name, rows in tables(db).items():
        h.update(name.encode())
        for row in rows:
            h.update(repr(row).encode())
    return h.hexdigest()


def runs(db: Path) -> list[dict[str, Any]]:
    con = read_only(db)
    try:
        cols = ("id", "status", "generation", "counts")
        return [
            {**dict(zip(cols, r, strict=True)), "counts": json.loads(r[3])}
            for r in con.execute(f"SELECT {', '.join(cols)} FROM runs ORDER BY id")
        ]
    finally:
        con.close()


def without_ids(doc: dict[str, Any]) -> dict[str, Any]:
    """A scan document with cluster ids removed (an index keeps its own stable ids)."""
    return {**doc, "clusters": [{k: v for k, v in c.items() if k != "id"} for c in doc["clusters"]]}


def as_schema_1(con: Any, placeholder: str = "?") -> None:
    """Rewrite an index of this version (an open DB-API connection, SQLite or psycopg) as
    schema 1 had it: body lines and titles hashed by blake2b of their tokens joined by
    spaces, the learned boilerplate with them; then mark it schema 1 and commit."""
    from dedupe_releases.boilerplate import words_hash
    from dedupe_releases.index.store import _signed1 as _signed
    from dedupe_releases.index.upgrades import _v1_line_hash
    from dedupe_releases.sketch import tokens

    def run(sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        cursor = con.execute(sql.replace("?", placeholder), params)
        return cursor.fetchall() if cursor.description else []

    old_of: dict[int, int] = {}
    for rid, title, blob in run("SELECT id, title, body FROM articles"):
        hashes = set()
        for line in zlib.decompress(bytes(blob)).decode().split("\n"):
            words = tokens(line)
            if words:
                old = _signed(_v1_line_hash(words))
                old_of[_signed(words_hash(words))] = old
                hashes.add(old)
        lines = np.array(sorted(h % (1 << 64) for h in hashes), dtype="<u8").tobytes()
        title_hash = _signed(_v1_line_hash(tokens(title)))
        run("UPDATE articles SET lines = ?, title_hash = ? WHERE id = ?", (lines, title_hash, rid))
        if run("SELECT 1 FROM lines WHERE article = ?", (rid,)):
            run("DELETE FROM lines WHERE article = ?", (rid,))
            for h in hashes:
                run("INSERT INTO lines (hash, article) VALUES (?, ?)", (h, rid))
    learned = [old_of[h] for (h,) in run("SELECT hash FROM boilerplate")]
    run("DELETE FROM boilerplate")
    for h in learned:
        run("INSERT INTO boilerplate (hash) VALUES (?)", (h,))
    if placeholder == "?":
        run("PRAGMA user_version = 1")
    else:
        run("UPDATE schema_version SET version = 1")
    con.commit()


def crc_item_hashes(data: bytes, starts: Any, lengths: Any) -> Any:
    """``sketch._item_hashes`` as schema 2 hashed tokens: the CRC-32 of each one's bytes."""
    pieces = zip(starts.tolist(), lengths.tolist(), strict=True)
    return np.array([zlib.crc32(data[s : s + n]) for s, n in pieces], dtype=np.uint64)


def as_schema_2(con: sqlite3.Connection) -> None:
    """Rewrite an index of this version as schema 2 had it: every token hashed by CRC-32,
    so every signature, band key and sentence, body-line and title hash (``upgrades.resketch``
    with the CRC put in for ``word_hash``), the learned boilerplate with its lines; then mark
    it schema 2 and commit."""
    from dedupe_releases import sketch
    from dedupe_releases.boilerplate import words_hash
    from dedupe_releases.index.store import _signed1 as _signed
    from dedupe_releases.index.upgrades import _v2_words_hash, resketch

    learned = {int(h) for (h,) in con.execute("SELECT hash FROM boilerplate")}
    old: set[int] = set()
    for (blob,) in con.execute("SELECT body FROM articles"):
        for line in zlib.decompress(bytes(blob)).decode().split("\n"):
            words = sketch.tokens(line)
            if words and _signed(words_hash(words)) in learned:
                old.add(_signed(_v2_words_hash(words)))
    real = sketch._item_hashes
    sketch._item_hashes = crc_item_hashes
    try:
        resketch(con)
    finally:
        sketch._item_hashes = real
    con.execute("DELETE FROM boilerplate")
    con.executemany("INSERT INTO boilerplate (hash) VALUES (?)", [(h,) for h in sorted(old)])
    con.execute("PRAGMA user_version = 2")
    con.commit()

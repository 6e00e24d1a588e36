"""The index file itself: schema, settings of every connection, formats, and files that are
damaged, foreign or hostile (opened like untrusted input, never overwritten)."""

from __future__ import annotations

import pickle  # only to build a hostile payload; src/ never imports it
import re
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, SAMPLES
from datasketch import LeanMinHash, MinHash
from indexing import cli, digest

from dedupe_releases.config import Config
from dedupe_releases.errors import IndexError_
from dedupe_releases.index import schema
from dedupe_releases.index.schema import APPLICATION_ID, SCHEMA_VERSION, connect
from dedupe_releases.index.store import Index
from dedupe_releases.sketch import shingle_hashes, tokens


@pytest.fixture
def indexed(tmp_path: Path) -> Path:
    db = tmp_path / "archive.db"
    assert cli("scan", SAMPLES, "--index", db).returncode == 0
    return db


def test_every_connection_has_the_documented_settings(indexed):
    for reader in (False, True):
        con = connect(indexed, reader=reader)
        try:
            pragma = {
                name: con.execute(f"PRAGMA {name}").fetchone()[0]
                for name in (
                    "journal_mode",
                    "synchronous",
                    "trusted_schema",
                    "foreign_keys",
                    "busy_timeout",
                    "application_id",
                    "user_version",
                )
            }
        finally:
            con.close()
        assert pragma == {
            "journal_mode": "wal",
            "synchronous": 1 if not reader else pragma["synchronous"],  # NORMAL for writers
            "trusted_schema": 0,
            "foreign_keys": 1,
            "busy_timeout": 10_000,
            "application_id": APPLICATION_ID,
            "user_version": SCHEMA_VERSION,
        }


def test_signatures_are_datasketch_lean_minhash_bytes(indexed):
    con = connect(indexed, reader=True)
    try:
        index = Index(con, indexed)
        rid, blob = con.execute("SELECT id, signature FROM articles ORDER BY id LIMIT 1").fetchone()
        article = index.article_by_rid(rid)
    finally:
        con.close()
    lean = LeanMinHash.deserialize(blob, byteorder="<")
    assert (lean.seed, len(lean), lean.scheme) == (1, 128, "affine32")
    reference = MinHash(num_perm=128, seed=1, hashfunc=int, scheme="affine32")
    reference.update_batch(shingle_hashes(tokens(article.text), 5).tolist())
    assert np.array_equal(lean.hashvalues, reference.hashvalues)


def _hostile(db: Path, sql: str) -> None:
    con = sqlite3.connect(db)
    con.executescript(sql)
    con.close()


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        (
            "CREATE TABLE marker (x); CREATE TRIGGER evil AFTER INSERT ON articles"
            " BEGIN INSERT INTO marker VALUES (1); END;",
            b"unexpected object (table marker)",
        ),
        (
            "CREATE TRIGGER evil AFTER INSERT ON articles BEGIN DELETE FROM files; END;",
            b"unexpected object (trigger evil)",
        ),
        ("CREATE VIEW shadow AS SELECT 1;", b"unexpected object (view shadow)"),
        ("DROP INDEX relations_b;", b"index relations_b is missing or altered"),
        ("PRAGMA user_version = 99;", b"newer dedupe-releases (schema 99"),
        ("PRAGMA application_id = 7;", b"of another application"),
    ],
)
def test_a_hostile_or_foreign_index_is_refused_untouched(indexed, sql, message):
    _hostile(indexed, sql)
    before = indexed.read_bytes()
    for args in (
        ("scan", SAMPLES, "--index", indexed),
        ("clusters", "--index", indexed),
        ("index", "check", "--index", indexed),
    ):
        proc = cli(*args)
        assert proc.returncode == 3, (args, proc.stderr)
        assert message in proc.stderr + proc.stdout
    assert indexed.read_bytes() == before


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", b"exists but is empty"),
        (b"just some text\n" * 100, b"is not an SQLite database"),
    ],
)
def test_a_file_that_is_not_an_index_is_never_overwritten(tmp_path, content, message):
    db = tmp_path / "archive.db"
    db.write_bytes(content)
    proc = cli("scan", SAMPLES, "--index", db)
    assert proc.returncode == 3
    assert message in proc.stderr
    assert db.read_bytes() == content


def test_another_applications_database_is_refused(tmp_path):
    db = tmp_path / "other.db"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE accounts (name TEXT)")
    con.commit()
    con.close()
    before = db.read_bytes()
    proc = cli("scan", SAMPLES, "--index", db)
    assert proc.returncode == 3
    assert b"another application" in proc.stderr
    assert db.read_bytes() == before


def test_a_pickle_in_the_index_is_data_not_code(indexed, tmp_path):
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):  # would create the marker file if ever unpickled
            return (Path.touch, (marker,))

    con = sqlite3.connect(indexed)
    con.execute("UPDATE articles SET signature = ? WHERE id = 1", (pickle.dumps(Payload()),))
    con.commit()
    con.close()
    check = cli("index", "check", "--index", indexed)
    assert check.returncode == 3
    assert b"signatures are not 128-value affine32 LeanMinHash bytes" in check.stdout
    assert cli("clusters", "--index", indexed).returncode == 0
    # A run that needs the signature refuses the damaged index instead of running it.
    dump = tmp_path / "dump"
    shutil.copytree(SAMPLES, dump)
    (dump / "004_70741a213c6bd5e9.txt").unlink()
    (dump / "000_61910848183f3758.txt").unlink()
    run = cli("scan", dump, "--index", indexed)
    assert run.returncode == 3, run.stderr
    assert not marker.exists()


def test_no_module_imports_pickle_or_its_relatives():
    pattern = re.compile(r"^\s*(import|from)\s+(pickle|cPickle|shelve|dill|marshal|joblib)\b", re.M)
    offenders = [
        str(p.relative_to(ROOT))
        for p in (ROOT / "src").rglob("*.py")
        if pattern.search(p.read_text(encoding="utf-8"))
    ]
    assert offenders == []


def test_a_failed_migration_leaves_the_old_schema_working(tmp_path, monkeypatch):
    db = tmp_path / "archive.db"
    Index.open(db, Config()).close()
    before = digest(db)
    bad_step = ("CREATE TABLE added_in_v2 (x)", "CREATE TABLE broken (")
    monkeypatch.setitem(schema.MIGRATIONS, SCHEMA_VERSION + 1, bad_step)
    monkeypatch.setattr(schema, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    with pytest.raises(IndexError_):
        connect(db)
    monkeypatch.undo()
    con = connect(db)  # the old version opens as before: the half migration rolled back
    try:
        assert con.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        names = {n for (n,) in con.execute("SELECT name FROM sqlite_master")}
        assert "added_in_v2" not in names
    finally:
        con.close()
    assert digest(db) == before


def test_index_check_reports_broken_invariants(indexed):
    assert cli("index", "check", "--index", indexed, "--deep").returncode == 0
    con = sqlite3.connect(indexed)
    key, article = con.execute("SELECT key, article FROM bands LIMIT 1").fetchone()
    con.execute("DELETE FROM bands WHERE key = ? AND article = ?", (key, article))
    con.commit()
    con.close()
    deep = cli("index", "check", "--index", indexed, "--deep")
    assert deep.returncode == 3
    assert b"band keys missing" in deep.stdout

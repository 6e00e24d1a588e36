"""B8: indexes written by released versions still open, check clean and carry on.

``tests/data/index-schema<N>.db`` is an index of ``samples/dump`` as a release with schema N
wrote it (schema 1: version 0.1.0; schema 2: version 0.2.0; schema 3: version 0.3.0). When
the schema changes, add the new release's index beside the old ones: every fixture must keep
working with every later version.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from pathlib import Path

import pytest
from conftest import ROOT, SAMPLES
from harness import generate_archive, run_cli
from indexing import as_schema_1, as_schema_2, tables

from dedupe_releases.errors import ExitCode
from dedupe_releases.index.schema import SCHEMA_VERSION, connect

FIXTURES = sorted((ROOT / "tests" / "data").glob("index-schema*.db"))


def test_there_is_a_fixture_for_the_current_schema():
    assert ROOT / "tests" / "data" / f"index-schema{SCHEMA_VERSION}.db" in FIXTURES


@pytest.fixture
def dump(tmp_path: Path) -> Path:
    """The samples with fresh mtimes: the index must tell by content that nothing changed."""
    folder = tmp_path / "dump"
    shutil.copytree(SAMPLES, folder)
    return folder


@pytest.mark.parametrize("fixture", FIXTURES, ids=lambda p: p.stem)
def test_an_index_from_a_released_schema_checks_clean_and_carries_on(tmp_path, dump, fixture):
    index = tmp_path / "archive.db"
    shutil.copyfile(fixture, index)
    fresh = tmp_path / "fresh.db"

    check = run_cli("index", "check", "--index", index)
    assert check.rc == ExitCode.OK, check

    carried = run_cli("scan", dump, "--index", index, "--changes")
    assert carried.rc == ExitCode.OK, carried  # no change: the samples are the same text
    assert carried.stderr_lines == []
    rebuilt = run_cli("scan", dump, "--index", fresh)
    assert rebuilt.rc == ExitCode.OK, rebuilt

    old = run_cli("clusters", "--index", index)
    new = run_cli("clusters", "--index", fresh)
    assert old.rc == new.rc == ExitCode.OK
    assert json.loads(old.stdout) == json.loads(new.stdout)  # same clusters, same ids

    with sqlite3.connect(index) as db:
        (version,) = db.execute("PRAGMA user_version").fetchone()
    assert version == SCHEMA_VERSION  # migrated forward, never left behind
    assert run_cli("index", "check", "--index", index).rc == ExitCode.OK
    assert hashed(index) == hashed(fresh)  # every hash as this version makes it


def hashed(db: Path) -> dict[str, object]:
    """What an index holds of its articles' hashes, by article reference (row ids may differ):
    their title hashes, shingle counts, signatures, sentence and line hashes, the rows of
    ``bands``, ``sentences`` and ``lines``, and the learned boilerplate."""
    con = sqlite3.connect(db)
    try:
        ref = dict(con.execute("SELECT id, ref FROM articles"))
        out: dict[str, object] = {
            "articles": sorted(
                con.execute(
                    "SELECT ref, title_hash, shingles, signature, sentences, lines FROM articles"
                )
            ),
            "boilerplate": sorted(con.execute("SELECT hash FROM boilerplate")),
        }
        for table, column in (("bands", "key"), ("sentences", "hash"), ("lines", "hash")):
            rows = con.execute(f"SELECT {column}, article FROM {table}")
            out[table] = sorted((h, ref[a]) for h, a in rows)
        return out
    finally:
        con.close()


@pytest.mark.parametrize(
    ("rewrite", "changed"),
    [
        (as_schema_1, ("lines", "boilerplate")),
        (as_schema_2, ("articles", "bands", "sentences", "lines", "boilerplate")),
    ],
    ids=["schema1", "schema2"],
)
def test_an_index_written_the_old_way_migrates_to_the_rows_this_version_writes(
    tmp_path, rewrite, changed
):
    """Schema 2 changed how body lines and titles are hashed, schema 3 how a token is
    (``sketch.word_hash``, not CRC-32): an index written the older way (``as_schema_1``,
    ``as_schema_2``) comes out of the migration as this version writes it, signatures, keys
    and learned boilerplate and all, and a scan carries on from it with no change."""
    dump = generate_archive(tmp_path / "corpus", 800, seed=5, quiet=True)
    db = tmp_path / "archive.db"
    assert run_cli("scan", dump, "--index", db, "-o", os.devnull).rc == ExitCode.OK
    built = tables(db)
    assert len(built["boilerplate"]) >= 3  # the archive's site furniture was learned
    con = sqlite3.connect(db)
    rewrite(con)
    con.close()
    old = tables(db)
    for table in changed:
        assert old[table] != built[table], table
    assert len(old["boilerplate"]) == len(built["boilerplate"])

    check = run_cli("index", "check", "--index", db)
    assert check.rc == ExitCode.OK and b"a scan with this version upgrades it" in check.stdout
    connect(db).close()  # a writer's connection migrates
    assert tables(db) == built
    deep = run_cli("index", "check", "--index", db, "--deep")
    assert deep.rc == ExitCode.OK and b"body-line hashes recomputed from text" in deep.stdout, deep
    carried = run_cli("scan", dump, "--index", db, "--changes")
    assert carried.rc == ExitCode.OK and carried.stderr_lines == [], carried

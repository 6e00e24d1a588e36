"""B8: indexes written by released versions still open, check clean and carry on.

``tests/data/index-schema<N>.db`` is an index of ``samples/dump`` as a release with schema N
wrote it (schema 1: version 0.1.0). When the schema changes, add the new release's index
beside the old ones: every fixture must keep working with every later version.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from conftest import ROOT, SAMPLES
from harness import run_cli

from dedupe_releases.errors import ExitCode
from dedupe_releases.index.schema import SCHEMA_VERSION

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

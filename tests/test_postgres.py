"""The index on a real PostgreSQL server (tests/pgserver.py) against the SQLite file.

Same output, same events and cluster ids, and the same rows in every table as SQLite, on the
samples and on a generated archive with an incremental second run; ``clusters``, ``index
check`` and ``index changes`` on a URL; two overlapping runs (LOCKED, ``--wait``); the server
killed or stopped in the middle of a run (RELIABILITY.md B14: one line, exit 3, and the next
run completes); bad URLs, unreachable servers and databases that are not an index.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import SAMPLES
from indexing import VOLATILE, as_schema_1, cli, generate, grown, popen, read_only, tables
from pgserver import PgServer, _free_port, running_server

from dedupe_releases.cli import cli as main

# Without the driver: skipped, except under CI, where it is an error (never skipped silently).
psycopg = pytest.importorskip("psycopg") if not os.environ.get("CI") else __import__("psycopg")


def age(folder: Path, seconds: float = 3600) -> None:
    """File times an hour old: the racy-timestamp rule then re-hashes nothing, on either run."""
    then = time.time() - seconds
    for p in folder.iterdir():
        os.utime(p, (then, then))


def query(url: str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(url, autocommit=True) as con:
        cursor = con.execute(sql, params or None)
        return cursor.fetchall() if cursor.description else []


def pg_tables(url: str, db: Path) -> dict[str, list[tuple[Any, ...]]]:
    """``indexing.tables`` of the PostgreSQL index, with the SQLite file's columns."""
    sq = read_only(db)
    try:
        columns = {
            name: [
                c[1]
                for c in sq.execute(f"PRAGMA table_info({name})")
                if (name, c[1]) not in VOLATILE
            ]
            for name in tables(db)
        }
    finally:
        sq.close()
    with psycopg.connect(url) as con:
        return {
            name: sorted(con.execute(f"SELECT {', '.join(cols)} FROM {name}").fetchall(), key=repr)
            for name, cols in columns.items()
        }


def statuses(url: str) -> list[str]:
    return [s for (s,) in query(url, "SELECT status FROM runs ORDER BY id")]


def findings(proc: subprocess.CompletedProcess[bytes]) -> list[str]:
    """``index check``'s lines without the last one (which names the index)."""
    return proc.stdout.decode().splitlines()[:-1]


def in_process(*args: str | Path) -> subprocess.CompletedProcess[bytes]:
    """A read-only command run in this process (click's runner): no interpreter to start."""
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    return subprocess.CompletedProcess(
        args, result.exit_code, result.stdout_bytes, result.stderr_bytes
    )


def same_runs(db: Path, url: str, *args: str | Path) -> bytes:
    """One command on the SQLite index and on the PostgreSQL one: equal exit codes, equal
    stdout, nothing on stderr; returns the stdout. Scans run as cron runs them (a
    subprocess each), reports in this process."""
    run = cli if args[0] == "scan" else in_process
    sq = run(*args, "--index", db)
    pg = run(*args, "--index", url)
    assert sq.stderr == pg.stderr == b"", (sq.stderr, pg.stderr)
    assert sq.returncode == pg.returncode, (sq.returncode, pg.returncode)
    assert pg.stdout == sq.stdout
    return pg.stdout


# -- the same index ---------------------------------------------------------------------------


def test_samples_give_the_same_output_and_rows_as_sqlite(postgres_server, tmp_path):
    url = postgres_server.createdb("samples")
    db = tmp_path / "archive.db"
    same_runs(db, url, "scan", SAMPLES, "-f", "json")
    for fmt in ("json", "jsonl"):
        same_runs(db, url, "clusters", "-f", fmt)
    same_runs(db, url, "index", "changes")
    check_sq = in_process("index", "check", "--index", db)
    check_pg = in_process("index", "check", "--index", url)
    assert (check_sq.returncode, check_pg.returncode) == (0, 0)
    assert findings(check_pg) == findings(check_sq)
    assert check_pg.stdout.decode().splitlines()[-1] == f"index {url}: ok"
    assert pg_tables(url, db) == tables(db)
    # Nothing changed: nothing printed, exit 0, on both.
    out = same_runs(db, url, "scan", SAMPLES, "--changes")
    assert out == b""
    assert statuses(url) == ["ok", "ok"]


def test_an_index_of_schema_1_is_migrated_on_the_server_as_in_a_file(postgres_server, tmp_path):
    """Schema 2 hashes body lines and titles anew: on the server as in a file, an index
    written the schema 1 way is checked as it is, then migrated by the next writer to the
    rows this version writes, the learned boilerplate carried over."""
    from dedupe_releases.index.schema import connect
    from dedupe_releases.index.target import parse_target

    dump = generate(tmp_path / "corpus", 800, 5)
    url = postgres_server.createdb("schema1")
    db = tmp_path / "archive.db"
    same_runs(db, url, "scan", dump, "-o", os.devnull)
    built = pg_tables(url, db)
    assert built == tables(db) and len(built["boilerplate"]) >= 3
    with psycopg.connect(url) as con:
        as_schema_1(con, "%s")
    assert pg_tables(url, db)["lines"] != built["lines"]
    check = in_process("index", "check", "--index", url)
    assert check.returncode == 0 and "a scan with this version upgrades it" in check.stdout.decode()
    connect(parse_target(url)).close()  # a writer's connection migrates
    assert pg_tables(url, db) == built
    deep = in_process("index", "check", "--index", url, "--deep")
    assert deep.returncode == 0 and "body-line hashes recomputed" in deep.stdout.decode(), deep


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> dict[str, Any]:
    """A generated archive of 2,000 articles (``live``), the 2,200-article stream it grows
    into (``large``), and a 300-article one (``small``) with its SQLite index and report."""
    root = tmp_path_factory.mktemp("pg")
    base = generate(root / "base", 2000, 7)
    large = generate(root / "large", 2200, 7)
    live = root / "live"
    shutil.copytree(base, live)
    age(live)
    small = generate(root / "small", 300, 9)
    age(small)
    small_db = root / "small.db"
    report = cli("scan", small, "--index", small_db, "-f", "json")
    assert report.returncode == 0, report.stderr
    return {
        "root": root,
        "base": base,
        "large": large,
        "live": live,
        "small": small,
        "small_db": small_db,
        "small_report": report.stdout,
    }


def test_a_generated_archive_and_its_nightly_update_match_sqlite(postgres_server, archive):
    url = postgres_server.createdb("generated")
    db = archive["root"] / "generated.db"
    live: Path = archive["live"]
    first = same_runs(db, url, "scan", live, "-f", "json")
    assert len(first) > 100_000
    assert pg_tables(url, db) == tables(db)

    # The night's changes: new files, the stream's last file grown, one file edited in the
    # middle of an article, one deleted.
    changes = grown(archive["base"], archive["large"], archive["root"] / "grown")
    assert changes["added"] and changes["changed"]
    shutil.rmtree(live)
    shutil.move(archive["root"] / "grown", live)
    names = sorted(p.name for p in live.iterdir())
    edited = live / names[len(names) // 2]
    text = edited.read_text()
    cut = text.index("\n\n", len(text) // 2)
    edited.write_text(
        text[:cut] + " A sentence added by an editor changes this article." + text[cut:]
    )
    (live / names[len(names) // 3]).unlink()
    age(live, 1800)

    events = same_runs(db, url, "scan", live, "--changes")
    kinds = {line.split(b'"type": "')[1].split(b'"')[0] for line in events.splitlines()}
    assert {b"article_removed", b"joined_cluster"} <= kinds, kinds
    counts = [
        query(url, "SELECT counts FROM runs ORDER BY id")[-1][0],
        read_only(db).execute("SELECT counts FROM runs ORDER BY id").fetchall()[-1][0],
    ]
    assert counts[0] == counts[1]
    assert '"files_removed": 1' in counts[0] and '"files_reread": 2' in counts[0]
    same_runs(db, url, "clusters", "-f", "json")
    assert pg_tables(url, db) == tables(db)
    check = in_process("index", "check", "--index", url)
    assert check.returncode == 0, check.stdout
    assert findings(check) == [
        "info: 56 files, 2,164 articles, 225 relations, 127 clusters after 2 reconciled runs"
    ]


# -- one writer -------------------------------------------------------------------------------


def lock_holder(url: str) -> int | None:
    """The client pid of the session holding an advisory lock, from its application name."""
    rows = query(
        url,
        "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
        " WHERE l.locktype = 'advisory' AND l.granted AND a.datname = current_database()",
    )
    for (name,) in rows:
        m = re.fullmatch(r"dedupe-releases pid (\d+)", name or "")
        if m:
            return int(m.group(1))
    return None


def test_two_overlapping_runs_on_one_database(postgres_server, archive):
    url = postgres_server.createdb("overlap")
    small = archive["small"]
    first = popen("scan", small, "--index", url)
    deadline = time.monotonic() + 60
    while lock_holder(url) != first.pid and time.monotonic() < deadline:
        time.sleep(0.005)
    first.send_signal(signal.SIGSTOP)  # frozen while it holds the lock
    try:
        started = time.monotonic()
        second = cli("scan", small, "--index", url)
        at_once = time.monotonic() - started
        assert second.returncode == 5
        assert re.fullmatch(
            rf"dedupe-releases: index {re.escape(url)} is in use by pid {first.pid} on 127\.0\.0\.1"
            r" since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \(use --wait SECONDS\)\n",
            second.stderr.decode(),
        ), second.stderr
        started = time.monotonic()
        waited = cli("scan", small, "--index", url, "--wait", "1")
        assert waited.returncode == 5
        assert b"after waiting 1 s" in waited.stderr
        assert time.monotonic() - started >= 1 > at_once - 2
        waiter = popen("scan", small, "--index", url, "--wait", "300", "--changes", stdout=True)
        time.sleep(0.5)
        assert waiter.poll() is None  # waiting for the lock
    finally:
        first.send_signal(signal.SIGCONT)
    assert first.wait(timeout=300) == 0
    out, err = waiter.communicate(timeout=300)
    assert waiter.returncode == 0, err  # it ran after the first and found nothing new
    assert (out, err) == (b"", b"")
    assert statuses(url) == ["ok", "ok"]
    assert pg_tables(url, archive["small_db"]) == tables(archive["small_db"])


# -- the server lost in the middle of a run (B14) ---------------------------------------------


@pytest.fixture(scope="module")
def fault_server() -> Iterator[PgServer]:
    """A server of its own: these tests kill it."""
    with running_server() as server:
        yield server


def committed_files(url: str) -> int:
    try:
        return int(query(url, "SELECT count(*) FROM files")[0][0])
    except psycopg.Error:
        return -1


@pytest.mark.fault
@pytest.mark.parametrize("how", ["kill", "stop"])
def test_the_server_lost_mid_run_then_the_next_run_completes(fault_server, archive, how):
    url = fault_server.createdb(f"lost_{how}")
    small = archive["small"]
    proc = popen("scan", small, "--index", url, "-f", "json", stdout=True)
    deadline = time.monotonic() + 120
    while committed_files(url) < 2 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.005)
    if how == "kill":
        fault_server.kill()  # SIGKILL to the postmaster and every backend
    else:
        fault_server.stop()  # a fast shutdown: sessions are terminated
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 3, err
    assert out == b""
    lines = err.decode().splitlines()
    assert len(lines) == 1, lines
    assert re.fullmatch(
        rf"dedupe-releases: index {re.escape(url)}: lost the connection to the server \(.+\);"
        r" work committed so far is kept; run again when the server is back",
        lines[0],
    ), lines
    assert b"Traceback" not in err

    # Down at start: one line, exit 3, nothing written.
    down = cli("scan", small, "--index", url)
    assert down.returncode == 3
    assert re.fullmatch(
        rf"dedupe-releases: index {re.escape(url)}: cannot connect to the server \(.+\)\n",
        down.stderr.decode(),
    ), down.stderr

    fault_server.start()  # crash recovery after a kill
    check = in_process("index", "check", "--index", url)
    assert check.returncode == 0, check.stdout
    assert any("did not finish" in line for line in findings(check)), check.stdout
    rerun = cli("scan", small, "--index", url, "-f", "json")
    assert rerun.returncode == 0, rerun.stderr
    assert rerun.stdout == archive["small_report"]
    assert statuses(url)[-2:] == ["crashed", "ok"]
    assert pg_tables(url, archive["small_db"]) == tables(archive["small_db"])
    assert in_process("index", "check", "--index", url).returncode == 0


# -- URLs and databases that are not an index -------------------------------------------------


def test_bad_urls_and_unreachable_servers_are_one_line_without_the_password(postgres_server):
    closed = _free_port()
    unreachable = f"postgresql://dedupe:s3cret@127.0.0.1:{closed}/archive"
    cases = [
        (["scan", SAMPLES, "--index", unreachable], 3, "cannot connect to the server"),
        (["clusters", "--index", unreachable.replace("postgresql", "postgres", 1)], 3, "cannot"),
        (["index", "check", "--index", unreachable], 3, "cannot connect to the server"),
        (["index", "changes", "--index", unreachable], 3, "cannot connect to the server"),
        (
            ["scan", SAMPLES, "--index", f"{postgres_server.url('x')}?password=s3cret&bogus=1"],
            2,
            "not a valid PostgreSQL URL",
        ),
        (
            ["scan", SAMPLES, "--index", "postgresql://dedupe:s3cret@127.0.0.1:port/archive"],
            3,
            "cannot connect to the server",
        ),
        (
            ["clusters", "--index", postgres_server.url("postgres")],
            3,
            "holds no index yet",
        ),
    ]
    for args, code, words in cases:
        proc = (cli if args[0] == "scan" else in_process)(*args)
        err = proc.stderr.decode()
        assert proc.returncode == code, (args, err)
        assert len(err.splitlines()) == 1 and words in err, (args, err)
        assert err.startswith("dedupe-releases: index postgres"), err
        assert b"s3cret" not in proc.stderr + proc.stdout
        if "s3cret" in args[-1] or "s3cret" in str(args[2]):
            assert ":***@" in err or "password=***" in err, err


def test_databases_that_are_not_an_index_are_refused_untouched(postgres_server):
    url = postgres_server.createdb("foreign")
    query(url, "CREATE TABLE invoices (id integer)")
    proc = cli("scan", SAMPLES, "--index", url)
    assert proc.returncode == 3
    assert "holds tables of another application (first: invoices)" in proc.stderr.decode()
    assert query(
        url, "SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace"
    ) == [("invoices",)]

    url = postgres_server.createdb("hostile")
    assert cli("scan", SAMPLES, "--index", url).returncode == 0
    query(
        url,
        "CREATE FUNCTION nothing() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NULL; END';"
        " CREATE TRIGGER swallow BEFORE INSERT ON relations FOR EACH ROW EXECUTE FUNCTION"
        " nothing()",
    )
    for args in (["scan", SAMPLES], ["clusters"], ["index", "check"]):
        proc = (cli if args[0] == "scan" else in_process)(*args, "--index", url)
        assert proc.returncode == 3, args
        assert (
            "has an unexpected object (trigger swallow); not using it"
            in (proc.stderr + proc.stdout).decode()
        )
    query(url, "DROP TRIGGER swallow ON relations")
    query(url, "ALTER TABLE relations ALTER COLUMN jaccard TYPE real")
    proc = in_process("clusters", "--index", url)
    assert proc.returncode == 3
    assert "is damaged: table relations is missing or altered" in proc.stderr.decode()
    query(url, "ALTER TABLE relations ALTER COLUMN jaccard TYPE double precision")
    assert in_process("index", "check", "--index", url).returncode == 0

    # Foreign keys switched off and broken: the catalog and the rows say so.
    query(url, "ALTER TABLE bands DISABLE TRIGGER ALL")
    query(url, "INSERT INTO bands (key, article) VALUES (1, 999999)")
    check = in_process("index", "check", "--index", url)
    assert check.returncode == 3
    lines = check.stdout.decode().splitlines()
    assert "error: foreign keys: 1 rows of bands.article point nowhere" in lines
    assert "error: foreign keys of bands are not enforced (their triggers are disabled)" in lines
    assert lines[-1] == f"index {url}: damaged"
    query(url, "DELETE FROM bands WHERE article = 999999")
    query(url, "ALTER TABLE bands ENABLE TRIGGER ALL")
    assert in_process("index", "check", "--index", url).returncode == 0

    query(url, "UPDATE schema_version SET version = 99")
    proc = cli("scan", SAMPLES, "--index", url)
    assert proc.returncode == 3
    assert "was written by a newer dedupe-releases (schema 99" in proc.stderr.decode()

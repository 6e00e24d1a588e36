"""The index's SQLite schema, its migrations, and opening a database defensively.

An index file may come from anywhere, so it is opened like untrusted input (sqlite.org's
security page): ``trusted_schema=OFF``, no SQL functions of ours, and the schema compared
object by object with the one this version writes before anything else is read. The schema
version lives in ``PRAGMA user_version``; each migration runs in one transaction together
with the new version number, so a killed migration leaves the old schema working.
``connect`` also opens an index in PostgreSQL (``pg.py``, which translates this schema).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import urllib.request
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

from dedupe_releases.errors import IndexError_
from dedupe_releases.index.target import Target, need_psycopg

if TYPE_CHECKING:
    from dedupe_releases.index.pg import PgConnection

#: An open index: an SQLite connection, or a PostgreSQL one with the same interface
#: (``index/pg.py``).
Connection: TypeAlias = "sqlite3.Connection | PgConnection"

#: 'ddrp' in ASCII: ``PRAGMA application_id`` of every index (``file`` shows it).
APPLICATION_ID = 0x64647270
SCHEMA_VERSION = 3

#: Article states. ``added``/``retiring`` exist only between a file's commit and the end of
#: its run ("pending"); readers see ``active`` + ``retiring`` (the last finished run), the
#: run being finished works on ``added`` + ``active`` (what this run will leave behind).
FINAL_STATES = ("added", "active")
SHOWN_STATES = ("active", "retiring")

_V1 = (
    """CREATE TABLE meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    )""",
    """CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        started TEXT NOT NULL,
        ended TEXT,
        pid INTEGER NOT NULL,
        status TEXT NOT NULL
            CHECK (status IN ('running', 'ok', 'partial', 'interrupted', 'crashed', 'failed')),
        tool_version TEXT NOT NULL,
        parameters TEXT NOT NULL,
        roots TEXT NOT NULL,
        generation INTEGER,
        counts TEXT NOT NULL DEFAULT '{}'
    )""",
    """CREATE TABLE files (
        id INTEGER PRIMARY KEY,
        path TEXT NOT NULL UNIQUE,
        state TEXT NOT NULL CHECK (state IN ('present', 'gone')),
        rank INTEGER NOT NULL,
        size INTEGER,
        mtime_ns INTEGER,
        ctime_ns INTEGER,
        inode INTEGER,
        sha256 TEXT,
        encoding TEXT,
        problem TEXT,
        warnings TEXT NOT NULL DEFAULT '[]',
        source_bytes BLOB,
        seen_ns INTEGER
    )""",
    """CREATE TABLE articles (
        id INTEGER PRIMARY KEY,
        ref TEXT NOT NULL,
        file INTEGER NOT NULL REFERENCES files(id),
        ordinal INTEGER NOT NULL CHECK (ordinal >= 1),
        first_line INTEGER NOT NULL,
        last_line INTEGER NOT NULL,
        kind TEXT,
        title TEXT NOT NULL,
        title_hash INTEGER NOT NULL,
        body BLOB NOT NULL,
        content_hash TEXT NOT NULL,
        fixes TEXT NOT NULL,
        title_repaired INTEGER NOT NULL CHECK (title_repaired IN (0, 1)),
        truncated INTEGER NOT NULL CHECK (truncated IN (0, 1)),
        shingles INTEGER NOT NULL CHECK (shingles >= 0),
        signature BLOB NOT NULL,
        sentences BLOB NOT NULL,
        lines BLOB NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('added', 'active', 'retiring', 'gone')),
        first_generation INTEGER,
        gone_generation INTEGER
    )""",
    "CREATE UNIQUE INDEX articles_final_ref ON articles(ref) WHERE state IN ('added', 'active')",
    "CREATE UNIQUE INDEX articles_shown_ref ON articles(ref) WHERE state IN ('active', 'retiring')",
    "CREATE INDEX articles_file ON articles(file, state)",
    "CREATE INDEX articles_content ON articles(content_hash, state)",
    "CREATE INDEX articles_pending ON articles(state) WHERE state IN ('added', 'retiring')",
    """CREATE TABLE bands (
        key INTEGER NOT NULL,
        article INTEGER NOT NULL REFERENCES articles(id),
        PRIMARY KEY (key, article)
    ) WITHOUT ROWID""",
    """CREATE TABLE sentences (
        hash INTEGER NOT NULL,
        article INTEGER NOT NULL REFERENCES articles(id),
        PRIMARY KEY (hash, article)
    ) WITHOUT ROWID""",
    """CREATE TABLE lines (
        hash INTEGER NOT NULL,
        article INTEGER NOT NULL REFERENCES articles(id),
        PRIMARY KEY (hash, article)
    ) WITHOUT ROWID""",
    """CREATE TABLE boilerplate (
        hash INTEGER PRIMARY KEY
    )""",
    """CREATE TABLE relations (
        a INTEGER NOT NULL REFERENCES articles(id),
        b INTEGER NOT NULL REFERENCES articles(id),
        relation TEXT NOT NULL CHECK (relation IN ('exact', 'near', 'contains', 'contained_in',
            'related', 'template_sibling', 'none')),
        jaccard REAL,
        containment REAL,
        ratio REAL,
        evidence TEXT NOT NULL,
        facts TEXT NOT NULL DEFAULT '[]',
        PRIMARY KEY (a, b),
        CHECK (a < b)
    ) WITHOUT ROWID""",
    "CREATE INDEX relations_b ON relations(b)",
    """CREATE TABLE clusters (
        id TEXT PRIMARY KEY,
        state TEXT NOT NULL CHECK (state IN ('active', 'gone')),
        canonical INTEGER REFERENCES articles(id),
        runner_up INTEGER REFERENCES articles(id),
        reasons TEXT NOT NULL,
        created INTEGER NOT NULL,
        changed INTEGER NOT NULL,
        gone INTEGER
    ) WITHOUT ROWID""",
    """CREATE TABLE cluster_members (
        cluster TEXT NOT NULL REFERENCES clusters(id),
        article INTEGER NOT NULL REFERENCES articles(id),
        similarity REAL NOT NULL,
        decision TEXT,
        PRIMARY KEY (cluster, article)
    ) WITHOUT ROWID""",
    "CREATE UNIQUE INDEX cluster_members_article ON cluster_members(article)",
    """CREATE TABLE decisions (
        kind TEXT NOT NULL CHECK (kind IN ('same', 'different', 'canonical')),
        a TEXT NOT NULL,
        b TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (kind, a, b)
    ) WITHOUT ROWID""",
    """CREATE TABLE events (
        generation INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        type TEXT NOT NULL,
        data TEXT NOT NULL,
        PRIMARY KEY (generation, seq)
    ) WITHOUT ROWID""",
)

#: ``MIGRATIONS[n]`` takes a database from schema ``n - 1`` to ``n`` (its DDL; what it
#: changes in the rows is ``upgrades.DATA_STEPS[n]``, run in the same transaction). Schemas 2
#: and 3 changed how lines, titles and tokens are hashed, not the tables.
MIGRATIONS: dict[int, tuple[str, ...]] = {1: _V1, 2: (), 3: ()}

#: Objects SQLite makes itself (``ANALYZE``/``PRAGMA optimize`` statistics) are allowed.
_INTERNAL = ("sqlite_stat",)

#: How long a connection waits for another one's write lock before "database is locked".
BUSY_TIMEOUT_MS = 10_000


def expected_schema(version: int = SCHEMA_VERSION) -> set[tuple[str, str, str, str | None]]:
    """``(type, name, tbl_name, sql)`` of every object a fresh index of ``version`` holds."""
    con = sqlite3.connect(":memory:")
    try:
        for step in range(1, version + 1):
            for ddl in MIGRATIONS[step]:
                con.execute(ddl)
        return set(con.execute("SELECT type, name, tbl_name, sql FROM sqlite_master"))
    finally:
        con.close()


def _uri(path: Path, mode: str) -> str:
    return f"file:{urllib.request.pathname2url(os.fspath(path.absolute()))}?mode={mode}"


#: What reading a damaged or hostile index can raise besides SQLite's own errors: text that
#: is not UTF-8 or not JSON (ValueError), JSON of another shape (TypeError), a body that does
#: not inflate (zlib.error), a row pointing at a row that is not there, a cluster without
#: members (LookupError).
DAMAGE: tuple[type[Exception], ...] = (
    sqlite3.Error,
    zlib.error,
    ValueError,
    TypeError,
    LookupError,
)


@contextlib.contextmanager
def reading(path: object) -> Iterator[None]:
    """Report anything in ``DAMAGE`` raised inside as the index's damage (``damaged``)."""
    try:
        yield
    except DAMAGE as exc:
        raise damaged(path, exc) from None


def damaged(path: object, exc: BaseException) -> IndexError_:
    """The one message for an index SQLite cannot read or write."""
    name = getattr(exc, "sqlite_errorname", "")
    if name == "SQLITE_FULL" or "disk is full" in str(exc):
        return IndexError_(
            f"index {path}: disk full while writing (SQLITE_FULL); files done so far are kept;"
            " free space and run again"
        )
    if name.startswith("SQLITE_IOERR") and name != "SQLITE_IOERR_SHORT_READ":
        return IndexError_(
            f"index {path}: cannot write ({name}: {exc}); the disk may be full or failing;"
            " files done so far are kept; free space or check the disk and run again"
        )
    if isinstance(exc, KeyError):
        exc = ValueError(f"a row refers to {exc} which is not there")
    elif isinstance(exc, zlib.error):
        exc = ValueError(f"a stored text does not decompress: {exc}")
    elif not isinstance(exc, sqlite3.Error):
        exc = ValueError(f"{type(exc).__name__}: {exc}")
    if name == "SQLITE_NOTADB" or "not a database" in str(exc):
        return IndexError_(f"index {path} is not an SQLite database (nor a dedupe-releases index)")
    if name in ("SQLITE_READONLY", "SQLITE_CANTOPEN") or "readonly" in str(exc):
        return IndexError_(
            f"index {path}: cannot write the index or its folder ({exc}); a WAL index needs a"
            " writable folder for its -wal and -shm files"
        )
    return IndexError_(
        f"index {path} is damaged ({exc}); run `dedupe-releases index check --index {path}`"
        " and restore a backup, or start a new index"
    )


def _check_file(path: Path) -> None:
    """Refuse an empty file before SQLite would quietly turn it into a new database.

    Only ``stat``: opening and closing the database file outside SQLite while this process
    holds a connection to it would drop SQLite's POSIX locks (sqlite.org/howtocorrupt.html,
    2.2). A file that is not SQLite at all is reported by SQLite itself (SQLITE_NOTADB).
    """
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise IndexError_(f"index {path}: cannot read ({exc.strerror or exc})") from None
    if size == 0:
        raise IndexError_(f"index {path} exists but is empty; remove it to start a new index there")


def connect(
    target: Target,
    *,
    create: bool = False,
    reader: bool = False,
    session: PgConnection | None = None,
    older: bool = False,
) -> Connection:
    """Open the index at ``target``: an SQLite file (``connect_file``) or a PostgreSQL
    database (``pg.connect``; ``session``: a connection that holds the writer lock).

    ``older``: a reader opens an index of an older schema too, as it is (``index check``:
    the tables of every schema so far are the same, what changed is how some hashes are
    made); other readers refuse it until a scan upgrades it."""
    if isinstance(target, Path):
        return connect_file(target, create=create, reader=reader, older=older)
    need_psycopg(target)
    from dedupe_releases.index import pg

    return pg.connect(target, create=create, reader=reader, session=session, older=older)


def exists(target: Target) -> bool:
    """Is there an index at ``target`` yet? (A server that cannot be reached: IndexError_.)"""
    if isinstance(target, Path):
        return target.exists()
    need_psycopg(target)
    from dedupe_releases.index import pg

    return pg.exists(target)


def connect_file(
    path: Path, *, create: bool = False, reader: bool = False, older: bool = False
) -> sqlite3.Connection:
    """Open ``path`` (creating it when ``create`` and it does not exist), checked.

    A ``reader`` never creates, migrates or writes, and reads in one transaction (one WAL
    snapshot) until it is closed. A writer's connection is in autocommit mode: every write
    goes through ``transaction``. (WAL readers still need a writable folder for
    the ``-shm`` file; SQLite's ``mode=ro`` fails once the ``-wal``/``-shm`` files are gone.)
    """
    exists = path.exists()
    if exists:
        if path.is_dir():
            raise IndexError_(f"index {path} is a folder, not a file")
        _check_file(path)
    elif not create:
        raise IndexError_(f"index {path} does not exist (a scan with --index creates it)")
    elif not path.parent.absolute().is_dir():
        raise IndexError_(f"index {path}: folder {path.parent} does not exist")
    else:
        _create(path)
    if create:
        remove_stale(path)
    mode = "rw"
    try:
        con = sqlite3.connect(
            _uri(path, mode), uri=True, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000
        )
    except sqlite3.Error as exc:
        raise damaged(path, exc) from None
    try:
        # Before anything reads the schema: functions in a hostile schema must not run.
        con.execute("PRAGMA trusted_schema = OFF")
        con.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        con.execute("PRAGMA foreign_keys = ON")
        con.execute("PRAGMA cache_size = -16000")  # 16 MB of page cache, whatever the size
        if reader:  # one snapshot for all it reads: a scan may commit between two queries
            con.execute("BEGIN")
        _check_identity(con, path)
        if reader:
            version = con.execute("PRAGMA user_version").fetchone()[0]
            if version < SCHEMA_VERSION and not (older and version >= 1):
                raise IndexError_(
                    f"index {path} has schema {version}; a scan with this version upgrades it"
                )
        else:
            migrate(con, path)
            if con.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                con.execute("PRAGMA journal_mode = WAL")
            # WAL + NORMAL: every commit survives a crash of the process; after a power cut
            # the index is still consistent but the last commits may be lost, and the next
            # run simply reads those files again. A run's final commit is made FULL.
            con.execute("PRAGMA synchronous = NORMAL")
        check_schema(con, path)
    except DAMAGE as exc:  # (an SQLite message with bytes that are not UTF-8: a ValueError)
        con.close()
        raise damaged(path, exc) from None
    except BaseException:
        con.close()
        raise
    return con


def remove_stale(path: Path) -> None:
    """Remove temporary files a killed creation left (call only holding the writer lock)."""
    for stale in path.parent.absolute().glob(f".{path.name}.*.tmp*"):
        with contextlib.suppress(OSError):
            stale.unlink()


def _create(path: Path) -> None:
    """Create an empty index whole or not at all: built under a temporary name in the same
    folder, synced, then linked into place (a kill during creation leaves no half-made file
    at ``path``; stale temporary files are removed by the next creation, under the lock)."""
    folder = path.parent.absolute()
    remove_stale(path)
    tmp = folder / f".{path.name}.{os.getpid()}.tmp"
    try:
        con = sqlite3.connect(tmp, isolation_level=None)
        try:
            con.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            con.execute("PRAGMA journal_mode = WAL")
            migrate(con, path)
        finally:
            con.close()  # the last connection checkpoints and removes the -wal file
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        with contextlib.suppress(FileExistsError):  # never replaces an existing file
            os.link(tmp, path)
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except (OSError, sqlite3.Error) as exc:
        raise IndexError_(
            f"index {path}: cannot create it in {folder} ({getattr(exc, 'strerror', None) or exc})"
        ) from None
    finally:
        for leftover in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
            with contextlib.suppress(OSError):
                leftover.unlink()


def _check_identity(con: sqlite3.Connection, path: Path) -> None:
    app = con.execute("PRAGMA application_id").fetchone()[0]
    version = con.execute("PRAGMA user_version").fetchone()[0]
    objects = con.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    if app != APPLICATION_ID and (objects or version):
        raise IndexError_(f"index {path} is an SQLite database of another application")
    if version > SCHEMA_VERSION:
        raise IndexError_(
            f"index {path} was written by a newer dedupe-releases (schema {version}; this"
            f" version reads up to {SCHEMA_VERSION}); upgrade dedupe-releases"
        )


def schema_version(con: Connection) -> int:
    """The schema version of an open index."""
    if isinstance(con, sqlite3.Connection):
        return int(con.execute("PRAGMA user_version").fetchone()[0])
    from dedupe_releases.index import pg

    return pg.version_of(con)


def migrate(con: sqlite3.Connection, path: Path) -> None:
    """Bring the schema up to ``SCHEMA_VERSION``, one transaction per step."""
    while (version := con.execute("PRAGMA user_version").fetchone()[0]) < SCHEMA_VERSION:
        with transaction(con):
            # Re-read inside the write lock: another process may have migrated meanwhile.
            if con.execute("PRAGMA user_version").fetchone()[0] != version:
                continue
            if version == 0:
                con.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            for ddl in MIGRATIONS[version + 1]:
                con.execute(ddl)
            upgrade_rows(con, version + 1)
            con.execute(f"PRAGMA user_version = {version + 1}")


def upgrade_rows(con: Connection, version: int) -> None:
    """Step ``version``'s change to the rows (``upgrades.DATA_STEPS``), if it has one."""
    from dedupe_releases.index.upgrades import DATA_STEPS

    step = DATA_STEPS.get(version)
    if step is not None:
        step(con)


def check_schema(con: sqlite3.Connection, path: Path) -> None:
    """Refuse any table, index, view or trigger this version did not create."""
    version = con.execute("PRAGMA user_version").fetchone()[0]
    found = set(con.execute("SELECT type, name, tbl_name, sql FROM sqlite_master"))
    expected = expected_schema(version)
    extra = sorted(o for o in found - expected if not o[1].startswith(_INTERNAL))
    if extra:
        kind, name = extra[0][0], extra[0][1]
        raise IndexError_(f"index {path} has an unexpected object ({kind} {name}); not using it")
    missing = sorted(expected - found)
    if missing:
        raise IndexError_(
            f"index {path} is damaged: {missing[0][0]} {missing[0][1]} is missing or altered"
        )


@contextlib.contextmanager
def transaction(con: Connection, *, durable: bool = False) -> Iterator[None]:
    """``BEGIN IMMEDIATE`` ... ``COMMIT``, rolled back on any exception.

    ``durable``: make this commit with ``synchronous=FULL`` (the WAL is synced before
    COMMIT returns), for the commit that ends a run. (PostgreSQL: ``BEGIN`` ... ``COMMIT``,
    ``synchronous_commit = on`` when durable.)
    """
    if not isinstance(con, sqlite3.Connection):
        with con.transaction(durable=durable):
            yield
        return
    if durable:
        con.execute("PRAGMA synchronous = FULL")
    con.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        if con.in_transaction:
            con.execute("ROLLBACK")
        raise
    else:
        con.execute("COMMIT")
    finally:
        if durable:
            con.execute("PRAGMA synchronous = NORMAL")

"""The index in a PostgreSQL database: the tables, rows and semantics of the SQLite file.

``--index postgresql://USER@HOST:PORT/DB`` keeps the index on a server, so that nightly runs
from several hosts share it. Everything above this module (``store.Index``, ``reconcile``,
``incremental``, ``check``) is the same code for both backends; what differs is here:

* **SQL.** The store writes portable SQL with ``?`` placeholders (``ON CONFLICT``,
  ``RETURNING``, explicit row ids of ``max(id) + 1``, which is SQLite's own rule, so both
  backends number rows alike). ``PgConnection`` offers the part of ``sqlite3.Connection``
  the store uses and turns ``?`` into psycopg's ``%s``.
* **Types.** The SQLite DDL of ``schema.MIGRATIONS`` is translated, not rewritten:
  ``INTEGER`` → ``BIGINT``, ``REAL`` → ``DOUBLE PRECISION`` (SQLite's REAL is 8 bytes),
  ``BLOB`` → ``BYTEA``, ``TEXT`` → ``TEXT COLLATE "C"`` (byte order, as SQLite compares), and
  no ``WITHOUT ROWID``.
* **Schema version.** A one-row table ``schema_version (application, version)`` instead of
  ``PRAGMA application_id``/``user_version``. Each migration is one transaction with its new
  version number (PostgreSQL's DDL is transactional), under a transaction-level advisory
  lock.
* **Schema check.** The catalog of the current schema (tables and columns, indexes,
  constraints, triggers, rules, policies) is compared with what the DDL creates in this
  session's temporary schema, in a transaction that is rolled back: any object this version
  did not create is refused, as in an SQLite file.
* **Integrity** (``index check``): every foreign key recounted, foreign-key triggers enabled,
  every index valid; SQLite's ``integrity_check`` has no server-side equivalent.
* **One writer.** ``pg_try_advisory_lock`` on the connection that writes (a session lock:
  the server drops it when the connection ends, however the client died), keyed by the
  schema; ``--wait`` retries it.
* **Errors.** Every psycopg error becomes one ``IndexError_`` line that names the index by
  its URL without the password; a lost server stops the run at the file it was writing
  (that file's transaction is rolled back by the server, earlier files stay committed).
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import time
import zlib
from collections.abc import Iterable, Iterator
from typing import Any, NamedTuple

import psycopg
from psycopg.pq import TransactionStatus

from dedupe_releases.errors import IndexError_, IndexLockedError, UsageError
from dedupe_releases.index.schema import (
    APPLICATION_ID,
    MIGRATIONS,
    SCHEMA_VERSION,
    upgrade_rows,
)
from dedupe_releases.index.target import PgUrl

#: Seconds to wait for a server to answer a connection attempt.
CONNECT_TIMEOUT = 10
#: TCP keepalives: a server host that vanished is noticed in about a minute, not hours.
KEEPALIVES = {
    "keepalives": "1",
    "keepalives_idle": "30",
    "keepalives_interval": "10",
    "keepalives_count": "3",
}
#: How often a waiting run retries the lock.
POLL_SECONDS = 0.1
#: Advisory-lock class ids (the first key): the writer, and migrations.
WRITER_LOCK = APPLICATION_ID
MIGRATION_LOCK = APPLICATION_ID + 1

SCHEMA_VERSION_DDL = (
    "CREATE TABLE schema_version (application BIGINT NOT NULL, version BIGINT NOT NULL)"
)

_TYPES = (
    (re.compile(r"\bINTEGER\b"), "BIGINT"),
    (re.compile(r"\bREAL\b"), "DOUBLE PRECISION"),
    (re.compile(r"\bBLOB\b"), "BYTEA"),
    (re.compile(r"\bTEXT\b"), 'TEXT COLLATE "C"'),
    (re.compile(r"\)\s*WITHOUT ROWID\s*$"), ")"),
)
_HOLDER = re.compile(r"dedupe-releases pid (\d{1,10})")
#: ``INSERT INTO t (a, b) VALUES (?, ?)`` with nothing after it but ``ON CONFLICT DO NOTHING``.
_INSERT_VALUES = re.compile(
    r"INSERT INTO (\w+) \(([\w, ]+)\) VALUES \((?:\?, )*\?\)((?: ON CONFLICT DO NOTHING)?)"
)
#: Rows per ``INSERT ... SELECT FROM unnest(...)``.
BATCH_ROWS = 10_000


def translate(ddl: str) -> str:
    """One statement of the SQLite DDL in PostgreSQL's types.

    >>> translate("CREATE TABLE t (k INTEGER PRIMARY KEY, v BLOB, w REAL) WITHOUT ROWID")
    'CREATE TABLE t (k BIGINT PRIMARY KEY, v BYTEA, w DOUBLE PRECISION)'
    """
    for pattern, replacement in _TYPES:
        ddl = pattern.sub(replacement, ddl)
    return ddl


def ddl(version: int) -> list[str]:
    """Every statement that makes an index of ``version`` in an empty schema."""
    out = [SCHEMA_VERSION_DDL]
    for step in range(1, version + 1):
        out.extend(translate(s) for s in MIGRATIONS[step])
    return out


def failure(target: PgUrl, exc: BaseException) -> IndexError_:
    """The one line for a psycopg error: what happened, the index, never the password."""
    lines = str(exc).strip().splitlines()
    detail = target.scrub(lines[0].strip() if lines else type(exc).__name__)[:300]
    state = getattr(exc, "sqlstate", None) or ""
    if state == "53100":
        return IndexError_(
            f"index {target}: the server's disk is full ({detail}); files done so far are"
            " kept; free space and run again"
        )
    if state == "42501":
        return IndexError_(f"index {target}: permission denied ({detail})")
    if state == "25006":
        return IndexError_(f"index {target}: the server is read-only ({detail})")
    if isinstance(exc, psycopg.OperationalError) or state.startswith(("08", "57")):
        return IndexError_(
            f"index {target}: lost the connection to the server ({detail}); work committed so"
            " far is kept; run again when the server is back"
        )
    return IndexError_(
        f"index {target} is damaged ({detail}); run `dedupe-releases index check --index {target}`"
    )


class PgConnection:
    """A psycopg connection (autocommit; ``transaction`` opens transactions) with the part
    of ``sqlite3.Connection``'s interface the index uses. Rows come back as tuples, whole
    (client-side cursors): a cursor can be read while other statements run."""

    def __init__(self, raw: psycopg.Connection[Any], target: PgUrl) -> None:
        self.raw = raw
        self.target = target
        self._queries: dict[str, str] = {}
        self._types: dict[str, dict[str, str]] = {}

    def _query(self, sql: str) -> str:
        query = self._queries.get(sql)
        if query is None:
            query = self._queries[sql] = sql.replace("%", "%%").replace("?", "%s")
        return query

    def execute(self, sql: str, parameters: Iterable[Any] = (), /) -> Any:
        try:
            return self.raw.execute(self._query(sql), tuple(parameters))
        except psycopg.Error as exc:
            raise failure(self.target, exc) from None

    def executemany(self, sql: str, parameters: Iterable[Iterable[Any]], /) -> None:
        """``sql`` once per row. A plain ``INSERT INTO t (cols) VALUES (?, ...)`` (optionally
        ``ON CONFLICT DO NOTHING``) becomes one ``INSERT ... SELECT FROM unnest(arrays)`` per
        ``BATCH_ROWS`` rows: the same rows inserted or skipped, in a fraction of the time.
        Anything else is pipelined by psycopg (one round trip, a statement per row)."""
        rows = [tuple(r) for r in parameters]
        if not rows:
            return
        try:
            m = _INSERT_VALUES.fullmatch(sql)
            if m is None:
                with self.raw.cursor() as cursor:
                    cursor.executemany(self._query(sql), rows)
                return
            table, columns, tail = m.group(1), m.group(2).split(", "), m.group(3)
            types = self._column_types(table)
            arrays = ", ".join(f"%s::{types[c]}[]" for c in columns)
            query = (
                f"INSERT INTO {table} ({', '.join(columns)}) SELECT * FROM unnest({arrays}){tail}"
            )
            for start in range(0, len(rows), BATCH_ROWS):
                chunk = rows[start : start + BATCH_ROWS]
                self.raw.execute(query, [list(column) for column in zip(*chunk, strict=True)])
        except psycopg.Error as exc:
            raise failure(self.target, exc) from None

    def _column_types(self, table: str) -> dict[str, str]:
        types = self._types.get(table)
        if types is None:
            types = self._types[table] = {
                str(name): str(kind)
                for name, kind in self.raw.execute(
                    "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute"
                    " WHERE attrelid = to_regclass(%s) AND attnum > 0 AND NOT attisdropped",
                    (table,),
                )
            }
        return types

    @property
    def in_transaction(self) -> bool:
        return self.raw.info.transaction_status != TransactionStatus.IDLE

    @contextlib.contextmanager
    def transaction(self, durable: bool = False) -> Iterator[None]:
        """``BEGIN`` ... ``COMMIT``; rolled back on any exception (a lost connection is
        rolled back by the server)."""
        self.execute("BEGIN")
        try:
            if durable:
                self.execute("SET LOCAL synchronous_commit = on")
            yield
        except BaseException:
            with contextlib.suppress(Exception):
                if self.raw.info.transaction_status in (
                    TransactionStatus.INTRANS,
                    TransactionStatus.INERROR,
                ):
                    self.raw.execute("ROLLBACK")
            raise
        self.execute("COMMIT")

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.raw.close()


def open_connection(target: PgUrl) -> PgConnection:
    """Connect to the server (no schema check yet); one line on any failure."""
    try:
        params: dict[str, Any] = psycopg.conninfo.conninfo_to_dict(target.url)
    except psycopg.Error as exc:
        detail = target.scrub(str(exc).strip().splitlines()[0] if str(exc).strip() else "")
        raise UsageError(f"index {target}: not a valid PostgreSQL URL ({detail})") from None
    params.setdefault("connect_timeout", CONNECT_TIMEOUT)
    for key, value in KEEPALIVES.items():
        params.setdefault(key, value)
    # Named after this process, so a run that finds the index locked can say by whom.
    params["fallback_application_name"] = f"dedupe-releases pid {os.getpid()}"
    try:
        raw = psycopg.connect(autocommit=True, **params)
    except psycopg.Error as exc:
        lines = str(exc).strip().splitlines()
        detail = target.scrub(lines[0] if lines else type(exc).__name__)[:300]
        raise IndexError_(f"index {target}: cannot connect to the server ({detail})") from None
    return PgConnection(raw, target)


class Schema(NamedTuple):
    """The PostgreSQL schema the index's tables live in."""

    oid: int
    name: str

    def qualified(self, table: str) -> str:
        return f"{_quote(self.name)}.{_quote(table)}"


def _namespace(con: PgConnection) -> Schema:
    """The schema the index's tables live in: the first that exists on ``search_path``."""
    row = con.execute("SELECT to_regnamespace(current_schema())::oid, current_schema()").fetchone()
    if row is None or row[0] is None:
        raise IndexError_(
            f"index {con.target}: no schema to keep the index in (search_path names none that"
            " exists)"
        )
    return Schema(int(row[0]), str(row[1]))


def exists(target: PgUrl) -> bool:
    """Does the database hold an index yet? (Connection failures: ``IndexError_``.)"""
    con = open_connection(target)
    try:
        return _version(con, _namespace(con)) is not None
    finally:
        con.close()


def version_of(con: PgConnection) -> int:
    """The schema version of the open index (``schema.schema_version``)."""
    return _version(con, _namespace(con)) or 0


def _version(con: PgConnection, ns: Schema) -> int | None:
    """The schema version of the index in schema ``ns``; None when the schema is empty.

    Raises ``IndexError_`` for a schema that holds another application's tables.
    """
    names = [
        str(n)
        for (n,) in con.execute(
            "SELECT relname FROM pg_class WHERE relnamespace = ?::oid ORDER BY relname",
            (ns.oid,),
        )
    ]
    if "schema_version" not in names:
        if names:
            raise IndexError_(
                f"index {con.target}: the database holds tables of another application (first:"
                f" {names[0]}); use an empty database (or schema) for the index"
            )
        return None
    rows = con.execute(
        f"SELECT application, version FROM {ns.qualified('schema_version')}"
    ).fetchall()
    if len(rows) != 1 or rows[0][0] != APPLICATION_ID:
        raise IndexError_(
            f"index {con.target}: the database holds tables of another application"
            " (its schema_version is not a dedupe-releases one)"
        )
    return int(rows[0][1])


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def connect(
    target: PgUrl,
    *,
    create: bool = False,
    reader: bool = False,
    session: PgConnection | None = None,
    older: bool = False,
) -> PgConnection:
    """Open the index in ``target`` (creating its tables when ``create`` and the schema is
    empty), checked as ``schema.connect`` checks a file. ``session``: a connection already
    holding the writer lock. A ``reader`` never creates, migrates or writes: once the schema
    is checked it reads in one read-only repeatable-read transaction (one snapshot).
    ``older``: as in ``schema.connect``."""
    con = session or open_connection(target)
    try:
        encoding = con.execute("SHOW server_encoding").fetchone()[0]
        if encoding != "UTF8":
            raise IndexError_(
                f"index {target}: the database's encoding is {encoding}; the index needs a"
                " UTF8 database (createdb -E UTF8 ...)"
            )
        ns = _namespace(con)
        version = _version(con, ns)
        if version is None and not create:
            raise IndexError_(f"index {target} holds no index yet (a scan with --index makes it)")
        if version is not None and version > SCHEMA_VERSION:
            raise IndexError_(
                f"index {target} was written by a newer dedupe-releases (schema {version}; this"
                f" version reads up to {SCHEMA_VERSION}); upgrade dedupe-releases"
            )
        if reader:
            assert version is not None
            if version < SCHEMA_VERSION and not (older and version >= 1):
                raise IndexError_(
                    f"index {target} has schema {version}; a scan with this version upgrades it"
                )
        else:
            migrate(con, ns)
        check_schema(con, ns)
        if reader:
            # One snapshot for everything the reader reads: a report or a check never mixes
            # the states before and after another run's commit.
            con.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
    except BaseException:
        if session is None:
            con.close()
        raise
    return con


def migrate(con: PgConnection, ns: Schema) -> None:
    """Bring the schema up to ``SCHEMA_VERSION``, one transaction per step."""
    while (version := _version(con, ns) or 0) < SCHEMA_VERSION:
        with con.transaction():
            con.execute("SELECT pg_advisory_xact_lock(?::integer, ?::integer)", _key(ns))
            if (_version(con, ns) or 0) != version:  # another process migrated meanwhile
                continue
            if version == 0:
                con.execute(SCHEMA_VERSION_DDL)
                con.execute(
                    "INSERT INTO schema_version (application, version) VALUES (?, 0)",
                    (APPLICATION_ID,),
                )
            for statement in MIGRATIONS[version + 1]:
                con.execute(translate(statement))
            upgrade_rows(con, version + 1)
            con.execute("UPDATE schema_version SET version = ?", (version + 1,))


def _key(ns: Schema, cls: int = MIGRATION_LOCK) -> tuple[int, int]:
    """The advisory-lock key of the index in schema ``ns`` (one index per schema)."""
    return cls, zlib.crc32(ns.name.encode()) & 0x7FFFFFFF


Description = set[tuple[str, str, str, str]]

_KINDS = {
    "r": "table",
    "p": "partitioned table",
    "v": "view",
    "m": "materialized view",
    "S": "sequence",
    "f": "foreign table",
    "c": "type",
}


def describe(con: PgConnection, ns: int) -> Description:
    """``(kind, name, table, definition)`` of every object in schema ``ns``."""
    out: Description = set()
    for kind, name, persistence, rls, columns in con.execute(
        "SELECT c.relkind, c.relname, c.relpersistence, c.relrowsecurity, (SELECT"
        " string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod)"
        " || CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END"
        " || coalesce(' DEFAULT ' || pg_get_expr(d.adbin, d.adrelid), '')"
        " || coalesce(' COLLATE ' || quote_ident(co.collname), ''), ', ' ORDER BY a.attnum)"
        " FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid"
        " AND d.adnum = a.attnum LEFT JOIN pg_collation co ON co.oid = a.attcollation"
        " WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped)"
        " FROM pg_class c WHERE c.relnamespace = ?::oid AND c.relkind NOT IN ('i', 'I')",
        (ns,),
    ):
        # A temporary table (the expected schema) stands for a permanent one.
        kept = {"t": "permanent", "p": "permanent", "u": "unlogged"}.get(persistence, persistence)
        definition = f"({columns or ''}) {kept}" + (" row-level security" if rls else "")
        out.add((_KINDS.get(kind, kind), str(name), str(name), definition))
    for name, table, definition in con.execute(
        "SELECT ic.relname, c.relname, pg_get_indexdef(i.indexrelid)"
        " || CASE WHEN i.indisvalid AND i.indisready THEN '' ELSE ' (invalid)' END"
        " FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid"
        " JOIN pg_class c ON c.oid = i.indrelid WHERE ic.relnamespace = ?::oid",
        (ns,),
    ):
        text = re.sub(r" ON (?:\S+\.)?(\S+) USING ", r" ON \1 USING ", str(definition))
        out.add(("index", str(name), str(table), text))
    for name, table, definition in con.execute(
        "SELECT co.conname, c.relname, pg_get_constraintdef(co.oid) FROM pg_constraint co"
        " JOIN pg_class c ON c.oid = co.conrelid WHERE c.relnamespace = ?::oid",
        (ns,),
    ):
        text = re.sub(r"REFERENCES (?:\S+\.)?(\w+)\(", r"REFERENCES \1(", str(definition))
        out.add(("constraint", str(name), str(table), text))
    for kind, name, table, definition in con.execute(
        "SELECT 'trigger', t.tgname, c.relname, pg_get_triggerdef(t.oid) FROM pg_trigger t"
        " JOIN pg_class c ON c.oid = t.tgrelid WHERE c.relnamespace = ?::oid"
        " AND NOT t.tgisinternal"
        " UNION ALL SELECT 'rule', r.rulename, c.relname, pg_get_ruledef(r.oid)"
        " FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class"
        " WHERE c.relnamespace = ?::oid AND r.rulename <> '_RETURN'"
        " UNION ALL SELECT 'policy', p.polname, c.relname, '' FROM pg_policy p"
        " JOIN pg_class c ON c.oid = p.polrelid WHERE c.relnamespace = ?::oid",
        (ns, ns, ns),
    ):
        out.add((str(kind), str(name), str(table), str(definition)))
    return out


def expected_schema(con: PgConnection, version: int = SCHEMA_VERSION) -> Description:
    """What ``ddl(version)`` creates, made in this session's temporary schema and described
    there, in a transaction that is always rolled back."""
    con.execute("BEGIN")
    try:
        con.execute("SET LOCAL search_path = pg_temp")
        for statement in ddl(version):
            con.execute(statement)
        temp = con.execute("SELECT pg_my_temp_schema()::oid").fetchone()[0]
        return describe(con, int(temp))
    finally:
        with contextlib.suppress(IndexError_):
            con.execute("ROLLBACK")


def check_schema(con: PgConnection, ns: Schema) -> None:
    """Refuse any object this version did not create, and any it created that changed."""
    version = _version(con, ns) or 0
    found = describe(con, ns.oid)
    expected = expected_schema(con, version)
    extra = sorted(found - expected)
    missing = sorted(expected - found)
    altered = {m[:3] for m in missing}
    unexpected = [e for e in extra if e[:3] not in altered]
    if unexpected:
        kind, name = unexpected[0][0], unexpected[0][1]
        raise IndexError_(
            f"index {con.target} has an unexpected object ({kind} {name}); not using it"
        )
    if missing or extra:
        first = missing[0] if missing else extra[0]
        raise IndexError_(
            f"index {con.target} is damaged: {first[0]} {first[1]} is missing or altered"
        )


def integrity(con: PgConnection) -> list[str]:
    """What ``PRAGMA integrity_check``/``foreign_key_check`` find in a file, as far as a
    client can tell: rows whose foreign key points nowhere, foreign keys not enforced
    (their triggers disabled), indexes left invalid."""
    ns = _namespace(con)
    problems: list[str] = []
    for table, column, parent, key in con.execute(
        "SELECT c.relname, a.attname, p.relname, pa.attname FROM pg_constraint co"
        " JOIN pg_class c ON c.oid = co.conrelid JOIN pg_class p ON p.oid = co.confrelid"
        " JOIN pg_attribute a ON a.attrelid = co.conrelid AND a.attnum = co.conkey[1]"
        " JOIN pg_attribute pa ON pa.attrelid = co.confrelid AND pa.attnum = co.confkey[1]"
        " WHERE co.contype = 'f' AND c.relnamespace = ?::oid ORDER BY 1, 2",
        (ns.oid,),
    ).fetchall():
        child, parent_table = ns.qualified(table), ns.qualified(parent)
        col, ref = _quote(column), _quote(key)
        orphans = con.execute(
            f"SELECT count(*) FROM {child} x WHERE x.{col} IS NOT NULL AND NOT EXISTS"
            f" (SELECT 1 FROM {parent_table} y WHERE y.{ref} = x.{col})"
        ).fetchone()[0]
        if orphans:
            problems.append(f"foreign keys: {orphans} rows of {table}.{column} point nowhere")
    for (table,) in con.execute(
        "SELECT DISTINCT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
        " WHERE c.relnamespace = ?::oid AND t.tgisinternal AND t.tgenabled = 'D' ORDER BY 1",
        (ns.oid,),
    ).fetchall():
        problems.append(f"foreign keys of {table} are not enforced (their triggers are disabled)")
    for (name,) in con.execute(
        "SELECT ic.relname FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid"
        " WHERE ic.relnamespace = ?::oid AND NOT (i.indisvalid AND i.indisready) ORDER BY 1",
        (ns.oid,),
    ).fetchall():
        problems.append(f"index {name} is invalid (REINDEX it)")
    return problems


def writer_running(con: PgConnection) -> bool:
    """Does a session hold this index's writer lock? (Read from ``pg_locks``, never tried.)"""
    return _holder_row(con, _key(_namespace(con), WRITER_LOCK)) is not None


def _holder_row(con: PgConnection, key: tuple[int, int]) -> Any:
    return con.execute(
        "SELECT a.application_name, host(a.client_addr), a.backend_start FROM pg_locks l"
        " LEFT JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory'"
        " AND l.granted AND l.database = (SELECT oid FROM pg_database"
        " WHERE datname = current_database()) AND l.classid::bigint = ?"
        " AND l.objid::bigint = ? AND l.objsubid = 2",
        key,
    ).fetchone()


def _holder(con: PgConnection, key: tuple[int, int]) -> str:
    """``pid 4242 on 10.0.0.7 since 2024-05-01 02:00:03``, as far as the server shows it.

    The application name is any client's to set: only the exact shape this tool gives it is
    believed.
    """
    row = _holder_row(con, key)
    if row is None:
        return "another run"
    name, host, since = row
    m = _HOLDER.fullmatch(name or "")
    who = f"pid {m.group(1)}" if m else "another run"
    if host:
        who += f" on {host}"
    if since is not None:
        who += f" since {since.astimezone().strftime('%Y-%m-%d %H:%M:%S')}"
    return who


def _fs_now_ns() -> int:
    """This host's file-system clock: the mtime of a new temporary file (see ``IndexLock``)."""
    with tempfile.TemporaryFile() as fh:
        return os.fstat(fh.fileno()).st_mtime_ns


class PgLock:
    """``with PgLock(url, wait=None):`` hold the index's writer lock, an advisory lock of the
    connection the run then writes with (``connection``; ``Index.open`` takes it over).

    On a clean exit the lock is released and the connection left open for the report; on an
    exception the connection is closed, which releases the lock too.
    """

    def __init__(self, target: PgUrl, wait: float | None = None) -> None:
        self.target = target
        self.wait = wait or 0.0
        self.connection: PgConnection | None = None
        self.fs_now_ns = 0
        self._key = (WRITER_LOCK, 0)

    def __enter__(self) -> PgLock:
        con = open_connection(self.target)
        try:
            self._key = _key(_namespace(con), WRITER_LOCK)
            deadline = time.monotonic() + self.wait
            lock = "SELECT pg_try_advisory_lock(?::integer, ?::integer)"
            while not con.execute(lock, self._key).fetchone()[0]:
                if time.monotonic() >= deadline:
                    holder = _holder(con, self._key)
                    waited = f" after waiting {self.wait:g} s" if self.wait else ""
                    hint = "" if self.wait else " (use --wait SECONDS)"
                    raise IndexLockedError(
                        f"index {self.target} is in use by {holder}{waited}{hint}"
                    )
                time.sleep(POLL_SECONDS)
        except BaseException:
            con.close()
            raise
        self.connection = con
        self.fs_now_ns = _fs_now_ns()
        return self

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        con, self.connection = self.connection, None
        if con is None:
            return
        if exc is not None:
            con.close()
            return
        with contextlib.suppress(IndexError_):
            con.execute("SELECT pg_advisory_unlock(?::integer, ?::integer)", self._key)

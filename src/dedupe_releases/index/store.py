"""The persistent index: files, articles, band keys, relations, clusters, runs and events.

``Index`` offers the same seam as ``store.MemoryStore`` (``add`` a ``FileRecord``,
``article(id)``, ``position(id)``, ``candidate_pairs``) plus the queries an incremental run
needs. It stores and fetches; it never decides what is a duplicate (``reconcile.py`` does).

Formats, all documented and none of them pickle:

* ``articles.signature``: datasketch's ``LeanMinHash.serialize`` layout for the ``affine32``
  scheme, little-endian: seed (int64), negated number of values (int32), scheme code 1
  (uint8), then the values (uint32 each); ``LeanMinHash.deserialize(blob, "<")`` reads it.
* ``articles.body``: the fixed body text, UTF-8, zlib-compressed; the title is stored plain.
* ``articles.sentences``: the article's long-sentence hashes, little-endian uint64.
* ``bands.key`` / ``sentences.hash``: the uint64 keys reinterpreted as signed int64
  (SQLite integers are signed).
* JSON text for lists and maps (``fixes``, ``reasons``, ``evidence``, run counts, events).
"""

from __future__ import annotations

import dataclasses
import json
import struct
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from dedupe_releases import __version__
from dedupe_releases.boilerplate import Boilerplate, title_hash
from dedupe_releases.candidates import MAX_SENTENCE_ARTICLES, MIN_SENTENCE_WORDS
from dedupe_releases.config import Config, SketchConfig
from dedupe_releases.errors import IndexError_
from dedupe_releases.index.schema import (
    FINAL_STATES,
    SHOWN_STATES,
    Connection,
    connect,
    transaction,
)
from dedupe_releases.index.target import Target
from dedupe_releases.records import (
    Article,
    Cluster,
    FileRecord,
    Fix,
    Match,
    Problem,
    Scores,
    Sketch,
)

if TYPE_CHECKING:
    from dedupe_releases.index.pg import PgConnection

#: datasketch's scheme code for ``affine32`` in ``LeanMinHash.serialize``.
AFFINE32_CODE = 1
_SIG_HEADER = struct.Struct("<qiB")


def signature_blob(sketch: Sketch, seed: int) -> bytes:
    """A signature in datasketch's ``LeanMinHash`` byte layout (affine32, little-endian)."""
    n = len(sketch.signature) // 4
    return _SIG_HEADER.pack(seed, -n, AFFINE32_CODE) + sketch.signature


def signature_values(blob: bytes, num_perm: int, seed: int) -> np.ndarray[Any, np.dtype[np.uint32]]:
    """The uint32 values of a stored signature, after checking its header.

    Raises ``IndexError_`` for anything else: the bytes are data, never code to run.
    """
    expected = _SIG_HEADER.size + 4 * num_perm
    if not isinstance(blob, bytes) or len(blob) != expected:
        raise IndexError_(
            f"a stored signature is not {expected} bytes; the index is damaged (run index check)"
        )
    s, n, code = _SIG_HEADER.unpack_from(blob)
    if (s, -n, code) != (seed, num_perm, AFFINE32_CODE):
        raise IndexError_(
            f"a stored signature has the header (seed {s}, {-n} values, scheme {code}), not"
            f" (seed {seed}, {num_perm} values, affine32); the index is damaged"
        )
    return np.frombuffer(blob, dtype="<u4", offset=_SIG_HEADER.size).astype(np.uint32)


def signed(keys: bytes) -> list[int]:
    """Little-endian uint64 bytes as the signed integers SQLite stores."""
    return np.frombuffer(keys, dtype="<i8").tolist()  # type: ignore[no-any-return]


def _signed1(value: int) -> int:
    """One uint64 as the signed integer SQLite stores."""
    return value - (1 << 64) if value >= 1 << 63 else value


def unsigned(value: int) -> int:
    """A stored signed integer back as the uint64 it stands for."""
    return value + (1 << 64) if value < 0 else value


#: Command-line names of the settings, for the message when a run asks for other values.
OPTION_NAMES = {
    "shingle_size": "--shingle-size",
    "num_perm": "--num-perm",
    "bands": "--bands",
    "max_article_chars": "--max-article-chars",
    "threshold": "--threshold",
    "min_ratio": "--min-ratio",
}


def settings_of(config: Config) -> dict[str, Any]:
    """The settings an index is built with: every field of the fix, split, sketch and verify
    settings (a run with other values would mix incomparable signatures, keys or verdicts),
    and the candidate search's limits."""
    out: dict[str, Any] = {}
    for part in (config.fix, config.split, config.sketch, config.verify):
        out.update((f.name, getattr(part, f.name)) for f in dataclasses.fields(part))
    out.update(
        max_sentence_articles=MAX_SENTENCE_ARTICLES,
        min_sentence_words=MIN_SENTENCE_WORDS,
    )
    return out


def sketch_config_of(settings: Mapping[str, Any]) -> SketchConfig:
    """The sketch settings an index was built with (the sketch part of ``settings_of``);
    a field the settings do not hold keeps its default."""
    return SketchConfig(
        **{f.name: settings[f.name] for f in dataclasses.fields(SketchConfig) if f.name in settings}
    )


@dataclass(frozen=True, slots=True)
class FileRow:
    id: int
    path: str
    state: str
    rank: int
    size: int | None
    mtime_ns: int | None
    ctime_ns: int | None
    inode: int | None
    sha256: str | None
    problem: str | None
    seen_ns: int | None


@dataclass(frozen=True, slots=True)
class Stat:
    """What a file's ``stat`` says about its content: the change-detection key."""

    size: int
    mtime_ns: int
    ctime_ns: int
    inode: int


@dataclass(frozen=True, slots=True)
class Member:
    """An article as the candidate search sees it: row id, position, ref."""

    rid: int
    position: int
    ref: str


_ARTICLE_COLUMNS = (
    "a.id, a.ref, f.path, a.ordinal, a.first_line, a.last_line, a.kind, a.title, a.body,"
    " a.content_hash, a.fixes, a.title_repaired, a.truncated, f.source_bytes"
)
_POSITION = "(f.rank << 32 | a.ordinal)"


def _next_id(table: str) -> str:
    """The row id SQLite gives a new row (the largest plus one), written out so that a
    PostgreSQL index numbers its rows exactly alike."""
    return f"(SELECT coalesce(max(id), 0) + 1 FROM {table})"


def _states(states: Sequence[str]) -> str:
    return "(" + ", ".join(f"'{s}'" for s in states) + ")"


_FINAL = _states(FINAL_STATES)
_SHOWN = _states(SHOWN_STATES)


class Index:
    """An open index. ``final=True`` (a writer finishing a run) sees ``added`` + ``active``
    articles; ``final=False`` (readers, reports) sees the last finished run."""

    def __init__(self, con: Connection, path: Target, final: bool = False) -> None:
        self.con = con
        self.path = path
        self.final = final
        self._view = _FINAL if final else _SHOWN
        self._article_cache: dict[str, Article] = {}
        self._positions: dict[str, int] = {}
        self._settings: dict[str, Any] | None = None

    # -- opening -------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        path: Target,
        config: Config | None = None,
        *,
        reader: bool = False,
        session: PgConnection | None = None,
        older: bool = False,
    ) -> Index:
        """Open (a writer creates) the index; a writer's ``config`` must match its settings.

        ``session``: the connection that holds a PostgreSQL index's writer lock. ``older``:
        a reader opens an older schema too (``schema.connect``).
        """
        con = connect(path, create=not reader, reader=reader, session=session, older=older)
        index = cls(con, path)
        try:
            if config is not None and not reader:
                index.check_settings(config)
        except BaseException:
            con.close()
            raise
        return index

    def close(self) -> None:
        self.con.close()

    def meta(self, key: str) -> Any:
        row = self.con.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else json.loads(row[0])

    def set_meta(self, key: str, value: Any) -> None:
        self.con.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, json.dumps(value, sort_keys=True, allow_nan=False)),
        )

    def settings(self) -> dict[str, Any] | None:
        """The settings the index was built with (read once: they never change)."""
        if self._settings is None:
            value = self.meta("settings")
            self._settings = value if isinstance(value, dict) else None
        return self._settings

    def check_settings(self, config: Config) -> None:
        """Record the settings of a new index; refuse a run whose settings differ."""
        wanted = settings_of(config)
        stored = self.settings()
        if stored is None:
            with transaction(self.con):
                self.set_meta("settings", wanted)
                self.set_meta("generation", 0)
            return
        for key in [*wanted, *(k for k in stored if k not in wanted)]:
            if stored.get(key) != wanted.get(key):
                option = OPTION_NAMES.get(key, key)
                raise IndexError_(
                    f"index {self.path} was built with {option} {stored.get(key)!r}; this run"
                    f" asks for {wanted.get(key)!r}. Use the index's setting, or a new index for"
                    " new settings"
                )

    @property
    def generation(self) -> int:
        return int(self.meta("generation") or 0)

    # -- the MemoryStore seam --------------------------------------------------------------

    def add(self, record: FileRecord, stat: Stat | None = None, seen_ns: int | None = None) -> None:
        """Add one file's articles (pending until a run reconciles them), in one transaction."""
        with transaction(self.con):
            rank = self.con.execute("SELECT coalesce(max(rank), -1) + 1 FROM files").fetchone()[0]
            file_id = self.upsert_file(record.source, rank, stat, seen_ns)
            self.insert_articles(file_id, record, record.articles)
            raw = record.articles[0].source_bytes if record.articles else None
            self.set_file_content(
                file_id, record.sha256, record.encoding, None, record.warnings, raw
            )

    @property
    def files(self) -> int:
        """Files read without a problem (what ``ScanResult.files`` counts)."""
        return int(
            self.con.execute(
                "SELECT count(*) FROM files WHERE state = 'present' AND problem IS NULL"
            ).fetchone()[0]
        )

    def __len__(self) -> int:
        return int(
            self.con.execute(
                f"SELECT count(*) FROM articles WHERE state IN {self._view}"
            ).fetchone()[0]
        )

    def _by_ref(self, columns: str, article_id: str) -> Any:
        """``columns`` of the article in view with id ``article_id`` (and its file)."""
        row = self.con.execute(
            f"SELECT {columns} FROM articles a JOIN files f ON f.id = a.file"
            f" WHERE a.ref = ? AND a.state IN {self._view}",
            (article_id,),
        ).fetchone()
        if row is None:
            raise KeyError(article_id)
        return row

    def article(self, article_id: str) -> Article:
        hit = self._article_cache.get(article_id)
        if hit is not None:
            return hit
        article = _article(self._by_ref(_ARTICLE_COLUMNS, article_id))
        if len(self._article_cache) > 4096:
            self._article_cache.clear()
        self._article_cache[article_id] = article
        return article

    def article_by_rid(self, rid: int) -> Article:
        row = self.con.execute(
            f"SELECT {_ARTICLE_COLUMNS} FROM articles a JOIN files f ON f.id = a.file"
            " WHERE a.id = ?",
            (rid,),
        ).fetchone()
        if row is None:
            raise KeyError(rid)
        return _article(row)

    def position(self, article_id: str) -> int:
        hit = self._positions.get(article_id)
        if hit is not None:
            return hit
        position = int(self._by_ref(_POSITION, article_id)[0])
        self._positions[article_id] = position
        return position

    def remember_positions(self, members: Iterable[Member]) -> None:
        for m in members:
            self._positions[m.ref] = m.position

    def forget(self) -> None:
        """Drop cached articles and positions (after ranks or states changed)."""
        self._article_cache.clear()
        self._positions.clear()

    def candidate_pairs(
        self, min_shared_sentences: int, max_bucket_pairs: int
    ) -> list[tuple[str, str]]:
        """Every candidate pair of the articles in view, as ``MemoryStore`` finds them.

        Loads all band keys and sentence hashes (like a from-scratch scan): for building an
        index or a full recomputation. Incremental runs ask about single buckets instead.
        """
        refs, pairs = self._candidates(min_shared_sentences, max_bucket_pairs)
        return [(refs[i][1], refs[j][1]) for i, j in pairs]

    def candidate_rid_pairs(
        self, min_shared_sentences: int, max_bucket_pairs: int
    ) -> list[tuple[int, int]]:
        """``candidate_pairs`` as ``(smaller row id, larger row id)``, in path order."""
        refs, pairs = self._candidates(min_shared_sentences, max_bucket_pairs)
        out = []
        for i, j in pairs:
            a, b = refs[i][0], refs[j][0]
            out.append((a, b) if a < b else (b, a))
        return out

    def _candidates(
        self, min_shared_sentences: int, max_bucket_pairs: int
    ) -> tuple[list[tuple[int, str]], list[tuple[int, int]]]:
        from dedupe_releases.candidates import CandidateIndex
        from dedupe_releases.sketch import band_keys

        settings = self.settings() or {}
        bands = int(settings.get("bands", 16))
        num_perm = int(settings.get("num_perm", 128))
        seed = int(settings.get("seed", 1))
        index = CandidateIndex()
        refs: list[tuple[int, str]] = []
        by_hash: dict[str, list[int]] = {}
        for rid, ref, shingles, sig, sentences, content in self.con.execute(
            "SELECT a.id, a.ref, a.shingles, a.signature, a.sentences, a.content_hash"
            f" FROM articles a JOIN files f ON f.id = a.file WHERE a.state IN {self._view}"
            f" ORDER BY {_POSITION}"
        ):
            keys = (
                band_keys(signature_values(sig, num_perm, seed), bands)
                if shingles
                else np.empty(0, dtype=np.uint64)
            )
            number = index.add(keys, np.frombuffer(sentences, dtype="<u8").astype(np.uint64))
            refs.append((int(rid), str(ref)))
            by_hash.setdefault(content, []).append(number)
        pairs = index.pairs(max_bucket_pairs, min_shared_sentences)
        for group in by_hash.values():  # exact copies, even when too short to sketch
            pairs.update((group[0], other) for other in group[1:])
        return refs, sorted(pairs)

    # -- files -----------------------------------------------------------------------------

    def file_rows(self) -> dict[str, FileRow]:
        return {
            row[1]: FileRow(*row)
            for row in self.con.execute(
                "SELECT id, path, state, rank, size, mtime_ns, ctime_ns, inode, sha256,"
                " problem, seen_ns FROM files"
            )
        }

    def set_ranks(self, ranks: Iterable[tuple[int, int]]) -> None:
        """``(file id, rank)`` for known files whose place in the walk changed."""
        self.con.executemany(
            "UPDATE files SET rank = ? WHERE id = ? AND rank != ?",
            ((rank, fid, rank) for fid, rank in ranks),
        )

    def upsert_file(self, path: str, rank: int, stat: Stat | None, seen_ns: int | None) -> int:
        values = (stat.size, stat.mtime_ns, stat.ctime_ns, stat.inode) if stat else (None,) * 4
        row = self.con.execute(
            "INSERT INTO files (id, path, state, rank, size, mtime_ns, ctime_ns, inode, seen_ns)"
            f" VALUES ({_next_id('files')}, ?, 'present', ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (path) DO UPDATE SET state = 'present', rank = excluded.rank,"
            " size = excluded.size, mtime_ns = excluded.mtime_ns, ctime_ns = excluded.ctime_ns,"
            " inode = excluded.inode, seen_ns = excluded.seen_ns RETURNING id",
            (path, rank, *values, seen_ns),
        ).fetchone()
        return int(row[0])

    def set_file_content(
        self,
        file_id: int,
        sha256: str | None,
        encoding: str | None,
        problem: str | None,
        warnings: Sequence[str] = (),
        source_bytes: bytes | None = None,
    ) -> None:
        """The file row's content fields: written last in a file's transaction."""
        self.con.execute(
            "UPDATE files SET sha256 = ?, encoding = ?, problem = ?, warnings = ?,"
            " source_bytes = ? WHERE id = ?",
            (
                sha256,
                encoding,
                problem,
                json.dumps(list(warnings), allow_nan=False),
                source_bytes,
                file_id,
            ),
        )

    def set_file_stat(self, file_id: int, stat: Stat, seen_ns: int) -> None:
        self.con.execute(
            "UPDATE files SET size = ?, mtime_ns = ?, ctime_ns = ?, inode = ?, seen_ns = ?"
            " WHERE id = ?",
            (stat.size, stat.mtime_ns, stat.ctime_ns, stat.inode, seen_ns, file_id),
        )

    def mark_file_gone(self, file_id: int) -> None:
        self.con.execute(
            "UPDATE files SET state = 'gone', sha256 = NULL, problem = NULL, warnings = '[]'"
            " WHERE id = ?",
            (file_id,),
        )

    def live_articles_of_file(self, file_id: int) -> list[tuple[int, str, str, Article]]:
        """``(row id, ref, state, article)`` of a file's ``added``/``active`` articles."""
        return [
            (row[0], row[1], state, _article(row))
            for *row, state in self.con.execute(
                f"SELECT {_ARTICLE_COLUMNS}, a.state FROM articles a JOIN files f"
                " ON f.id = a.file WHERE a.file = ? AND a.state IN ('added', 'active')",
                (file_id,),
            )
        ]

    def count_live_articles(self, file_ids: Iterable[int]) -> int:
        total = 0
        for fid in file_ids:
            total += self.con.execute(
                "SELECT count(*) FROM articles WHERE file = ? AND state IN ('added', 'active')",
                (fid,),
            ).fetchone()[0]
        return int(total)

    # -- articles --------------------------------------------------------------------------

    def insert_articles(
        self, file_id: int, record: FileRecord, articles: Iterable[Article]
    ) -> None:
        """Insert ``articles`` of ``record`` (state ``added``) with their keys: one
        statement per table (on a server, one round trip each).

        Row ids are given as SQLite would give them one by one (the largest plus one): the
        writer lock guarantees no other writer in between.
        """
        settings = self.settings() or {}
        seed = int(settings.get("seed", 1))
        sketches = {s.article_id: s for s in record.sketches}
        last = int(self.con.execute("SELECT coalesce(max(id), 0) FROM articles").fetchone()[0])
        rows: list[tuple[Any, ...]] = []
        keys: dict[str, list[tuple[int, int]]] = {"bands": [], "sentences": [], "lines": []}
        for rid, article in enumerate(articles, last + 1):
            sketch = sketches[article.id]
            rows.append(
                (
                    rid,
                    article.id,
                    file_id,
                    article.ordinal,
                    article.lines[0],
                    article.lines[1],
                    article.kind,
                    article.title,
                    _signed1(title_hash(article.title)),
                    zlib.compress(article.body.encode("utf-8"), 6),
                    article.content_hash,
                    json.dumps([[f.rule, f.count] for f in article.fixes], allow_nan=False),
                    int(article.title_repaired),
                    int(article.truncated),
                    sketch.shingles,
                    signature_blob(sketch, seed),
                    sketch.sentences,
                    sketch.lines,
                    "added",
                )
            )
            keys["bands"].extend((k, rid) for k in signed(sketch.bands))
            keys["sentences"].extend((h, rid) for h in signed(sketch.sentences))
            keys["lines"].extend((h, rid) for h in signed(sketch.lines))
        self.con.executemany(
            "INSERT INTO articles (id, ref, file, ordinal, first_line, last_line, kind, title,"
            " title_hash, body, content_hash, fixes, title_repaired, truncated, shingles,"
            " signature, sentences, lines, state)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        for table, pairs in keys.items():
            column = "key" if table == "bands" else "hash"
            self.con.executemany(
                f"INSERT INTO {table} ({column}, article) VALUES (?, ?) ON CONFLICT DO NOTHING",
                pairs,
            )

    def update_lines(self, rid: int, lines: tuple[int, int]) -> None:
        self.con.execute(
            "UPDATE articles SET first_line = ?, last_line = ? WHERE id = ?", (*lines, rid)
        )

    def retire(self, rid: int, state: str) -> None:
        """Take an article out of the final view: ``active`` -> ``retiring``; an ``added``
        one (never seen by a finished run) is deleted with its keys."""
        if state == "active":
            self.con.execute("UPDATE articles SET state = 'retiring' WHERE id = ?", (rid,))
            return
        self._delete_keys(rid)
        self.con.execute("DELETE FROM articles WHERE id = ?", (rid,))

    def _delete_keys(self, rid: int) -> None:
        row = self.con.execute(
            "SELECT shingles, signature, sentences, lines FROM articles WHERE id = ?", (rid,)
        ).fetchone()
        if row is None:
            return
        settings = self.settings() or {}
        if row[0]:
            from dedupe_releases.sketch import band_keys

            sig = signature_values(row[1], int(settings["num_perm"]), int(settings["seed"]))
            keys = band_keys(sig, int(settings["bands"])).astype("<u8").tobytes()
            self.con.executemany(
                "DELETE FROM bands WHERE key = ? AND article = ?", ((k, rid) for k in signed(keys))
            )
        self.con.executemany(
            "DELETE FROM sentences WHERE hash = ? AND article = ?",
            ((h, rid) for h in signed(row[2])),
        )
        self.con.executemany(
            "DELETE FROM lines WHERE hash = ? AND article = ?", ((h, rid) for h in signed(row[3]))
        )

    def pending(self) -> tuple[list[int], list[int]]:
        """Row ids of ``added`` and of ``retiring`` articles."""
        added: list[int] = []
        retiring: list[int] = []
        for rid, state in self.con.execute(
            "SELECT id, state FROM articles WHERE state IN ('added', 'retiring') ORDER BY id"
        ):
            (added if state == "added" else retiring).append(rid)
        return added, retiring

    def finish_pending(self, generation: int) -> None:
        """``added`` -> ``active``; ``retiring`` -> ``gone`` (their keys are dropped)."""
        # "state IN (...) AND": lets SQLite use the partial index of pending articles.
        pending = "state IN ('added', 'retiring') AND state = "
        for (rid,) in self.con.execute(
            f"SELECT id FROM articles WHERE {pending}'retiring'"
        ).fetchall():
            self._delete_keys(rid)
        self.con.execute(
            f"UPDATE articles SET state = 'gone', gone_generation = ? WHERE {pending}'retiring'",
            (generation,),
        )
        self.con.execute(
            f"UPDATE articles SET state = 'active', first_generation = ? WHERE {pending}'added'",
            (generation,),
        )

    def keys(self, rid: int) -> tuple[list[int], list[int], str]:
        """Band keys, sentence hashes and content hash of one article."""
        row = self.con.execute(
            "SELECT content_hash, sentences, shingles, signature FROM articles WHERE id = ?",
            (rid,),
        ).fetchone()
        # Band keys are recomputed from the signature: cheaper than an index on bands(article).
        return self._band_keys(row[2], row[3]), signed(row[1]), str(row[0])

    def _band_keys(self, shingles: int, blob: bytes) -> list[int]:
        if not shingles:
            return []
        from dedupe_releases.sketch import band_keys

        settings = self.settings() or {}
        sig = signature_values(blob, int(settings["num_perm"]), int(settings["seed"]))
        return signed(band_keys(sig, int(settings["bands"])).astype("<u8").tobytes())

    def band_keys_of(self, rid: int) -> list[int]:
        settings = self.settings() or {}
        row = self.con.execute(
            "SELECT shingles, signature FROM articles WHERE id = ?", (rid,)
        ).fetchone()
        if not row or not row[0]:
            return []
        from dedupe_releases.sketch import band_keys

        sig = signature_values(row[1], int(settings["num_perm"]), int(settings["seed"]))
        return signed(band_keys(sig, int(settings["bands"])).astype("<u8").tobytes())

    def sentences_of(self, rid: int) -> list[int]:
        row = self.con.execute("SELECT sentences FROM articles WHERE id = ?", (rid,)).fetchone()
        return signed(row[0]) if row else []

    def content_of(self, rid: int) -> str:
        return str(
            self.con.execute("SELECT content_hash FROM articles WHERE id = ?", (rid,)).fetchone()[0]
        )

    def members(self, rids: Iterable[int]) -> dict[int, Member]:
        """The articles of ``rids`` that exist, in the order asked (one query per 500)."""
        wanted = list(rids)
        found: dict[int, Member] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ", ".join("?" * len(chunk))
            for row in self.con.execute(
                f"SELECT a.id, {_POSITION}, a.ref FROM articles a JOIN files f ON f.id = a.file"
                f" WHERE a.id IN ({marks})",
                chunk,
            ):
                found[int(row[0])] = Member(*row)
        return {rid: found[rid] for rid in wanted if rid in found}

    def count_bucket(self, table: str, key: int) -> int:
        column = "key" if table == "bands" else "hash"
        return int(
            self.con.execute(
                f"SELECT count(*) FROM {table} t JOIN articles a ON a.id = t.article"
                f" WHERE t.{column} = ? AND a.state IN {self._view}",
                (key,),
            ).fetchone()[0]
        )

    def count_buckets(self, table: str, keys: Iterable[int]) -> dict[int, int]:
        """``count_bucket`` for many keys at once (keys with no article in view: 0)."""
        column = "key" if table == "bands" else "hash"
        keys = list(keys)
        out = dict.fromkeys(keys, 0)
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            marks = ", ".join("?" * len(chunk))
            for key, n in self.con.execute(
                f"SELECT t.{column}, count(*) FROM {table} t JOIN articles a ON a.id = t.article"
                f" WHERE t.{column} IN ({marks}) AND a.state IN {self._view} GROUP BY t.{column}",
                chunk,
            ):
                out[int(key)] = int(n)
        return out

    def bucket(self, table: str, key: int, limit: int | None = None) -> list[Member]:
        """Articles in view sharing one band key / sentence hash, in position order."""
        column = "key" if table == "bands" else "hash"
        return [
            Member(*row)
            for row in self.con.execute(
                f"SELECT a.id, {_POSITION} AS pos, a.ref FROM {table} t"
                " JOIN articles a ON a.id = t.article JOIN files f ON f.id = a.file"
                f" WHERE t.{column} = ? AND a.state IN {self._view} ORDER BY pos"
                + (f" LIMIT {int(limit)}" if limit else ""),
                (key,),
            )
        ]

    def content_group(self, content_hash: str, limit: int | None = None) -> list[Member]:
        return [
            Member(*row)
            for row in self.con.execute(
                f"SELECT a.id, {_POSITION} AS pos, a.ref FROM articles a JOIN files f"
                f" ON f.id = a.file WHERE a.content_hash = ? AND a.state IN {self._view}"
                " ORDER BY pos" + (f" LIMIT {int(limit)}" if limit else ""),
                (content_hash,),
            )
        ]

    def count_content(self, content_hash: str) -> int:
        return int(
            self.con.execute(
                f"SELECT count(*) FROM articles WHERE content_hash = ? AND state IN {self._view}",
                (content_hash,),
            ).fetchone()[0]
        )

    def count_articles(self) -> int:
        return len(self)

    # -- relations -------------------------------------------------------------------------

    def relation(self, a: int, b: int) -> str | None:
        """The stored verdict of a pair (``none`` included), or None if not stored."""
        if b < a:
            a, b = b, a
        row = self.con.execute(
            "SELECT relation FROM relations WHERE a = ? AND b = ?", (a, b)
        ).fetchone()
        return None if row is None else str(row[0])

    def relations_of(self, rid: int) -> list[tuple[int, str]]:
        """``(other article, relation)`` of every stored pair of ``rid``."""
        return [
            (int(other), str(rel))
            for other, rel in self.con.execute(
                "SELECT b, relation FROM relations WHERE a = ?"
                " UNION ALL SELECT a, relation FROM relations WHERE b = ?",
                (rid, rid),
            )
        ]

    def all_relation_pairs(self) -> dict[tuple[int, int], str]:
        return {
            (int(a), int(b)): str(r)
            for a, b, r in self.con.execute("SELECT a, b, relation FROM relations")
        }

    def put_relation(self, a: int, b: int, match: Match | None, ref_a: str) -> None:
        """Store a verdict of articles ``a`` (whose id is ``ref_a``) and ``b``, oriented by
        row id (``contains`` means the smaller row id holds the other)."""
        if match is not None and match.a != ref_a:
            match = flipped(match)
        if b < a:
            a, b = b, a
            match = flipped(match) if match is not None else None
        if match is None:
            values: tuple[Any, ...] = ("none", None, None, None, "[]", "[]")
        else:
            s = match.scores
            values = (
                match.relation,
                s.jaccard,
                s.containment,
                s.ratio,
                json.dumps(list(match.evidence), allow_nan=False),
                json.dumps([list(f) for f in match.facts], allow_nan=False),
            )
        self.con.execute(
            "INSERT INTO relations (a, b, relation, jaccard, containment, ratio, evidence, facts)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (a, b) DO UPDATE SET"
            " relation = excluded.relation, jaccard = excluded.jaccard,"
            " containment = excluded.containment, ratio = excluded.ratio,"
            " evidence = excluded.evidence, facts = excluded.facts",
            (a, b, *values),
        )

    def delete_relation(self, a: int, b: int) -> None:
        if b < a:
            a, b = b, a
        self.con.execute("DELETE FROM relations WHERE a = ? AND b = ?", (a, b))

    def match_of(self, a: int, b: int) -> Match | None:
        """The stored ``Match`` of a pair (oriented by ref as ``Verifier.match`` does)."""
        lo, hi = (a, b) if a < b else (b, a)
        row = self.con.execute(
            "SELECT r.relation, r.jaccard, r.containment, r.ratio, r.evidence, x.ref, y.ref,"
            " r.facts FROM relations r JOIN articles x ON x.id = r.a JOIN articles y"
            " ON y.id = r.b WHERE r.a = ? AND r.b = ?",
            (lo, hi),
        ).fetchone()
        if row is None or row[0] == "none":
            return None
        return _match(row)

    def count_relations(self) -> int:
        return int(self.con.execute("SELECT count(*) FROM relations").fetchone()[0])

    # -- clusters --------------------------------------------------------------------------

    def clusters_of(self, rids: Iterable[int]) -> dict[int, str]:
        out: dict[int, str] = {}
        for rid in rids:
            row = self.con.execute(
                "SELECT cluster FROM cluster_members WHERE article = ?", (rid,)
            ).fetchone()
            if row is not None:
                out[rid] = str(row[0])
        return out

    def cluster_row(self, cluster_id: str) -> tuple[set[int], int, int]:
        """Members (row ids), canonical row id, creation generation of an active cluster."""
        canonical, created = self.con.execute(
            "SELECT canonical, created FROM clusters WHERE id = ?", (cluster_id,)
        ).fetchone()
        members = {
            int(r)
            for (r,) in self.con.execute(
                "SELECT article FROM cluster_members WHERE cluster = ?", (cluster_id,)
            )
        }
        return members, int(canonical), int(created)

    def cluster_content(self, cluster_id: str) -> tuple[Any, ...]:
        """Everything a cluster stores, comparable with ``content_of_cluster``."""
        canonical, runner, reasons = self.con.execute(
            "SELECT canonical, runner_up, reasons FROM clusters WHERE id = ?", (cluster_id,)
        ).fetchone()
        members = sorted(
            self.con.execute(
                "SELECT article, similarity, decision FROM cluster_members WHERE cluster = ?",
                (cluster_id,),
            )
        )
        return (canonical, runner, reasons, members)

    def active_cluster_ids(self) -> list[str]:
        return [
            str(c) for (c,) in self.con.execute("SELECT id FROM clusters WHERE state = 'active'")
        ]

    def cluster_id_taken(self, cluster_id: str) -> bool:
        return (
            self.con.execute("SELECT 1 FROM clusters WHERE id = ?", (cluster_id,)).fetchone()
            is not None
        )

    @staticmethod
    def content_of_cluster(
        cluster: Cluster, rid_of: dict[str, int], decided: dict[str, str]
    ) -> tuple[Any, ...]:
        """``cluster_content`` of a cluster record as ``write_cluster`` would store it."""
        runner = rid_of[cluster.runner_up] if cluster.runner_up else None
        members = sorted(
            (rid_of[m], cluster.similarity[m], decided.get(m)) for m in cluster.members
        )
        return (
            rid_of[cluster.canonical],
            runner,
            json.dumps(list(cluster.reasons), allow_nan=False),
            members,
        )

    def write_cluster(
        self,
        cluster: Cluster,
        rid_of: dict[str, int],
        generation: int,
        decided: dict[str, str],
        created: int | None,
    ) -> None:
        """Insert a cluster (``created`` None) or replace an existing one's content."""
        reasons = json.dumps(list(cluster.reasons), allow_nan=False)
        runner = rid_of[cluster.runner_up] if cluster.runner_up else None
        if created is None:
            self.con.execute(
                "INSERT INTO clusters (id, state, canonical, runner_up, reasons, created, changed)"
                " VALUES (?, 'active', ?, ?, ?, ?, ?)",
                (cluster.id, rid_of[cluster.canonical], runner, reasons, generation, generation),
            )
        else:
            self.con.execute(
                "UPDATE clusters SET canonical = ?, runner_up = ?, reasons = ?, changed = ?"
                " WHERE id = ?",
                (rid_of[cluster.canonical], runner, reasons, generation, cluster.id),
            )
            self.con.execute("DELETE FROM cluster_members WHERE cluster = ?", (cluster.id,))
        self.con.executemany(
            "INSERT INTO cluster_members (cluster, article, similarity, decision)"
            " VALUES (?, ?, ?, ?)",
            (
                (cluster.id, rid_of[m], cluster.similarity[m], decided.get(m))
                for m in cluster.members
            ),
        )

    def retire_cluster(self, cluster_id: str, generation: int) -> None:
        self.con.execute("DELETE FROM cluster_members WHERE cluster = ?", (cluster_id,))
        self.con.execute(
            "UPDATE clusters SET state = 'gone', gone = ?, canonical = NULL, runner_up = NULL"
            " WHERE id = ?",
            (generation, cluster_id),
        )

    def detach_members(self, cluster_id: str) -> None:
        self.con.execute("DELETE FROM cluster_members WHERE cluster = ?", (cluster_id,))

    # -- decisions -------------------------------------------------------------------------

    def decisions(self) -> set[tuple[str, str, str]]:
        return {
            (str(k), str(a), str(b))
            for k, a, b in self.con.execute("SELECT kind, a, b FROM decisions")
        }

    def replace_decisions(self, rows: Iterable[tuple[str, str, str]]) -> None:
        self.con.execute("DELETE FROM decisions")
        self.con.executemany(
            "INSERT INTO decisions (kind, a, b) VALUES (?, ?, ?) ON CONFLICT DO NOTHING", rows
        )

    def rids_of_refs(self, refs: Iterable[str]) -> dict[str, int]:
        out: dict[str, int] = {}
        for ref in refs:
            row = self.con.execute(
                f"SELECT id FROM articles WHERE ref = ? AND state IN {self._view}", (ref,)
            ).fetchone()
            if row is not None:
                out[ref] = int(row[0])
        return out

    # -- runs and events -------------------------------------------------------------------

    def begin_run(
        self, started: str, pid: int, parameters: dict[str, Any], roots: list[str]
    ) -> int:
        """Mark runs left ``running`` by a dead process as crashed; record a new run."""
        with transaction(self.con):
            self.con.execute("UPDATE runs SET status = 'crashed' WHERE status = 'running'")
            row = self.con.execute(
                "INSERT INTO runs (id, started, pid, status, tool_version, parameters, roots)"
                f" VALUES ({_next_id('runs')}, ?, ?, 'running', ?, ?, ?) RETURNING id",
                (
                    started,
                    pid,
                    __version__,
                    json.dumps(parameters, sort_keys=True, allow_nan=False),
                    json.dumps(roots, allow_nan=False),
                ),
            ).fetchone()
        return int(row[0])

    def end_run(
        self, run: int, status: str, ended: str, counts: dict[str, int], generation: int | None
    ) -> None:
        self.con.execute(
            "UPDATE runs SET status = ?, ended = ?, counts = ?, generation = ? WHERE id = ?",
            (status, ended, json.dumps(counts, sort_keys=True, allow_nan=False), generation, run),
        )

    def add_events(self, generation: int, events: Sequence[dict[str, Any]]) -> None:
        self.con.executemany(
            "INSERT INTO events (generation, seq, type, data) VALUES (?, ?, ?, ?)",
            (
                (generation, seq, e["type"], json.dumps(e, allow_nan=False))
                for seq, e in enumerate(events, 1)
            ),
        )

    def events(self, generation: int) -> list[dict[str, Any]]:
        return [
            json.loads(data)
            for (data,) in self.con.execute(
                "SELECT data FROM events WHERE generation = ? ORDER BY seq", (generation,)
            )
        ]

    def runs(self) -> list[dict[str, Any]]:
        cols = (
            "id",
            "started",
            "ended",
            "pid",
            "status",
            "tool_version",
            "parameters",
            "roots",
            "generation",
            "counts",
        )
        out = []
        for row in self.con.execute(f"SELECT {', '.join(cols)} FROM runs ORDER BY id"):
            record = dict(zip(cols, row, strict=True))
            for key in ("parameters", "roots", "counts"):
                record[key] = json.loads(record[key])
            out.append(record)
        return out

    # -- reports ---------------------------------------------------------------------------

    def load_clusters(self) -> list[Cluster]:
        """Active clusters as records, in position order of their first member."""
        members: dict[str, list[tuple[int, str, float]]] = {}
        for cid, pos, ref, sim in self.con.execute(
            f"SELECT m.cluster, {_POSITION}, a.ref, m.similarity FROM cluster_members m"
            " JOIN articles a ON a.id = m.article JOIN files f ON f.id = a.file"
        ):
            members.setdefault(cid, []).append((int(pos), str(ref), float(sim)))
            self._positions[str(ref)] = int(pos)
        clusters = []
        for cid, canonical, runner, reasons in self.con.execute(
            "SELECT c.id, x.ref, y.ref, c.reasons FROM clusters c JOIN articles x"
            " ON x.id = c.canonical LEFT JOIN articles y ON y.id = c.runner_up"
            " WHERE c.state = 'active'"
        ):
            ms = sorted(members.get(cid, []))
            clusters.append(
                Cluster(
                    id=str(cid),
                    canonical=str(canonical),
                    members=tuple(m[1] for m in ms),
                    similarity={m[1]: m[2] for m in ms},
                    reasons=tuple(json.loads(reasons)),
                    runner_up=None if runner is None else str(runner),
                )
            )
        clusters.sort(key=lambda c: self._positions[c.members[0]])
        return clusters

    def member_decisions(self) -> dict[str, str]:
        return {
            str(ref): str(d)
            for ref, d in self.con.execute(
                "SELECT a.ref, m.decision FROM cluster_members m JOIN articles a"
                " ON a.id = m.article WHERE m.decision IS NOT NULL"
            )
        }

    def load_matches(self) -> Iterator[tuple[Match, int, int]]:
        """Every verified pair (not ``none``) with the positions of its ``a`` and ``b``."""
        for row in self.con.execute(
            "SELECT r.relation, r.jaccard, r.containment, r.ratio, r.evidence, x.ref, y.ref,"
            " r.facts, (fx.rank << 32 | x.ordinal), (fy.rank << 32 | y.ordinal) FROM relations r"
            " JOIN articles x ON x.id = r.a JOIN files fx ON fx.id = x.file"
            " JOIN articles y ON y.id = r.b JOIN files fy ON fy.id = y.file"
            " WHERE r.relation != 'none'"
        ):
            m = _match(row[:8])
            pa, pb = int(row[8]), int(row[9])
            yield (m, pa, pb) if m.a == row[5] else (m, pb, pa)

    def stored_problems(self) -> list[Problem]:
        """What the last reads of present files found: skip reasons and warnings, in order."""
        out: list[Problem] = []
        for path, problem, warnings, raw in self.con.execute(
            "SELECT path, problem, warnings, source_bytes FROM files WHERE state = 'present'"
            " AND (problem IS NOT NULL OR warnings != '[]') ORDER BY rank"
        ):
            out.extend(self._problems(str(path), problem, warnings, raw))
        return out

    def file_problems(self, path: str) -> list[Problem]:
        row = self.con.execute(
            "SELECT problem, warnings, source_bytes FROM files WHERE path = ?", (path,)
        ).fetchone()
        return [] if row is None else self._problems(path, *row)

    @staticmethod
    def _problems(path: str, problem: Any, warnings: Any, raw: Any) -> list[Problem]:
        source_bytes = None if raw is None else bytes(raw)
        if problem is not None:
            return [Problem(path, str(problem), source_bytes=source_bytes)]
        return [
            Problem(path, str(w), kind="warning", source_bytes=source_bytes)
            for w in json.loads(warnings)
        ]

    # -- boilerplate -----------------------------------------------------------------------

    def boilerplate_hashes(self) -> frozenset[int]:
        """The learned boilerplate lines as of the last finished run (uint64 hashes)."""
        return frozenset(unsigned(h) for (h,) in self.con.execute("SELECT hash FROM boilerplate"))

    def replace_boilerplate(self, hashes: Iterable[int]) -> None:
        self.con.execute("DELETE FROM boilerplate")
        self.con.executemany(
            "INSERT INTO boilerplate (hash) VALUES (?)", ((_signed1(h),) for h in hashes)
        )

    def boilerplate_among(self, lines: Iterable[int], min_titles: int, min_files: int) -> set[int]:
        """The LINES ``boilerplate.learn`` would call boilerplate in the archive in view (one query
        per 500 lines)."""
        keys = [_signed1(h) for h in lines]
        out: set[int] = set()
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            marks = ", ".join("?" * len(chunk))
            out.update(
                unsigned(h)
                for (h,) in self.con.execute(
                    "SELECT l.hash FROM lines l JOIN articles a ON a.id = l.article"
                    f" WHERE l.hash IN ({marks}) AND a.state IN {self._view} GROUP BY l.hash"
                    " HAVING count(DISTINCT a.title_hash) >= ? AND count(DISTINCT a.file) >= ?",
                    (*chunk, min_titles, min_files),
                )
            )
        return out

    def learn_boilerplate(self, min_titles: int, min_files: int) -> frozenset[int]:
        """``boilerplate.learn`` over every article in view, in one SQL pass."""
        return frozenset(
            unsigned(h)
            for (h,) in self.con.execute(
                "SELECT l.hash FROM lines l JOIN articles a ON a.id = l.article"
                f" WHERE a.state IN {self._view} GROUP BY l.hash"
                " HAVING count(DISTINCT a.title_hash) >= ? AND count(DISTINCT a.file) >= ?",
                (min_titles, min_files),
            )
        )

    def articles_with_lines(self, hashes: Iterable[int]) -> set[int]:
        out: set[int] = set()
        for h in hashes:
            out.update(
                int(r)
                for (r,) in self.con.execute(
                    "SELECT l.article FROM lines l JOIN articles a ON a.id = l.article"
                    f" WHERE l.hash = ? AND a.state IN {self._view}",
                    (_signed1(h),),
                )
            )
        return out

    def line_keys(self, rid: int) -> list[int]:
        row = self.con.execute("SELECT lines FROM articles WHERE id = ?", (rid,)).fetchone()
        return [] if row is None else [unsigned(h) for h in signed(row[0])]

    def masked_lines(self, hashes: frozenset[int]) -> int:
        """Line occurrences (distinct per article) of ``hashes`` in the archive in view."""
        total = 0
        for h in hashes:
            total += self.con.execute(
                "SELECT count(*) FROM lines l JOIN articles a ON a.id = l.article"
                f" WHERE l.hash = ? AND a.state IN {self._view}",
                (_signed1(h),),
            ).fetchone()[0]
        return int(total)

    def boilerplate(self, min_titles: int, min_files: int) -> Boilerplate:
        """The seam of ``MemoryStore.boilerplate``: learned from every article in view."""
        hashes = self.learn_boilerplate(min_titles, min_files)
        return Boilerplate(hashes, self.masked_lines(hashes))


def _article(row: Sequence[Any]) -> Article:
    (_rid, ref, source, ordinal, first, last, kind, title, body, content, fixes, repaired, cut) = (
        row[:13]
    )
    raw = row[13]
    return Article(
        id=ref,
        source=source,
        ordinal=ordinal,
        lines=(first, last),
        kind=kind,
        title=title,
        body=zlib.decompress(body).decode("utf-8"),
        content_hash=content,
        fixes=tuple(Fix(str(rule), int(count)) for rule, count in json.loads(fixes)),
        title_repaired=bool(repaired),
        truncated=bool(cut),
        source_bytes=None if raw is None else bytes(raw),
    )


def flipped(m: Match) -> Match:
    """The same verdict seen from the other article."""
    relation = {"contains": "contained_in", "contained_in": "contains"}.get(m.relation, m.relation)
    facts = tuple((kind, y, x) for kind, x, y in m.facts)
    return Match(m.b, m.a, relation, m.scores, m.evidence, facts)


def _match(row: Sequence[Any]) -> Match:
    """A stored relation, oriented as ``Verifier.match`` returns it (by article id)."""
    relation, jaccard, containment, ratio, evidence, a, b, facts = row
    m = Match(
        str(a),
        str(b),
        str(relation),
        Scores(float(jaccard), float(containment), float(ratio)),
        tuple(json.loads(evidence)),
        tuple((str(k), str(x), str(y)) for k, x, y in json.loads(facts)),
    )
    return flipped(m) if m.b < m.a else m

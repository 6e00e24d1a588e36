"""What a schema step changes in the rows themselves, beyond its DDL (``schema.MIGRATIONS``).

``DATA_STEPS[n]`` runs right after step ``n``'s DDL, in the same transaction, on SQLite and
on PostgreSQL alike (portable SQL with ``?`` placeholders): a migration killed half way
leaves the old schema and the old rows.

* **2**: body-line and title hashes (``boilerplate.line_hash``) became run hashes of the
  lines' token CRCs, as sentences are hashed, instead of blake2b of the tokens joined by
  spaces: a batch of texts now hashes its lines from the tokens it already has. Every
  article's line hashes, its row in ``lines`` and its title hash are computed again from
  its stored title and body, and each learned boilerplate line is carried over to its new
  hash.
* **3**: a token's hash became ``sketch.word_hash`` (64 bits, eight bytes a step) instead of
  the CRC-32 of its bytes (a step per byte), which changes every hash made of tokens:
  signatures, band keys, sentence, body-line and title hashes. Every article is sketched
  again from its stored title and body (its signature, shingle count, sentence and line
  hashes, title hash), the articles that had rows in ``bands``, ``sentences`` and ``lines``
  get their new ones, and each learned boilerplate line is carried over to its new hash.
  Verdicts and clusters stay: they were made from the texts, and the texts are the same.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dedupe_releases.index.schema import Connection

#: Articles read and rewritten at a time.
_CHUNK = 2_000


def _v1_line_hash(words: list[str]) -> int:
    """A body line's hash in schema 1: blake2b of its tokens joined by spaces."""
    digest = hashlib.blake2b(" ".join(words).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def _v2_words_hash(words: list[str]) -> int:
    """A line's hash in schema 2: the run hash of its tokens' CRC-32s."""
    from dedupe_releases.sketch import run_hash

    return run_hash([zlib.crc32(w.encode()) for w in words])


def _v2_title_hash(title: str) -> int:
    from dedupe_releases.sketch import tokens

    return _v2_words_hash(tokens(title))


def _v2_body_line_hashes(body: str) -> Any:
    """``boilerplate.body_line_hashes`` in schema 2 (tokens hashed by CRC-32)."""
    import numpy as np

    from dedupe_releases.boilerplate import body_line_hashes

    def crcs(words: list[str]) -> Any:
        return np.array([zlib.crc32(w.encode()) for w in words], dtype=np.uint64)

    return body_line_hashes(body, crcs)


def _carry(
    body: str,
    learned: set[int],
    old: Callable[[list[str]], int],
    new: Callable[[list[str]], int],
    carried: set[int],
) -> None:
    """Add to ``carried`` the ``new`` hash of each line of ``body`` whose ``old`` hash is a
    learned boilerplate line: the learned lines, carried over to a schema's new hashes."""
    if not learned:
        return
    from dedupe_releases.index.store import _signed1
    from dedupe_releases.sketch import tokens

    for line in body.split("\n"):
        words = tokens(line)
        if words and _signed1(old(words)) in learned:
            carried.add(_signed1(new(words)))


def _article_rows(con: Connection, columns: str) -> Iterator[list[Any]]:
    """``columns`` of every stored article, in id order, ``_CHUNK`` articles at a time (the
    ids are read first: a chunk may update the rows of the ones before)."""
    ids = [int(r) for (r,) in con.execute("SELECT id FROM articles ORDER BY id").fetchall()]
    for lo in range(0, len(ids), _CHUNK):
        chunk = ids[lo : lo + _CHUNK]
        yield con.execute(
            f"SELECT {columns} FROM articles WHERE id >= ? AND id <= ? ORDER BY id",
            (chunk[0], chunk[-1]),
        ).fetchall()


def rehash_lines(con: Connection) -> None:
    """Schema 2's line and title hashes for every stored article (see the module)."""
    from dedupe_releases.index.store import _signed1, signed

    learned = {int(h) for (h,) in con.execute("SELECT hash FROM boilerplate").fetchall()}
    keyed = {int(a) for (a,) in con.execute("SELECT DISTINCT article FROM lines").fetchall()}
    carried: set[int] = set()
    con.execute("DELETE FROM lines")
    for rows in _article_rows(con, "id, title, body"):
        updates: list[tuple[Any, ...]] = []
        keys: list[tuple[int, int]] = []
        for rid, title, blob in rows:
            body = zlib.decompress(bytes(blob)).decode("utf-8")
            lines = _v2_body_line_hashes(body).astype("<u8").tobytes()
            updates.append((_signed1(_v2_title_hash(title)), lines, rid))
            if rid in keyed:
                keys.extend((h, rid) for h in signed(lines))
            _carry(body, learned, _v1_line_hash, _v2_words_hash, carried)
        con.executemany("UPDATE articles SET title_hash = ?, lines = ? WHERE id = ?", updates)
        con.executemany("INSERT INTO lines (hash, article) VALUES (?, ?)", keys)
    con.execute("DELETE FROM boilerplate")
    con.executemany("INSERT INTO boilerplate (hash) VALUES (?)", [(h,) for h in sorted(carried)])


def resketch(con: Connection) -> None:
    """Schema 3's hashes of every stored article, from its title and body (see the module)."""
    import json

    from dedupe_releases.boilerplate import title_hash, words_hash
    from dedupe_releases.index.store import _signed1, signature_blob, signed, sketch_config_of
    from dedupe_releases.sketch import sketch_texts

    row = con.execute("SELECT value FROM meta WHERE key = 'settings'").fetchone()
    settings = json.loads(row[0]) if row is not None else None
    if not isinstance(settings, dict):
        return  # no settings: no article was ever stored
    config = sketch_config_of(settings)
    learned = {int(h) for (h,) in con.execute("SELECT hash FROM boilerplate").fetchall()}
    keyed = {
        table: {int(a) for (a,) in con.execute(f"SELECT DISTINCT article FROM {table}").fetchall()}
        for table in ("bands", "sentences", "lines")
    }
    carried: set[int] = set()
    for table in keyed:
        con.execute(f"DELETE FROM {table}")
    for rows in _article_rows(con, "id, ref, title, body"):
        titles = [str(title) for _, _, title, _ in rows]
        bodies = [zlib.decompress(bytes(blob)).decode("utf-8") for _, _, _, blob in rows]
        batch = sketch_texts(
            [f"{t}\n\n{b}" if b else t for t, b in zip(titles, bodies, strict=True)],
            config,
            [t.count("\n") + 2 for t in titles],
            True,
        )
        updates: list[tuple[Any, ...]] = []
        keys: dict[str, list[tuple[int, int]]] = {table: [] for table in keyed}
        for i, (rid, ref, title, _) in enumerate(rows):
            sketch = batch.sketch(i, str(ref))
            updates.append(
                (
                    _signed1(title_hash(title)),
                    sketch.shingles,
                    signature_blob(sketch, config.seed),
                    sketch.sentences,
                    sketch.lines,
                    rid,
                )
            )
            for table, blob in (
                ("bands", sketch.bands),
                ("sentences", sketch.sentences),
                ("lines", sketch.lines),
            ):
                if rid in keyed[table]:
                    keys[table].extend((h, rid) for h in signed(blob))
            _carry(bodies[i], learned, _v2_words_hash, words_hash, carried)
        con.executemany(
            "UPDATE articles SET title_hash = ?, shingles = ?, signature = ?, sentences = ?,"
            " lines = ? WHERE id = ?",
            updates,
        )
        for table, pairs in keys.items():
            column = "key" if table == "bands" else "hash"
            con.executemany(
                f"INSERT INTO {table} ({column}, article) VALUES (?, ?) ON CONFLICT DO NOTHING",
                pairs,
            )
    con.execute("DELETE FROM boilerplate")
    con.executemany("INSERT INTO boilerplate (hash) VALUES (?)", [(h,) for h in sorted(carried)])


DATA_STEPS: dict[int, Callable[[Connection], None]] = {2: rehash_lines, 3: resketch}

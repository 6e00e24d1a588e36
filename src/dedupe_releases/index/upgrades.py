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
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dedupe_releases.index.schema import Connection

#: Articles read and rewritten at a time.
_CHUNK = 2_000


def _v1_line_hash(words: list[str]) -> int:
    """A body line's hash in schema 1: blake2b of its tokens joined by spaces."""
    digest = hashlib.blake2b(" ".join(words).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def rehash_lines(con: Connection) -> None:
    """Schema 2's line and title hashes for every stored article (see the module)."""
    from dedupe_releases.boilerplate import body_line_hashes, title_hash, words_hash
    from dedupe_releases.index.store import _signed1, signed
    from dedupe_releases.sketch import tokens

    learned = {int(h) for (h,) in con.execute("SELECT hash FROM boilerplate").fetchall()}
    keyed = {int(a) for (a,) in con.execute("SELECT DISTINCT article FROM lines").fetchall()}
    ids = [int(r) for (r,) in con.execute("SELECT id FROM articles ORDER BY id").fetchall()]
    carried: set[int] = set()
    con.execute("DELETE FROM lines")
    for lo in range(0, len(ids), _CHUNK):
        chunk = ids[lo : lo + _CHUNK]
        rows = con.execute(
            "SELECT id, title, body FROM articles WHERE id >= ? AND id <= ? ORDER BY id",
            (chunk[0], chunk[-1]),
        ).fetchall()
        updates: list[tuple[Any, ...]] = []
        keys: list[tuple[int, int]] = []
        for rid, title, blob in rows:
            body = zlib.decompress(bytes(blob)).decode("utf-8")
            lines = body_line_hashes(body).astype("<u8").tobytes()
            updates.append((_signed1(title_hash(title)), lines, rid))
            if rid in keyed:
                keys.extend((h, rid) for h in signed(lines))
            if learned:
                for line in body.split("\n"):
                    words = tokens(line)
                    if words and _signed1(_v1_line_hash(words)) in learned:
                        carried.add(_signed1(words_hash(words)))
        con.executemany("UPDATE articles SET title_hash = ?, lines = ? WHERE id = ?", updates)
        con.executemany("INSERT INTO lines (hash, article) VALUES (?, ?)", keys)
    con.execute("DELETE FROM boilerplate")
    con.executemany("INSERT INTO boilerplate (hash) VALUES (?)", [(h,) for h in sorted(carried)])


DATA_STEPS: dict[int, Callable[[Connection], None]] = {2: rehash_lines}

"""Where an index lives: an SQLite file (a path) or a PostgreSQL database (a URL).

``--index archive.db`` is a file; ``--index postgresql://USER@HOST:PORT/DB`` (or
``postgres://``) is a database on a server. A URL is never printed with its password:
``str`` and ``repr`` of a ``PgUrl`` show ``USER:***@``, and ``scrub`` takes the password out
of any message (a server's or libpq's) before it reaches the terminal or a log file.

>>> str(PgUrl("postgresql://nightly:s3cret@db.example:5432/archive?sslmode=require"))
'postgresql://nightly:***@db.example:5432/archive?sslmode=require'
>>> parse_target("archive.db"), parse_target("postgres://h/db")
(PosixPath('archive.db'), PgUrl('postgres://h/db'))
"""

from __future__ import annotations

import importlib.util
import re
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import TypeAlias

from dedupe_releases.errors import IndexError_

SCHEMES = ("postgresql://", "postgres://")

_URL = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://)([^/?#]*)(.*)", re.DOTALL)
_QUERY_PASSWORD = re.compile(r"(?i)(\bpassword=)([^&#]*)")


def is_url(text: str) -> bool:
    """Does ``--index TEXT`` name a PostgreSQL database rather than an SQLite file?"""
    return text[:13].lower().startswith(SCHEMES)


def redact(url: str) -> str:
    """``url`` with any password (in the user part or a ``password=`` parameter) as ``***``."""
    m = _URL.fullmatch(url)
    if m is None:
        return url
    scheme, netloc, rest = m.groups()
    user, at, host = netloc.rpartition("@")
    if at and ":" in user:
        user = user.split(":", 1)[0] + ":***"
    return scheme + user + at + host + _QUERY_PASSWORD.sub(r"\1***", rest)


@dataclass(frozen=True, slots=True, repr=False)
class PgUrl:
    """A PostgreSQL index's URL; printed without its password."""

    url: str

    def __str__(self) -> str:
        return redact(self.url)

    def __repr__(self) -> str:
        return f"PgUrl({redact(self.url)!r})"

    def secrets(self) -> list[str]:
        """The password as written in the URL and decoded (to take out of messages)."""
        m = _URL.fullmatch(self.url)
        if m is None:
            return []
        found = []
        user, at, _host = m.group(2).rpartition("@")
        if at and ":" in user:
            found.append(user.split(":", 1)[1])
        found.extend(p.group(2) for p in _QUERY_PASSWORD.finditer(m.group(3)))
        found += [urllib.parse.unquote(s) for s in found]
        return sorted({s for s in found if s}, key=len, reverse=True)

    def scrub(self, text: str) -> str:
        """``text`` (an error message) with the password replaced by ``***``."""
        for secret in self.secrets():
            text = text.replace(secret, "***")
        return text


#: An index: an SQLite file or a PostgreSQL database.
Target: TypeAlias = Path | PgUrl


def parse_target(text: str) -> Target:
    return PgUrl(text) if is_url(text) else Path(text)


def need_psycopg(target: PgUrl) -> None:
    """Fail with the install command when the PostgreSQL driver is missing."""
    if importlib.util.find_spec("psycopg") is None:
        raise IndexError_(
            f"index {target}: a PostgreSQL index needs the psycopg driver; install it with"
            " pip install 'dedupe-releases[postgres]'"
        )

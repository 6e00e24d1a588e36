"""One writer per index: an exclusive ``flock`` on ``INDEX.lock``, never on the database.

The kernel drops a ``flock`` when its holder dies, however it dies, so a crashed run can
never leave a stale lock and no "break-lock" command is needed (util-linux ``flock(1)``;
unlike restic's and borg's lock files). The lock is a separate file because opening and
closing the database file itself would cancel SQLite's own POSIX locks
(sqlite.org/howtocorrupt.html, 2.2). The holder writes its pid and start time into the
file so the next run can say who holds it. The file is never deleted: deleting a lock file
while another process waits on it lets two processes "hold" two different files.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import time
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from dedupe_releases.errors import IndexError_, IndexLockedError
from dedupe_releases.index.target import Target, need_psycopg

if TYPE_CHECKING:
    from dedupe_releases.index.pg import PgLock

_HOLDER = re.compile(r"pid \d{1,10} since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d")

#: How often a waiting run retries the lock.
POLL_SECONDS = 0.05


def lock_path(index: Path) -> Path:
    return index.with_name(index.name + ".lock")


def writer_lock(target: Target, wait: float | None = None) -> IndexLock | PgLock:
    """The writer lock of an index: ``IndexLock`` for a file, ``PgLock`` (an advisory lock on
    the server, ``pg.py``) for a PostgreSQL database."""
    if isinstance(target, Path):
        return IndexLock(target, wait)
    need_psycopg(target)
    from dedupe_releases.index.pg import PgLock

    return PgLock(target, wait)


class IndexLock:
    """``with IndexLock(index, wait=None):`` hold the index's writer lock.

    ``wait`` is how many seconds to keep trying (``None`` or 0: fail at once) before raising
    ``IndexLockedError``. After entering, ``fs_now_ns`` is the file system's clock at that
    moment (the lock file's new mtime): file times are compared with it, not with this
    process's clock, which may be wrong (git's racy-git rule uses the index file the same way).
    """

    #: The connection that holds the lock (a PostgreSQL index's ``PgLock`` only).
    connection = None

    def __init__(self, index: Path, wait: float | None = None) -> None:
        self.index = index
        self.path = lock_path(index)
        self.wait = wait or 0.0
        self.fd: int | None = None
        self.fs_now_ns = 0

    def __enter__(self) -> IndexLock:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o644)
        except OSError as exc:
            raise IndexError_(
                f"index {self.index}: cannot open lock file {self.path} ({exc.strerror or exc})"
            ) from None
        deadline = time.monotonic() + self.wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = _holder(fd)
                    os.close(fd)
                    waited = f" after waiting {self.wait:g} s" if self.wait else ""
                    hint = "" if self.wait else " (use --wait SECONDS)"
                    raise IndexLockedError(
                        f"index {self.index} is in use by {holder}{waited}{hint}"
                    ) from None
                time.sleep(POLL_SECONDS)
            except OSError as exc:
                os.close(fd)
                raise IndexError_(
                    f"index {self.index}: cannot lock {self.path} ({exc.strerror or exc});"
                    " network file systems are not supported for the index"
                ) from None
        self.fd = fd
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        with contextlib.suppress(OSError):  # the text is a courtesy; the flock is the lock
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"pid {os.getpid()} since {stamp}\n".encode(), 0)
        os.utime(fd)
        self.fs_now_ns = os.fstat(fd).st_mtime_ns
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.fd is not None:
            fd, self.fd = self.fd, None
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


def _holder(fd: int) -> str:
    """``pid 4242 since 2024-05-01 02:00:03`` as the holder wrote it, or a generic phrase.

    The text is checked against that exact shape: the lock file is not trusted to hold
    anything printable.
    """
    try:
        text = os.pread(fd, 200, 0).decode("ascii", "replace").strip()
    except OSError:
        text = ""
    return text if _HOLDER.fullmatch(text) else "another run"

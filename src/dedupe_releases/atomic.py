"""Files we write outside the index: whole or not at all, never a half-written report.

``write_atomic`` writes to a temporary file in the target's folder, fsyncs it, renames it
over the target and fsyncs the folder (rsync's and rclone's temp + rename). The temporary
file is locked (``flock``) while it is written, so a later run can tell the leftovers of a
killed run (unlocked) from a run still writing (locked) without trusting any clock.
Never leaves a temporary file behind on an error it can see.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from dedupe_releases.errors import OutputError


def _temp_prefix(path: Path) -> str:
    return f".{path.name}."


_TEMP_SUFFIX = ".tmp"


def remove_stale_temps(path: Path) -> list[str]:
    """Delete temporary files a killed run left next to ``path``; returns their names.

    A temporary file of a live run is locked by it, so ``LOCK_NB`` fails and it stays.
    Links are never followed (``O_NOFOLLOW``): a planted link to another file is left alone.
    """
    folder = path.parent
    prefix = _temp_prefix(path)
    removed: list[str] = []
    try:
        names = sorted(p.name for p in folder.iterdir())
    except OSError:
        return removed
    for name in names:
        if not (name.startswith(prefix) and name.endswith(_TEMP_SUFFIX)):
            continue
        full = folder / name
        try:
            fd = os.open(full, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.unlink(full)
            removed.append(name)
        except OSError:
            pass
        finally:
            os.close(fd)
    return removed


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_atomic(path: Path, write: Callable[[BinaryIO], None]) -> None:
    """Write a file whole or not at all: temp file in the same folder, fsync, rename, fsync.

    The new file gets the old file's permissions, or the usual ``0o666 & ~umask`` (mkstemp
    alone would make every report 0600). Raises ``OutputError`` (exit code 6) on any OS
    error; the old file is then untouched and the temporary file removed.
    """
    folder = path.parent if str(path.parent) else Path()
    remove_stale_temps(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(path), suffix=_TEMP_SUFFIX, dir=folder)
    except OSError as exc:
        raise OutputError(f"{path}: cannot write output ({exc.strerror or exc})") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            try:
                mode = os.stat(path).st_mode & 0o7777
            except OSError:
                mode = 0o666 & ~_umask()
            os.fchmod(fh.fileno(), mode)
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise OutputError(f"{path}: cannot write output ({exc.strerror or exc})") from None
    except BaseException:
        # Interrupted (second Ctrl-C) or any other error: no temp file is left behind.
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise

"""Stage 1: walk the input paths and decode each file.

Takes files and folders; yields a ``SourceText`` per readable file and a ``Problem`` per file
that is skipped (binary, unreadable, too large, corrupt gzip), in a stable order (names
sorted by their bytes). Never follows links or opens special files unless told to, and never
raises for a bad file.
"""

from __future__ import annotations

import codecs
import fnmatch
import gzip
import hashlib
import os
import re
import stat
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from dedupe_releases.config import ReadConfig
from dedupe_releases.records import Problem, SourceText

_BOMS: tuple[tuple[bytes, str], ...] = (
    # UTF-32 first: its little-endian BOM starts with UTF-16's.
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


class SkipFile(Exception):
    """A file cannot be used; the message is the reason shown to the user."""


def _cp1252_fallback(error: UnicodeError) -> tuple[str, int]:
    """Decode one undecodable byte as Windows-1252 (latin-1 for its five holes).

    A scraped dump often mixes UTF-8 with stray Windows-1252 quotes; decoding those bytes
    this way keeps the quote instead of losing it to U+FFFD. The C1 controls that latin-1
    gives for 0x81/0x8D/0x8F/0x90/0x9D are replaced by U+FFFD (they would reach a terminal).
    """
    assert isinstance(error, UnicodeDecodeError)
    byte = error.object[error.start : error.start + 1]
    try:
        char = byte.decode("cp1252")
    except UnicodeDecodeError:
        char = "\ufffd"
    return char, error.start + 1


codecs.register_error("dedupe_releases.cp1252", _cp1252_fallback)


@dataclass(frozen=True, slots=True)
class Decoded:
    text: str
    encoding: str


def decode_bytes(data: bytes) -> Decoded:
    """Decode a file's bytes: BOM first, then UTF-8 with a Windows-1252 fallback per byte.

    >>> decode_bytes("café".encode("utf-8")).encoding
    'utf-8'
    >>> decode_bytes("café “q”".encode("cp1252"))
    Decoded(text='café “q”', encoding='cp1252')
    >>> decode_bytes(b"\\xef\\xbb\\xbfhi")
    Decoded(text='hi', encoding='utf-8-sig')

    Raises ``SkipFile`` for binary data (a NUL byte outside a UTF-16/32 file).
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            body = data[len(bom) :]
            if encoding == "utf-8-sig":
                if b"\x00" in body:
                    raise SkipFile(f"binary (NUL at byte {body.index(0) + len(bom)})")
                break
            # A cut last code unit (odd byte count) decodes to U+FFFD.
            return Decoded(body.decode(encoding, errors="replace"), encoding)
    else:
        encoding = "utf-8"
        body = data
    nul = body.find(b"\x00")
    if nul >= 0:
        raise SkipFile(f"binary (NUL at byte {nul + len(data) - len(body)})")
    try:
        return Decoded(body.decode("utf-8"), encoding)
    except UnicodeDecodeError:
        pass
    # Not valid UTF-8. If it holds no valid multi-byte UTF-8 sequence at all it is a legacy
    # single-byte file; ask charset-normalizer only when it is not plain Western text.
    text = body.decode("utf-8", errors="dedupe_releases.cp1252")
    if _has_utf8_multibyte(body):
        return Decoded(text, "utf-8+cp1252")
    try:
        body.decode("cp1252")
        return Decoded(text, "cp1252")
    except UnicodeDecodeError:
        pass
    guess = _detect(body)
    if guess is not None:
        return guess
    return Decoded(text, "cp1252")


# One well-formed multi-byte UTF-8 character (RFC 3629: no overlongs, no surrogates).
_UTF8_MULTIBYTE = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]"
    rb"|\xe0[\xa0-\xbf][\x80-\xbf]|[\xe1-\xec\xee\xef][\x80-\xbf]{2}|\xed[\x80-\x9f][\x80-\xbf]"
    rb"|\xf0[\x90-\xbf][\x80-\xbf]{2}|[\xf1-\xf3][\x80-\xbf]{3}|\xf4[\x80-\x8f][\x80-\xbf]{2}"
)


def _has_utf8_multibyte(data: bytes) -> bool:
    """True if the bytes contain at least one well-formed multi-byte UTF-8 character."""
    return _UTF8_MULTIBYTE.search(data) is not None


def _detect(data: bytes) -> Decoded | None:
    """charset-normalizer's best guess for a non-UTF-8, non-Windows-1252 file."""
    from charset_normalizer import from_bytes  # import cost only when needed

    best = from_bytes(data[:1_000_000]).best()
    if best is None or best.encoding is None:
        return None
    try:
        return Decoded(data.decode(best.encoding, errors="replace"), best.encoding)
    except LookupError:
        return None


def read_file_bytes(path: Path, max_bytes: int) -> bytes:
    """Read a file (decompressing ``.gz``), refusing more than ``max_bytes`` of content."""
    if path.name.endswith(".gz"):
        try:
            with gzip.open(path, "rb") as fh:
                data = fh.read(max_bytes + 1)
        except (OSError, EOFError, zlib.error) as exc:
            if isinstance(exc, PermissionError | FileNotFoundError):
                raise
            raise SkipFile(f"corrupt gzip ({exc})") from None
    else:
        # O_NONBLOCK: a FIFO that slipped through the stat check must not hang the run.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
        with os.fdopen(fd, "rb") as fh:
            data = fh.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise SkipFile(f"larger than --max-file-size ({max_bytes:,} bytes)")
    return data


def read_source(path: Path, source: str, config: ReadConfig) -> SourceText:
    """Read and decode one file. Raises ``SkipFile`` or ``OSError``."""
    data = read_file_bytes(path, config.max_file_bytes)
    decoded = decode_bytes(data)
    return SourceText(
        path=path,
        source=source,
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        encoding=decoded.encoding,
        text=decoded.text,
    )


def display_name(path_text: str) -> str:
    """A file name as text; bytes that are not UTF-8 are shown as U+FFFD."""
    return path_text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _selected(rel: str, name: str, config: ReadConfig) -> bool:
    if any(fnmatch.fnmatchcase(rel, p) or fnmatch.fnmatchcase(name, p) for p in config.exclude):
        return False
    if config.include:
        return any(
            fnmatch.fnmatchcase(rel, p) or fnmatch.fnmatchcase(name, p) for p in config.include
        )
    return True


def walk(roots: Iterable[Path], config: ReadConfig) -> Iterator[tuple[Path, str] | Problem]:
    """Yield ``(path, source)`` for every file to read, or a ``Problem``, in sorted order.

    ``source`` is the path relative to its root (prefixed by the root's name when several
    roots are given, so ids stay unique). Folders are sorted by the bytes of their names.
    """
    roots = list(roots)
    prefix_roots = len(roots) > 1
    for root in roots:
        root_label = display_name(os.fsdecode(root.name or str(root)))
        try:
            st = os.stat(root) if config.follow_links else os.lstat(root)
        except OSError as exc:
            yield Problem(display_name(str(root)), _os_reason(exc))
            continue
        if stat.S_ISLNK(st.st_mode):
            # A root named on the command line is followed: the user asked for it.
            try:
                st = os.stat(root)
            except OSError as exc:
                yield Problem(display_name(str(root)), _os_reason(exc))
                continue
        if stat.S_ISREG(st.st_mode):
            yield root, root_label
            continue
        if not stat.S_ISDIR(st.st_mode):
            yield Problem(display_name(str(root)), "skipped: not a regular file")
            continue
        seen: set[tuple[int, int]] = {(st.st_dev, st.st_ino)}
        base = root_label + "/" if prefix_roots else ""
        yield from _walk_dir(root, base, config, seen)


def _walk_dir(
    folder: Path, rel: str, config: ReadConfig, seen: set[tuple[int, int]]
) -> Iterator[tuple[Path, str] | Problem]:
    try:
        with os.scandir(folder) as it:
            entries = sorted(it, key=lambda e: os.fsencode(e.name))
    except OSError as exc:
        yield Problem(display_name(rel.rstrip("/") or str(folder)), _os_reason(exc))
        return
    for entry in entries:
        name = display_name(entry.name)
        child_rel = rel + name
        if not config.hidden and entry.name.startswith("."):
            continue
        try:
            is_link = entry.is_symlink()
            if is_link and not config.follow_links:
                yield Problem(child_rel, "skipped: symbolic link (use --follow-links)")
                continue
            st = os.stat(entry.path) if is_link else entry.stat(follow_symlinks=False)
        except OSError as exc:
            yield Problem(child_rel, _os_reason(exc))
            continue
        if stat.S_ISDIR(st.st_mode):
            if any(
                fnmatch.fnmatchcase(child_rel, p) or fnmatch.fnmatchcase(name, p)
                for p in config.exclude
            ):
                continue
            key = (st.st_dev, st.st_ino)
            if key in seen:
                yield Problem(child_rel, "skipped: file system loop")
                continue
            yield from _walk_dir(Path(entry.path), child_rel + "/", config, seen | {key})
        elif stat.S_ISREG(st.st_mode):
            if _selected(child_rel, name, config):
                yield Path(entry.path), child_rel
        elif _selected(child_rel, name, config):
            yield Problem(child_rel, "skipped: not a regular file")


def _os_reason(exc: OSError) -> str:
    if isinstance(exc, PermissionError):
        return "skipped: permission denied"
    if isinstance(exc, FileNotFoundError):
        return "skipped: vanished while reading"
    return f"skipped: {exc.strerror or exc}"


def read_sources(roots: Iterable[Path], config: ReadConfig) -> Iterator[SourceText | Problem]:
    """Stream decoded files (and problems) from files and folders."""
    for item in walk(roots, config):
        if isinstance(item, Problem):
            yield item
            continue
        path, source = item
        try:
            yield read_source(path, source, config)
        except SkipFile as exc:
            yield Problem(source, f"skipped: {exc}")
        except OSError as exc:
            yield Problem(source, _os_reason(exc))

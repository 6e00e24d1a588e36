"""Stage 1: walk the input paths and decode each file.

Takes files and folders; yields a ``SourceText`` per readable file and a ``Problem`` per file
that is skipped (binary, unreadable, too large, corrupt gzip, changed while read), in a stable
order (names sorted by their bytes). Never follows links or opens special files unless told
to, never holds more than ``--max-file-size`` bytes of one file, and never raises for a bad file.
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
from collections.abc import Callable, Iterable, Iterator
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
    replaced: int = 0  # U+FFFD characters that decoding had to insert (not in the file)


def _replaced(text: str, body: bytes, encoding: str) -> int:
    """How many U+FFFD in ``text`` stand for undecodable bytes rather than a real U+FFFD.

    Decoding with ``errors="ignore"`` keeps the file's own U+FFFD and adds none.
    """
    if "\ufffd" not in text:
        return 0
    return text.count("\ufffd") - body.decode(encoding, errors="ignore").count("\ufffd")


def decode_bytes(data: bytes) -> Decoded:
    """Decode a file's bytes: BOM first, then UTF-8 with a Windows-1252 fallback per byte.

    >>> decode_bytes("café".encode("utf-8")).encoding
    'utf-8'
    >>> decode_bytes("café “q”".encode("cp1252"))
    Decoded(text='café “q”', encoding='cp1252', replaced=0)
    >>> decode_bytes(b"\\xef\\xbb\\xbfhi")
    Decoded(text='hi', encoding='utf-8-sig', replaced=0)
    >>> decode_bytes(b"\\xff\\xfeh\\x00i\\x00!")  # a cut last UTF-16 unit
    Decoded(text='hi\ufffd', encoding='utf-16-le', replaced=1)

    Raises ``SkipFile`` for binary data (a NUL byte outside a UTF-16/32 file).
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            body = data[len(bom) :]
            if encoding == "utf-8-sig":
                if b"\x00" in body:
                    raise SkipFile(f"binary (NUL at byte {body.index(0) + len(bom)})")
                break
            # A cut last code unit (odd byte count) or a lone surrogate decodes to U+FFFD.
            text = body.decode(encoding, errors="replace")
            return Decoded(text, encoding, _replaced(text, body, encoding))
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
    replaced = _replaced(text, body, "utf-8")
    if _has_utf8_multibyte(body):
        return Decoded(text, "utf-8+cp1252", replaced)
    if not _mostly_cp1252_holes(body):
        # Windows-1252, perhaps with a few stray bytes it leaves undefined (U+FFFD, counted).
        return Decoded(text, "cp1252", replaced)
    guess = _detect(body)
    if guess is not None:
        return guess
    return Decoded(text, "cp1252", replaced)


# One well-formed multi-byte UTF-8 character (RFC 3629: no overlongs, no surrogates).
_UTF8_MULTIBYTE = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]"
    rb"|\xe0[\xa0-\xbf][\x80-\xbf]|[\xe1-\xec\xee\xef][\x80-\xbf]{2}|\xed[\x80-\x9f][\x80-\xbf]"
    rb"|\xf0[\x90-\xbf][\x80-\xbf]{2}|[\xf1-\xf3][\x80-\xbf]{3}|\xf4[\x80-\x8f][\x80-\xbf]{2}"
)


_CP1252_HOLES = re.compile(rb"[\x81\x8d\x8f\x90\x9d]")
_HIGH = re.compile(rb"[\x80-\xff]")


def _mostly_cp1252_holes(data: bytes) -> bool:
    """True when the bytes Windows-1252 leaves undefined are more than a stray few.

    Only then is the file worth a guess (Shift-JIS, GBK and Big5 use 0x81-0x9F as lead
    bytes all the time): one stray 0x81 in a Windows-1252 file sent the whole file to
    charset-normalizer, which called it cp852 and turned every "£" into "ú". A stray few
    is at most 3, or 1 % of the bytes above 0x7F.

    >>> _mostly_cp1252_holes("£5 for “all”".encode("cp1252") + b"\\x81")
    False
    >>> _mostly_cp1252_holes("、。「」・ー".encode("shift_jis"))  # every lead byte is 0x81
    True
    """
    holes = len(_CP1252_HOLES.findall(data))
    return holes > max(3, len(_HIGH.findall(data)) // 100)


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
        text = data.decode(best.encoding, errors="replace")
        return Decoded(text, best.encoding, _replaced(text, data, best.encoding))
    except LookupError:
        return None


#: Bytes read at a time: a NUL (binary) or the size cap stops the read within one chunk.
READ_CHUNK = 1 << 20
_WIDE_BOMS = (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
CHANGED = "changed while reading; will be read again next run"


def read_file_bytes(
    path: Path, max_bytes: int, on_open: Callable[[int], None] | None = None
) -> bytes:
    """Read a file (decompressing ``.gz``), refusing more than ``max_bytes`` of content.

    The file is read in chunks: a NUL byte outside a UTF-16/32 file stops the read at once
    (``binary``), as does content past ``max_bytes`` (a gzip bomb or a sparse 2 GB file
    costs one chunk, not its size). The file's size, mtime and ctime are compared before and
    after the read, through the same descriptor: a file that changed meanwhile is skipped
    (GNU tar's "file changed as we read it"). ``on_open(fd)`` runs between the first check
    and the read (tests use it to change the file at that exact moment).
    """
    # O_NONBLOCK: a FIFO swapped in after the walk must not hang the run.
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    with os.fdopen(fd, "rb") as raw:
        before = os.fstat(fd)
        if not stat.S_ISREG(before.st_mode):
            raise SkipFile("not a regular file")
        if on_open is not None:
            on_open(fd)
        if path.name.endswith(".gz"):
            try:
                with gzip.GzipFile(fileobj=raw, mode="rb") as fh:
                    data = _read_capped(fh.read, max_bytes, None)
            except (OSError, EOFError, zlib.error) as exc:
                if isinstance(exc, PermissionError | FileNotFoundError):
                    raise
                raise SkipFile(f"corrupt gzip ({exc})") from None
        else:
            data = _read_capped(raw.read, max_bytes, before.st_size)
        after = os.fstat(fd)
    if _stat_key(before) != _stat_key(after) or (
        not path.name.endswith(".gz") and len(data) != before.st_size
    ):
        raise SkipFile(CHANGED)
    return data


def _stat_key(st: os.stat_result) -> tuple[int, int, int]:
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _read_capped(read: Callable[[int], bytes], max_bytes: int, size: int | None) -> bytes:
    """Read to the end in chunks; stop at the first NUL (unless UTF-16/32) or past the cap."""
    chunks: list[bytes] = []
    total = 0
    wide = False
    while True:
        chunk = read(min(READ_CHUNK, max_bytes + 1 - total))
        if not chunk:
            break
        if total == 0:
            wide = chunk.startswith(_WIDE_BOMS)
        nul = -1 if wide else chunk.find(b"\x00")
        if nul >= 0:
            raise SkipFile(f"binary (NUL at byte {total + nul})")
        total += len(chunk)
        chunks.append(chunk)
        if total > max_bytes or (size is not None and size > max_bytes):
            # A regular file's size is known: its first chunk is enough to tell binary
            # from too large, and nothing more is read.
            raise SkipFile(f"larger than --max-file-size ({max_bytes:,} bytes)")
    return b"".join(chunks)


def read_source(
    path: Path, source: str, config: ReadConfig, on_open: Callable[[int], None] | None = None
) -> SourceText:
    """Read and decode one file. Raises ``SkipFile`` or ``OSError``."""
    data = read_file_bytes(path, config.max_file_bytes, on_open)
    decoded = decode_bytes(data)
    warnings: tuple[str, ...] = ()
    if decoded.replaced:
        n = decoded.replaced
        warnings = (
            f"warning: decoded as {decoded.encoding} with {n:,} replacement"
            f" character{'s' if n != 1 else ''} (U+FFFD)",
        )
    return SourceText(
        path=path,
        source=source,
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        encoding=decoded.encoding,
        text=decoded.text,
        warnings=warnings,
        source_bytes=source_bytes(path, source),
    )


def display_name(path_text: str) -> str:
    """A file name as text: bytes that are not UTF-8 are written as ``\\xNN`` escapes.

    Unlike U+FFFD, the escapes keep two names that differ only in such bytes apart, so
    their article ids differ too. The exact bytes travel as ``source_bytes`` (base64).

    >>> display_name(os.fsdecode(b"caf\\xe9.txt"))
    'caf\\\\xe9.txt'
    """
    return os.fsencode(path_text).decode("utf-8", "backslashreplace")


def source_bytes(path: Path, source: str) -> bytes | None:
    """The exact bytes of ``source`` (the last components of ``path``) when not UTF-8."""
    if "\\x" not in source:  # every non-UTF-8 name shows at least one escape
        return None
    raw = os.fsencode(path)
    parts = raw.split(b"/")[-(source.count("/") + 1) :]
    exact = b"/".join(parts)
    try:
        exact.decode("utf-8")
    except UnicodeDecodeError:
        return exact
    return None


def problem(path: Path, source: str, exc: Exception) -> Problem:
    """The ``Problem`` for a file that could not be read."""
    raw = source_bytes(path, source)
    if isinstance(exc, SkipFile):
        return Problem(source, f"skipped: {exc}", source_bytes=raw)
    if isinstance(exc, FileNotFoundError):
        # Gone between the walk and the read: as if it had been deleted before the run
        # (rsync's "vanished" code 24), so a warning, not a skip.
        return Problem(source, VANISHED, kind="warning", source_bytes=raw)
    assert isinstance(exc, OSError)
    return Problem(source, _os_reason(exc), source_bytes=raw)


VANISHED = "warning: vanished during the scan; treated as deleted"


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
    A source is never yielded twice: a root given twice is skipped, and a file whose source
    equals an earlier one (two roots with the same name) is skipped with a reason, since
    their article ids would collide.
    """
    roots = list(roots)
    prefix_roots = len(roots) > 1
    roots_seen: set[tuple[int, int]] = set()
    sources: set[str] = set()
    for root in roots:
        root_label = display_name(os.fsdecode(root.name or str(root)))
        root_text = display_name(os.fsdecode(root))
        raw = source_bytes(root, root_text)
        try:
            st = os.stat(root) if config.follow_links else os.lstat(root)
            if stat.S_ISLNK(st.st_mode):
                # A root named on the command line is followed: the user asked for it.
                st = os.stat(root)
        except OSError as exc:
            yield Problem(root_text, _os_reason(exc), source_bytes=raw)
            continue
        if (st.st_dev, st.st_ino) in roots_seen:
            yield Problem(root_text, "skipped: given twice", source_bytes=raw)
            continue
        roots_seen.add((st.st_dev, st.st_ino))
        if stat.S_ISREG(st.st_mode):
            items: Iterator[tuple[Path, str] | Problem] = iter([(root, root_label)])
        elif stat.S_ISDIR(st.st_mode):
            base = root_label + "/" if prefix_roots else ""
            items = _walk_dir(root, base, config, {(st.st_dev, st.st_ino)})
        else:
            yield Problem(root_text, "skipped: not a regular file", source_bytes=raw)
            continue
        for item in items:
            if isinstance(item, tuple):
                if item[1] in sources:
                    yield Problem(
                        item[1],
                        "skipped: same name as another input (give the roots different names)",
                        source_bytes=source_bytes(*item),
                    )
                    continue
                sources.add(item[1])
            yield item


def _walk_dir(
    folder: Path, rel: str, config: ReadConfig, seen: set[tuple[int, int]]
) -> Iterator[tuple[Path, str] | Problem]:
    try:
        with os.scandir(folder) as it:
            entries = sorted(it, key=lambda e: os.fsencode(e.name))
    except OSError as exc:
        label = rel.rstrip("/") or display_name(os.fsdecode(folder))
        yield Problem(label, _os_reason(exc), source_bytes=source_bytes(folder, label))
        return
    for entry in entries:
        name = display_name(entry.name)
        child_rel = rel + name
        if not config.hidden and entry.name.startswith("."):
            continue
        path = Path(entry.path)
        raw = source_bytes(path, child_rel)
        is_link = False
        try:
            is_link = entry.is_symlink()
            if is_link and not config.follow_links:
                if _selected(child_rel, name, config):
                    yield Problem(
                        child_rel, "skipped: symbolic link (use --follow-links)", source_bytes=raw
                    )
                continue
            st = os.stat(entry.path) if is_link else entry.stat(follow_symlinks=False)
        except OSError as exc:
            if is_link and isinstance(exc, FileNotFoundError):
                reason = f"skipped: dangling symbolic link (to {_link_target(entry.path)})"
                yield Problem(child_rel, reason, source_bytes=raw)
            elif isinstance(exc, FileNotFoundError):
                yield Problem(child_rel, VANISHED, kind="warning", source_bytes=raw)
            else:
                yield Problem(child_rel, _os_reason(exc), source_bytes=raw)
            continue
        if stat.S_ISDIR(st.st_mode):
            if any(
                fnmatch.fnmatchcase(child_rel, p) or fnmatch.fnmatchcase(name, p)
                for p in config.exclude
            ):
                continue
            key = (st.st_dev, st.st_ino)
            if key in seen:
                to = f" (link to {_link_target(entry.path)})" if is_link else ""
                yield Problem(child_rel, f"skipped: file system loop{to}", source_bytes=raw)
                continue
            yield from _walk_dir(path, child_rel + "/", config, seen | {key})
        elif stat.S_ISREG(st.st_mode):
            if _selected(child_rel, name, config):
                yield path, child_rel
        elif _selected(child_rel, name, config):
            yield Problem(child_rel, "skipped: not a regular file", source_bytes=raw)


def _link_target(path: str) -> str:
    try:
        return display_name(os.fsdecode(Path(path).readlink()))
    except OSError:
        return "?"


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
        except (SkipFile, OSError) as exc:
            yield problem(path, source, exc)

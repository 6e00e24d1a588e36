"""Export a clean archive: the canonical copy of each cluster and every unique article.

Takes a scan's articles and clusters; writes one UTF-8 text file per cluster or unique
article into one folder, named from its title (no separators, no ``..``, at most
``NAME_BYTES`` bytes, unique even after case-folding and NFC), plus ``manifest.json``,
which maps every source article to the file that stands for it and records what was
written. Every file operation goes through a descriptor of that folder: a temp file opened
with ``O_CREAT|O_EXCL|O_NOFOLLOW``, then linked (never over an existing name) or renamed into
place, so nothing is written outside it and a planted symbolic link is never followed. A
file the export did not write (or that was changed since) is never overwritten or removed;
re-running with the same input changes nothing. Never reads the input files.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import re
import secrets
import stat
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dedupe_releases import __version__
from dedupe_releases.errors import OutputError
from dedupe_releases.records import Article, Cluster

MANIFEST = "manifest.json"
MANIFEST_VERSION = 1
#: Longest name stem in UTF-8 bytes. 255 bytes is the limit of ext4, XFS, Btrfs and APFS; a
#: 150-byte stem leaves room for " (99999)" and ".txt", and keeps names readable.
NAME_BYTES = 150
SUFFIX = ".txt"
_TEMP_PREFIX = ".dedupe-export-"
#: A temporary file a killed export left behind (only ``_Folder._temp`` makes such names).
_LEFTOVER = re.compile(re.escape(_TEMP_PREFIX) + r"[0-9a-f]{16}\.tmp")
# Characters that separate paths or are refused by Windows and SMB shares.
_RESERVED = re.compile(r'[/\\:*?"<>|]')
_DEVICES = {"CON", "PRN", "AUX", "NUL"} | {f"{p}{n}" for p in ("COM", "LPT") for n in range(1, 10)}


@dataclass(frozen=True, slots=True)
class ExportItem:
    """One file to write: an article and the source articles it stands for."""

    article: Article
    stands_for: tuple[str, ...]  # article ids, the article itself first
    cluster: str | None = None


@dataclass
class ExportSummary:
    folder: Path
    files: dict[str, str] = field(default_factory=dict)  # name -> article id
    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    left: list[str] = field(default_factory=list)  # ours before, changed since: left alone


def export_items(articles: Iterable[Article], clusters: Sequence[Cluster]) -> list[ExportItem]:
    """What to write, in path order: each cluster's canonical copy and each other article."""
    member_of = {m: c for c in clusters for m in c.members}
    items = []
    for article in articles:
        cluster = member_of.get(article.id)
        if cluster is None:
            items.append(ExportItem(article, (article.id,)))
        elif cluster.canonical == article.id:
            others = tuple(m for m in cluster.members if m != article.id)
            items.append(ExportItem(article, (article.id, *others), cluster.id))
    return items


def file_text(article: Article) -> str:
    """The exported text: the heading as published, a blank line, the fixed body."""
    heading = f"{article.kind}: {article.title}" if article.kind else article.title
    return f"{heading}\n\n{article.body}\n" if article.body else f"{heading}\n"


def _cut(text: str, max_bytes: int) -> str:
    """The longest prefix of ``text`` that fits in ``max_bytes`` of UTF-8, on a character."""
    data = text.encode("utf-8")
    if len(data) <= max_bytes:
        return text
    return data[:max_bytes].decode("utf-8", "ignore")


def safe_stem(title: str, max_bytes: int = NAME_BYTES) -> str:
    """A readable file name stem from a title: one path component, never hidden or ``..``.

    >>> safe_stem("Prime Minister's meeting: 9 July 2018")
    "Prime Minister's meeting - 9 July 2018"
    >>> safe_stem("../../etc/passwd"), safe_stem(".."), safe_stem("CON"), safe_stem("a\\x00b")
    ('etc-passwd', 'untitled', '_CON', 'a b')
    """
    text = unicodedata.normalize("NFC", title)
    # Controls, format characters (bidi, zero-width) and separators become spaces.
    text = "".join(
        " " if unicodedata.category(c) in {"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"} else c
        for c in text
    )
    text = re.sub(r"\s*:\s*", " - ", text)
    text = _RESERVED.sub("-", text)
    text = re.sub(r"\.{2,}", "…", text)  # "Wait... what" keeps its pause, loses its ".."
    text = re.sub(r"\s+", " ", text)
    text = re.sub(r"-{2,}", "-", text)

    def trim(s: str) -> str:
        return s.strip(" .-…")

    text = trim(_cut(trim(text), max_bytes))
    if not text:
        return "untitled"
    if text.split(".")[0].strip().upper() in _DEVICES:
        text = "_" + text
    return text


def fold(name: str) -> str:
    """The key two names collide on: case-folded, NFC (macOS and Windows see them as one).

    >>> fold("Café.TXT") == fold("cafe\\u0301.txt")
    True
    """
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", name).casefold())


def plan_names(items: Sequence[ExportItem], taken: Iterable[str] = ()) -> list[str]:
    """A unique file name for each item, avoiding ``taken`` names (compared folded).

    >>> from dedupe_releases.verify import _art
    >>> plan_names([ExportItem(_art("Same"), ("a",)), ExportItem(_art("SAME"), ("b",))])
    ['Same.txt', 'SAME (2).txt']
    """
    used = {fold(n) for n in taken} | {fold(MANIFEST)}
    names = []
    for item in items:
        stem = safe_stem(item.article.title)
        name = stem + SUFFIX
        n = 1
        while fold(name) in used:
            n += 1
            tail = f" ({n}){SUFFIX}"
            name = _cut(stem, NAME_BYTES + len(SUFFIX) + 8 - len(tail.encode())).rstrip() + tail
        used.add(fold(name))
        names.append(name)
    return names


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class _Folder:
    """File operations relative to one open folder, never following a symbolic link in it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.mkdir(parents=True, exist_ok=True)
            self.fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        except OSError as exc:
            raise OutputError(
                f"{path}: cannot use as export folder ({exc.strerror or exc})"
            ) from None

    def close(self) -> None:
        os.close(self.fd)

    def names(self) -> list[str]:
        return os.listdir(self.fd)  # noqa: PTH208 -- a descriptor, which pathlib cannot list

    def lstat(self, name: str) -> os.stat_result | None:
        try:
            return os.stat(name, dir_fd=self.fd, follow_symlinks=False)
        except FileNotFoundError:
            return None

    def read(self, name: str, limit: int) -> bytes | None:
        """A regular file's bytes (None for anything else or a file over ``limit``)."""
        try:
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=self.fd)
        except OSError:
            return None
        with os.fdopen(fd, "rb") as fh:
            if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
                return None
            data = fh.read(limit + 1)
        return data if len(data) <= limit else None

    def _temp(self, data: bytes) -> str:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
        for _ in range(100):
            name = f"{_TEMP_PREFIX}{secrets.token_hex(8)}.tmp"
            try:
                fd = os.open(name, flags, 0o644, dir_fd=self.fd)
            except FileExistsError:
                continue
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                    fh.flush()
                    os.fsync(fh.fileno())
            except BaseException:
                self.unlink(name)
                raise
            return name
        raise OutputError(f"{self.path}: cannot create a temporary file")

    def create(self, name: str, data: bytes) -> None:
        """Write a new file; fails with ``FileExistsError`` if the name appeared meanwhile."""
        temp = self._temp(data)
        try:
            try:
                os.link(temp, name, src_dir_fd=self.fd, dst_dir_fd=self.fd, follow_symlinks=False)
            except OSError as exc:
                if exc.errno not in {errno.EPERM, errno.EOPNOTSUPP, errno.ENOSYS, errno.EXDEV}:
                    raise
                # No hard links here (some FUSE and SMB mounts): check, then rename.
                if self.lstat(name) is not None:
                    raise FileExistsError(errno.EEXIST, "exists", name) from None
                os.rename(temp, name, src_dir_fd=self.fd, dst_dir_fd=self.fd)
        finally:
            self.unlink(temp)

    def replace(self, name: str, data: bytes) -> None:
        """Replace a file this export wrote (a rename never follows a link at ``name``)."""
        temp = self._temp(data)
        try:
            os.rename(temp, name, src_dir_fd=self.fd, dst_dir_fd=self.fd)
        except BaseException:
            self.unlink(temp)
            raise

    def unlink(self, name: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name, dir_fd=self.fd)

    def sync(self) -> None:
        os.fsync(self.fd)


def read_manifest(folder: _Folder) -> dict[str, str]:
    """Names this export wrote before, with the sha256 of what it wrote."""
    st = folder.lstat(MANIFEST)
    if st is None:
        return {}
    where = folder.path / MANIFEST
    if not stat.S_ISREG(st.st_mode):
        raise OutputError(f"{where}: not a regular file; refusing to export into this folder")
    data = folder.read(MANIFEST, 256 * 1024 * 1024)
    try:
        doc = json.loads(data or b"")
        if doc.get("tool", {}).get("name") != "dedupe-releases" or doc.get("kind") != "export":
            raise ValueError("not an export manifest")
        owned = {str(f["name"]): str(f["sha256"]) for f in doc["files"]}
    except (ValueError, TypeError, KeyError, AttributeError):
        raise OutputError(
            f"{where}: exists and was not written by dedupe-releases export; choose another folder"
        ) from None
    return owned


def manifest(
    items: Sequence[ExportItem],
    names: Sequence[str],
    digests: Mapping[str, str],
    parameters: Mapping[str, Any],
) -> dict[str, Any]:
    """The manifest: every file written and every source article's file. No timestamps."""
    files = []
    articles: dict[str, str] = {}
    for item, name in zip(items, names, strict=True):
        a = item.article
        files.append(
            {
                "name": name,
                "sha256": digests[name],
                "article": a.id,
                "title": a.title,
                "kind": a.kind,
                "source": a.source,
                "lines": list(a.lines),
                "cluster": item.cluster,
                "stands_for": list(item.stands_for),
            }
        )
        for article_id in item.stands_for:
            articles[article_id] = name
    return {
        "kind": "export",
        "manifest_version": MANIFEST_VERSION,
        "tool": {"name": "dedupe-releases", "version": __version__},
        "parameters": dict(parameters),
        "counts": {"files": len(files), "articles": len(articles)},
        "files": files,
        "articles": dict(sorted(articles.items())),
    }


def write_export(
    folder: Path,
    items: Sequence[ExportItem],
    parameters: Mapping[str, Any] | None = None,
    on_file: Callable[[str], None] | None = None,
) -> ExportSummary:
    """Write the items and ``manifest.json`` into ``folder``; see the module docstring."""
    from dedupe_releases.output import dumps

    target = _Folder(folder)
    summary = ExportSummary(folder)
    try:
        for name in target.names():  # a killed run's temporary files (one export at a time)
            st = target.lstat(name) if _LEFTOVER.fullmatch(name) else None
            if st is not None and stat.S_ISREG(st.st_mode):
                target.unlink(name)
        owned = read_manifest(target)
        contents = [file_text(item.article).encode("utf-8") for item in items]
        intact = {n for n, digest in owned.items() if _is(target, n, digest)}
        summary.left = sorted(set(owned) - intact)
        foreign = [n for n in target.names() if n not in intact]
        # A name already holding exactly the bytes to write is reused (a run killed before
        # its manifest): nothing is overwritten, and a re-run after a crash is idempotent.
        reusable = set()
        for n, data in zip(plan_names(items), contents, strict=True):
            if n in foreign and _is(target, n, _sha256(data)):
                reusable.add(n)
        names = plan_names(items, [n for n in foreign if n not in reusable])
        digests: dict[str, str] = {}
        for name, data in zip(names, contents, strict=True):
            digest = _sha256(data)
            digests[name] = digest
            if (name in intact and owned[name] == digest) or name in reusable:
                summary.unchanged.append(name)
            elif name in intact:
                target.replace(name, data)
                summary.written.append(name)
            else:
                try:
                    target.create(name, data)
                except FileExistsError:
                    raise OutputError(
                        f"{folder / name}: appeared while exporting; nothing was overwritten"
                    ) from None
                summary.written.append(name)
            if on_file is not None:
                on_file(name)
        for name in sorted(intact - set(names)):
            target.unlink(name)  # ours, unchanged since written, and no longer exported
            summary.removed.append(name)
        doc = manifest(items, names, digests, parameters or {})
        data = dumps(doc, indent=2) + b"\n"
        if target.read(MANIFEST, len(data)) != data:
            if target.lstat(MANIFEST) is None:
                target.create(MANIFEST, data)
            else:
                target.replace(MANIFEST, data)
        target.sync()
        summary.files = {n: item.article.id for n, item in zip(names, items, strict=True)}
    except OSError as exc:
        raise OutputError(f"{folder}: cannot export ({exc.strerror or exc})") from None
    finally:
        target.close()
    return summary


def _is(folder: _Folder, name: str, digest: str) -> bool:
    """Whether ``name`` is a regular file (not a link) holding exactly these bytes."""
    st = folder.lstat(name)
    if st is None or not stat.S_ISREG(st.st_mode):
        return False
    data = folder.read(name, st.st_size)
    return data is not None and _sha256(data) == digest

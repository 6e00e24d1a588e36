"""A scan's store with bounded memory: article texts spilled to a temporary file.

Workers turn each file's articles into a ``PackedFile``: candidate keys as flat arrays and
each article as one binary record (its fixed text and what canonical choice needs). The
``SpillStore`` keeps the first 32 MB of records in memory, the rest in an anonymous
temporary file, and, per article, only its offset, size and a 64-bit content-hash key (20
bytes), plus the candidate keys; ``article(id)`` reads a record back through a small LRU
cache. Memory therefore grows with the number of articles, never with the amount of text.
When the scan's workers start they are given the file (``SpillFile``), and once the memory
is full they append their records to it themselves, sending the parent only where they
are. The file is our own scratch space for one scan: it is never read by anything else and
disappears when the scan ends; one that cannot be written stops the scan (``SpillError``).
It takes about as much disk as the text scanned (records are not compressed: zlib would
cost more time than every other step of a record's life). Same methods as
``MemoryStore``. Never decides anything.
"""

from __future__ import annotations

import dataclasses
import fcntl
import multiprocessing
import os
import secrets
import struct
import tempfile
import weakref
from array import array
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import IO, Any

import numpy as np
import numpy.typing as npt

from dedupe_releases.boilerplate import Boilerplate, learn_flat, title_hash
from dedupe_releases.candidates import CandidateIndex
from dedupe_releases.errors import OutputError
from dedupe_releases.records import Article, FileRecord, Fix
from dedupe_releases.sketch import U64, SketchBatch

I64 = npt.NDArray[np.int64]

# first line, last line, flags, then the byte lengths of kind, fixes, title, body and source
# name bytes.
_HEAD = struct.Struct("<IIBHHIII")
_NO_KIND, _TITLE_REPAIRED, _TRUNCATED, _SOURCE_BYTES = 1, 2, 4, 8
_UTF8 = "utf-8"
_ERRORS = "surrogatepass"  # lossless for any str


def pack_article(article: Article) -> bytes:
    """One article as a binary record.

    >>> a = Article("f#1", "f", 1, (2, 9), "Speech", "T", "Body", "ab" * 32, (Fix("ftfy", 2),))
    >>> unpack_article(pack_article(a), "f", 1) == a
    True
    """
    kind = (article.kind or "").encode(_UTF8, _ERRORS)
    fixes = ";".join(f"{f.rule}={f.count}" for f in article.fixes).encode(_UTF8, _ERRORS)
    title = article.title.encode(_UTF8, _ERRORS)
    body = article.body.encode(_UTF8, _ERRORS)
    raw = article.source_bytes or b""
    flags = (
        (_SOURCE_BYTES if article.source_bytes is not None else 0)
        | (_NO_KIND if article.kind is None else 0)
        | (_TITLE_REPAIRED if article.title_repaired else 0)
        | (_TRUNCATED if article.truncated else 0)
    )
    head = _HEAD.pack(
        article.lines[0],
        article.lines[1],
        flags,
        len(kind),
        len(fixes),
        len(title),
        len(body),
        len(raw),
    )
    digest = bytes.fromhex(article.content_hash)
    return b"".join((head, bytes([len(digest)]), digest, kind, fixes, title, body, raw))


def unpack_article(record: bytes, source: str, ordinal: int) -> Article:
    """The ``Article`` a record was packed from (its id is ``source#ordinal``)."""
    data = record
    first, last, flags, n_kind, n_fixes, n_title, n_body, n_raw = _HEAD.unpack_from(data)
    pos = _HEAD.size
    n_digest = data[pos]
    pos += 1
    digest = data[pos : pos + n_digest].hex()
    pos += n_digest
    fields = []
    for n in (n_kind, n_fixes, n_title, n_body):
        fields.append(data[pos : pos + n].decode(_UTF8, _ERRORS))
        pos += n
    kind, fixes, title, body = fields
    raw = data[pos : pos + n_raw]
    parsed = tuple(
        Fix(rule, int(count))
        for rule, _, count in (item.rpartition("=") for item in fixes.split(";") if item)
    )
    return Article(
        id=f"{source}#{ordinal}",
        source=source,
        ordinal=ordinal,
        lines=(first, last),
        kind=None if flags & _NO_KIND else kind,
        title=title,
        body=body,
        content_hash=digest,
        fixes=parsed,
        title_repaired=bool(flags & _TITLE_REPAIRED),
        truncated=bool(flags & _TRUNCATED),
        source_bytes=raw if flags & _SOURCE_BYTES else None,
    )


@dataclass(frozen=True, slots=True)
class PackedFile:
    """What one input file adds to a scan, compact enough to pass between processes."""

    source: str
    records: bytes  # every article's ``pack_article`` record, one after another
    record_sizes: npt.NDArray[np.uint32]  # (n,) byte size of each record
    hash_keys: U64  # (n,) the first 8 bytes of each article's content hash
    bands: U64  # band keys, flat: ``band_counts[i]`` of them for article i
    band_counts: I64
    sentences: U64  # long-sentence hashes, flat, ``sentence_counts[i]`` for article i
    sentence_counts: I64
    lines: U64  # body-line hashes (boilerplate learning), flat, ``line_counts[i]`` each
    line_counts: I64
    titles: U64  # (n,) ``boilerplate.title_hash`` of each title
    warnings: tuple[str, ...] = ()  # caveats about the file (replacement characters, cuts)
    source_bytes: bytes | None = None  # the exact name of the source, when it is not UTF-8
    #: Where ``records`` start in the scan's ``SpillFile`` when a worker wrote them there
    #: (``records`` is then empty); -1 when they travel in ``records``.
    records_at: int = -1

    @property
    def articles(self) -> int:
        return len(self.record_sizes)


def pack_file(
    source: str,
    articles: Sequence[Article],
    batch: SketchBatch,
    warnings: tuple[str, ...] = (),
    source_bytes: bytes | None = None,
) -> PackedFile:
    """A file's articles, their sketches, body-line and title hashes (``sketch.sketch_texts``
    of their texts, with ``body_from``)."""
    records = [pack_article(a) for a in articles]
    shingled = batch.shingled
    return PackedFile(
        source=source,
        records=b"".join(records),
        record_sizes=np.array([len(r) for r in records], dtype=np.uint32),
        hash_keys=np.array([int(a.content_hash[:16], 16) for a in articles], dtype=np.uint64),
        bands=batch.band_keys[shingled].reshape(-1),
        band_counts=np.where(shingled, batch.band_keys.shape[1], 0).astype(np.int64),
        sentences=batch.sentences,
        sentence_counts=batch.sentence_counts,
        lines=batch.lines,
        line_counts=batch.line_counts,
        titles=batch.titles,
        warnings=warnings,
        source_bytes=source_bytes,
    )


def pack_record(record: FileRecord) -> PackedFile:
    """A ``FileRecord`` (articles with ``Sketch`` objects) as a ``PackedFile``."""
    bands = [np.frombuffer(s.bands, dtype="<u8") for s in record.sketches]
    sentences = [np.frombuffer(s.sentences, dtype="<u8") for s in record.sketches]
    lines = [np.frombuffer(s.lines, dtype="<u8").astype(np.uint64) for s in record.sketches]
    records = [pack_article(a) for a in record.articles]
    return PackedFile(
        source=record.source,
        records=b"".join(records),
        record_sizes=np.array([len(r) for r in records], dtype=np.uint32),
        hash_keys=np.array(
            [int(a.content_hash[:16], 16) for a in record.articles], dtype=np.uint64
        ),
        bands=_concat(bands),
        band_counts=np.array([len(b) for b in bands], dtype=np.int64),
        sentences=_concat(sentences),
        sentence_counts=np.array([len(s) for s in sentences], dtype=np.int64),
        lines=_concat(lines),
        line_counts=np.array([len(x) for x in lines], dtype=np.int64),
        titles=np.array([title_hash(a.title) for a in record.articles], dtype=np.uint64),
        warnings=record.warnings,
        source_bytes=record.articles[0].source_bytes if record.articles else None,
    )


def _concat(parts: list[npt.NDArray[np.uint64]]) -> U64:
    if not parts:
        return np.zeros(0, dtype=np.uint64)
    return np.concatenate(parts).astype(np.uint64)


class SpillFile:
    """The anonymous temporary file of one scan's records, shared with its worker processes.

    A worker appends its batch's records itself (``append``) and sends the parent only
    where they are (``PackedFile.records_at``): the texts never cross a pipe, and the parent
    never copies them into the file. Each append reserves its stretch of the file (a counter
    of the bytes reserved so far, in shared memory) while it holds a POSIX record lock on the
    file, then writes it with ``pwrite``, so appends of several processes never overlap and
    need no file offset. Nothing shared has a name: a worker still starting when the parent
    has dropped the file (a scan that ended at once) finds everything it was given.

    The file has no name (``tempfile.TemporaryFile``): it is gone when the last process
    holding it ends, however the scan ends. A worker gets the parent's descriptor as it is
    spawned (this object is pickled only then, as a pool initializer's argument); it cannot
    be sent to a running process.
    """

    def __init__(self, folder: str | None = None) -> None:
        # Lives as long as the store (closed by `close` or when it is collected).
        self.folder = folder or tempfile.gettempdir()
        self._file: IO[bytes] | None = _scratch_file(folder)
        self.fd = self._file.fileno()
        # Shared memory by descriptor, as the file: a lock of multiprocessing's own would be a
        # named semaphore, gone (and a worker still starting fails) once the parent drops it.
        context = multiprocessing.get_context("spawn")
        self._end: Any = context.RawValue("Q", 0)
        self.token = secrets.randbits(63)  # names the file in ``RecordRef``s
        _open_files[self.token] = self

    @classmethod
    def _attached(cls, fd: Any, end: Any, token: int, folder: str) -> SpillFile:
        """The file in a worker process: the descriptor it was given as it was spawned."""
        self = cls.__new__(cls)
        self._file, self.fd, self._end = None, fd.detach(), end
        self.token, self.folder = token, folder
        _open_files[token] = self
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        from multiprocessing import reduction

        fd = reduction.DupFd(self.fd)
        return (SpillFile._attached, (fd, self._end, self.token, self.folder))

    @property
    def active(self) -> bool:
        """Whether the workers write their records here (else they send them): once anything
        was appended, for the parent's store appends first, when its memory is full (a
        worker's appends come after, so reading the counter needs no lock)."""
        return bool(self._end.value)

    def append(self, data: bytes) -> int:
        """Write ``data`` after everything appended before it, by any process; returns its
        offset. ``SpillError`` if it cannot be written."""
        view = memoryview(data)
        done = 0
        try:
            fcntl.lockf(self.fd, fcntl.LOCK_EX)  # a process's own: the others wait
            try:
                at = int(self._end.value)
                self._end.value = at + len(data)
            finally:
                fcntl.lockf(self.fd, fcntl.LOCK_UN)
            while done < len(view):
                done += os.pwrite(self.fd, view[done:], at + done)
        except OSError as exc:
            raise SpillError.of(exc, self.folder) from None
        return at

    def close(self) -> None:
        _open_files.pop(self.token, None)  # its descriptor may be another file's next
        if self._file is not None:
            self._file.close()
            self._file = None


class SpillError(OutputError):
    """The scan's temporary file could not be made or written (a full or unwritable
    ``TMPDIR``): the scan stops, nothing is written."""

    @classmethod
    def of(cls, exc: OSError, folder: str | None) -> SpillError:
        where = folder or tempfile.gettempdir()
        return cls(
            f"cannot write the scan's temporary file in {where}: {exc.strerror or exc}"
            " (it takes about as much space as the text scanned; set TMPDIR to another folder)"
        )


def _scratch_file(folder: str | None) -> IO[bytes]:
    """A new anonymous temporary file in ``folder`` (``TMPDIR`` by default)."""
    try:
        return tempfile.TemporaryFile(prefix="dedupe-releases-", dir=folder)
    except OSError as exc:
        raise SpillError.of(exc, folder) from None


#: The scan's ``SpillFile`` in a worker process that appends its records to it.
_worker_file: SpillFile | None = None
#: The spill files this process has, made or given, by token (``read_record``).
_open_files: weakref.WeakValueDictionary[int, SpillFile] = weakref.WeakValueDictionary()
#: A record in a ``SpillFile`` as a verification batch sends it: (token, offset, size).
RecordRef = tuple[int, int, int]


def read_record(record: bytes | RecordRef) -> bytes:
    """A record sent as bytes, or read from the spill file a ``RecordRef`` names (this
    process's own, or the one it was given as it was spawned)."""
    if isinstance(record, bytes):
        return record
    token, offset, size = record
    found = _open_files.get(token)
    if found is None:
        raise LookupError("the record's spill file is not open in this process")
    return os.pread(found.fd, size, offset)


def write_records_here(target: SpillFile) -> None:
    """Make this (worker) process write the records of its ``PackedFile``s into ``target``
    (``write_records``); a pool's initializer."""
    global _worker_file
    _worker_file = target


def write_records(packed: list[Any]) -> list[Any]:
    """The ``PackedFile``s of ``packed`` (other items as they are) with their records
    written into this process's ``SpillFile``, in one append, and sent as an offset; all
    unchanged where this process has none (the parent, a Dask worker)."""
    target = _worker_file
    records = [p.records for p in packed if isinstance(p, PackedFile)]
    if target is None or not any(records) or not target.active:
        return packed
    at = target.append(b"".join(records))
    out = []
    for p in packed:
        if isinstance(p, PackedFile) and p.records:
            out.append(dataclasses.replace(p, records=b"", records_at=at))
            at += len(p.records)
        else:
            out.append(p)
    return out


#: Bytes of records a store keeps in memory before it spills them to its file.
IN_MEMORY = 32 << 20

#: What a cached ``Article`` holds beyond its record's bytes (the objects), about.
_CACHE_OVERHEAD = 750


class SpillStore:
    """Articles and candidate keys of one scan, texts on disk, in path order."""

    def __init__(
        self,
        cache_size: int = 1 << 20,
        folder: str | None = None,
        in_memory: int | None = None,
        cache_bytes: int = 48 << 20,
    ) -> None:
        # Records stay in memory up to `in_memory` bytes (a small archive never touches the
        # disk), then move to the temporary file.
        self._memory: bytearray | None = bytearray()
        self._in_memory = IN_MEMORY if in_memory is None else in_memory
        self._folder = folder
        self._file: IO[bytes] | None = None
        self._shared: SpillFile | None = None  # when workers write the records (``share``)
        self._written = 0
        self._flushed = True
        self._offsets = array("Q")
        self._sizes = array("I")
        self._hash_keys = array("Q")
        self._sources: list[str] = []
        self._file_first = array("Q")  # first article number of each file
        self._file_count = array("I")
        self._file_of: dict[str, int] = {}
        self._candidates = CandidateIndex()
        self._lines = array("Q")  # body-line hashes of every article, end to end
        self._line_counts = array("I")
        self._titles = array("Q")
        self._line_ends: npt.NDArray[np.int64] | None = None
        # The articles read last (clustering reads each cluster's members, and the output
        # the same ones again), at most ``cache_size`` of them and about ``cache_bytes``.
        self._cache: OrderedDict[int, Article] = OrderedDict()
        self._cache_size = cache_size
        self._cache_bytes = cache_bytes
        self._cached = 0  # bytes of the cached articles' records, and _CACHE_OVERHEAD each
        self.files = 0

    def add(self, record: FileRecord) -> None:
        """Add one file's articles and sketches (in path order)."""
        self.add_packed(pack_record(record))

    def add_packed(self, packed: PackedFile) -> None:
        """Add one file's packed articles (in path order)."""
        first = len(self._sizes)
        self._file_of[packed.source] = len(self._sources)
        self._sources.append(packed.source)
        self._file_first.append(first)
        self._file_count.append(packed.articles)
        self.files += 1
        if packed.articles == 0:
            return
        sizes = packed.record_sizes.astype(np.uint64)
        if packed.records_at >= 0:  # a worker wrote them into the shared file
            if self._shared is None:
                raise ValueError("records written to a spill file this store does not share")
            at = packed.records_at
        else:
            at = self._write(packed.records)
        offsets = np.uint64(at) + np.cumsum(sizes) - sizes
        self._offsets.frombytes(offsets.astype(np.uint64).tobytes())
        self._sizes.frombytes(packed.record_sizes.astype(np.uint32).tobytes())
        self._hash_keys.frombytes(packed.hash_keys.astype(np.uint64).tobytes())
        self._candidates.add_batch(
            packed.bands, packed.band_counts, packed.sentences, packed.sentence_counts
        )
        self._lines.frombytes(packed.lines.astype(np.uint64).tobytes())
        self._line_counts.frombytes(packed.line_counts.astype(np.uint32).tobytes())
        self._titles.frombytes(packed.titles.astype(np.uint64).tobytes())

    def __len__(self) -> int:
        return len(self._sizes)

    def __iter__(self) -> Iterator[Article]:
        for number in range(len(self)):
            yield self._load(number)

    def share(self) -> SpillFile | None:
        """The file that worker processes will write this store's records into
        (``write_records_here``) once the first ``in_memory`` bytes are past, made on first
        call; None if the store spilled to a file of its own already, or if no file can be
        made (the records are then sent, and the store's own file is made when needed)."""
        if self._shared is None and self._file is None:
            try:
                self._shared = SpillFile(self._folder)
            except SpillError:
                return None
        return self._shared

    def _in_shared_file(self) -> SpillFile | None:
        """The shared file, when the records are in it (the memory was full)."""
        return self._shared if self._memory is None else None

    def _write(self, data: bytes) -> int:
        """Append ``data``; returns its offset."""
        if (shared := self._in_shared_file()) is not None:
            return shared.append(data)
        at = self._written
        if self._memory is not None:
            self._memory += data
            if len(self._memory) > self._in_memory:
                if self._shared is not None:  # from now on the workers write there too
                    self._shared.append(bytes(self._memory))  # at 0: none wrote before
                else:
                    # Lives as long as the store (closed by `close` or when it is collected).
                    self._file = _scratch_file(self._folder)
                    self._own_write(self._memory)
                self._memory = None
        else:
            self._own_write(data)
        self._written += len(data)
        return at

    def _own_write(self, data: bytes | bytearray) -> None:
        assert self._file is not None
        try:
            self._file.write(data)
        except OSError as exc:
            raise SpillError.of(exc, self._folder) from None
        self._flushed = False

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
        if self._shared is not None:
            self._shared.close()

    def position(self, article_id: str) -> int:
        return self._place(article_id)[0]

    def _place(self, article_id: str) -> tuple[int, int, int]:
        """``(position, file index, ordinal)`` of an article id; KeyError if there is none."""
        source, _, ordinal = article_id.rpartition("#")
        index = self._file_of[source]
        n = int(ordinal) if ordinal.isdigit() else 0
        if not 1 <= n <= self._file_count[index]:
            raise KeyError(article_id)
        return self._file_first[index] + n - 1, index, n

    def article(self, article_id: str) -> Article:
        number, index, ordinal = self._place(article_id)
        return self._load(number, index, ordinal)

    def _load(self, number: int, index: int | None = None, ordinal: int = 0) -> Article:
        """Article ``number``, in file ``index`` as its ``ordinal``-th (found when None)."""
        hit = self._cache.get(number)
        if hit is not None:
            self._cache.move_to_end(number)
            return hit
        record = self._read(number)
        if index is None:
            index = self._file_index(number)
            ordinal = number - self._file_first[index] + 1
        article = unpack_article(record, self._sources[index], ordinal)
        self._cache[number] = article
        self._cached += len(record) + _CACHE_OVERHEAD
        while len(self._cache) > self._cache_size or self._cached > self._cache_bytes:
            old, _ = self._cache.popitem(last=False)
            self._cached -= self._sizes[old] + _CACHE_OVERHEAD
        return article

    def _read(self, number: int) -> bytes:
        offset, size = self._offsets[number], self._sizes[number]
        if self._memory is not None:
            return bytes(self._memory[offset : offset + size])
        if self._shared is not None:
            return os.pread(self._shared.fd, size, offset)
        self._flush()
        assert self._file is not None
        return os.pread(self._file.fileno(), size, offset)

    def boilerplate(self, min_titles: int, min_files: int) -> Boilerplate:
        """Body lines found under at least ``min_titles`` titles in ``min_files`` files."""
        if not len(self._lines):
            return Boilerplate()
        counts = np.frombuffer(self._line_counts, dtype=np.uint32).astype(np.int64)
        firsts = np.frombuffer(self._file_first, dtype=np.uint64)
        numbers = np.arange(len(counts), dtype=np.uint64)
        files = (firsts.searchsorted(numbers, "right")).astype(np.uint32)  # 1 + file index
        return learn_flat(
            np.frombuffer(self._lines, dtype=np.uint64),
            counts,
            files,
            np.frombuffer(self._titles, dtype=np.uint64),
            min_titles,
            min_files,
        )

    def verify_data(
        self, article_id: str, hashes: frozenset[int]
    ) -> tuple[str, int, bytes | RecordRef, bytes, bool]:
        """What a verification batch sends of an article (``verify_batch.ArticleData``):
        ``(source, ordinal, record, sentence hashes as bytes, has_line(article_id, hashes))``;
        ``unpack_article(read_record(record), source, ordinal)`` reads the record. The
        record is where it is in the file the workers share, when they do (they read it
        there themselves), else its bytes."""
        number, index, ordinal = self._place(article_id)
        sentences = self._candidates.sentences_of(number).astype("<u8").tobytes()
        masked = bool(hashes) and self._has_line_at(number, hashes)
        record: bytes | RecordRef
        if (shared := self._in_shared_file()) is not None:
            record = (shared.token, self._offsets[number], self._sizes[number])
        else:
            record = self._read(number)
        return self._sources[index], ordinal, record, sentences, masked

    def has_line(self, article_id: str, hashes: frozenset[int]) -> bool:
        """Whether any of the article's body-line hashes is in ``hashes``."""
        return self._has_line_at(self.position(article_id), hashes)

    def _has_line_at(self, number: int, hashes: frozenset[int]) -> bool:
        if self._line_ends is None or len(self._line_ends) != len(self._line_counts):
            counts = np.frombuffer(self._line_counts, dtype=np.uint32)
            self._line_ends = np.cumsum(counts, dtype=np.int64)
        end = int(self._line_ends[number])
        start = end - self._line_counts[number]
        lines = np.frombuffer(self._lines, dtype=np.uint64)[start:end]
        return any(h in hashes for h in lines.tolist())

    def sentences(self, article_id: str) -> U64:
        """The article's distinct long-sentence hashes, sorted."""
        return self._candidates.sentences_of(self.position(article_id))

    def _flush(self) -> None:
        if not self._flushed and self._file is not None:
            try:
                self._file.flush()
            except OSError as exc:
                raise SpillError.of(exc, self._folder) from None
            self._flushed = True

    def candidate_pairs(
        self, min_shared_sentences: int, max_bucket_pairs: int
    ) -> list[tuple[str, str]]:
        """Pairs to verify, in path order: shared band, shared sentences, or same text."""
        keys = np.union1d(
            self._candidates.pair_keys(max_bucket_pairs, min_shared_sentences),
            self._same_hash_keys(),
        )
        firsts = self._ids(keys >> np.uint64(32))
        return list(zip(firsts, self._ids(keys & np.uint64(0xFFFFFFFF)), strict=True))

    def _same_hash_keys(self) -> U64:
        """Exact copies (by content-hash key), even when too short to sketch: the first of
        each group of copies with each other one, as pair keys ``first << 32 | other``."""
        if not len(self._hash_keys):
            return np.zeros(0, dtype=np.uint64)
        keys = np.frombuffer(self._hash_keys, dtype=np.uint64)
        order = np.argsort(keys, kind="stable").astype(np.uint64)  # a group's first first
        ordered = keys[order]
        starts = np.r_[True, ordered[1:] != ordered[:-1]]
        first = order[starts][np.cumsum(starts) - 1]  # the first of each one's group
        later = ~starts
        pairs: U64 = (first[later] << np.uint64(32)) | order[later]
        return pairs

    def _ids(self, numbers: U64) -> list[str]:
        """The ids of articles ``numbers``, found all at once."""
        firsts = np.frombuffer(self._file_first, np.uint64)
        index = firsts.searchsorted(numbers, "right") - 1
        ordinals = (numbers - firsts[index] + np.uint64(1)).tolist()
        sources = self._sources
        return [f"{sources[i]}#{n}" for i, n in zip(index.tolist(), ordinals, strict=True)]

    def _file_index(self, number: int) -> int:
        """The index of the file holding article ``number`` (a typed, O(log n) search)."""
        firsts = np.frombuffer(self._file_first, np.uint64)
        return int(firsts.searchsorted(np.uint64(number), "right")) - 1

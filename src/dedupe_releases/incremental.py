"""Incremental scans: read only new and changed files into a persistent index.

``scan_incremental`` is ``pipeline.scan`` with an index behind it. It takes the index's
writer lock, walks the paths, and compares each file's ``stat`` with what the index saw:
unchanged files are not read; a file whose ``stat`` changed is hashed and, if its bytes
changed, read, fixed, split and sketched again, its old articles retired and the new ones
added, all in one transaction per file (the file row last: the commit point). Files that
are gone have their articles marked gone. Then ``reconcile`` brings relations, clusters and
events up to date in one last transaction. A run killed at any point leaves whole files
only; the next run finds them pending and finishes the job.

Change detection (git's racy-git rule, borg's files cache): the key is (size, mtime, ctime,
inode); a file whose mtime or ctime was within ``RACY_NS`` of the moment the index saw it is
hashed again next time, since a change in the same clock tick would not move its times. That
moment is read from the file system's clock (the lock file's mtime), not from this process's.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from dedupe_releases.cluster import CLUSTER_RELATIONS
from dedupe_releases.config import Config
from dedupe_releases.decisions import Decisions
from dedupe_releases.errors import IndexError_, Interrupted, NoInputError
from dedupe_releases.index.lock import IndexLock
from dedupe_releases.index.schema import damaged, transaction
from dedupe_releases.index.store import FileRow, Index, Stat, flipped
from dedupe_releases.read import CHANGED, SkipFile, problem, read_source, walk
from dedupe_releases.reconcile import FULL_FRACTION, Reconciled, Stop, reconcile
from dedupe_releases.records import Article, Match, Problem, SourceText

#: A file modified less than this before the index saw it is hashed again on the next run.
#: 2 s covers the coarsest common timestamps (FAT) and clock ticks; the cost is one re-hash.
RACY_NS = 2_000_000_000

#: A run that would retire the articles of more than this share of the indexed files stops
#: before writing anything (an unmounted or emptied archive; rsync's --max-delete idea).
MAX_DELETE_SHARE = 0.5


@dataclass(frozen=True, slots=True)
class IndexOptions:
    wait: float | None = None
    """Seconds to wait for another run's lock (None: fail at once)."""
    decisions: Decisions | None = None
    """Reviewed decisions to store and honour (None: keep those stored in the index)."""
    allow_mass_delete: bool = False
    """Retire the articles of however many files are missing."""
    full_fraction: float = FULL_FRACTION
    """Share of changed articles above which everything is recomputed in memory."""


@dataclass
class IncrementalResult:
    """What a run did, and the index (open for reading) to report from."""

    index: Index
    config: Config
    run: int
    status: str
    counts: dict[str, int]
    events: list[dict[str, Any]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    skipped: list[Problem] = field(default_factory=list)
    generation: int | None = None

    def report(self) -> Any:
        """The current state as a ``ScanResult`` (what ``scan`` without an index returns)."""
        return load_report(self.index, self.config, self.skipped)

    def close(self) -> None:
        self.index.close()

    def __enter__(self) -> IncrementalResult:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def _stat(path: Path) -> Stat:
    st = os.stat(path)
    return Stat(st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)


def _clean(row: FileRow, stat: Stat) -> bool:
    """The index's record of this file can be trusted without reading it."""
    same = (row.size, row.mtime_ns, row.ctime_ns, row.inode) == (
        stat.size,
        stat.mtime_ns,
        stat.ctime_ns,
        stat.inode,
    )
    if not same or row.seen_ns is None:
        return False
    return max(stat.mtime_ns, stat.ctime_ns) < row.seen_ns - RACY_NS


def _under(path: str, blocked: Sequence[str]) -> bool:
    return any(path == b or path.startswith(b.rstrip("/") + "/") for b in blocked)


def _same_article(old: Article, new: Article) -> bool:
    """Equal in everything a verdict or a canonical choice can depend on (lines aside)."""
    return (
        old.id,
        old.kind,
        old.title,
        old.body,
        old.content_hash,
        old.fixes,
        old.title_repaired,
        old.truncated,
    ) == (
        new.id,
        new.kind,
        new.title,
        new.body,
        new.content_hash,
        new.fixes,
        new.title_repaired,
        new.truncated,
    )


class _Run:
    """One incremental run over an open, locked index."""

    def __init__(
        self,
        index: Index,
        config: Config,
        lock: IndexLock,
        options: IndexOptions,
        on_file: Callable[[str], None] | None,
        stop: Callable[[], int | None] | None,
    ) -> None:
        self.index = index
        self.config = config
        self.lock = lock
        self.options = options
        self.on_file = on_file
        self.stop = stop or (lambda: None)
        self.counts: dict[str, int] = dict.fromkeys(
            (
                "files_seen",
                "files_read",
                "files_reread",
                "files_unchanged",
                "files_hashed",
                "files_removed",
                "files_skipped",
                "files_failed",
                "articles_added",
                "articles_reused",
                "articles_removed",
                "relations_added",
                "relations_removed",
                "events",
            ),
            0,
        )
        self.problems: list[Problem] = []  # found by this run: printed on stderr
        self.prefetched: Any = None  # records made ahead on a cluster (``--engine dask``)
        self.listed: list[Problem] = []  # every file's current problems: in the report

    # -- one file --------------------------------------------------------------------------

    def visit(self, path: Path, source: str, rank: int, row: FileRow | None) -> str | None:
        """Bring one file up to date; returns ``"vanished"`` if it is gone."""
        try:
            stat = _stat(path)
        except FileNotFoundError:
            return "vanished"
        except OSError as exc:
            return self._failed(problem(path, source, exc))
        known = row is not None and row.state == "present"
        if known and row is not None and _clean(row, stat):
            self.counts["files_unchanged"] += 1
            self.listed.extend(self.index.file_problems(source))
            return None
        text: SourceText | None = None
        skip: Problem | None = None
        try:
            text = read_source(path, source, self.config.read)
        except SkipFile as exc:
            if str(exc) in (CHANGED, "not a regular file"):
                # Not this file's content: look again next run, keep what the index has.
                return self._failed(problem(path, source, exc))
            skip = problem(path, source, exc)
        except FileNotFoundError:
            return "vanished"
        except OSError as exc:
            return self._failed(problem(path, source, exc))
        try:
            if _stat(path) != stat:  # the key recorded must be the key of what was read
                return self._failed(problem(path, source, SkipFile(CHANGED)))
        except FileNotFoundError:
            return "vanished"
        except OSError as exc:
            return self._failed(problem(path, source, exc))
        same = known and row is not None and text is not None and text.sha256 == row.sha256
        if same and row is not None and not row.problem:
            with transaction(self.index.con):  # same bytes, new stat: nothing to re-read
                self.index.set_file_stat(row.id, stat, self.lock.fs_now_ns)
            self.counts["files_unchanged"] += 1
            self.counts["files_hashed"] += 1
            self.listed.extend(self.index.file_problems(source))
            return None
        record = None
        if text is not None:
            from dedupe_releases.pipeline import ingest_text

            made = self.prefetched.take(source) if self.prefetched is not None else None
            same_bytes = getattr(made, "sha256", None) == text.sha256
            record = made if same_bytes else ingest_text(text, self.config)
        with transaction(self.index.con):
            fid = self.index.upsert_file(source, rank, stat, self.lock.fs_now_ns)
            old = {
                ref: (rid, state, art)
                for rid, ref, state, art in self.index.live_articles_of_file(fid)
            }
            fresh: list[Article] = []
            for article in record.articles if record else ():
                hit = old.get(article.id)
                if hit is not None and _same_article(hit[2], article):
                    del old[article.id]
                    if hit[2].lines != article.lines:
                        self.index.update_lines(hit[0], article.lines)
                    self.counts["articles_reused"] += 1
                else:
                    fresh.append(article)
            for rid, state, _art in old.values():
                self.index.retire(rid, state)
            if record is not None:
                self.index.insert_articles(fid, record, fresh)
            self.counts["articles_added"] += len(fresh)
            self.index.set_file_content(
                fid,
                text.sha256 if text else None,
                text.encoding if text else None,
                skip.reason if skip else None,
                record.warnings if record else (),
                skip.source_bytes if skip else (text.source_bytes if text else None),
            )
        self.counts["files_reread" if known else "files_read"] += 1
        if skip is not None:
            self.counts["files_skipped"] += 1
            self.problems.append(skip)
        found = self.index.file_problems(source)
        self.listed.extend(found)
        self.problems.extend(p for p in found if p.kind == "warning")
        return None

    def _failed(self, found: Problem) -> str | None:
        """A file that could not be looked at this time: its indexed articles stay."""
        self.counts["files_failed"] += 1
        self.problems.append(found)
        self.listed.append(found)
        return None

    def remove(self, row: FileRow) -> None:
        with transaction(self.index.con):
            for rid, _ref, state, _art in self.index.live_articles_of_file(row.id):
                self.index.retire(rid, state)
            self.index.mark_file_gone(row.id)
        self.counts["files_removed"] += 1


def scan_incremental(
    paths: Iterable[Path | str],
    config: Config,
    index_path: Path,
    options: IndexOptions | None = None,
    on_file: Callable[[str], None] | None = None,
    stop: Callable[[], int | None] | None = None,
    engine: Any = None,
) -> IncrementalResult:
    """Bring the index at ``index_path`` up to date with ``paths``; see the module docstring.

    ``engine`` (a ``dask_engine.DaskEngine``) reads, fixes, splits and sketches the new and
    changed files on a Dask cluster ahead of their turn, and verifies the new candidate pairs
    there; the rest runs here, the same either way.

    ``stop`` is polled at every file boundary (and between batches of the final step): a
    signal number means stop there, commit nothing more and raise ``Interrupted``. The
    returned result holds the index open for reading: close it (or use ``with``).
    """
    options = options or IndexOptions()
    roots = [Path(p) for p in paths]
    with IndexLock(index_path, options.wait) as lock:
        index = Index.open(index_path, config)
        try:
            result = _scan(index, roots, config, lock, options, on_file, stop, engine)
        except sqlite3.Error as exc:
            index.close()
            raise damaged(index_path, exc) from None
        except BaseException:
            index.close()
            raise
    return result


def _scan(
    index: Index,
    roots: list[Path],
    config: Config,
    lock: IndexLock,
    options: IndexOptions,
    on_file: Callable[[str], None] | None,
    stop: Callable[[], int | None] | None,
    engine: Any = None,
) -> IncrementalResult:
    run_state = _Run(index, config, lock, options, on_file, stop)
    items = list(walk(roots, config.read))
    files = [it for it in items if not isinstance(it, Problem)]
    walk_problems = [it for it in items if isinstance(it, Problem)]
    known = index.file_rows()
    present = {p: r for p, r in known.items() if r.state == "present"}
    seen = {source for _path, source in files}
    # A folder or file that could not be looked at is not a deleted one (R1).
    vanished_reason = "skipped: vanished while reading"
    blocked = [p.source for p in walk_problems if p.reason != vanished_reason]
    missing = [r for p, r in sorted(present.items()) if p not in seen and not _under(p, blocked)]
    if missing and len(missing) > MAX_DELETE_SHARE * len(present) and not options.allow_mass_delete:
        articles = index.count_live_articles(r.id for r in missing)
        raise IndexError_(
            f"index {index.path}: this run would retire {articles:,} articles of"
            f" {len(missing):,} of the {len(present):,} indexed files, which are missing;"
            " check that the archive is mounted, or pass --allow-mass-delete"
        )
    if not files and not present:
        raise NoInputError("no input could be read (no files found)")
    parameters = config.parameters()
    run = index.begin_run(_now(), os.getpid(), parameters, [str(r) for r in roots])
    counts = run_state.counts
    counts["files_seen"] = len(files)
    for p in walk_problems:
        run_state.problems.append(p)
    with transaction(index.con):
        index.set_ranks((present[s].id, rank) for rank, (_p, s) in enumerate(files) if s in present)
    if engine is not None:
        run_state.prefetched = engine.prefetch(_to_read(files, known), config)
    signum: int | None = None
    done = 0
    vanished: list[FileRow] = []
    for rank, (path, source) in enumerate(files):
        signum = run_state.stop()
        if signum:
            break
        if run_state.visit(path, source, rank, known.get(source)) == "vanished":
            row = present.get(source)
            if row is not None:
                vanished.append(row)
        done += 1
        if on_file is not None:
            on_file(source)
    if not signum:
        for row in [*missing, *vanished]:
            run_state.remove(row)
    listed = _in_walk_order(items, run_state.listed)
    # Warnings (the file was read, with a caveat) do not make a run partial; skips do.
    status = "partial" if any(p.kind == "skipped" for p in run_state.problems) else "ok"
    final = Index(index.con, index.path, final=True)
    outcome = None
    if not signum:
        try:
            outcome = reconcile(
                final,
                config,
                options.decisions,
                full_fraction=options.full_fraction,
                stop=lambda: bool(run_state.stop()),
                before_commit=lambda outcome: _close_run(
                    index, run, status, counts, outcome.generation, final, outcome
                ),
                engine=engine,
            )
        except Stop:
            signum = run_state.stop() or 2
    if signum:
        with transaction(index.con):
            index.end_run(run, "interrupted", _now(), counts, None)
        left = len(files) - done
        raise Interrupted(
            f"interrupted: {done:,} files done, {left:,} left; run again to finish", signum
        )
    if outcome is None:
        with transaction(index.con, durable=True):
            _close_run(index, run, status, counts, None, final, None)
    return IncrementalResult(
        index=index,
        config=config,
        run=run,
        status=status,
        counts=counts,
        events=[{**e, "run": run} for e in outcome.events] if outcome else [],
        problems=run_state.problems,
        skipped=listed,
        generation=outcome.generation if outcome else None,
    )


def _to_read(
    files: Iterable[tuple[Path, str]], known: dict[str, FileRow]
) -> Iterator[tuple[Path, str]]:
    """The files a run will read: new ones, and those whose ``stat`` says they may have changed."""
    for path, source in files:
        row = known.get(source)
        if row is None or row.state != "present":
            yield path, source
            continue
        try:
            stat = _stat(path)
        except OSError:
            continue  # the run itself says what happened to it
        if not _clean(row, stat):
            yield path, source


def _close_run(
    index: Index,
    run: int,
    status: str,
    counts: dict[str, int],
    generation: int | None,
    final: Index,
    outcome: Reconciled | None,
) -> None:
    """Write the run record (inside the run's last transaction)."""
    if outcome is not None:
        counts.update(
            relations_added=outcome.relations_added,
            relations_removed=outcome.relations_removed,
            articles_removed=outcome.articles_removed,
            events=len(outcome.events),
        )
    counts["articles"] = final.count_articles()
    counts["clusters"] = len(index.active_cluster_ids())
    index.end_run(run, status, _now(), counts, generation)


def _in_walk_order(items: Sequence[Any], listed: list[Problem]) -> list[Problem]:
    """Walk problems and file problems, in the order a from-scratch scan lists them."""
    by_source: dict[str, list[Problem]] = {}
    for p in listed:
        by_source.setdefault(p.source, []).append(p)
    out: list[Problem] = []
    for item in items:
        if isinstance(item, Problem):
            out.append(item)
        else:
            out.extend(by_source.get(item[1], ()))
    return out


def load_report(index: Index, config: Config, listed: list[Problem] | None = None) -> Any:
    """The index's current state as a ``pipeline.ScanResult`` (output.py renders it).

    ``listed``: the skipped files and warnings a run just found, walk problems included; by
    default those recorded for the indexed files.
    """
    from dedupe_releases.boilerplate import Boilerplate
    from dedupe_releases.pipeline import ScanResult

    clusters = index.load_clusters()
    cluster_of = {m: c.id for c in clusters for m in c.members}
    related: list[tuple[int, int, Match]] = []
    for m, pa, pb in index.load_matches():
        if (
            m.relation in CLUSTER_RELATIONS
            and m.a in cluster_of
            and cluster_of[m.a] == cluster_of.get(m.b)
        ):
            continue
        # In path order, as pipeline.scan lists them (``contains`` read from the earlier).
        related.append((pa, pb, m) if pa <= pb else (pb, pa, flipped(m)))
    related.sort(key=lambda t: (t[0], t[1]))
    problems = listed if listed is not None else index.stored_problems()
    decisions = Decisions.from_rows(index.decisions())
    lines = index.boilerplate_hashes()
    return ScanResult(
        config,
        index,
        clusters=clusters,
        related=[t[2] for t in related],
        problems=list(problems),
        candidates=index.count_relations(),
        boilerplate=Boilerplate(lines, index.masked_lines(lines)),
        decisions=decisions or None,
    )


def config_of_index(index: Index, base: Config | None = None) -> Config:
    """``base`` with the settings the index was built with (for reports without a scan)."""
    import dataclasses

    base = base or Config()
    s = index.settings()
    if not s:
        return base
    runs = [r for r in index.runs() if r["status"] in ("ok", "partial")]
    last = runs[-1]["parameters"] if runs else {}
    return dataclasses.replace(
        base,
        read=dataclasses.replace(
            base.read,
            include=tuple(last.get("include", base.read.include)),
            exclude=tuple(last.get("exclude", base.read.exclude)),
        ),
        fix=dataclasses.replace(base.fix, ftfy=s["ftfy"], strip_boilerplate=s["strip_boilerplate"]),
        split=dataclasses.replace(base.split, max_title_words=s["max_title_words"]),
        sketch=dataclasses.replace(
            base.sketch,
            shingle_size=s["shingle_size"],
            num_perm=s["num_perm"],
            bands=s["bands"],
            seed=s["seed"],
            max_article_chars=s["max_article_chars"],
        ),
        verify=dataclasses.replace(
            base.verify,
            threshold=s["threshold"],
            min_ratio=s["min_ratio"],
            related_containment=s["related_containment"],
            min_shared_sentences=s["min_shared_sentences"],
        ),
    )

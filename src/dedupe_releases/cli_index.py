"""The command line of the persistent index: ``scan --index``, ``clusters``, ``index ...``.

Parse, call ``incremental``/``index``, render, map errors to exit codes; no logic of its
own. ``cli.py`` registers these; what the commands share is in ``cli_common``.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any, BinaryIO, NoReturn

import click
from click.core import ParameterSource

from dedupe_releases.cli_common import (
    emit,
    fail,
    format_option,
    formats,
    handled,
    signals_deferred,
    warn,
    write_stdout,
    writer,
)
from dedupe_releases.config import Config
from dedupe_releases.errors import ExitCode, Interrupted
from dedupe_releases.index.target import PgUrl, Target, is_url

LOG = logging.getLogger("dedupe_releases")

INDEX_EXIT_CODES = """\b
Exit codes with --index:
  0  done; with --changes: done and nothing changed
  1  finished, but some inputs were skipped or could not be read (one stderr line each)
  3  the index is damaged, newer, made with other settings, or would lose most files;
     its PostgreSQL server cannot be reached or was lost during the run
  5  another run holds the index (see --wait)
  6  the --output file or the --log-file could not be written
  10 with --changes: done, and this run changed clusters (events on stdout)
  130/143  interrupted; every file finished so far is kept, run again to finish"""

#: Options that must match the index; when not given, a scan takes the index's values.
_ADOPTED = {
    "threshold": ("verify", "threshold"),
    "min_ratio": ("verify", "min_ratio"),
    "shingle_size": ("sketch", "shingle_size"),
    "num_perm": ("sketch", "num_perm"),
    "bands": ("sketch", "bands"),
}


class IndexParam(click.ParamType):  # type: ignore[type-arg]
    """``--index``: an SQLite file (a path) or a ``postgresql://`` / ``postgres://`` URL."""

    name = "index"

    def __init__(self, exists: bool = False) -> None:
        self.path = click.Path(exists=exists, dir_okay=False, path_type=Path)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, (Path, PgUrl)):
            return value
        if is_url(value):
            return PgUrl(value)
        return self.path.convert(value, param, ctx)


def index_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """The incremental-scan options of ``scan``."""
    options = [
        click.option(
            "--index",
            type=IndexParam(),
            metavar="FILE|URL",
            help="SQLite index for nightly runs: only new or changed files are read; created"
            " if missing. Settings not given are taken from it. A postgresql:// URL keeps it"
            " in a PostgreSQL database that several hosts can share.",
        ),
        click.option(
            "--changes",
            is_flag=True,
            help="With --index: print only what this run changed, one JSON event per line;"
            " exit 10 if there is anything.",
        ),
        click.option(
            "--decisions",
            type=click.Path(exists=True, dir_okay=False, path_type=Path),
            help="Reviewed same/different pairs and pinned canonicals (TOML, or JSON by"
            " extension). With --index they are stored and kept for later runs.",
        ),
        click.option(
            "--wait",
            type=click.FloatRange(0),
            metavar="SECONDS",
            help="With --index: wait this long for another run to finish (default: exit 5 at"
            " once).",
        ),
        click.option(
            "--allow-mass-delete",
            is_flag=True,
            help="With --index: retire the articles of however many files are missing"
            " (default: refuse when more than half are gone).",
        ),
        click.option(
            "--log-file",
            type=click.Path(dir_okay=False, path_type=Path),
            help="Append warnings, errors and a line per run, with times, to FILE.",
        ),
    ]
    for option in reversed(options):
        f = option(f)
    return f


class LogFile(logging.FileHandler):
    """``--log-file``. A line that cannot be written (a full disk) is not reported the
    logging way, with a traceback on stderr: the handler stops writing and remembers why,
    and ``log_exit_code`` turns that into one stderr line and exit code 6."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, encoding="utf-8")
        self.path = path
        self.failure: str | None = None

    def emit(self, record: logging.LogRecord) -> None:
        if self.failure is None:
            super().emit(record)

    def handleError(self, record: logging.LogRecord) -> None:
        exc = sys.exc_info()[1]
        self.failure = getattr(exc, "strerror", None) or str(exc)
        stream, self.stream = self.stream, None
        with contextlib.suppress(Exception):  # its unwritten buffer fails again: drop it
            if stream is not None:
                stream.close()


def log_exit_code(code: int) -> int:
    """``code``, or 6 (OUTPUT) with one stderr line if the log file could not be written
    during a run that otherwise finished (0, 1 or 10)."""
    finished = (ExitCode.OK, ExitCode.PARTIAL, ExitCode.CHANGED)
    for handler in LOG.handlers:
        if isinstance(handler, LogFile) and handler.failure is not None and code in finished:
            from dedupe_releases.output import escape_control

            click.echo(
                f"dedupe-releases: {escape_control(str(handler.path))}: cannot write the log"
                f" file ({escape_control(handler.failure)}); the run itself finished (exit code"
                f" {code})",
                err=True,
            )
            return int(ExitCode.OUTPUT)
    return code


def setup_log(path: Path | None) -> None:
    if path is None:
        return
    try:
        handler = LogFile(path)
    except OSError as exc:
        fail(f"{path}: cannot open log file ({exc.strerror or exc})", ExitCode.OUTPUT)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    LOG.addHandler(handler)
    LOG.setLevel(logging.INFO)


_KEPT = "every file finished so far is kept; run again to finish"

#: Errors as ``cli_common.handled`` reports them; an interrupted index run keeps its files.
_handled = functools.partial(handled, f"interrupted; {_KEPT}")


class GracefulStop:
    """SIGINT/SIGTERM ask the run to stop at the next file boundary; a second one stops it
    at once (the open transaction is rolled back: the index stays consistent)."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._previous: dict[int, Any] = {}

    def requested(self) -> int | None:
        return self.signum

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is not None:
            raise Interrupted(f"stopped at once; {_KEPT}", signum)
        self.signum = signum

    def __enter__(self) -> GracefulStop:
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def reading(index: Any) -> contextlib.AbstractContextManager[None]:
    """``index.schema.reading``, imported when an index is used (not at every start)."""
    from dedupe_releases.index.schema import reading as _reading

    return _reading(index)


def adopt_settings(ctx: click.Context, config: Config, index: Target) -> Config:
    """Options left at their defaults take the values the index was built with."""
    import dataclasses

    from dedupe_releases.index.schema import exists
    from dedupe_releases.index.store import Index

    with _handled():
        if not exists(index):
            return config
        idx = Index.open(index, reader=True, older=True)  # the settings are in every schema
        try:
            with reading(index):
                settings = idx.settings() or {}
        finally:
            idx.close()
    for param, (part, name) in _ADOPTED.items():
        if name in settings and ctx.get_parameter_source(param) == ParameterSource.DEFAULT:
            section = dataclasses.replace(getattr(config, part), **{name: settings[name]})
            config = dataclasses.replace(config, **{part: section})
    if "max_bucket_pairs" in settings:  # no option: an index keeps the value it was built with
        sketch = dataclasses.replace(config.sketch, max_bucket_pairs=settings["max_bucket_pairs"])
        config = dataclasses.replace(config, sketch=sketch)
    return config


def _emit_lines(records: list[dict[str, Any]], output: Path | None) -> None:
    from dedupe_releases.atomic import write_atomic
    from dedupe_releases.output import dumps

    def write(fh: BinaryIO) -> None:
        for record in records:
            fh.write(dumps(record) + b"\n")

    with _handled(), signals_deferred():
        if output is not None:
            write_atomic(output, write)
        else:
            write_stdout(write)


def scan_with_index(
    ctx: click.Context,
    paths: tuple[Path, ...],
    config: Config,
    fmt: str,
    output: Path | None,
    quiet: bool,
    on_file: Callable[[str], None] | None,
    *,
    index: Target,
    changes: bool,
    decisions: Path | None,
    wait: float | None,
    allow_mass_delete: bool,
    engine: Any = None,
) -> NoReturn:
    """``scan --index``: the incremental run, then its events or the full report."""
    from dedupe_releases.decisions import load_decisions
    from dedupe_releases.incremental import IndexOptions, scan_incremental

    config = adopt_settings(ctx, config, index)
    with _handled():
        reviewed = load_decisions(decisions) if decisions else None
    options = IndexOptions(wait=wait, decisions=reviewed, allow_mass_delete=allow_mass_delete)
    LOG.info("scan %s --index %s: started", " ".join(map(str, paths)), index)
    with _handled(), GracefulStop() as stopper:
        result = scan_incremental(paths, config, index, options, on_file, stopper.requested, engine)
    with _handled(), result:  # (a lost PostgreSQL server while reporting: one line, exit 3)
        LOG.info("scan --index %s: run %d %s %s", index, result.run, result.status, result.counts)
        if not quiet:
            for problem in result.problems:
                warn(f"{problem.source}: {problem.reason}")
        with _handled(), reading(index):  # a damaged row met while reporting
            if changes:
                _emit_lines(result.events, output)
            else:
                emit(result.report(), fmt, output)
            files = result.index.files
    if files == 0:
        fail("no input could be read (every file was skipped)", ExitCode.NO_INPUT)
    if any(p.kind == "skipped" for p in result.problems):
        sys.exit(int(ExitCode.PARTIAL))
    if changes and result.events:
        sys.exit(int(ExitCode.CHANGED))
    sys.exit(int(ExitCode.OK))


def _reader(index: Target) -> Any:
    from dedupe_releases.index.store import Index

    with _handled():
        return Index.open(index, reader=True)


_INDEX_ARG = click.option(
    "--index",
    required=True,
    type=IndexParam(exists=True),
    metavar="FILE|URL",
    help="The index a scan with --index wrote (a file, or a postgresql:// URL).",
)


@click.command(epilog=INDEX_EXIT_CODES)
@_INDEX_ARG
@format_option
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the report to FILE (whole or not at all) instead of stdout.",
)
def clusters(index: Target, fmt: str, output: Path | None) -> None:
    """Report the clusters in an index as of its last finished run, without scanning.

    The output is the same document ``scan`` writes (same JSON schema), with the index's
    stable cluster ids. Skipped files are those whose content could not be used when last
    read (links and special files are only listed by a scan).

    \b
    Examples:
      dedupe-releases clusters --index archive.db | jq '.counts'
      dedupe-releases clusters --index archive.db -f table
    """
    from dedupe_releases.incremental import config_of_index, load_report

    idx = _reader(index)
    try:
        with _handled(), reading(index):
            result = load_report(idx, config_of_index(idx))
            emit(result, formats(fmt, output), output)
    finally:
        idx.close()
    sys.exit(int(ExitCode.OK))


@click.group(name="index")
def index_group() -> None:
    """Look after a persistent index (see `scan --index`)."""


@index_group.command(name="check", epilog=INDEX_EXIT_CODES)
@_INDEX_ARG
@click.option(
    "--deep",
    is_flag=True,
    help="Also recompute every article's band keys and a sample of signatures from text.",
)
def check_cmd(index: Target, deep: bool) -> None:
    """Verify that an index is whole and consistent; exit 3 if it is not.

    Runs SQLite's integrity and foreign-key checks (PostgreSQL: every foreign key recounted,
    their triggers enabled, every index valid), compares the schema with the expected one,
    and checks the index's own invariants (band and sentence rows, relations, clusters,
    unfinished runs). Prints one line per finding. Safe while a scan is running.

    \b
    Example:
      dedupe-releases index check --index archive.db
    """
    from dedupe_releases.index.check import check_index
    from dedupe_releases.index.schema import exists
    from dedupe_releases.output import escape_control

    if isinstance(index, PgUrl):
        with _handled():  # a server that cannot be reached: one line on stderr, not "damaged"
            exists(index)
    findings = check_index(index, deep)
    errors = [f for f in findings if f.level == "error"]
    lines = [f"{f.level}: {escape_control(f.message)}" for f in findings]
    lines.append(f"index {escape_control(str(index))}: " + ("damaged" if errors else "ok"))
    data = ("\n".join(lines) + "\n").encode()
    write_stdout(writer(data))
    sys.exit(int(ExitCode.INDEX if errors else ExitCode.OK))


@index_group.command(name="changes", epilog=INDEX_EXIT_CODES)
@_INDEX_ARG
@click.option(
    "--run",
    "run_id",
    type=int,
    help="The run whose events to print (default: the last that changed anything).",
)
def changes_cmd(index: Target, run_id: int | None) -> None:
    """Print the change events a run stored, one JSON object per line (as --changes did).

    \b
    Example:
      dedupe-releases index changes --index archive.db --run 12 | jq -r .type
    """
    idx = _reader(index)
    try:
        with _handled(), reading(index):
            runs = [r for r in idx.runs() if r["generation"] is not None]
            if run_id is not None:
                runs = [r for r in runs if r["id"] == run_id]
                if not runs:
                    fail(
                        f"index {index}: run {run_id} changed nothing or does not exist",
                        ExitCode.USAGE,
                    )
            events = (
                [{**e, "run": runs[-1]["id"]} for e in idx.events(runs[-1]["generation"])]
                if runs
                else []
            )
    finally:
        idx.close()
    _emit_lines(events, None)
    sys.exit(int(ExitCode.OK))

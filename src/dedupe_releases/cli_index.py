"""The command line of the persistent index: ``scan --index``, ``clusters``, ``index ...``.

Parse, call ``incremental``/``index``, render, map errors to exit codes; no logic of its
own. ``cli.py`` registers these; what the commands share is in ``cli_common``.
"""

from __future__ import annotations

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

LOG = logging.getLogger("dedupe_releases")

INDEX_EXIT_CODES = """\b
Exit codes with --index:
  0  done; with --changes: done and nothing changed
  1  finished, but some inputs were skipped or could not be read (one stderr line each)
  3  the index is damaged, newer, made with other settings, or would lose most files
  5  another run holds the index (see --wait)
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


def index_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """The incremental-scan options of ``scan``."""
    options = [
        click.option(
            "--index",
            type=click.Path(dir_okay=False, path_type=Path),
            help="SQLite index for nightly runs: only new or changed files are read; created"
            " if missing. Settings not given are taken from it.",
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


def setup_log(path: Path | None) -> None:
    if path is None:
        return
    try:
        handler = logging.FileHandler(path, encoding="utf-8")
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


def adopt_settings(ctx: click.Context, config: Config, index: Path) -> Config:
    """Options left at their defaults take the values the index was built with."""
    import dataclasses

    from dedupe_releases.index.store import Index

    if not index.exists():
        return config
    with _handled():
        idx = Index.open(index, reader=True)
    try:
        settings = idx.settings() or {}
    finally:
        idx.close()
    for param, (part, name) in _ADOPTED.items():
        if name in settings and ctx.get_parameter_source(param) == ParameterSource.DEFAULT:
            section = dataclasses.replace(getattr(config, part), **{name: settings[name]})
            config = dataclasses.replace(config, **{part: section})
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
    index: Path,
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
    with result:
        LOG.info("scan --index %s: run %d %s %s", index, result.run, result.status, result.counts)
        if not quiet:
            for problem in result.problems:
                warn(f"{problem.source}: {problem.reason}")
        if changes:
            _emit_lines(result.events, output)
        else:
            with _handled():
                emit(result.report(), fmt, output)
        files = result.index.files
    if files == 0:
        fail("no input could be read (every file was skipped)", ExitCode.NO_INPUT)
    if any(p.kind == "skipped" for p in result.problems):
        sys.exit(int(ExitCode.PARTIAL))
    if changes and result.events:
        sys.exit(int(ExitCode.CHANGED))
    sys.exit(int(ExitCode.OK))


def _reader(index: Path) -> Any:
    from dedupe_releases.index.store import Index

    with _handled():
        return Index.open(index, reader=True)


_INDEX_ARG = click.option(
    "--index",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The index a scan with --index wrote.",
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
def clusters(index: Path, fmt: str, output: Path | None) -> None:
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
        with _handled():
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
def check_cmd(index: Path, deep: bool) -> None:
    """Verify that an index is whole and consistent; exit 3 if it is not.

    Runs SQLite's integrity and foreign-key checks, compares the schema with the expected
    one, and checks the index's own invariants (band and sentence rows, relations, clusters,
    unfinished runs). Prints one line per finding. Safe while a scan is running.

    \b
    Example:
      dedupe-releases index check --index archive.db
    """
    from dedupe_releases.index.check import check_index
    from dedupe_releases.output import escape_control

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
def changes_cmd(index: Path, run_id: int | None) -> None:
    """Print the change events a run stored, one JSON object per line (as --changes did).

    \b
    Example:
      dedupe-releases index changes --index archive.db --run 12 | jq -r .type
    """
    idx = _reader(index)
    try:
        runs = [r for r in idx.runs() if r["generation"] is not None]
        if run_id is not None:
            runs = [r for r in runs if r["id"] == run_id]
            if not runs:
                fail(
                    f"index {index}: run {run_id} changed nothing or does not exist", ExitCode.USAGE
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

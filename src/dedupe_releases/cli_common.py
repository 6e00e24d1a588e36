"""What the command modules share: option decorators, error reporting, writing the output.

``cli.py`` holds the click group and ``main``; the commands live in ``cli_scan``,
``cli_inspect`` and ``cli_index``, which all import from here (never from ``cli``, which
imports them).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any, BinaryIO, NoReturn

import click

from dedupe_releases.config import Config, ReadConfig, SketchConfig, VerifyConfig
from dedupe_releases.errors import DedupeError, ExitCode, Interrupted

_VerifyConfig, _SketchConfig, _ReadConfig = VerifyConfig(), SketchConfig(), ReadConfig()

EXIT_CODES_HELP = """\b
Exit codes:
  0  every input was read (duplicates found or not)
  1  finished, but some inputs were skipped (one stderr line each)
  2  usage error (bad option or argument)
  3  (--index) the index is damaged, newer, or made with other settings
  4  no input could be read at all
  5  (--index) another run holds the index
  6  the --output file could not be written
  7  (--engine dask) the cluster could not be reached or could not finish the run
  10 (--index --changes) this run changed clusters; the events are on stdout
  130/143  interrupted by SIGINT/SIGTERM (nothing partial is written)
A reader that closes the pipe early (| head) does not change the exit code."""

SIGNALS = (signal.SIGINT, signal.SIGTERM)


def warn(message: str) -> None:
    """One escaped line on stderr: ``dedupe-releases: message``."""
    from dedupe_releases.output import escape_control

    text = escape_control(message)
    click.echo(f"dedupe-releases: {text}", err=True)
    logging.getLogger("dedupe_releases").warning(text)  # to --log-file, if one is open


def fail(message: str, code: ExitCode) -> NoReturn:
    warn(message)
    sys.exit(int(code))


def escape_path(path: Path) -> str:
    from dedupe_releases.output import escape_control

    return escape_control(str(path))


def signame(signum: int) -> str:
    return signal.Signals(signum).name


@contextlib.contextmanager
def handled(interrupted: str = "interrupted (SIGINT); nothing was written") -> Iterator[None]:
    """Map library errors to one stderr line and an exit code.

    ``interrupted`` is the line for a KeyboardInterrupt (in-process callers keep Python's
    own SIGINT handler; ``main`` turns signals into ``Interrupted``).
    """
    try:
        yield
    except KeyboardInterrupt:
        fail(interrupted, ExitCode.INTERRUPTED)
    except DedupeError as exc:
        fail(str(exc), exc.exit_code)


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
    """Let the output be written whole: a first SIGINT/SIGTERM waits until it is done.

    A second signal stops at once (the user insists); the output may then be cut, which a
    JSON reader sees (an unparsable document, or JSON Lines without the summary record).
    """
    pending: list[int] = []

    def defer(signum: int, frame: FrameType | None) -> None:
        if pending:
            raise Interrupted(f"interrupted ({signame(signum)}) while writing the output", signum)
        pending.append(signum)

    previous = {sig: signal.signal(sig, defer) for sig in SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if pending:
        raise Interrupted(
            f"interrupted ({signame(pending[0])}) after the output was written in full",
            pending[0],
        )


def write_stdout(write: Callable[[BinaryIO], None]) -> None:
    """Write bytes to stdout; a reader that stops early (``| head``) is not an error."""
    with quiet_pipe():
        out = sys.stdout.buffer
        write(out)
        out.flush()


@contextlib.contextmanager
def quiet_pipe() -> Iterator[None]:
    """A closed stdout (``| head``) ends the output quietly; the exit code stays the run's."""
    try:
        yield
        sys.stdout.flush()
    except BrokenPipeError:
        # Python's "Note on SIGPIPE": point stdout at devnull so the exit flush is quiet.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def writer(data: bytes) -> Callable[[BinaryIO], None]:
    """A writer of fixed bytes, for ``write_stdout`` and ``write_atomic``."""

    def write(fh: BinaryIO) -> None:
        fh.write(data)

    return write


#: ``-f/--format`` of the commands that write a scan's result (``formats`` resolves auto).
format_option = click.option(
    "-f",
    "--format",
    "fmt",
    type=click.Choice(["auto", "json", "jsonl", "table"]),
    default="auto",
    show_default=True,
    help="auto: a table on a terminal, JSON when piped or written to a file.",
)


def formats(fmt: str, output: Path | None) -> str:
    if fmt != "auto":
        return fmt
    if output is not None:
        return "json"
    return "table" if sys.stdout.isatty() else "json"


def emit(result: Any, fmt: str, output: Path | None) -> None:
    """Write a ``ScanResult`` as a table on the terminal, or as JSON/JSON Lines to stdout or
    ``output`` (whole or not at all). Callers wrap it in their ``handled``."""
    from dedupe_releases import output as out
    from dedupe_releases.atomic import write_atomic

    def write(fh: BinaryIO) -> None:
        if fmt == "jsonl":
            out.write_jsonl(result, fh)
        else:
            out.write_json(result, fh)

    with signals_deferred():
        if fmt == "table" and output is None:
            from rich.console import Console

            class PipeConsole(Console):
                def on_broken_pipe(self) -> None:
                    # rich's own handler exits 1; ours keeps the run's exit code.
                    self.quiet = True
                    raise BrokenPipeError

            # A console that cannot show a character gets "?" rather than an error.
            if hasattr(sys.stdout, "reconfigure"):
                sys.stdout.reconfigure(errors="replace")
            with quiet_pipe():
                out.render_table(result, PipeConsole(highlight=False))
        elif output is not None:
            if fmt == "table":
                raise click.BadParameter(
                    "a table is for the terminal; use json or jsonl", param_hint="--format"
                )
            write_atomic(output, write)
        else:
            write_stdout(write)


@contextlib.contextmanager
def progress(quiet: bool) -> Iterator[Callable[[str], None] | None]:
    """A rich progress line on stderr, only when stderr is a terminal."""
    if quiet or not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from dedupe_releases.output import escape_control

    with Progress(
        SpinnerColumn(),
        TextColumn("{task.completed} files"),
        TextColumn("[dim]{task.fields[name]}", markup=True),
        TimeElapsedColumn(),
        console=Console(stderr=True, highlight=False),
        transient=True,
    ) as bar:
        task = bar.add_task("scan", total=None, name="")

        def on_file(source: str) -> None:
            from rich.markup import escape

            bar.update(task, advance=1, name=escape(escape_control(source))[-60:])

        yield on_file


def scanned(paths: tuple[Path, ...], config: Config, quiet: bool, **kwargs: Any) -> Any:
    """``pipeline.scan`` with a progress line, then one warning per problem unless quiet."""
    from dedupe_releases.pipeline import scan as run_scan

    with handled(), progress(quiet) as on_file:
        result = run_scan(paths, config, on_file=on_file, **kwargs)
    if not quiet:
        for problem in result.problems:
            warn(f"{problem.source}: {problem.reason}")
    return result


def compare_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """The options that change how two articles are compared."""
    for option in reversed(
        [
            click.option(
                "-t",
                "--threshold",
                type=click.FloatRange(0, 1),
                default=_VerifyConfig.threshold,
                show_default=True,
                help="Minimum word-shingle Jaccard for two articles to be copies.",
            ),
            click.option(
                "--min-ratio",
                type=click.FloatRange(0, 100),
                default=_VerifyConfig.min_ratio,
                show_default=True,
                help="Minimum rapidfuzz ratio (0-100) of two copies' texts.",
            ),
            click.option(
                "-k",
                "--shingle-size",
                type=click.IntRange(1, 20),
                default=_SketchConfig.shingle_size,
                show_default=True,
                help="Words per shingle.",
            ),
            click.option(
                "--num-perm",
                type=click.IntRange(8, 1024),
                default=_SketchConfig.num_perm,
                show_default=True,
                help="MinHash permutations.",
            ),
            click.option(
                "--bands",
                type=click.IntRange(1, 1024),
                default=_SketchConfig.bands,
                show_default=True,
                help="LSH bands (must divide --num-perm).",
            ),
        ]
    ):
        f = option(f)
    return f


def read_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """The options that choose which files are read."""
    for option in reversed(
        [
            click.option(
                "-i",
                "--include",
                multiple=True,
                metavar="GLOB",
                help="Only read files whose path or name matches (repeatable).",
            ),
            click.option(
                "-x",
                "--exclude",
                multiple=True,
                metavar="GLOB",
                help="Skip files and folders whose path or name matches (repeatable).",
            ),
            click.option("--hidden", is_flag=True, help="Also read dot-files and dot-folders."),
            click.option(
                "--follow-links", is_flag=True, help="Follow symbolic links inside folders."
            ),
        ]
    ):
        f = option(f)
    return f


def config_of(
    threshold: float = _VerifyConfig.threshold,
    min_ratio: float = _VerifyConfig.min_ratio,
    shingle_size: int = _SketchConfig.shingle_size,
    num_perm: int = _SketchConfig.num_perm,
    bands: int = _SketchConfig.bands,
    include: tuple[str, ...] = (),
    exclude: tuple[str, ...] = (),
    hidden: bool = False,
    follow_links: bool = False,
    max_file_size: int = _ReadConfig.max_file_bytes,
    max_article_chars: int = _SketchConfig.max_article_chars,
) -> Config:
    """The ``Config`` of ``compare_options`` and ``read_options`` (and scan's size limits)."""
    if num_perm % bands:
        raise click.BadParameter(
            f"{bands} does not divide --num-perm {num_perm}", param_hint="--bands"
        )
    return Config(
        read=ReadConfig(
            include=include,
            exclude=exclude,
            hidden=hidden,
            follow_links=follow_links,
            max_file_bytes=max_file_size,
        ),
        sketch=SketchConfig(
            shingle_size=shingle_size,
            num_perm=num_perm,
            bands=bands,
            max_article_chars=max_article_chars,
        ),
        verify=VerifyConfig(threshold=threshold, min_ratio=min_ratio),
    )

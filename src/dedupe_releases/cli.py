"""The command line: parse options, build a ``Config``, call the library, render, map errors.

No pipeline logic lives here. Data goes to stdout; progress, warnings and errors to stderr,
one escaped line each. Exit codes are ``errors.ExitCode``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import IO, Any, BinaryIO, NoReturn

import click

from dedupe_releases import __version__
from dedupe_releases.config import Config, ReadConfig, SketchConfig, VerifyConfig
from dedupe_releases.errors import DedupeError, ExitCode, Interrupted, OutputError

_VerifyConfig, _SketchConfig, _ReadConfig = VerifyConfig(), SketchConfig(), ReadConfig()

EXIT_CODES_HELP = """\b
Exit codes:
  0  every input was read (duplicates found or not)
  1  finished, but some inputs were skipped (one stderr line each)
  2  usage error (bad option or argument)
  4  no input could be read at all
  6  the --output file could not be written
  130/143  interrupted by SIGINT/SIGTERM (nothing partial is written)"""


def _err_console() -> Any:
    from rich.console import Console

    return Console(stderr=True, highlight=False)


def warn(message: str) -> None:
    """One escaped line on stderr: ``dedupe-releases: message``."""
    from dedupe_releases.output import escape_control

    click.echo(f"dedupe-releases: {escape_control(message)}", err=True)


def fail(message: str, code: ExitCode) -> NoReturn:
    warn(message)
    sys.exit(int(code))


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise Interrupted("terminated", signum)


@contextlib.contextmanager
def _handled() -> Iterator[None]:
    """Map library errors and signals to one stderr line and an exit code."""
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        yield
    except KeyboardInterrupt:
        fail("interrupted; nothing was written", ExitCode.INTERRUPTED)
    except Interrupted as exc:
        fail(f"{exc}; nothing was written", exc.exit_code)
    except DedupeError as exc:
        fail(str(exc), exc.exit_code)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _write_stdout(write: Callable[[BinaryIO], None]) -> None:
    """Write bytes to stdout; a reader that stops early (``| head``) is not an error."""
    out = sys.stdout.buffer
    try:
        write(out)
        out.flush()
    except BrokenPipeError:
        # Python's "Note on SIGPIPE": point stdout at devnull so the exit flush is quiet.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


def write_atomic(path: Path, write: Callable[[BinaryIO], None]) -> None:
    """Write a file whole or not at all: temp file in the same folder, fsync, rename, fsync."""
    folder = path.parent if str(path.parent) else Path()
    tmp: str | None = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)  # mkstemp's 0600 is for the temp name only
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        tmp = None
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError as exc:
        raise OutputError(f"{path}: cannot write output ({exc.strerror or exc})") from None
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def _formats(fmt: str, output: Path | None) -> str:
    if fmt != "auto":
        return fmt
    if output is not None:
        return "json"
    return "table" if sys.stdout.isatty() else "json"


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "-V", "--version", prog_name="dedupe-releases")
def cli() -> None:
    """Find near-duplicate press releases, news stories and speeches in text dumps.

    \b
    Examples:
      dedupe-releases scan ./dump
      dedupe-releases scan ./dump | jq '.clusters | length'
      dedupe-releases normalize ./dump/004.txt
      dedupe-releases split ./dump | jq -r .title
    """


@cli.command(epilog=EXIT_CODES_HELP)
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option(
    "-t",
    "--threshold",
    type=click.FloatRange(0, 1),
    default=_VerifyConfig.threshold,
    show_default=True,
    help="Minimum word-shingle Jaccard for two articles to be copies.",
)
@click.option(
    "--min-ratio",
    type=click.FloatRange(0, 100),
    default=_VerifyConfig.min_ratio,
    show_default=True,
    help="Minimum rapidfuzz ratio (0-100) of two copies' texts.",
)
@click.option(
    "-k",
    "--shingle-size",
    type=click.IntRange(1, 20),
    default=_SketchConfig.shingle_size,
    show_default=True,
    help="Words per shingle.",
)
@click.option(
    "--num-perm",
    type=click.IntRange(8, 1024),
    default=_SketchConfig.num_perm,
    show_default=True,
    help="MinHash permutations.",
)
@click.option(
    "--bands",
    type=click.IntRange(1, 1024),
    default=_SketchConfig.bands,
    show_default=True,
    help="LSH bands (must divide --num-perm).",
)
@click.option(
    "-i",
    "--include",
    multiple=True,
    metavar="GLOB",
    help="Only read files whose path or name matches (repeatable).",
)
@click.option(
    "-x",
    "--exclude",
    multiple=True,
    metavar="GLOB",
    help="Skip files and folders whose path or name matches (repeatable).",
)
@click.option("--hidden", is_flag=True, help="Also read dot-files and dot-folders.")
@click.option("--follow-links", is_flag=True, help="Follow symbolic links inside folders.")
@click.option(
    "--max-file-size",
    type=click.IntRange(1),
    default=_ReadConfig.max_file_bytes,
    show_default=True,
    metavar="BYTES",
    help="Skip larger files (counted after gzip decompression).",
)
@click.option(
    "-f",
    "--format",
    "fmt",
    type=click.Choice(["auto", "json", "jsonl", "table"]),
    default="auto",
    show_default=True,
    help="auto: a table on a terminal, JSON when piped or written to a file.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the result to FILE (whole or not at all) instead of stdout.",
)
@click.option(
    "-q",
    "--quiet",
    is_flag=True,
    help="No progress bar and no warnings on stderr (skipped files stay in the output).",
)
@click.option(
    "-j",
    "--jobs",
    type=click.IntRange(1, 256),
    default=None,
    help="Worker processes for reading and hashing [default: every core]. Same result for any.",
)
def scan(
    paths: tuple[Path, ...],
    threshold: float,
    min_ratio: float,
    shingle_size: int,
    num_perm: int,
    bands: int,
    include: tuple[str, ...],
    exclude: tuple[str, ...],
    hidden: bool,
    follow_links: bool,
    max_file_size: int,
    fmt: str,
    output: Path | None,
    quiet: bool,
    jobs: int | None,
) -> None:
    """Find near-duplicate articles in PATHS (files or folders, read recursively).

    Each file is decoded, repaired (mojibake, quotes, link brackets, broken titles and
    paragraphs), split into articles, and compared with every other article by MinHash/LSH;
    candidate pairs are verified with exact shingle Jaccard and rapidfuzz. Copies form
    clusters with one canonical copy each; rewrites that reuse passages are listed as
    related.

    \b
    Examples:
      dedupe-releases scan ./dump                       # table on a terminal
      dedupe-releases scan ./dump | jq '.clusters[].canonical.title'
      dedupe-releases scan ./dump -f jsonl -o clusters.jsonl
      dedupe-releases scan ./dump -t 0.8 -x '*.bak' -i '*.txt'
    """
    from dedupe_releases import output as out
    from dedupe_releases.pipeline import scan as run_scan

    if num_perm % bands:
        raise click.BadParameter(
            f"{bands} does not divide --num-perm {num_perm}", param_hint="--bands"
        )
    config = Config(
        read=ReadConfig(
            include=include,
            exclude=exclude,
            hidden=hidden,
            follow_links=follow_links,
            max_file_bytes=max_file_size,
        ),
        sketch=SketchConfig(shingle_size=shingle_size, num_perm=num_perm, bands=bands),
        verify=VerifyConfig(threshold=threshold, min_ratio=min_ratio),
    )
    fmt = _formats(fmt, output)
    with _handled(), _progress(quiet) as on_file:
        result = run_scan(paths, config, on_file=on_file, jobs=jobs)
    if not quiet:
        for problem in result.problems:
            warn(f"{problem.source}: {problem.reason}")

    def write(fh: BinaryIO) -> None:
        if fmt == "jsonl":
            out.write_jsonl(result, fh)
        else:
            out.write_json(result, fh)

    with _handled():
        if fmt == "table" and output is None:
            from rich.console import Console

            out.render_table(result, Console(highlight=False))
        elif output is not None:
            if fmt == "table":
                raise click.BadParameter(
                    "a table is for the terminal; use json or jsonl", param_hint="--format"
                )
            write_atomic(output, write)
        else:
            _write_stdout(write)
    if result.files == 0:
        fail(
            "no input could be read"
            + (" (every file was skipped)" if result.problems else " (no files found)"),
            ExitCode.NO_INPUT,
        )
    sys.exit(int(ExitCode.PARTIAL if result.skipped else ExitCode.OK))


@contextlib.contextmanager
def _progress(quiet: bool) -> Iterator[Callable[[str], None] | None]:
    """A rich progress line on stderr, only when stderr is a terminal."""
    if quiet or not sys.stderr.isatty():
        yield None
        return
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from dedupe_releases.output import escape_control

    with Progress(
        SpinnerColumn(),
        TextColumn("{task.completed} files"),
        TextColumn("[dim]{task.fields[name]}", markup=True),
        TimeElapsedColumn(),
        console=_err_console(),
        transient=True,
    ) as bar:
        task = bar.add_task("scan", total=None, name="")

        def on_file(source: str) -> None:
            from rich.markup import escape

            bar.update(task, advance=1, name=escape(escape_control(source))[-60:])

        yield on_file


def _read_one(path: Path, config: Config) -> Any:
    from dedupe_releases.read import SkipFile, read_source

    try:
        return read_source(path, path.name, config.read)
    except SkipFile as exc:
        fail(f"{path}: skipped: {exc}", ExitCode.NO_INPUT)
    except OSError as exc:
        fail(f"{path}: cannot read ({exc.strerror or exc})", ExitCode.NO_INPUT)


@cli.command(epilog=EXIT_CODES_HELP)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def normalize(file: Path) -> None:
    """Print the repaired text of FILE, article by article.

    The text is what scan compares: mojibake and quotes fixed, link brackets unwrapped,
    broken titles and paragraphs joined, site furniture after an article dropped.
    Normalising the output again changes nothing.

    \b
    Example:
      dedupe-releases normalize dump/004.txt | less
    """
    from dedupe_releases.pipeline import articles_of

    config = Config()
    parts = []
    for article in articles_of(_read_one(file, config), config):
        head = f"{article.kind}: {article.title}" if article.kind else article.title
        parts.append(f"{head}\n\n{article.body}" if article.body else head)
    data = ("\n\n".join(parts) + "\n").encode() if parts else b""

    def write(fh: BinaryIO) -> None:
        fh.write(data)

    _write_stdout(write)


@cli.command(name="split", epilog=EXIT_CODES_HELP)
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--no-text", is_flag=True, help="Leave the article text out of each record.")
def split_cmd(paths: tuple[Path, ...], no_text: bool) -> None:
    """Print the articles found in PATHS, one JSON object per line.

    Each record has the article's id (file#ordinal), source file, line span in the original
    file, content type, title, content hash, the repairs made and (unless --no-text) the text.

    \b
    Examples:
      dedupe-releases split dump/ | jq -r '[.id, .title] | @tsv'
      dedupe-releases split dump/004.txt --no-text
    """
    from dedupe_releases.output import dumps
    from dedupe_releases.pipeline import iter_articles
    from dedupe_releases.records import Problem

    config = Config()
    problems: list[Problem] = []
    read: list[str] = []

    def write(fh: BinaryIO) -> None:
        for a in iter_articles(paths, config, problems, read):
            record: dict[str, Any] = {
                "id": a.id,
                "source": a.source,
                "ordinal": a.ordinal,
                "lines": list(a.lines),
                "kind": a.kind,
                "title": a.title,
                "content_hash": a.content_hash,
                "fixes": {f.rule: f.count for f in a.fixes},
                "words": len(a.text.split()),
            }
            if not no_text:
                record["text"] = a.text
            fh.write(dumps(record) + b"\n")

    with _handled():
        _write_stdout(write)
    for problem in problems:
        warn(f"{problem.source}: {problem.reason}")
    if not read:
        fail("no input could be read", ExitCode.NO_INPUT)
    sys.exit(int(ExitCode.PARTIAL if problems else ExitCode.OK))


def main(argv: list[str] | None = None, stdout: IO[str] | None = None) -> None:
    """Console-script entry point."""
    cli.main(args=argv, prog_name="dedupe-releases")

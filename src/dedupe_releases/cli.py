"""The command line: parse options, build a ``Config``, call the library, render, map errors.

No pipeline logic lives here. Data goes to stdout; progress, warnings and errors to stderr,
one escaped line each. Exit codes are ``errors.ExitCode``.
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
from typing import IO, Any, BinaryIO, NoReturn

import click

from dedupe_releases import __version__, cli_index
from dedupe_releases.atomic import write_atomic
from dedupe_releases.cli_engine import engine_options, open_engine
from dedupe_releases.cli_index import index_options
from dedupe_releases.config import Config, ReadConfig, SketchConfig, VerifyConfig
from dedupe_releases.errors import DedupeError, ExitCode, Interrupted, NoInputError

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


def _err_console() -> Any:
    from rich.console import Console

    return Console(stderr=True, highlight=False)


def warn(message: str) -> None:
    """One escaped line on stderr: ``dedupe-releases: message``."""
    from dedupe_releases.output import escape_control

    text = escape_control(message)
    click.echo(f"dedupe-releases: {text}", err=True)
    logging.getLogger("dedupe_releases").warning(text)  # to --log-file, if one is open


def fail(message: str, code: ExitCode) -> NoReturn:
    warn(message)
    sys.exit(int(code))


_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _signame(signum: int) -> str:
    return signal.Signals(signum).name


def _on_signal(signum: int, frame: FrameType | None) -> None:
    raise Interrupted(f"interrupted ({_signame(signum)}); nothing was written", signum)


@contextlib.contextmanager
def _handled() -> Iterator[None]:
    """Map library errors to one stderr line and an exit code."""
    try:
        yield
    except KeyboardInterrupt:  # in-process callers keep Python's own SIGINT handler
        fail("interrupted (SIGINT); nothing was written", ExitCode.INTERRUPTED)
    except DedupeError as exc:
        fail(str(exc), exc.exit_code)


@contextlib.contextmanager
def _signals_deferred() -> Iterator[None]:
    """Let the output be written whole: a first SIGINT/SIGTERM waits until it is done.

    A second signal stops at once (the user insists); the output may then be cut, which a
    JSON reader sees (an unparsable document, or JSON Lines without the summary record).
    """
    pending: list[int] = []

    def defer(signum: int, frame: FrameType | None) -> None:
        if pending:
            raise Interrupted(f"interrupted ({_signame(signum)}) while writing the output", signum)
        pending.append(signum)

    previous = {sig: signal.signal(sig, defer) for sig in _SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if pending:
        raise Interrupted(
            f"interrupted ({_signame(pending[0])}) after the output was written in full",
            pending[0],
        )


def _write_stdout(write: Callable[[BinaryIO], None]) -> None:
    """Write bytes to stdout; a reader that stops early (``| head``) is not an error."""
    with _quiet_pipe():
        out = sys.stdout.buffer
        write(out)
        out.flush()


@contextlib.contextmanager
def _quiet_pipe() -> Iterator[None]:
    """A closed stdout (``| head``) ends the output quietly; the exit code stays the run's."""
    try:
        yield
        sys.stdout.flush()
    except BrokenPipeError:
        # Python's "Note on SIGPIPE": point stdout at devnull so the exit flush is quiet.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def _writer(data: bytes) -> Callable[[BinaryIO], None]:
    """A writer of fixed bytes, for ``_write_stdout`` and ``write_atomic``."""

    def write(fh: BinaryIO) -> None:
        fh.write(data)

    return write


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
    "--max-article-chars",
    type=click.IntRange(1000),
    default=_SketchConfig.max_article_chars,
    show_default=True,
    metavar="CHARS",
    help="Cut longer articles to this many characters (flagged truncated, with a warning).",
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
@index_options
@engine_options
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
    max_article_chars: int,
    fmt: str,
    output: Path | None,
    quiet: bool,
    jobs: int | None,
    engine: str,
    scheduler: str | None,
    **index_opts: Any,
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
      dedupe-releases scan ./dump --index archive.db --changes   # nightly, from cron
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
        sketch=SketchConfig(
            shingle_size=shingle_size,
            num_perm=num_perm,
            bands=bands,
            max_article_chars=max_article_chars,
        ),
        verify=VerifyConfig(threshold=threshold, min_ratio=min_ratio),
    )
    fmt = _formats(fmt, output)
    cli_index.setup_log(index_opts.get("log_file"))
    if index_opts.get("index") is not None:
        with (
            _handled(),
            open_engine(engine, scheduler, jobs) as runner,
            _progress(quiet) as on_file,
        ):
            ctx = click.get_current_context()
            opts = {**index_opts, "engine": runner}
            cli_index.scan_with_index(ctx, paths, config, fmt, output, quiet, on_file, opts)
    if index_opts.get("changes"):
        raise click.BadParameter("--changes needs --index", param_hint="--changes")
    decisions = None
    if index_opts.get("decisions") is not None:
        from dedupe_releases.decisions import load_decisions

        with _handled():
            decisions = load_decisions(index_opts["decisions"])
    with _handled(), open_engine(engine, scheduler, jobs) as runner, _progress(quiet) as on_file:
        result = run_scan(
            paths, config, on_file=on_file, jobs=jobs, decisions=decisions, engine=runner
        )
    if not quiet:
        for problem in result.problems:
            warn(f"{problem.source}: {problem.reason}")

    def write(fh: BinaryIO) -> None:
        if fmt == "jsonl":
            out.write_jsonl(result, fh)
        else:
            out.write_json(result, fh)

    with _handled(), _signals_deferred():
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
            with _quiet_pipe():
                out.render_table(result, PipeConsole(highlight=False))
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
    skipped = any(p.kind == "skipped" for p in problems)
    sys.exit(int(ExitCode.PARTIAL if skipped else ExitCode.OK))


def _compare_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """The options that change how two articles are compared (as in scan)."""
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


def _read_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """The options that choose which files are read (as in scan)."""
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


def _config(
    threshold: float = _VerifyConfig.threshold,
    min_ratio: float = _VerifyConfig.min_ratio,
    shingle_size: int = _SketchConfig.shingle_size,
    num_perm: int = _SketchConfig.num_perm,
    bands: int = _SketchConfig.bands,
    include: tuple[str, ...] = (),
    exclude: tuple[str, ...] = (),
    hidden: bool = False,
    follow_links: bool = False,
) -> Config:
    if num_perm % bands:
        raise click.BadParameter(
            f"{bands} does not divide --num-perm {num_perm}", param_hint="--bands"
        )
    return Config(
        read=ReadConfig(include=include, exclude=exclude, hidden=hidden, follow_links=follow_links),
        sketch=SketchConfig(shingle_size=shingle_size, num_perm=num_perm, bands=bands),
        verify=VerifyConfig(threshold=threshold, min_ratio=min_ratio),
    )


def _scan_paths(paths: tuple[Path, ...], config: Config, quiet: bool) -> Any:
    """Scan for report and export: warnings as scan gives them, exit 4 if nothing was read."""
    from dedupe_releases.pipeline import scan as run_scan

    with _handled(), _progress(quiet) as on_file:
        result = run_scan(paths, config, on_file=on_file)
    if not quiet:
        for problem in result.problems:
            warn(f"{problem.source}: {problem.reason}")
    if result.files == 0:
        fail("no input could be read", ExitCode.NO_INPUT)
    return result


@cli.command(epilog=EXIT_CODES_HELP)
@click.argument("a")
@click.argument("b")
@click.option(
    "--root",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=Path(),
    help="The folder given to scan: article ids are relative to it. [default: .]",
)
@_compare_options
@click.option("--full", is_flag=True, help="Show identical paragraphs too (folded by default).")
@click.option(
    "--no-color",
    is_flag=True,
    help="No colours; changes marked [-removed-] {+added+} (the default when piped).",
)
def explain(a: str, b: str, root: Path, full: bool, no_color: bool, **compare: Any) -> None:
    """Show why two articles are, or are not, copies of each other.

    A and B are article ids from scan's output (FILE#N, relative to --root) or files (a file
    holding several articles needs #N). Prints every score (MinHash estimate, exact shingle
    Jaccard, rapidfuzz ratio, containment each way), the relation and why, the titles as
    found, the repairs made to each text, numbers that differ, shared passages, and the two
    fixed texts side by side with the changed words marked.

    \b
    Examples:
      dedupe-releases explain '004_70741a213c6bd5e9.txt#3' '004_70741a213c6bd5e9.txt#4' --root dump
      dedupe-releases explain old.txt new.txt --full | less -R
    """
    import io

    from rich.console import Console

    from dedupe_releases import explain as ex

    config = _config(**compare)
    with _handled():
        pair = ex.explain_pair(
            ex.find_article(a, root, config), ex.find_article(b, root, config), config
        )
    tty = sys.stdout.isatty()
    plain = no_color or not tty or bool(os.environ.get("NO_COLOR"))
    buffer = io.StringIO()
    console = Console(
        file=buffer,
        width=Console().width,  # the terminal's, or $COLUMNS, or 80 when piped
        force_terminal=not plain,
        color_system=None if plain else "auto",
        highlight=False,
        markup=False,
        emoji=False,
    )
    ex.render(pair, console, markers=plain, full=full)
    text = buffer.getvalue()
    if plain:  # no padding to the terminal's width in a file or a pipe
        text = "\n".join(line.rstrip() for line in text.split("\n"))
    data = text.encode("utf-8")
    _write_stdout(_writer(data))


@cli.command(epilog=EXIT_CODES_HELP)
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--from",
    "from_json",
    type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
    help="Build the report from a scan's JSON (- for stdin) instead of scanning PATHS.",
)
@click.option(
    "--root",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="With --from: the folder that scan read, to show each copy's differences.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
    required=True,
    help="The HTML file to write (whole or not at all); - for stdout.",
)
@_compare_options
@_read_options
@click.option("-q", "--quiet", is_flag=True, help="No progress bar and no warnings on stderr.")
def report(
    paths: tuple[Path, ...],
    from_json: Path | None,
    root: Path | None,
    output: Path,
    quiet: bool,
    **options: Any,
) -> None:
    """Write an HTML report of the clusters: one self-contained file, no network needed.

    It holds the run summary, charts of cluster sizes and pair similarities, the clusters
    (filterable by text) with each canonical text, every copy's differences from it and the
    reasons it was chosen, and the related pairs with their shared passages.

    \b
    Examples:
      dedupe-releases report ./dump -o report.html
      dedupe-releases scan ./dump -o scan.json
      dedupe-releases report --from scan.json --root ./dump -o report.html
    """
    from jinja2 import TemplateError

    from dedupe_releases import report as rp

    config = _config(**options)
    if bool(paths) == (from_json is not None):
        raise click.UsageError("give either PATHS to scan or --from SCAN.json")
    skipped = False
    with _handled():
        if from_json is not None:
            doc = rp.check_document(_load_json(from_json), str(from_json))
            text_of = rp.texts_from_files(doc, root, config) if root is not None else lambda _: None
        else:
            from dedupe_releases.output import document

            result = _scan_paths(paths, config, quiet)
            doc, text_of, skipped = document(result), _text_of(result), bool(result.skipped)
        try:
            html = rp.render_report(doc, text_of).encode("utf-8")
        except (LookupError, TypeError, ValueError, AttributeError, TemplateError) as exc:
            if from_json is None:
                raise
            raise NoInputError(f"{from_json}: not a valid scan document ({exc!r})") from None
        if str(output) == "-":
            _write_stdout(_writer(html))
        else:
            write_atomic(output, _writer(html))
    sys.exit(int(ExitCode.PARTIAL if skipped else ExitCode.OK))


def _text_of(result: Any) -> Callable[[str], str | None]:
    return lambda article_id: result.article(article_id).text


def _load_json(path: Path) -> Any:
    import json

    try:
        data = sys.stdin.buffer.read() if str(path) == "-" else path.read_bytes()
        return json.loads(data)
    except OSError as exc:
        raise NoInputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except ValueError as exc:
        raise NoInputError(f"{path}: not JSON ({exc})") from None


@cli.command(epilog=EXIT_CODES_HELP)
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="The folder to write into (made if missing).",
)
@_compare_options
@_read_options
@click.option("-q", "--quiet", is_flag=True, help="No progress bar and no summary on stderr.")
def export(paths: tuple[Path, ...], output: Path, quiet: bool, **options: Any) -> None:
    """Write the canonical copy of every cluster and every unique article as text files.

    Each file is UTF-8 text named after its title; OUTPUT/manifest.json maps every source
    article to the file that stands for it. Running it again with the same input changes
    nothing; a file it did not write is never overwritten, and nothing is written outside
    OUTPUT (a symbolic link in it is never followed).

    \b
    Examples:
      dedupe-releases export ./dump -o ./clean
      jq -r '.articles["004_70741a213c6bd5e9.txt#4"]' clean/manifest.json
    """
    from dedupe_releases import export as ex

    config = _config(**options)
    result = _scan_paths(paths, config, quiet)
    with _handled():
        summary = ex.write_export(
            output,
            ex.export_items(result.store, result.clusters),
            result.config.parameters(),
        )
    if not quiet and sys.stderr.isatty():
        click.echo(
            f"{len(summary.files)} files in {escape_path(output)}: {len(summary.written)} written,"
            f" {len(summary.unchanged)} unchanged, {len(summary.removed)} removed",
            err=True,
        )
    for name in summary.left:
        warn(f"{output / name}: changed since it was exported; left as it is")
    sys.exit(int(ExitCode.PARTIAL if result.skipped else ExitCode.OK))


def escape_path(path: Path) -> str:
    from dedupe_releases.output import escape_control

    return escape_control(str(path))


cli.add_command(cli_index.clusters)
cli.add_command(cli_index.index_group)


def main(argv: list[str] | None = None, stdout: IO[str] | None = None) -> None:
    """Console-script entry point.

    SIGINT and SIGTERM raise ``Interrupted`` wherever the run is (even while importing),
    so an interrupted run always ends with one stderr line and exit code 130 or 143.
    """
    for sig in _SIGNALS:
        signal.signal(sig, _on_signal)
    try:
        cli.main(args=argv, prog_name="dedupe-releases")
    except Interrupted as exc:
        _ignore_signals()  # a second signal while we report the first
        warn(str(exc))
        _exit_now(exc.exit_code)
    except SystemExit as exc:
        if exc.code in (ExitCode.INTERRUPTED, ExitCode.TERMINATED):
            _ignore_signals()
            _exit_now(int(exc.code))
        raise
    finally:
        # Exiting now: a late signal must not raise during interpreter shutdown.
        _ignore_signals()


def _exit_now(code: int) -> NoReturn:
    """Leave an interrupted run at once, past interpreter shutdown.

    Everything that must survive is already safe: output is written whole or not at all,
    the index commits per file (an open transaction rolls back, as after SIGKILL), and pool
    workers die with this process. Skipping shutdown means no joining of the pool's
    management thread, which can wait forever once the run was cut short.
    """
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    with contextlib.suppress(Exception):
        # multiprocessing's resource tracker would print "leaked semaphore" warnings on our
        # stderr for the pool we did not shut down: stop it quietly (the semaphores go with
        # the pool's processes; one stderr line per problem stays the rule).
        from multiprocessing import resource_tracker

        tracker_pid = getattr(resource_tracker._resource_tracker, "_pid", None)
        if tracker_pid:
            os.kill(tracker_pid, signal.SIGKILL)
    os._exit(int(code))


def _ignore_signals() -> None:
    for sig in _SIGNALS:
        signal.signal(sig, signal.SIG_IGN)

"""The commands that read a dump: ``scan`` (also ``scan --index``), ``normalize``, ``split``.

Parse options, build a ``Config``, call the library, render; ``cli.py`` registers these.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, BinaryIO

import click

from dedupe_releases import cli_index
from dedupe_releases.cli_common import (
    EXIT_CODES_HELP,
    compare_options,
    config_of,
    emit,
    fail,
    format_option,
    formats,
    handled,
    progress,
    read_options,
    scanned,
    warn,
    write_stdout,
    writer,
)
from dedupe_releases.cli_engine import engine_options, open_engine
from dedupe_releases.cli_index import index_options
from dedupe_releases.config import Config, ReadConfig, SketchConfig
from dedupe_releases.errors import ExitCode

_SketchConfig, _ReadConfig = SketchConfig(), ReadConfig()


@click.command(epilog=EXIT_CODES_HELP)
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@compare_options
@read_options
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
@format_option
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
    fmt: str,
    output: Path | None,
    quiet: bool,
    jobs: int | None,
    index: Path | None,
    changes: bool,
    decisions: Path | None,
    wait: float | None,
    allow_mass_delete: bool,
    log_file: Path | None,
    engine: str,
    scheduler: str | None,
    **options: Any,
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
    config = config_of(**options)
    fmt = formats(fmt, output)
    cli_index.setup_log(log_file)
    if index is not None:
        with handled(), open_engine(engine, scheduler, jobs) as runner, progress(quiet) as on_file:
            ctx = click.get_current_context()
            cli_index.scan_with_index(
                ctx,
                paths,
                config,
                fmt,
                output,
                quiet,
                on_file,
                index=index,
                changes=changes,
                decisions=decisions,
                wait=wait,
                allow_mass_delete=allow_mass_delete,
                engine=runner,
            )
    if changes:
        raise click.BadParameter("--changes needs --index", param_hint="--changes")
    reviewed = None
    if decisions is not None:
        from dedupe_releases.decisions import load_decisions

        with handled():
            reviewed = load_decisions(decisions)
    with handled(), open_engine(engine, scheduler, jobs) as runner:
        result = scanned(paths, config, quiet, jobs=jobs, decisions=reviewed, engine=runner)
    with handled():
        emit(result, fmt, output)
    if result.files == 0:
        fail(
            "no input could be read"
            + (" (every file was skipped)" if result.problems else " (no files found)"),
            ExitCode.NO_INPUT,
        )
    sys.exit(int(ExitCode.PARTIAL if result.skipped else ExitCode.OK))


def _read_one(path: Path, config: Config) -> Any:
    from dedupe_releases.read import SkipFile, read_source

    try:
        return read_source(path, path.name, config.read)
    except SkipFile as exc:
        fail(f"{path}: skipped: {exc}", ExitCode.NO_INPUT)
    except OSError as exc:
        fail(f"{path}: cannot read ({exc.strerror or exc})", ExitCode.NO_INPUT)


@click.command(epilog=EXIT_CODES_HELP)
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
    write_stdout(writer(data))


@click.command(name="split", epilog=EXIT_CODES_HELP)
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

    with handled():
        write_stdout(write)
    for problem in problems:
        warn(f"{problem.source}: {problem.reason}")
    if not read:
        fail("no input could be read", ExitCode.NO_INPUT)
    skipped = any(p.kind == "skipped" for p in problems)
    sys.exit(int(ExitCode.PARTIAL if skipped else ExitCode.OK))

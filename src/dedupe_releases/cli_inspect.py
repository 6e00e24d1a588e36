"""The commands that look at a scan's result: ``explain``, ``report``, ``export``.

Parse options, build a ``Config``, call the library, render; ``cli.py`` registers these
(``clusters``, which reads an index, is in ``cli_index``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from dedupe_releases.atomic import write_atomic
from dedupe_releases.cli_common import (
    EXIT_CODES_HELP,
    compare_options,
    config_of,
    escape_path,
    fail,
    handled,
    read_options,
    scanned,
    warn,
    write_stdout,
    writer,
)
from dedupe_releases.config import Config
from dedupe_releases.errors import ExitCode, NoInputError


def _scan_paths(paths: tuple[Path, ...], config: Config, quiet: bool) -> Any:
    """Scan for report and export: warnings as scan gives them, exit 4 if nothing was read."""
    result = scanned(paths, config, quiet)
    if result.files == 0:
        fail("no input could be read", ExitCode.NO_INPUT)
    return result


@click.command(epilog=EXIT_CODES_HELP)
@click.argument("a")
@click.argument("b")
@click.option(
    "--root",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=Path(),
    help="The folder given to scan: article ids are relative to it. [default: .]",
)
@compare_options
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

    config = config_of(**compare)
    with handled():
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
    write_stdout(writer(data))


@click.command(epilog=EXIT_CODES_HELP)
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
@compare_options
@read_options
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

    config = config_of(**options)
    if bool(paths) == (from_json is not None):
        raise click.UsageError("give either PATHS to scan or --from SCAN.json")
    skipped = False
    with handled():
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
            write_stdout(writer(html))
        else:
            write_atomic(output, writer(html))
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


@click.command(epilog=EXIT_CODES_HELP)
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="The folder to write into (made if missing).",
)
@compare_options
@read_options
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

    config = config_of(**options)
    result = _scan_paths(paths, config, quiet)
    with handled():
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

"""The command line: the click group and ``main``; the commands are registered here.

No pipeline logic lives here. The commands are in ``cli_scan`` (scan, normalize, split),
``cli_inspect`` (explain, report, export) and ``cli_index`` (clusters, index ...); what they
share (options, error reporting, writing the output) is in ``cli_common``. Data goes to
stdout; progress, warnings and errors to stderr, one escaped line each. Exit codes are
``errors.ExitCode``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from types import FrameType
from typing import IO, NoReturn

import click

from dedupe_releases import __version__, cli_index, cli_inspect, cli_scan
from dedupe_releases.cli_common import SIGNALS, signame, warn
from dedupe_releases.errors import ExitCode, Interrupted


def _on_signal(signum: int, frame: FrameType | None) -> None:
    raise Interrupted(f"interrupted ({signame(signum)}); nothing was written", signum)


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


cli.add_command(cli_scan.scan)
cli.add_command(cli_scan.normalize)
cli.add_command(cli_scan.split_cmd)
cli.add_command(cli_inspect.explain)
cli.add_command(cli_inspect.report)
cli.add_command(cli_inspect.export)
cli.add_command(cli_index.clusters)
cli.add_command(cli_index.index_group)


def main(argv: list[str] | None = None, stdout: IO[str] | None = None) -> None:
    """Console-script entry point.

    SIGINT and SIGTERM raise ``Interrupted`` wherever the run is (even while importing),
    so an interrupted run always ends with one stderr line and exit code 130 or 143.
    """
    for sig in SIGNALS:
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
    for sig in SIGNALS:
        signal.signal(sig, signal.SIG_IGN)

"""Errors the library raises and the exit codes the command line maps them to.

The library never calls ``sys.exit``; ``cli.py`` is the one place that turns these
into exit codes. A bad *input file* is not an exception: it becomes a ``Problem``
record and the run goes on.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Exit codes of every command, from least to most severe (most severe wins)."""

    OK = 0  #: every input was read, with duplicates or without
    PARTIAL = 1  #: finished, but some inputs were skipped (one stderr line each)
    USAGE = 2  #: bad option or argument (click's own code)
    INDEX = 3  #: the index is corrupt, newer, made with other settings, or unwritable
    NO_INPUT = 4  #: nothing could be read at all (no file, or every file skipped)
    LOCKED = 5  #: another run holds the index
    OUTPUT = 6  #: the --output file or export folder could not be written
    ENGINE = 7  #: --engine dask: the cluster could not be reached or could not finish the run
    #: with ``--changes`` only: every input was read and this run changed clusters (events on
    #: stdout). Ranks between OK and PARTIAL: a run that also skipped inputs exits PARTIAL.
    CHANGED = 10
    INTERRUPTED = 130  #: SIGINT (Ctrl-C)
    TERMINATED = 143  #: SIGTERM


class DedupeError(Exception):
    """Base class of the errors that stop a command. The message names the fix."""

    exit_code: ExitCode = ExitCode.USAGE


class UsageError(DedupeError):
    exit_code = ExitCode.USAGE


class NoInputError(DedupeError):
    exit_code = ExitCode.NO_INPUT


class OutputError(DedupeError):
    exit_code = ExitCode.OUTPUT


class IndexError_(DedupeError):
    """The index cannot be used (named with a trailing underscore: not the builtin)."""

    exit_code = ExitCode.INDEX


class EngineError(DedupeError):
    """The distributed engine could not run the scan (nothing was written)."""

    exit_code = ExitCode.ENGINE


class IndexLockedError(DedupeError):
    exit_code = ExitCode.LOCKED


class Interrupted(DedupeError):
    exit_code = ExitCode.INTERRUPTED

    def __init__(self, message: str, signum: int = 2) -> None:
        super().__init__(message)
        self.exit_code = ExitCode.TERMINATED if signum == 15 else ExitCode.INTERRUPTED

"""``scan --engine local|dask --scheduler ADDRESS``: where a scan's heavy stages run.

The options, and the engine they name opened for the length of a scan. Dask is imported
only when it is asked for (``pip install 'dedupe-releases[dask]'``).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import click

from dedupe_releases.errors import UsageError

if TYPE_CHECKING:
    from dedupe_releases.dask_engine import DaskEngine


def engine_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """The engine options of ``scan``."""
    f = click.option(
        "--scheduler",
        metavar="ADDRESS",
        help="Dask scheduler for --engine dask (tcp://host:8786) [default:"
        " $DASK_SCHEDULER_ADDRESS, else a cluster of every core on this machine].",
    )(f)
    return click.option(
        "--engine",
        type=click.Choice(["local", "dask"]),
        default="local",
        show_default=True,
        help="Where reading, hashing and verification run: here (--jobs processes), or on a"
        " Dask cluster. Same result.",
    )(f)


@contextlib.contextmanager
def open_engine(name: str, scheduler: str | None, jobs: int | None) -> Iterator[DaskEngine | None]:
    """None for ``--engine local``; a connected ``DaskEngine`` for ``--engine dask``."""
    if name == "local":
        if scheduler:
            raise UsageError("--scheduler needs --engine dask")
        yield None
        return
    if jobs is not None:
        raise UsageError("--jobs is for --engine local: a Dask cluster has its own workers")
    from dedupe_releases.dask_engine import DaskEngine, scheduler_address

    engine = DaskEngine(scheduler_address(scheduler))  # imports Dask, which sets up its logs
    _quiet_dask_logs()
    with engine:
        yield engine


def _quiet_dask_logs() -> None:
    """Silence Dask's own log lines (a lost connection, a retried task, with tracebacks):
    stderr has one line per problem, and what stops a run is our one error line."""
    names = [n for n in logging.root.manager.loggerDict if n.split(".")[0] == "distributed"]
    for name in ["distributed", *names]:
        logging.getLogger(name).setLevel(logging.CRITICAL + 1)

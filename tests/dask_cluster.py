"""A real Dask cluster for tests: ``dask scheduler`` and ``dask worker`` processes on 127.0.0.1.

Every process runs in its own session, has a deadline and is killed (SIGKILL to its group)
when the cluster is closed, whatever state the test left it in.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

DASK = Path(sys.executable).with_name("dask")
#: Longest a cluster may take to start.
START_SECONDS = 60


class Cluster:
    """A scheduler and ``workers`` single-threaded workers (no nanny: a killed one stays dead)."""

    def __init__(self, tmp: Path, workers: int = 2) -> None:
        self.tmp = tmp
        self.file = tmp / "scheduler.json"
        self.procs: list[subprocess.Popen[bytes]] = []
        self.workers: list[subprocess.Popen[bytes]] = []
        try:
            self._start(workers)
        except BaseException:
            self.close()
            raise

    def _spawn(self, args: list[str], log: str) -> subprocess.Popen[bytes]:
        out = (self.tmp / log).open("wb")
        proc = subprocess.Popen(
            [str(DASK), *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=self.tmp,
            start_new_session=True,
            env={**os.environ, "DASK_DISTRIBUTED__WORKER__DAEMON": "False"},
        )
        out.close()
        self.procs.append(proc)
        return proc

    def _start(self, workers: int) -> None:
        self._spawn(
            [
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--no-dashboard",
                "--scheduler-file",
                str(self.file),
            ],
            "scheduler.log",
        )
        deadline = time.monotonic() + START_SECONDS
        self.address = self._scheduler_address(deadline)
        for n in range(workers):
            self.workers.append(
                self._spawn(
                    [
                        "worker",
                        self.address,
                        "--host",
                        "127.0.0.1",
                        "--nthreads",
                        "1",
                        "--no-nanny",
                        "--no-dashboard",
                        "--memory-limit",
                        "0",
                        "--name",
                        f"w{n}",
                        "--local-directory",
                        str(self.tmp / f"w{n}"),
                    ],
                    f"worker{n}.log",
                )
            )
        with self.client() as client:
            client.wait_for_workers(workers, timeout=START_SECONDS)

    def _scheduler_address(self, deadline: float) -> str:
        """The address in the scheduler file, once it is whole: the scheduler creates the
        file before it writes it, so an empty or half-written file means "not yet"."""
        while True:
            try:
                return str(json.loads(self.file.read_text())["address"])
            except (OSError, ValueError, KeyError):
                self._check(deadline)

    def _check(self, deadline: float) -> None:
        for proc in self.procs:
            if proc.poll() is not None:
                raise RuntimeError(f"a cluster process exited early:\n{self.logs()}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"the cluster did not start:\n{self.logs()}")
        time.sleep(0.05)

    def client(self) -> Any:
        from distributed import Client

        return Client(self.address, timeout=START_SECONDS)

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.tmp.glob("*.log")))

    def kill_worker(self, n: int) -> None:
        os.killpg(self.workers[n].pid, signal.SIGKILL)
        self.workers[n].wait(timeout=10)

    def kill_scheduler(self) -> None:
        os.killpg(self.procs[0].pid, signal.SIGKILL)
        self.procs[0].wait(timeout=10)

    def close(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)

"""A real PostgreSQL server for the tests: Debian's package (``apt-get install postgresql``),
a fresh cluster in a temporary folder, listening only on 127.0.0.1 at a free port, trust
authentication, no Unix socket. As root, the server runs as the ``postgres`` user (or
``nobody``): PostgreSQL refuses to run as root.

``postgres_server`` (session-scoped) is the one most tests share; tests that kill a server
make their own ``PgServer``. Without the binaries, or when the server cannot start, the tests
are skipped, except under CI (``CI`` set), where that is a failure.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

#: The bootstrap superuser of the test cluster (the URL's user).
USER = "dedupe"


def binaries() -> Path | None:
    """The newest ``/usr/lib/postgresql/N/bin`` (Debian), or the folder of ``initdb`` on PATH."""
    found = sorted(
        (p for p in Path("/usr/lib/postgresql").glob("*/bin") if (p / "initdb").exists()),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    if found:
        return found[-1]
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PgServer:
    """``initdb`` once, then ``start``/``stop``/``kill`` a postmaster on a loopback port."""

    def __init__(self) -> None:
        bin_dir = binaries()
        if bin_dir is None:
            raise RuntimeError("no PostgreSQL binaries (apt-get install postgresql)")
        self.bin = bin_dir
        self.root = Path(tempfile.mkdtemp(prefix="dedupe-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.prefix: list[str] = []
        if os.geteuid() == 0:
            name = "postgres" if _has_user("postgres") else "nobody"
            account = pwd.getpwnam(name)
            os.chown(self.root, account.pw_uid, account.pw_gid)
            self.prefix = [
                "setpriv",
                f"--reuid={account.pw_uid}",
                f"--regid={account.pw_gid}",
                "--clear-groups",
                "--",
            ]
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self._run(
            self.bin / "initdb",
            "-D",
            self.data,
            "-U",
            USER,
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
        )

    def _run(self, *args: str | Path) -> None:
        proc = subprocess.run(
            [*self.prefix, *map(str, args)], capture_output=True, check=False, cwd=self.root
        )
        if proc.returncode != 0:
            raise RuntimeError(f"{args[0]} failed: {proc.stderr.decode(errors='replace')[-2000:]}")

    def start(self, timeout: float = 60) -> None:
        """Start the postmaster (on the same port after a restart) and wait until it answers."""
        import psycopg

        for _attempt in range(3):
            if not self.port or _attempt:
                self.port = _free_port()
            log = self.log.open("ab")
            self.proc = subprocess.Popen(
                [
                    *self.prefix,
                    str(self.bin / "postgres"),
                    "-D",
                    str(self.data),
                    "-p",
                    str(self.port),
                    "-c",
                    "listen_addresses=127.0.0.1",
                    "-c",
                    "unix_socket_directories=",
                    "-c",
                    "fsync=off",  # a process kill still loses nothing; only a power cut would
                    "-c",
                    "max_connections=40",
                ],
                stdout=log,
                stderr=log,
                cwd=self.root,
                start_new_session=True,  # its own process group: kill() takes every backend
            )
            log.close()
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    psycopg.connect(self.url("postgres"), connect_timeout=2).close()
                    return
                except psycopg.OperationalError:
                    time.sleep(0.05)
            self.kill()
        raise RuntimeError(
            f"the server did not start: {self.log.read_text(errors='replace')[-2000:]}"
        )

    def stop(self) -> None:
        """A fast shutdown (SIGINT): sessions are ended, the server stops cleanly."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()
        self.proc = None

    def kill(self) -> None:
        """SIGKILL to the postmaster and every backend at once (a crash; recovery on start)."""
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.proc = None

    def url(self, db: str) -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{db}"

    def createdb(self, name: str) -> str:
        """A new empty UTF8 database; its URL."""
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True) as con:
            con.execute(f'DROP DATABASE IF EXISTS "{name}"')
            con.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def remove(self) -> None:
        self.kill()  # its data is thrown away: no shutdown checkpoint needed
        shutil.rmtree(self.root, ignore_errors=True)


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def unavailable(reason: str) -> None:
    """Skip, or fail under CI: the PostgreSQL tests must never be skipped silently there."""
    if os.environ.get("CI"):
        pytest.fail(f"PostgreSQL tests cannot run under CI: {reason}", pytrace=False)
    pytest.skip(f"no PostgreSQL server: {reason}")


@contextlib.contextmanager
def running_server() -> Iterator[PgServer]:
    try:
        import psycopg  # noqa: F401
    except ImportError:
        unavailable("psycopg is not installed (pip install -e '.[test]')")
    server = None
    try:
        server = PgServer()
        server.start()
    except (RuntimeError, OSError) as exc:
        if server is not None:
            server.remove()
        unavailable(str(exc))
    assert server is not None
    try:
        yield server
    finally:
        server.remove()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PgServer]:
    """One server for the session (databases per test via ``createdb``)."""
    with running_server() as server:
        yield server

"""Every exit code of ``errors.ExitCode`` is produced by a real run (httpie's habit).

``PRODUCERS`` is the table: code -> the test that makes the real command exit with it. The
table test fails if a new code is added to the enum without a producer.
"""

from __future__ import annotations

import signal
import time

import pytest
from harness import (
    SAMPLES,
    copies_dump,
    finish,
    run_cli,
    sample_bytes,
    signals_ready,
    spawn,
    wait_until,
)

from dedupe_releases.errors import ExitCode

PRODUCERS: dict[ExitCode, str] = {
    ExitCode.OK: "test_exit_codes.py::test_ok",
    ExitCode.PARTIAL: "test_exit_codes.py::test_partial",
    ExitCode.USAGE: "test_exit_codes.py::test_usage",
    ExitCode.INDEX: "test_exit_codes.py::test_index",
    ExitCode.NO_INPUT: "test_exit_codes.py::test_no_input",
    ExitCode.LOCKED: "test_exit_codes.py::test_locked",
    ExitCode.OUTPUT: "test_exit_codes.py::test_output",
    ExitCode.ENGINE: "test_exit_codes.py::test_engine",
    ExitCode.CHANGED: "test_exit_codes.py::test_changed",
    ExitCode.INTERRUPTED: "test_exit_codes.py::test_interrupted_and_terminated",
    ExitCode.TERMINATED: "test_exit_codes.py::test_interrupted_and_terminated",
}
#: Codes without a producing test yet (none: the index's codes are produced below).
PENDING_INDEX: set[ExitCode] = set()


def test_every_exit_code_has_a_producing_test():
    assert set(PRODUCERS) | PENDING_INDEX == set(ExitCode)
    assert not set(PRODUCERS) & PENDING_INDEX
    for code, node in PRODUCERS.items():
        name = node.split("::")[1]
        assert callable(globals().get(name)), (code, node)


def test_ok():
    result = run_cli("scan", "samples/dump", "-f", "json")
    assert result.rc == ExitCode.OK == 0
    assert result.stderr == b""


def test_partial(tmp_path):
    (tmp_path / "good.txt").write_bytes(sample_bytes())
    (tmp_path / "bad.bin").write_bytes(b"\x00")
    result = run_cli("scan", tmp_path, "-f", "json")
    assert result.rc == ExitCode.PARTIAL == 1
    assert len(result.stderr_lines) == 1


@pytest.mark.parametrize(
    "args",
    [
        ("scan",),
        ("scan", str(SAMPLES), "--threshold", "2"),
        ("scan", str(SAMPLES), "--bands", "7"),
        ("scan", str(SAMPLES), "--no-such-option"),
        ("scan", str(SAMPLES), "-f", "table", "-o", "x.json"),
        ("nosuchcommand",),
    ],
)
def test_usage(args, tmp_path):
    result = run_cli(*args, cwd=tmp_path)
    assert result.rc == ExitCode.USAGE == 2, result
    assert result.stdout == b""
    assert not (tmp_path / "x.json").exists()


def test_no_input(tmp_path):
    (tmp_path / "only.bin").write_bytes(b"\x00\x01")
    result = run_cli("scan", tmp_path, "-f", "json")
    assert result.rc == ExitCode.NO_INPUT == 4
    assert result.stderr_lines[-1] == (
        "dedupe-releases: no input could be read (every file was skipped)"
    )


def test_index(tmp_path):
    (tmp_path / "archive.db").write_text("not an index\n" * 10)
    result = run_cli("scan", "samples/dump", "--index", tmp_path / "archive.db")
    assert result.rc == ExitCode.INDEX == 3
    assert len(result.stderr_lines) == 1
    assert (tmp_path / "archive.db").read_text() == "not an index\n" * 10


def test_locked(tmp_path):
    import fcntl

    with (tmp_path / "archive.db.lock").open("w") as holder:  # another run holds the lock
        fcntl.flock(holder, fcntl.LOCK_EX)
        result = run_cli("scan", "samples/dump", "--index", tmp_path / "archive.db")
    assert result.rc == ExitCode.LOCKED == 5
    assert len(result.stderr_lines) == 1
    assert not (tmp_path / "archive.db").exists()


def test_changed(tmp_path):
    result = run_cli("scan", "samples/dump", "--index", tmp_path / "archive.db", "--changes")
    assert result.rc == ExitCode.CHANGED == 10
    assert result.stderr == b""
    again = run_cli("scan", "samples/dump", "--index", tmp_path / "archive.db", "--changes")
    assert (again.rc, again.stdout) == (ExitCode.OK, b"")


def test_output(tmp_path):
    result = run_cli("scan", "samples/dump", "-o", tmp_path / "missing" / "out.json")
    assert result.rc == ExitCode.OUTPUT == 6
    assert len(result.stderr_lines) == 1


def test_interrupted_and_terminated(tmp_path):
    dump = copies_dump(tmp_path / "dump", 6)
    for signum, code in ((signal.SIGINT, 130), (signal.SIGTERM, 143)):
        proc = spawn("scan", dump, "-f", "json")
        assert wait_until(lambda p=proc: signals_ready(p.pid))
        time.sleep(0.05)
        proc.send_signal(signum)
        result = finish(proc)
        assert result.rc == code, result
        assert len(result.stderr_lines) == 1


def test_engine():
    # nothing listens on the discard port of the loopback address
    result = run_cli(
        "scan",
        "samples/dump",
        "--engine",
        "dask",
        "--scheduler",
        "tcp://127.0.0.1:9",
        env={"DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "2s"},
    )
    assert result.rc == ExitCode.ENGINE == 7
    assert result.stderr_lines[-1].startswith(
        "dedupe-releases: cannot reach the Dask scheduler at tcp://127.0.0.1:9"
    )

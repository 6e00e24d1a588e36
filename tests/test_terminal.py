"""What a person at a terminal sees, versus what cron sees (a real pseudo-terminal)."""

from __future__ import annotations

import os
import pty
import subprocess
import sys

from conftest import ROOT


def _run_with_tty_stderr(*args: str) -> tuple[int, bytes, bytes]:
    """Run the CLI with stderr on a pseudo-terminal and stdout on a pipe."""
    master, slave = pty.openpty()
    env = {**os.environ, "COLUMNS": "100", "TERM": "xterm-256color"}
    env.pop("NO_COLOR", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "dedupe_releases", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=slave,
        env=env,
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    out = proc.stdout.read() if proc.stdout else b""
    proc.wait(timeout=60)
    os.close(master)
    return proc.returncode, out, b"".join(chunks)


def test_progress_goes_to_a_terminal_stderr_and_never_into_the_data() -> None:
    code, out, err = _run_with_tty_stderr("scan", "samples/dump", "-f", "json")
    assert code == 0
    assert b"files" in err  # the progress line counted files
    assert out.startswith(b"{") and b"\x1b" not in out


def test_quiet_shows_no_progress_even_on_a_terminal() -> None:
    code, _, err = _run_with_tty_stderr("scan", "samples/dump", "-f", "json", "-q")
    assert code == 0 and err == b""


def test_cron_sees_nothing_on_stderr(run_process) -> None:
    proc = run_process("scan", "samples/dump")
    assert proc.returncode == 0 and proc.stderr == b""
    assert proc.stdout.startswith(b"{\n")  # auto format: JSON when not a terminal

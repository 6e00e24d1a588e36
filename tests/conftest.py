"""Shared fixtures: the sample dump, a CLI runner that returns everything, the JSON schema."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from dedupe_releases.cli import cli

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples" / "dump"
KURZ = "004_70741a213c6bd5e9.txt"
SEVENTEEN = "001_efaca27c1b31c6fa.txt"
BIG = "000_61910848183f3758.txt"
PRESS = "002_829714c0c2397bc5.txt"
TRADE = "003_0b1477e63db6351e.txt"


@dataclass
class Run:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def json(self) -> Any:
        return json.loads(self.stdout)

    @property
    def jsonl(self) -> list[Any]:
        return [json.loads(line) for line in self.stdout.splitlines() if line]


@pytest.fixture
def samples_dir() -> Path:
    return SAMPLES


@pytest.fixture
def run_cli():
    """Run the CLI in-process with click's runner; returns exit code, stdout, stderr."""

    def run(*args: str, input: str | None = None) -> Run:
        result = CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)
        return Run(result.exit_code, result.stdout, result.stderr)

    return run


@pytest.fixture
def run_process(tmp_path: Path):
    """Run the real `python -m dedupe_releases` in a subprocess (no terminal, like cron)."""

    def run(
        *args: str, timeout: float = 120, env: dict[str, str] | None = None, cwd: Path | None = None
    ) -> subprocess.CompletedProcess[bytes]:
        full_env = {
            **os.environ,
            "NO_COLOR": "1",
            "LC_ALL": "C.UTF-8",
            "PYTHONHASHSEED": "0",
            **(env or {}),
        }
        proc = subprocess.run(
            [sys.executable, "-m", "dedupe_releases", *args],
            capture_output=True,
            timeout=timeout,
            env=full_env,
            cwd=cwd or ROOT,
            check=False,
        )
        assert b"Traceback" not in proc.stderr, proc.stderr.decode(errors="replace")
        return proc

    return run


@pytest.fixture(scope="session")
def scan_schema() -> dict[str, Any]:
    text = resources.files("dedupe_releases").joinpath("schema/scan.schema.json").read_text()
    return json.loads(text)


def sample_text(name: str) -> str:
    return (SAMPLES / name).read_text(encoding="utf-8")


def article_lines(name: str, first: int, last: int) -> str:
    """Lines first..last (1-based, inclusive) of a sample file."""
    lines = sample_text(name).split("\n")
    return "\n".join(lines[first - 1 : last])


# --- reliability harness (tests/harness.py) --------------------------------------------------

from harness import Figures  # noqa: E402
from hypothesis import settings  # noqa: E402

# derandomize: the same examples on every run and machine, so a CI failure reproduces.
settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
settings.load_profile("ci")


@pytest.fixture(scope="session")
def figures():
    """Counts for the README's reliability table (written out by scripts/reliability.py)."""
    recorded = Figures()
    yield recorded
    recorded.dump()


# --- a real PostgreSQL server for the PostgreSQL index (tests/pgserver.py) ---------------------

from pgserver import postgres_server  # noqa: E402, F401

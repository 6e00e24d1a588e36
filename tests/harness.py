"""The reliability harness: run the real command in a subprocess and look at everything it did.

``run_cli`` runs ``python -m dedupe_releases`` with a clean, fixed environment (no colour,
C.UTF-8, a fixed hash seed) and returns the exit code, the exact stdout bytes and the stderr
lines. Every run is checked for the things that must never happen whatever the input: a
Python traceback, an "Exception ignored" message, a raw control character on stderr.

Helpers build hostile dumps (``write_dump``), run as an unprivileged user (``as_nobody``),
limit file sizes (``fsize_limit``), and record the figures of the reliability table
(``Figures``). Nothing here is mocked: every test talks to the real program.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples" / "dump"

#: Raw control characters that must never reach a terminal through stderr (all C0 but
#: newline, DEL, C1, bidi and other invisible format controls).
RAW_CONTROL = re.compile(
    "[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]"
)

BASE_ENV = {
    "NO_COLOR": "1",
    "LC_ALL": "C.UTF-8",
    "PYTHONHASHSEED": "0",
    "PYTHONDONTWRITEBYTECODE": "1",
    "TERM": "dumb",
}


def cli_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PYTHON", "LC_", "COLUMNS", "FORCE_COLOR", "TZ", "FAKETIME"))
    }
    env.update(BASE_ENV)
    env.update(extra or {})
    return env


def command(*args: str | os.PathLike[str]) -> list[str]:
    return [sys.executable, "-m", "dedupe_releases", *map(os.fsdecode, args)]


@dataclass
class Result:
    """What one run did: exit code, exact stdout bytes, stderr bytes."""

    args: Sequence[str]
    rc: int
    stdout: bytes
    stderr: bytes
    seconds: float = 0.0
    max_rss_kb: int = 0

    @property
    def stderr_lines(self) -> list[str]:
        """One entry per stderr line (the trailing newline does not make an empty one)."""
        text = self.stderr.decode("utf-8", "surrogateescape")
        return text.split("\n")[:-1] if text.endswith("\n") else text.split("\n") if text else []

    @property
    def json(self) -> Any:
        return json.loads(self.stdout)

    @property
    def jsonl(self) -> list[Any]:
        """Every line parsed; the stream must end with a newline (a cut line has none)."""
        assert self.stdout.endswith(b"\n"), self.stdout[-200:]
        return [json.loads(line) for line in self.stdout.split(b"\n")[:-1]]

    def check(self) -> Result:
        """The promises every run keeps, whatever it was given."""
        text = self.stderr.decode("utf-8", "replace")
        assert "Traceback" not in text, text
        assert "Exception ignored" not in text, text
        for line in self.stderr_lines:
            assert not RAW_CONTROL.search(line), f"raw control character on stderr: {line!r}"
        return self

    def __repr__(self) -> str:
        return (
            f"Result(args={list(self.args)!r}, rc={self.rc}, stdout={self.stdout[:300]!r}, "
            f"stderr={self.stderr.decode('utf-8', 'replace')[:2000]!r})"
        )


def run_cli(
    *args: str | os.PathLike[str],
    env: Mapping[str, str] | None = None,
    timeout: float = 120,
    cwd: Path | None = None,
    prefix: Sequence[str] = (),
    preexec_fn: Callable[[], None] | None = None,
    stdin: bytes | None = None,
) -> Result:
    """Run ``python -m dedupe_releases ARGS`` (behind ``prefix``, e.g. setpriv or strace).

    The child is reaped with ``wait4`` so its own peak RSS is known (``RUSAGE_CHILDREN``
    would give the largest of every child so far).
    """
    argv = [*prefix, *command(*args)]
    start = time.perf_counter()
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=cli_env(env),
        cwd=cwd or ROOT,
        preexec_fn=preexec_fn,
    )
    chunks: dict[str, bytes] = {}

    def pump(name: str, stream: Any) -> None:
        chunks[name] = stream.read()
        stream.close()

    threads = [
        threading.Thread(target=pump, args=("out", proc.stdout), daemon=True),
        threading.Thread(target=pump, args=("err", proc.stderr), daemon=True),
    ]
    for t in threads:
        t.start()
    if proc.stdin is not None:
        with contextlib.suppress(BrokenPipeError):
            proc.stdin.write(stdin or b"")
        proc.stdin.close()
    deadline = time.monotonic() + timeout
    for t in threads:
        t.join(max(deadline - time.monotonic(), 0))
    if any(t.is_alive() for t in threads):
        proc.kill()
        proc.wait()
        raise subprocess.TimeoutExpired(argv, timeout)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - start
    result = Result(argv, proc.returncode, chunks["out"], chunks["err"], seconds, usage.ru_maxrss)
    return result.check()


def spawn(
    *args: str | os.PathLike[str],
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    stdout: int = subprocess.PIPE,
) -> subprocess.Popen[bytes]:
    """Start the command without waiting (signal and pipe tests)."""
    return subprocess.Popen(
        command(*args),
        stdout=stdout,
        stderr=subprocess.PIPE,
        env=cli_env(env),
        cwd=cwd or ROOT,
    )


def finish(proc: subprocess.Popen[bytes], timeout: float = 120) -> Result:
    out, err = proc.communicate(timeout=timeout)
    return Result(list(map(str, proc.args)), proc.returncode, out or b"", err).check()  # type: ignore[arg-type]


def signals_ready(pid: int) -> bool:
    """True once the process catches SIGTERM (``/proc/PID/status`` SigCgt), i.e. once
    ``main()`` has installed its handlers. Python itself only catches SIGINT."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    match = re.search(r"^SigCgt:\s*([0-9a-f]+)$", status, re.MULTILINE)
    return bool(match) and bool(int(match.group(1), 16) & (1 << (signal.SIGTERM - 1)))


def wait_until(predicate: Callable[[], bool], timeout: float = 30, step: float = 0.005) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return False


# --- building dumps ------------------------------------------------------------------------


def sample_bytes(name: str | None = None) -> bytes:
    """A sample file's bytes (the small £17m story by default)."""
    return (SAMPLES / (name or "001_efaca27c1b31c6fa.txt")).read_bytes()


def write_dump(folder: Path, files: Mapping[str | bytes, bytes]) -> Path:
    """Create ``folder`` holding ``files`` (names may be bytes, for names that are not UTF-8)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        path = folder / (os.fsdecode(name) if isinstance(name, bytes) else name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return folder


def copies_dump(folder: Path, copies: int) -> Path:
    """``copies`` renamed copies of the sample dump, each with one line of its own: a dump
    whose output is large (many clusters of the same stories), for pipe and signal tests."""
    files: dict[str | bytes, bytes] = {}
    for i in range(copies):
        for sample in sorted(SAMPLES.iterdir()):
            files[f"copy{i:03d}/{sample.name}"] = sample.read_bytes() + f"\n\nRef {i}\n".encode()
    return write_dump(folder, files)


@contextmanager
def public_dir() -> Iterator[Path]:
    """A 0755 folder under the system temp dir: pytest's ``tmp_path`` sits in a 0700 folder
    that an unprivileged user cannot enter at all, which would hide what we test."""
    path = Path(tempfile.mkdtemp(prefix="dedupe-rel-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def as_nobody() -> list[str] | None:
    """A command prefix that drops root (root ignores file modes, so a chmod 000 test passes
    vacuously as root: restic's note). ``[]`` when already unprivileged; None if impossible."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        return None
    return [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"]


def fsize_limit(max_bytes: int) -> Callable[[], None]:
    """A ``preexec_fn`` that makes writes past ``max_bytes`` fail with EFBIG (a full disk
    without a mount); SIGXFSZ is ignored so the write fails instead of killing the process."""

    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_bytes, max_bytes))

    return limit


def scan_schema() -> dict[str, Any]:
    text = resources.files("dedupe_releases").joinpath("schema/scan.schema.json").read_text()
    return json.loads(text)  # type: ignore[no-any-return]


def validate(doc: Any) -> None:
    import jsonschema

    jsonschema.validate(doc, scan_schema())


def article_ids(doc: Any) -> list[str]:
    """Every article id in a scan document, from clusters (members) only."""
    return sorted(m["id"] for c in doc["clusters"] for m in c["members"])


# --- the figures of the reliability table ----------------------------------------------------


@dataclass
class Figures:
    """Counts for the README's reliability table, written out when
    ``DEDUPE_RELIABILITY_REPORT`` names a file (``scripts/reliability.py`` reads it)."""

    counts: dict[str, int] = field(default_factory=dict)

    def add(self, name: str, n: int = 1) -> None:
        self.counts[name] = self.counts.get(name, 0) + n

    def peak(self, name: str, value: int) -> None:
        """Keep the largest value seen (peak RSS, seconds x 1000)."""
        self.counts[name] = max(self.counts.get(name, value), value)

    def dump(self) -> None:
        target = os.environ.get("DEDUPE_RELIABILITY_REPORT")
        if not target:
            return
        with Path(target).open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(self.counts, sort_keys=True) + "\n")


def scale(name: str, ci: int) -> int:
    """How many trials or examples: ``ci`` in CI, or what the nightly script asks for in
    ``DEDUPE_SCALE_<NAME>`` (``scripts/reliability.py``)."""
    override = os.environ.get(f"DEDUPE_SCALE_{name.upper()}")
    return int(override) if override else ci


def generate_archive(folder: Path, articles: int, **options: Any) -> Path:
    """A dump made by the benchmark's corpus generator (``benchmarks/corpus.py``) in FOLDER."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import corpus
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    corpus.generate(folder, articles, **options)
    return folder / "dump"


def backup(src: Path, dst: Path) -> None:
    """Copy an index the safe way: SQLite's backup API, never cp of a live index
    (sqlite.org/howtocorrupt.html)."""
    a, b = sqlite3.connect(src), sqlite3.connect(dst)
    try:
        a.backup(b)
    finally:
        a.close()
        b.close()


def can_mount_tmpfs() -> bool:
    """Whether this process may mount a small tmpfs in a private mount namespace."""
    if os.geteuid() != 0 or not shutil.which("unshare"):
        return False
    probe = subprocess.run(
        ["unshare", "-m", "sh", "-c", "mount -t tmpfs -o size=64k none /mnt"],
        capture_output=True,
        check=False,
    )
    return probe.returncode == 0


def strace_inject(syscall: str, action: str, when: int) -> list[str]:
    """The strace prefix that makes the Nth SYSCALL of a command (and its children) do ACTION:
    ``signal=KILL`` or ``error=ENOSPC`` (strace's own fault injection)."""
    tracer = shutil.which("strace")
    assert tracer is not None, "strace is needed here (.ci/run installs it)"
    return [
        tracer,
        "-f",
        "-qq",
        "-o",
        "/dev/null",
        "-e",
        f"trace={syscall}",
        "-e",
        f"inject={syscall}:{action}:when={when}",
    ]

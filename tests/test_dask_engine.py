"""`scan --engine dask` on a real cluster: the same bytes as the local engine, and faults.

The cluster is a real ``dask scheduler`` and two ``dask worker`` processes on 127.0.0.1
(``dask_cluster.Cluster``); the archive is the benchmark generator's, 1,500 articles.
Dask is part of the ``test`` extra: in CI (``CI`` set) a missing Dask fails the module
instead of skipping it.
"""

from __future__ import annotations

import importlib.util
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

try:
    import distributed  # noqa: F401
except ImportError:
    if os.environ.get("CI"):
        raise
    pytest.skip("Dask is not installed (pip install -e '.[test]')", allow_module_level=True)

from dask_cluster import Cluster

from dedupe_releases import output
from dedupe_releases.config import Config
from dedupe_releases.dask_engine import DaskEngine
from dedupe_releases.errors import ExitCode
from dedupe_releases.pipeline import scan

ROOT = Path(__file__).resolve().parent.parent
ARTICLES = 1500
#: Longest a scan may take on a loaded machine (they take seconds).
SCAN_SECONDS = 300


def _corpus_module() -> Any:
    spec = importlib.util.spec_from_file_location(
        "corpus_for_dask_tests", ROOT / "benchmarks" / "corpus.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["corpus_for_dask_tests"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("archive")
    _corpus_module().generate(out, ARTICLES, seed=3)
    return out / "dump"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    c = Cluster(tmp_path_factory.mktemp("cluster"), workers=2)
    try:
        yield c
    finally:
        c.close()


def _env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "DASK_SCHEDULER_ADDRESS"}
    return {**env, "NO_COLOR": "1", "LC_ALL": "C.UTF-8", **(extra or {})}


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    proc = subprocess.run(
        [sys.executable, "-m", "dedupe_releases", *args],
        capture_output=True,
        timeout=SCAN_SECONDS,
        env=_env(env),
        cwd=ROOT,
        check=False,
    )
    assert b"Traceback" not in proc.stderr, proc.stderr.decode(errors="replace")
    return proc


def _ok(*args: str, env: dict[str, str] | None = None) -> bytes:
    proc = _cli(*args, env=env)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    return proc.stdout


@pytest.fixture(scope="module")
def local_json(archive: Path) -> bytes:
    return _ok("scan", str(archive), "-q", "-f", "json")


def _task_prefixes(cluster: Cluster) -> set[str]:
    with cluster.client() as client:
        names = client.run_on_scheduler(lambda dask_scheduler: list(dask_scheduler.task_prefixes))
    return set(names)


def _task_counts(cluster: Cluster) -> dict[str, int]:
    """Tasks the scheduler has seen so far, by prefix."""

    def counts(dask_scheduler: Any) -> dict[str, int]:
        return {k: sum(p.state_counts.values()) for k, p in dask_scheduler.task_prefixes.items()}

    with cluster.client() as client:
        found: dict[str, int] = client.run_on_scheduler(counts)
    return found


def test_cluster_scan_is_byte_identical_to_the_local_engine(
    cluster: Cluster, archive: Path, local_json: bytes
) -> None:
    remote = _ok(
        "scan", str(archive), "-q", "-f", "json", "--engine", "dask", "--scheduler", cluster.address
    )
    assert remote == local_json
    assert len(json.loads(local_json)["clusters"]) > 50
    # the work ran on the cluster, as tasks of each distributed stage
    assert {"ingest_batch", "group_partition", "verify_chunk"} <= _task_prefixes(cluster)


def test_the_scheduler_address_may_come_from_the_environment(
    cluster: Cluster, samples_dir: Path
) -> None:
    local = _ok("scan", str(samples_dir), "-q", "-f", "json")
    remote = _ok(
        "scan",
        str(samples_dir),
        "-q",
        "-f",
        "json",
        "--engine",
        "dask",
        env={"DASK_SCHEDULER_ADDRESS": cluster.address},
    )
    assert remote == local
    assert json.loads(local)["clusters"]


def test_small_tasks_and_star_buckets_give_the_local_result(
    cluster: Cluster, tmp_path: Path
) -> None:
    """Many batches and verification chunks, a band bucket past the star limit (66 copies),
    exact copies, a file with no article."""
    dump = tmp_path / "dump"
    dump.mkdir()
    body = "\n\n".join(
        f"The minister said that item {i} of the plan will open soon in the town."
        for i in range(12)
    )
    for n in range(66):
        edit = ("alpha", "beta", "gamma")[n % 3]
        (dump / f"{n:03}.txt").write_text(
            f"Press release: The release\n\n{body}\n\nThe note ends with {edit}.\n"
        )
    for n in range(10):
        words = " ".join(f"w{n}x{i}" for i in range(80))
        (dump / f"other{n}.txt").write_text(f"News story: Unrelated\n\n{words}\n")
    (dump / "other9.txt").write_text("Short note\n\nSame few words.\n")
    (dump / "other8.txt").write_text("Short note\n\nSame few words.\n")
    (dump / "empty.txt").write_text("\n")
    config = Config()
    local = io.BytesIO()
    output.write_json(scan([dump], config, jobs=1), local)
    with DaskEngine(cluster.address, files_per_task=3, pairs_per_task=50) as engine:
        result = scan([dump], config, engine=engine)
    remote = io.BytesIO()
    output.write_json(result, remote)
    assert remote.getvalue() == local.getvalue()
    assert result.candidates >= 66
    assert sorted(len(c.members) for c in result.clusters) == [2, 66]


def _edit(dump: Path) -> None:
    """A night's changes: files added, changed and removed."""
    files = sorted(p for p in dump.rglob("*") if p.is_file())
    for n, path in enumerate(files[:6]):
        text = path.read_text(errors="replace")
        (dump / f"zz_new_{n}.txt").write_text(text.replace(" the ", " a ", 3))
    with files[10].open("a") as fh:
        fh.write("\n\nA paragraph added overnight, long enough to change the copy it is in.\n")
    files[20].unlink()


def test_an_incremental_second_run_matches_the_local_engine(
    cluster: Cluster, archive: Path, local_json: bytes, tmp_path: Path
) -> None:
    dump = tmp_path / "dump"
    shutil.copytree(archive, dump)
    dask = ("--engine", "dask", "--scheduler", cluster.address)
    before = _task_counts(cluster)
    first_local = _ok("scan", str(dump), "-q", "-f", "json", "--index", str(tmp_path / "l.db"))
    first_dask = _ok(
        "scan", str(dump), "-q", "-f", "json", "--index", str(tmp_path / "d.db"), *dask
    )
    assert first_dask == first_local == local_json
    _edit(dump)
    changes = ("scan", str(dump), "-q", "--changes", "--index")
    events_local = _cli(*changes, str(tmp_path / "l.db"))
    events_dask = _cli(*changes, str(tmp_path / "d.db"), *dask)
    assert events_local.returncode == events_dask.returncode == ExitCode.CHANGED
    assert events_dask.stdout == events_local.stdout
    assert b'"new_cluster"' in events_local.stdout
    report = ("clusters", "-f", "json", "--index")
    assert _ok(*report, str(tmp_path / "d.db")) == _ok(*report, str(tmp_path / "l.db"))
    # the dask runs read the new and changed files and verified the new pairs on the cluster
    after = _task_counts(cluster)
    assert after["ingest_records"] > before.get("ingest_records", 0)
    assert after["verify_chunk"] > before.get("verify_chunk", 0) + 1


def _scan_and_kill_a_worker(c: Cluster, args: list[str]) -> subprocess.CompletedProcess[bytes]:
    """Run ``scan ARGS --engine dask`` on ``c``; SIGKILL a worker while it runs a task."""
    command = [sys.executable, "-m", "dedupe_releases", "scan", *args]
    command += ["-q", "-f", "json", "--engine", "dask", "--scheduler", c.address]
    with c.client() as watcher:
        proc = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT, env=_env()
        )
        try:
            deadline = time.monotonic() + SCAN_SECONDS
            victim = None
            while victim is None and time.monotonic() < deadline and proc.poll() is None:
                for address, tasks in watcher.processing().items():
                    if any("ingest" in str(t) for t in tasks):
                        info = watcher.scheduler_info(n_workers=-1)["workers"][address]
                        victim = int(str(info["name"])[1:])
                        break
                else:
                    time.sleep(0.01)  # polling the scheduler, not waiting for an outcome
            assert victim is not None and proc.poll() is None, "no ingest task was seen running"
            c.kill_worker(victim)
            out, err = proc.communicate(timeout=SCAN_SECONDS)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
    assert c.workers[victim].poll() is not None  # it really died
    assert b"Traceback" not in err, err.decode(errors="replace")
    return subprocess.CompletedProcess(command, proc.returncode, out, err)


def _completes_or_fails_clearly(proc: subprocess.CompletedProcess[bytes], expected: bytes) -> None:
    if proc.returncode == 0:
        assert proc.stdout == expected
    else:  # Dask gave up on a task: one clear line, the engine's exit code, nothing written
        assert proc.returncode == ExitCode.ENGINE, proc.stderr
        assert len(proc.stderr.decode().splitlines()) == 1, proc.stderr
        assert proc.stdout == b""


def test_a_worker_killed_mid_scan_does_not_change_the_result(
    tmp_path: Path, archive: Path, local_json: bytes
) -> None:
    c = Cluster(tmp_path, workers=2)
    try:
        proc = _scan_and_kill_a_worker(c, [str(archive)])
        _completes_or_fails_clearly(proc, local_json)
    finally:
        c.close()


def test_a_worker_killed_mid_incremental_run_leaves_an_index_the_next_run_completes(
    tmp_path: Path, archive: Path, local_json: bytes
) -> None:
    (tmp_path / "cluster").mkdir()
    c = Cluster(tmp_path / "cluster", workers=2)
    index = tmp_path / "archive.db"
    try:
        proc = _scan_and_kill_a_worker(c, [str(archive), "--index", str(index)])
        _completes_or_fails_clearly(proc, local_json)
        again = ("scan", str(archive), "-q", "-f", "json", "--index", str(index))
        assert _ok(*again, "--engine", "dask", "--scheduler", c.address) == local_json
    finally:
        c.close()
    _ok("index", "check", "--index", str(index))


def test_a_scheduler_lost_mid_run_is_a_clear_error_and_the_next_run_completes(
    tmp_path: Path, archive: Path, local_json: bytes
) -> None:
    (tmp_path / "cluster").mkdir()
    c = Cluster(tmp_path / "cluster", workers=2)
    index = tmp_path / "archive.db"
    try:
        command = [sys.executable, "-m", "dedupe_releases", "scan", str(archive), "-q"]
        command += ["--index", str(index), "--engine", "dask", "--scheduler", c.address]
        with c.client() as watcher:
            proc = subprocess.Popen(
                command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT, env=_env()
            )
            try:
                deadline = time.monotonic() + SCAN_SECONDS
                while not any(watcher.processing().values()) and time.monotonic() < deadline:
                    time.sleep(0.01)  # polling the scheduler, not waiting for an outcome
                c.kill_scheduler()
                out, err = proc.communicate(timeout=SCAN_SECONDS)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait(timeout=10)
    finally:
        c.close()
    assert proc.returncode == ExitCode.ENGINE, err
    lines = err.decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith("dedupe-releases: lost the Dask cluster"), lines
    assert out == b""
    # the next run (here with the local engine) finishes the job
    assert _ok("scan", str(archive), "-q", "-f", "json", "--index", str(index)) == local_json
    _ok("index", "check", "--index", str(index))


def test_an_unreachable_scheduler_is_a_clear_error(tmp_path: Path, samples_dir: Path) -> None:
    fast = {"DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "2s"}
    # (without --index: test_exit_codes.py::test_engine)
    for extra in (["--index", str(tmp_path / "archive.db")],):
        proc = _cli(
            "scan", str(samples_dir), "--engine", "dask", "--scheduler", "tcp://127.0.0.1:9",
            *extra, env=fast,
        )  # fmt: skip
        assert proc.returncode == ExitCode.ENGINE
        lines = proc.stderr.decode().splitlines()
        assert len(lines) == 1 and lines[0].startswith(
            "dedupe-releases: cannot reach the Dask scheduler at tcp://127.0.0.1:9"
        ), lines
        assert proc.stdout == b""
    assert not (tmp_path / "archive.db").exists()


def test_engine_options_that_do_not_fit_are_usage_errors(samples_dir: Path) -> None:
    proc = _cli("scan", str(samples_dir), "--scheduler", "tcp://127.0.0.1:9")
    assert proc.returncode == ExitCode.USAGE
    assert b"--scheduler needs --engine dask" in proc.stderr
    proc = _cli("scan", str(samples_dir), "--engine", "dask", "--jobs", "2")
    assert proc.returncode == ExitCode.USAGE
    assert b"--jobs is for --engine local" in proc.stderr


def _session(leader: int) -> list[int]:
    """The live processes of a session (from /proc, no tool needed)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.getsid(int(entry.name)) == leader:
                    found.append(int(entry.name))
            except ProcessLookupError:
                pass
    return found


def test_no_address_starts_a_cluster_on_this_machine(samples_dir: Path, archive: Path) -> None:
    local = _ok("scan", str(samples_dir), "-q", "-f", "json")
    assert _ok("scan", str(samples_dir), "-q", "-f", "json", "--engine", "dask") == local
    # Ctrl-C reaches the whole process group: one line, exit 130, no worker left behind
    proc = subprocess.Popen(
        [sys.executable, "-m", "dedupe_releases", "scan", str(archive), "--engine", "dask"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
        env=_env({"DASK_DISTRIBUTED__WORKER__DAEMON": "True"}),
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + SCAN_SECONDS
        while len(_session(proc.pid)) < 3 and time.monotonic() < deadline:
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.01)  # polling the process table, not waiting for an outcome
        assert len(_session(proc.pid)) >= 3, "the local cluster's workers did not start"
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=SCAN_SECONDS)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    assert proc.returncode == ExitCode.INTERRUPTED, err
    assert err.decode().splitlines() == [
        "dedupe-releases: interrupted (SIGINT); nothing was written"
    ]
    assert out == b""
    deadline = time.monotonic() + 60
    while _session(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.05)  # polling the process table
    assert not _session(proc.pid), "workers outlived the scan"

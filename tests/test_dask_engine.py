"""`scan --engine dask` on a real cluster: the same bytes as the local engine, and faults.

The cluster is a real ``dask scheduler`` and two ``dask worker`` processes on 127.0.0.1
(``dask_cluster.Cluster``); the archive is the benchmark generator's, 2,000 articles.
"""

from __future__ import annotations

import importlib.util
import io
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("distributed")

from dask_cluster import Cluster

from dedupe_releases import output
from dedupe_releases.config import Config
from dedupe_releases.dask_engine import DaskEngine
from dedupe_releases.errors import EngineError, ExitCode
from dedupe_releases.pipeline import scan

ROOT = Path(__file__).resolve().parent.parent
ARTICLES = 2000


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


def _cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[bytes]:
    proc = subprocess.run(
        [sys.executable, "-m", "dedupe_releases", *args],
        capture_output=True,
        timeout=timeout,
        env={**os.environ, "NO_COLOR": "1", "LC_ALL": "C.UTF-8", **(env or {})},
        cwd=ROOT,
        check=False,
    )
    assert b"Traceback" not in proc.stderr, proc.stderr.decode(errors="replace")
    return proc


@pytest.fixture(scope="module")
def local_json(archive: Path) -> bytes:
    proc = _cli("scan", str(archive), "-q", "-f", "json")
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _task_prefixes(cluster: Cluster) -> set[str]:
    with cluster.client() as client:
        names = client.run_on_scheduler(lambda dask_scheduler: list(dask_scheduler.task_prefixes))
    return set(names)


def test_cluster_scan_is_byte_identical_to_the_local_engine(
    cluster: Cluster, archive: Path, local_json: bytes
) -> None:
    proc = _cli(
        "scan", str(archive), "-q", "-f", "json", "--engine", "dask", "--scheduler", cluster.address
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == local_json
    assert b'"clusters"' in local_json and len(local_json) > 100_000
    # the work ran on the cluster, as tasks of each distributed stage
    assert {"ingest_batch", "group_partition", "verify_chunk"} <= _task_prefixes(cluster)


def test_the_scheduler_address_may_come_from_the_environment(
    cluster: Cluster, samples_dir: Path
) -> None:
    local = _cli("scan", str(samples_dir), "-q", "-f", "json")
    proc = _cli(
        "scan",
        str(samples_dir),
        "-q",
        "-f",
        "json",
        "--engine",
        "dask",
        env={"DASK_SCHEDULER_ADDRESS": cluster.address},
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == local.stdout


def test_small_tasks_and_star_buckets_give_the_local_result(
    cluster: Cluster, tmp_path: Path
) -> None:
    """Many batches, many verification chunks, a band bucket past the star limit (66 copies)."""
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
    config = Config()
    local = io.BytesIO()
    output.write_json(scan([dump], config), local)
    with DaskEngine(cluster.address, files_per_task=3, pairs_per_task=50) as engine:
        result = scan([dump], config, engine=engine)
    remote = io.BytesIO()
    output.write_json(result, remote)
    assert remote.getvalue() == local.getvalue()
    assert result.candidates >= 65 and [len(c.members) for c in result.clusters] == [66]


def test_a_worker_killed_mid_scan_does_not_change_the_result(
    tmp_path: Path, archive: Path, local_json: bytes
) -> None:
    c = Cluster(tmp_path, workers=2)
    try:
        with c.client() as watcher:
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "dedupe_releases",
                    "scan",
                    str(archive),
                    "-q",
                    "-f",
                    "json",
                    "--engine",
                    "dask",
                    "--scheduler",
                    c.address,
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                cwd=ROOT,
            )
            try:
                deadline = time.monotonic() + 120
                victim = None
                while victim is None and time.monotonic() < deadline and proc.poll() is None:
                    busy = {k: v for k, v in watcher.processing().items() if v}
                    for address in busy:
                        name = watcher.scheduler_info()["workers"][address]["name"]
                        victim = int(str(name)[1:])
                        break
                    time.sleep(0.02)
                assert victim is not None and proc.poll() is None, "no task was seen running"
                c.kill_worker(victim)
                out, err = proc.communicate(timeout=300)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait(timeout=10)
        assert proc.returncode == 0, err.decode(errors="replace")
        assert out == local_json
        assert c.workers[victim].poll() is not None  # it really died
    finally:
        c.close()


def test_an_unreachable_scheduler_is_a_clear_error() -> None:
    with (
        pytest.raises(
            EngineError, match=r"cannot reach the Dask scheduler at tcp://127\.0\.0\.1:9"
        ),
        DaskEngine("tcp://127.0.0.1:9", timeout=2),
    ):
        pass


def test_scheduler_without_the_dask_engine_is_a_usage_error(samples_dir: Path) -> None:
    proc = _cli("scan", str(samples_dir), "--scheduler", "tcp://127.0.0.1:9")
    assert proc.returncode == ExitCode.USAGE
    assert b"--scheduler needs --engine dask" in proc.stderr


def test_no_address_starts_a_cluster_on_this_machine(samples_dir: Path) -> None:
    local = _cli("scan", str(samples_dir), "-q", "-f", "json")
    env = {k: v for k, v in os.environ.items() if k != "DASK_SCHEDULER_ADDRESS"}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "dedupe_releases",
            "scan",
            str(samples_dir),
            "-q",
            "-f",
            "json",
            "--engine",
            "dask",
        ],
        capture_output=True,
        timeout=120,
        env={**env, "NO_COLOR": "1"},
        cwd=ROOT,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == local.stdout

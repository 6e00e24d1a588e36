"""Faults on a real index: processes killed with SIGKILL at points of a scan, SIGINT and
SIGTERM, two overlapping runs. After each, the next run must reach exactly the index an
uninterrupted run reaches (same digest of every table; ``index check`` passes)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest
from harness import SAMPLES, backup, scale, strace_inject
from indexing import ROOT, cli, digest, env, generate, grown, popen, runs

STRACE = shutil.which("strace")

pytestmark = pytest.mark.fault


def age(folder: Path, seconds: float = 3600) -> None:
    """Make files look written an hour ago, so the racy-timestamp rule does not re-hash them."""
    then = time.time() - seconds
    for p in folder.iterdir():
        os.utime(p, (then, then))


@pytest.fixture(scope="module")
def dumps(tmp_path_factory) -> dict[str, Path]:
    """``initial``: a generated archive; ``update``: it grown by new files, one file
    changed, one deleted; ``base_index``: the index of ``initial``."""
    root = tmp_path_factory.mktemp("faults")
    small = generate(root / "small", 500, 21)
    large = generate(root / "large", 800, 21)
    initial = root / "initial"
    shutil.copytree(small, initial)
    age(initial)
    update = root / "update"
    grown(small, large, update)
    age(update, 7200)  # old times: only content decides what is re-read
    names = sorted(p.name for p in update.iterdir())
    (update / names[2]).unlink()
    edited = update / names[4]
    edited.write_text(edited.read_text().replace(" the ", " a ", 3))
    base_index = root / "base.db"
    assert cli("scan", initial, "--index", base_index).returncode == 0
    return {"initial": initial, "update": update, "base_index": base_index, "root": root}


@pytest.fixture(scope="module")
def baselines(dumps) -> dict[str, str]:
    """Digests after one uninterrupted run of each scenario."""
    root = dumps["root"]
    fresh = root / "baseline-initial.db"
    assert cli("scan", dumps["initial"], "--index", fresh).returncode == 0
    updated = root / "baseline-update.db"
    backup(dumps["base_index"], updated)
    assert cli("scan", dumps["update"], "--index", updated).returncode == 0
    return {"initial": digest(fresh), "update": digest(updated)}


def prepare(dumps: dict[str, Path], scenario: str, db: Path) -> Path:
    if scenario == "update":
        backup(dumps["base_index"], db)
    return dumps[scenario]


def committed(db: Path) -> int:
    """Files this run has committed: rows stamped with the newest file-system time."""
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=0.05)
        try:
            return int(
                con.execute(
                    "SELECT count(*) FROM files WHERE seen_ns = (SELECT max(seen_ns) FROM files)"
                    " AND EXISTS (SELECT 1 FROM runs WHERE status = 'running')"
                ).fetchone()[0]
            )
        finally:
            con.close()
    except sqlite3.Error:
        return -1


def running(db: Path) -> bool:
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=0.05)
        try:
            return bool(con.execute("SELECT 1 FROM runs WHERE status = 'running'").fetchone())
        finally:
            con.close()
    except sqlite3.Error:
        return False


def kill_when(proc: subprocess.Popen[bytes], ready, timeout: float = 120) -> bool:
    """SIGKILL ``proc`` as soon as ``ready()``; False if it finished first."""
    deadline = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline:
        if ready():
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            return True
        time.sleep(0.002)
    proc.wait()
    return False


def to_commit(dumps: dict[str, Path], scenario: str) -> int:
    """How many files the run of ``scenario`` commits (new and changed ones)."""
    if scenario == "initial":
        return len(list(dumps["initial"].iterdir()))
    before = {p.name: p.read_bytes() for p in dumps["initial"].iterdir()}
    return sum(1 for p in dumps["update"].iterdir() if before.get(p.name) != p.read_bytes())


def kill_at_write(n: int, total: int, argv: list[str]) -> None:
    """Run ARGV (a scan of the index) and SIGKILL it at its Nth write: killed, no traceback."""
    proc = subprocess.run(
        [*strace_inject("pwrite64", "signal=KILL", n), *argv],
        capture_output=True,
        env=env(),
        cwd=ROOT,
        check=False,
    )
    assert proc.returncode != 0, f"write {n} of {total}: not killed"
    assert b"Traceback" not in proc.stderr


def finish_and_compare(db: Path, dump: Path, baseline: str) -> None:
    if db.exists():  # (a kill before the index was created leaves none)
        check = cli("index", "check", "--index", db)
        assert check.returncode == 0, check.stdout
    rerun = cli("scan", dump, "--index", db)
    assert rerun.returncode == 0, rerun.stderr
    assert list(db.parent.glob(f".{db.name}.*")) == []  # no temporary file left behind
    assert digest(db) == baseline
    assert cli("index", "check", "--index", db).returncode == 0


@pytest.mark.parametrize("scenario", ["initial", "update"])
@pytest.mark.parametrize("point", ["started", "first", "half", "all-but-one", "all"])
def test_sigkill_at_a_point_of_the_run_then_rerun_reaches_the_baseline(
    tmp_path, dumps, baselines, scenario, point, figures
):
    db = tmp_path / "archive.db"
    dump = prepare(dumps, scenario, db)
    n = to_commit(dumps, scenario)
    target = {"started": 0, "first": 1, "half": n // 2, "all-but-one": n - 1, "all": n}[point]
    proc = popen("scan", dump, "--index", db)
    if point == "started":
        killed = kill_when(proc, lambda: running(db))
    else:
        killed = kill_when(proc, lambda: committed(db) >= target)
    assert killed, "the run ended before the kill point"
    assert runs(db)[-1]["status"] == "running"  # killed: nobody closed the run record
    finish_and_compare(db, dump, baselines[scenario])
    assert [r["status"] for r in runs(db)][-2:] == ["crashed", "ok"]
    figures.add("sigkill_points", 1)


def _pwrites(args: list[str]) -> int:
    """pwrite64 calls an uninterrupted run makes (strace counts them)."""
    log = subprocess.run(
        [STRACE, "-f", "-qq", "-e", "trace=pwrite64", "-o", "/dev/stdout", *args],
        capture_output=True,
        env=env(),
        cwd=ROOT,
        check=True,
    ).stdout
    return log.count(b"pwrite64(")


@pytest.mark.skipif(STRACE is None, reason="strace is not installed (apt install strace)")
@pytest.mark.parametrize("scenario", ["initial", "update"])
def test_sigkill_at_the_nth_write_then_rerun_reaches_the_baseline(
    tmp_path, dumps, baselines, scenario, figures
):
    """SQLite's writecrash idea: kill on write N, for N spread over the run's writes."""
    import sys

    assert STRACE is not None
    probe = tmp_path / "probe.db"
    dump = prepare(dumps, scenario, probe)
    args = [sys.executable, "-m", "dedupe_releases", "scan", str(dump), "--index"]
    total = _pwrites([*args, str(probe)])
    assert total > 10
    k = scale("big_write_kills", 3)  # 4 points in CI: the first write, two spread, the last
    points = sorted({max(1, total * i // k) for i in range(k)} | {total})
    for n in points:
        db = tmp_path / f"kill{n}.db"
        prepare(dumps, scenario, db)
        kill_at_write(n, total, [*args, str(db)])
        finish_and_compare(db, dump, baselines[scenario])
        figures.add("sigkill_points", 1)


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> dict[str, Path]:
    """The sample dump as an archive that grows: ``initial`` lacks one file, ``update`` has
    it and one file edited; ``base_index`` is the index of ``initial``."""
    root = tmp_path_factory.mktemp("every-write")
    update = root / "update"
    shutil.copytree(SAMPLES, update)
    age(update)
    initial = root / "initial"
    shutil.copytree(update, initial)
    names = sorted(p.name for p in initial.iterdir())
    (initial / names[-1]).unlink()
    edited = update / names[1]
    edited.write_text(edited.read_text().replace(" the ", " a ", 2))
    age(update, 7200)
    base_index = root / "base.db"
    assert cli("scan", initial, "--index", base_index).returncode == 0
    return {"initial": initial, "update": update, "base_index": base_index, "root": root}


@pytest.mark.skipif(STRACE is None, reason="strace is not installed (apt install strace)")
@pytest.mark.parametrize("scenario", ["initial", "update"])
def test_sigkill_at_every_write_of_a_small_run(tmp_path, small, scenario, figures):
    """SQLite's writecrash loop on the sample dump: CI kills at a spread sample of the run's
    writes; ``DEDUPE_SCALE_WRITE_KILLS=all`` (the nightly script) kills at every one."""
    assert STRACE is not None
    import sys

    reference = tmp_path / "reference.db"
    dump = prepare(small, scenario, reference)
    args = [sys.executable, "-m", "dedupe_releases", "scan", str(dump), "--index"]
    total = _pwrites([*args, str(reference)])
    expected = digest(reference)
    wanted = os.environ.get("DEDUPE_SCALE_WRITE_KILLS", "")
    if wanted == "all":
        points = list(range(1, total + 1))
    else:
        k = int(wanted) if wanted else scale("write_kills", 10)
        points = sorted({max(1, total * i // k) for i in range(1, k + 1)})
    for n in points:
        db = tmp_path / "archive.db"
        for p in tmp_path.glob("archive.db*"):
            p.unlink()
        for p in tmp_path.glob(".archive.db*"):
            p.unlink()
        prepare(small, scenario, db)
        kill_at_write(n, total, [*args, str(db)])
        finish_and_compare(db, dump, expected)
    figures.add("sigkill_points", len(points))
    figures.add("sigkill_writes_in_run", total)


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_sigint_and_sigterm_stop_at_a_file_boundary(
    tmp_path, dumps, baselines, signum, code, figures
):
    db = tmp_path / "archive.db"
    dump = prepare(dumps, "initial", db)
    proc = popen("scan", dump, "--index", db, "--changes", stdout=True)
    deadline = time.monotonic() + 120
    while committed(db) < 2 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.002)
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == code
    assert out == b""  # nothing partial on stdout
    lines = err.decode().splitlines()
    assert len(lines) == 1 and re.fullmatch(
        r"dedupe-releases: interrupted: \d+ files done, \d+ left; run again to finish", lines[0]
    ), lines
    assert runs(db)[-1]["status"] == "interrupted"
    assert b"Traceback" not in err
    finish_and_compare(db, dump, baselines["initial"])  # the lock was released
    figures.add("index_signal_trials", 1)


def test_a_second_ctrl_c_stops_at_once_and_leaves_a_consistent_index(tmp_path, dumps, baselines):
    db = tmp_path / "archive.db"
    dump = prepare(dumps, "initial", db)
    proc = popen("scan", dump, "--index", db)
    deadline = time.monotonic() + 120
    while committed(db) < 1 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.002)
    proc.send_signal(signal.SIGINT)
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130
    assert b"Traceback" not in err
    finish_and_compare(db, dump, baselines["initial"])


def test_two_overlapping_runs_on_one_index(tmp_path, dumps, baselines, figures):
    """B9: run A frozen (SIGSTOP) holding the lock; B gives up at once with code 5, and with
    ``--wait 2`` after 2 s; A is killed; the next run gets the lock at once. CI runs 2
    rounds, the nightly script 20 (``DEDUPE_SCALE_OVERLAP_ROUNDS``)."""
    rounds = scale("overlap_rounds", 2)
    slowest = 0.0
    for round_no in range(rounds):
        db = tmp_path / f"round{round_no}" / "archive.db"
        db.parent.mkdir()
        dump = prepare(dumps, "initial", db)
        slowest = max(slowest, _overlap_round(db, dump, baselines["initial"]))
    figures.add("overlap_rounds", rounds)  # (each round asserts B gave up in < 2.5 s)
    figures.peak("ms_overlap_give_up", int(slowest * 1000))


def _overlap_round(db: Path, dump: Path, baseline: str) -> float:
    lock = db.with_name(db.name + ".lock")
    first = popen("scan", dump, "--index", db)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if lock.exists() and lock.read_text().startswith(f"pid {first.pid} "):
            break
        time.sleep(0.002)
    first.send_signal(signal.SIGSTOP)  # frozen while it holds the lock
    try:
        started = time.monotonic()
        second = cli("scan", dump, "--index", db)
        at_once = time.monotonic() - started
        assert second.returncode == 5
        assert re.fullmatch(
            rf"dedupe-releases: index {re.escape(str(db))} is in use by pid {first.pid} since"
            r" \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \(use --wait SECONDS\)\n",
            second.stderr.decode(),
        ), second.stderr
        started = time.monotonic()
        waited = cli("scan", dump, "--index", db, "--wait", "2")
        assert waited.returncode == 5
        assert b"after waiting 2 s" in waited.stderr
        assert time.monotonic() - started >= 2 > at_once - 0.5
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    # The kernel dropped the dead run's lock: the next run gets it, no unlock step needed.
    finish_and_compare(db, dump, baseline)
    assert lock.exists()  # the lock file stays; it is never the database
    return at_once


def test_a_run_that_waits_runs_after_the_other_finishes(tmp_path, dumps, baselines):
    db = tmp_path / "archive.db"
    dump = prepare(dumps, "initial", db)
    first = popen("scan", dump, "--index", db)
    while not running(db) and first.poll() is None:
        time.sleep(0.002)
    second = popen("scan", dump, "--index", db, "--wait", "300", "--changes", stdout=True)
    assert first.wait(timeout=300) == 0
    out, err = second.communicate(timeout=300)
    assert second.returncode == 0, err  # it ran after the first and found nothing new
    assert out == b""
    assert [r["status"] for r in runs(db)] == ["ok", "ok"]
    assert digest(db) == baselines["initial"]

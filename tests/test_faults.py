"""Faults without an index (RELIABILITY.md B3, B5, B11, B13): signals, full disks, I/O errors,
files that change under the reader, and clocks that lie.

Marked ``fault``: CI runs a sample (a dozen signals, a few injection points);
``scripts/reliability.py`` runs the same tests with more trials (``DEDUPE_SCALE_*``).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from harness import (
    can_mount_tmpfs,
    cli_env,
    command,
    copies_dump,
    finish,
    fsize_limit,
    run_cli,
    sample_bytes,
    scale,
    signals_ready,
    spawn,
    validate,
    wait_until,
    write_dump,
)

from dedupe_releases.config import Config, ReadConfig
from dedupe_releases.errors import ExitCode
from dedupe_releases.pipeline import ingest, ingest_all
from dedupe_releases.read import CHANGED, VANISHED, SkipFile, read_source

pytestmark = pytest.mark.fault

GOOD = sample_bytes()


@pytest.fixture(scope="module")
def big_dump(tmp_path_factory) -> Path:
    """40 files, ~110 KB of JSON (more than a pipe holds): long enough to interrupt."""
    return copies_dump(tmp_path_factory.mktemp("signals") / "dump", 8)


@pytest.fixture(scope="module")
def full_run(big_dump) -> tuple[float, bytes]:
    """An uninterrupted run: its duration after the handlers are in place, and its output."""
    proc = spawn("scan", big_dump, "-f", "json")
    assert wait_until(lambda: signals_ready(proc.pid) or proc.poll() is not None)
    start = time.monotonic()
    result = finish(proc)
    assert result.rc == ExitCode.OK, result
    return time.monotonic() - start, result.stdout


# --- B3 SIGINT / SIGTERM, C2 no partial document ------------------------------------------------


def interrupt(dump: Path, signum: int, delay: float, args: tuple[str, ...] = ("-f", "json")):
    proc = spawn("scan", dump, *args)
    assert wait_until(lambda: signals_ready(proc.pid) or proc.poll() is not None, timeout=60)
    time.sleep(delay)
    if proc.poll() is None:
        proc.send_signal(signum)
    return finish(proc)


def check_interrupted(result, signum: int, full_output: bytes) -> str:
    """An interrupted run: the right code, one stderr line, stdout empty or whole."""
    expected = {signal.SIGINT: ExitCode.INTERRUPTED, signal.SIGTERM: ExitCode.TERMINATED}
    if result.rc == ExitCode.OK:  # the run ended before the signal came
        assert result.stdout == full_output
        return "finished"
    assert result.rc == expected[signum], result
    name = signal.Signals(signum).name
    (line,) = result.stderr_lines
    assert line.startswith(f"dedupe-releases: interrupted ({name})"), line
    if result.stdout:  # the signal came while writing: the output was finished first
        assert result.stdout == full_output
        assert "after the output was written in full" in line
        return "after output"
    assert "nothing was written" in line
    return "during scan"


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_b3_a_signal_mid_scan_stops_with_its_code_and_nothing_partial(
    big_dump, full_run, signum, figures
):
    duration, full_output = full_run
    rng = random.Random(signum)  # spread over the whole run, reproducibly
    trials = scale("signals", 4)
    outcomes = []
    for _ in range(trials):
        result = interrupt(big_dump, signum, rng.uniform(0, duration * 1.05))
        outcomes.append(check_interrupted(result, signum, full_output))
    assert outcomes.count("during scan") >= trials // 2, outcomes
    figures.add("signal_trials", trials)
    figures.add("signal_wrong_exit_code", 0)
    figures.add("signal_partial_stdout", 0)


def test_b3_a_second_sigint_still_ends_cleanly(big_dump, full_run):
    duration, full_output = full_run
    # The machine may be faster now than when the full run was timed: a run that ended before
    # the first signal proves nothing, so try again earlier (at most four times).
    for attempt in range(4):
        proc = spawn("scan", big_dump, "-f", "json")
        assert wait_until(lambda p=proc: signals_ready(p.pid) or p.poll() is not None)
        time.sleep(duration / (3 * 2**attempt))
        if proc.poll() is not None:
            result = finish(proc)
            assert result.rc == ExitCode.OK and result.stdout == full_output, result
            continue
        proc.send_signal(signal.SIGINT)
        time.sleep(0.01)
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        result = finish(proc)
        assert result.rc == ExitCode.INTERRUPTED, result
        assert result.stdout in (b"", full_output)
        assert len(result.stderr_lines) == 1
        return
    pytest.fail("every run ended before the first SIGINT")


def test_b3_a_signal_during_output_to_a_file_leaves_old_or_new(big_dump, full_run, tmp_path):
    duration, full_output = full_run
    target = tmp_path / "report.json"
    target.write_bytes(b'{"old": true}\n')
    rng = random.Random(7)
    for _ in range(scale("signals", 4) // 2):
        signum = rng.choice([signal.SIGINT, signal.SIGTERM])
        result = interrupt(big_dump, signum, rng.uniform(0, duration), ("-o", str(target)))
        assert result.stdout == b""
        assert target.read_bytes() in (b'{"old": true}\n', full_output)
        assert [p.name for p in tmp_path.iterdir()] == ["report.json"]  # no temp left


# --- C2 SIGKILL during output: the file is old or new, leftovers go next run --------------------


def test_c2_sigkill_with_output_file_leaves_old_or_new_and_no_temp_after_rerun(
    big_dump, full_run, tmp_path, figures
):
    duration, full_output = full_run
    target = tmp_path / "report.json"
    target.write_bytes(b'{"old": true}\n')
    rng = random.Random(9)
    kills = scale("kills", 3)
    for i in range(kills):
        proc = spawn("scan", big_dump, "-o", target)
        assert wait_until(lambda p=proc: signals_ready(p.pid) or p.poll() is not None)
        # the last kills land late, when the output is being written
        time.sleep(duration * (0.5 + 0.6 * i / kills) * rng.uniform(0.9, 1.1))
        proc.kill()
        proc.communicate()
        assert target.read_bytes() in (b'{"old": true}\n', full_output)
    result = run_cli("scan", big_dump, "-o", target)
    assert result.rc == ExitCode.OK
    assert target.read_bytes() == full_output
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]
    figures.add("sigkill_output_trials", kills)


# --- B5 a full disk or an I/O error on --output ------------------------------------------------


def old_file(folder: Path) -> tuple[Path, bytes]:
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "report.json"
    old = b'{"old report": true}\n'
    target.write_bytes(old)
    target.chmod(0o640)
    return target, old


def assert_untouched(target: Path, old: bytes, result) -> None:
    assert result.rc == ExitCode.OUTPUT, result
    assert target.read_bytes() == old
    assert sorted(p.name for p in target.parent.iterdir()) == ["report.json"]  # temp removed
    (line,) = result.stderr_lines
    assert line.startswith(f"dedupe-releases: {target}: cannot write output ("), line


def test_b5_file_size_limit_on_output_keeps_the_old_file(tmp_path, figures):
    target, old = old_file(tmp_path / "out")
    result = run_cli("scan", "samples/dump", "-o", target, preexec_fn=fsize_limit(4096))
    assert_untouched(target, old, result)
    assert "File too large" in result.stderr_lines[0]
    figures.add("disk_full_points", 1)


def test_b5_output_into_a_missing_folder_is_exit_6(tmp_path):
    result = run_cli("scan", "samples/dump", "-o", tmp_path / "missing" / "report.json")
    assert result.rc == ExitCode.OUTPUT, result
    assert result.stdout == b""


def test_b5_new_report_gets_usual_permissions_and_keeps_an_old_files_mode(tmp_path):
    fresh = tmp_path / "fresh.json"
    run_cli("scan", "samples/dump", "-o", fresh, preexec_fn=lambda: os.umask(0o022))
    assert fresh.stat().st_mode & 0o777 == 0o644  # not mkstemp's 0600
    target, _ = old_file(tmp_path / "keep")
    run_cli("scan", "samples/dump", "-o", target)
    assert target.stat().st_mode & 0o777 == 0o640


@pytest.mark.parametrize("size_kb", [16, 64, 128])
def test_b5_a_really_full_disk_keeps_the_old_file(tmp_path, size_kb, figures):
    """A tmpfs of a few KB in a private mount namespace; without one, the file-size limit
    test above covers the same code path (EFBIG instead of ENOSPC)."""
    if not can_mount_tmpfs():
        pytest.skip("needs root and unshare -m (test_b5_file_size_limit covers the path)")
    mount = tmp_path / "disk"
    mount.mkdir()
    script = (
        'set -u; size=$1; dir=$2; shift 2; mount -t tmpfs -o size="$size"k none "$dir" || exit 99;'
        ' printf \'{"old": 1}\' > "$dir/report.json";'
        ' "$@" -o "$dir/report.json" >/dev/null; rc=$?;'
        ' echo "RC=$rc"; ls -A "$dir"; echo "SHA=$(sha256sum < "$dir/report.json")"'
    )
    proc = subprocess.run(
        [
            "unshare",
            "-m",
            "sh",
            "-c",
            script,
            "sh",
            str(size_kb),
            str(mount),
            *command("scan", copies_dump(tmp_path / "dump", 5)),
        ],
        capture_output=True,
        env=cli_env(),
        check=False,
        timeout=120,
    )
    out = proc.stdout.decode()
    assert "Traceback" not in proc.stderr.decode()
    rc = int(re.search(r"RC=(\d+)", out).group(1))
    files = out.split("RC=")[1].splitlines()[1:-1]
    sha = re.search(r"SHA=(\w+)", out).group(1)
    assert rc == ExitCode.OUTPUT, (out, proc.stderr)
    assert files == ["report.json"], out  # the temp file is gone
    assert sha == hashlib.sha256(b'{"old": 1}').hexdigest()
    assert b"No space left on device" in proc.stderr
    figures.add("disk_full_points", 1)


def strace() -> str | None:
    return shutil.which("strace")


@pytest.mark.parametrize(
    "syscall",
    ["write", "fsync", "rename"],
)
def test_b5_eio_at_each_step_keeps_the_old_file(tmp_path, syscall, figures):
    """EIO injected by strace at the temp file's write, its fsync and the rename."""
    tracer = strace()
    if tracer is None:
        pytest.skip("strace not installed (.ci/run installs it); the file-size test covers it")
    target, old = old_file(tmp_path / "out")
    calls = {"write": "write", "fsync": "fsync", "rename": "rename,renameat,renameat2"}[syscall]
    # write: the first write of the run is the temp file's (nothing else is written before)
    when = ":when=1" if syscall == "write" else ""
    prefix = [
        tracer,
        "-f",
        "-qq",
        "-o",
        "/dev/null",
        f"--trace={calls}",
        f"--inject={calls}:error=EIO{when}",
    ]
    result = run_cli("scan", "samples/dump", "-o", target, prefix=prefix)
    assert_untouched(target, old, result)
    assert "Input/output error" in result.stderr_lines[0]
    figures.add("eio_points", 1)


def test_b5_strace_shows_fsync_then_rename_then_fsync_of_the_folder(tmp_path):
    tracer = strace()
    if tracer is None:
        pytest.skip("strace not installed (.ci/run installs it)")
    target, _ = old_file(tmp_path / "out")
    log = tmp_path / "strace.log"
    prefix = [
        tracer,
        "-f",
        "-qq",
        "-o",
        str(log),
        "--trace=openat,fsync,fdatasync,rename,renameat,renameat2,close",
    ]
    result = run_cli("scan", "samples/dump", "-o", target, prefix=prefix)
    assert result.rc == ExitCode.OK
    fds: dict[str, str] = {}
    events = []
    for line in log.read_text().splitlines():
        if m := re.search(r'openat\(AT_FDCWD, "([^"]+)", [^)]*\) = (\d+)', line):
            fds[m.group(2)] = m.group(1)
        elif m := re.search(r"fsync\((\d+)\)", line):
            name = fds.get(m.group(1), "")
            if ".report.json." in name:
                events.append("fsync tmp")
            elif name == str(target.parent):
                events.append("fsync dir")
        elif re.search(
            r'rename(at2?)?\(.*"[^"]*/\.report\.json\.[^"]*".*"[^"]*/report\.json"', line
        ):
            events.append("rename")
    assert events == ["fsync tmp", "rename", "fsync dir"], events


# --- B11 files that change or vanish during the scan ---------------------------------------------


def test_b11_a_file_that_grows_while_read_is_skipped_to_be_read_again(tmp_path, figures):
    path = tmp_path / "grows.txt"
    path.write_bytes(GOOD)

    def append(fd: int) -> None:
        with path.open("ab") as fh:
            fh.write(b"\nAppended while the reader was reading.\n")

    with pytest.raises(SkipFile, match=re.escape(CHANGED)):
        read_source(path, "grows.txt", ReadConfig(), on_open=append)
    figures.add("changed_while_reading_cases", 1)


def test_b11_a_file_that_shrinks_or_is_rewritten_while_read_is_skipped(tmp_path, figures):
    path = tmp_path / "shrinks.txt"
    path.write_bytes(GOOD)
    with pytest.raises(SkipFile, match=re.escape(CHANGED)):
        read_source(path, "s", ReadConfig(), on_open=lambda fd: os.truncate(path, 100))
    path.write_bytes(GOOD)

    def rewrite_same_size(fd: int) -> None:
        time.sleep(0.01)  # past the file system's timestamp granularity
        with path.open("r+b") as fh:
            fh.write(GOOD[:10].upper())

    with pytest.raises(SkipFile, match=re.escape(CHANGED)):
        read_source(path, "s", ReadConfig(), on_open=rewrite_same_size)
    figures.add("changed_while_reading_cases", 2)


def test_b11_a_file_replaced_or_deleted_while_read_is_skipped(tmp_path, figures):
    """The descriptor would still read the old file whole, but its link count (and so its
    ctime) changed: the new file is for the next run to read."""
    path = tmp_path / "swapped.txt"
    path.write_bytes(GOOD)

    def swap(fd: int) -> None:
        (tmp_path / "new.txt").write_bytes(b"Something else entirely\n")
        os.replace(tmp_path / "new.txt", path)

    with pytest.raises(SkipFile, match=re.escape(CHANGED)):
        read_source(path, "swapped.txt", ReadConfig(), on_open=swap)
    with pytest.raises(SkipFile, match=re.escape(CHANGED)):
        read_source(path, "swapped.txt", ReadConfig(), on_open=lambda fd: path.unlink())
    figures.add("changed_while_reading_cases", 2)


def test_b11_a_file_deleted_between_walk_and_read_is_treated_as_deleted(tmp_path, figures):
    dump = write_dump(tmp_path / "dump", {"a.txt": GOOD, "b.txt": GOOD, "c.txt": GOOD})
    items = ingest_all([dump], Config())
    first = next(items)
    (dump / "b.txt").unlink()
    rest = list(items)
    assert first.source == "a.txt"
    assert rest[0].source == "b.txt" and rest[0].kind == "warning" and rest[0].reason == VANISHED
    assert rest[1].source == "c.txt" and rest[1].articles
    gone = ingest(dump / "b.txt", "b.txt", Config())
    assert gone.reason == VANISHED
    figures.add("changed_while_reading_cases", 1)


@pytest.mark.timeout(120)
def test_b11_black_box_a_file_appended_to_during_the_scan(tmp_path, figures):
    dump = write_dump(tmp_path / "dump", {"a.txt": GOOD})
    growing = dump / "log.txt"
    growing.write_bytes((GOOD + b"\n\n") * 2000)  # ~7 MB: a read takes a while
    stop = threading.Event()

    def appender() -> None:
        with growing.open("ab", buffering=0) as fh:
            while not stop.is_set():
                fh.write(b"More text appended by a scraper that is still running.\n")
                time.sleep(0.0005)

    thread = threading.Thread(target=appender, daemon=True)
    thread.start()
    try:
        seen = []
        for _ in range(5):
            result = run_cli("scan", dump, "-f", "json", "--max-file-size", str(10**9))
            assert result.rc in (ExitCode.OK, ExitCode.PARTIAL), result
            validate(result.json)
            skipped = {p["source"]: p["reason"] for p in result.json["skipped"]}
            seen.append(skipped.get("log.txt"))
            if seen[-1]:
                break
    finally:
        stop.set()
        thread.join()
    assert f"skipped: {CHANGED}" in seen, seen
    assert result.rc == ExitCode.PARTIAL
    assert result.stderr_lines == [f"dedupe-releases: log.txt: skipped: {CHANGED}"]
    figures.add("changed_while_reading_cases", 1)


# --- B13 clocks and time zones ---------------------------------------------------------------


def test_b13_output_ignores_time_zones_and_file_times(tmp_path, figures):
    dump = copies_dump(tmp_path / "dump", 1)
    baseline = run_cli("scan", dump, "-f", "json")
    assert baseline.rc == ExitCode.OK
    outputs = {baseline.stdout}
    for tz in ("Asia/Tokyo", "America/St_Johns", "XXX-14:45"):
        outputs.add(run_cli("scan", dump, "-f", "json", env={"TZ": tz}).stdout)
    files = sorted(p for p in dump.rglob("*") if p.is_file())
    for i, path in enumerate(files):
        stamp = [0, -1, 4102444800, 2**31 + 5][i % 4]  # 1970, 1969, 2100-01-01, past 2038
        os.utime(path, (stamp, stamp))
    outputs.add(run_cli("scan", dump, "-f", "json").stdout)
    assert len(outputs) == 1
    figures.add("clock_variants", 4)


@pytest.mark.parametrize("offset", ["-3d", "+10y"])
def test_b13_a_lying_clock_changes_nothing(tmp_path, offset, figures):
    faketime = shutil.which("faketime")
    if faketime is None:
        pytest.skip("faketime not installed (.ci/run installs it); the TZ/mtime test covers it")
    dump = copies_dump(tmp_path / "dump", 1)
    baseline = run_cli("scan", dump, "-f", "json")
    # check that faketime really works here before trusting the comparison
    probe = subprocess.run(
        [faketime, "-f", offset, sys.executable, "-c", "import time; print(int(time.time()))"],
        capture_output=True,
        check=True,
    )
    assert abs(int(probe.stdout) - time.time()) > 86400
    faked = run_cli("scan", dump, "-f", "json", prefix=[faketime, "-f", offset])
    assert faked.rc == baseline.rc == ExitCode.OK
    assert faked.stdout == baseline.stdout
    json.loads(faked.stdout)
    figures.add("clock_variants", 1)


# --- B2/B5 the export folder: a kill or a full disk mid-export ----------------------------------


def export_tree(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.mark.parametrize("when", [1, 4, 9])
def test_b2_sigkill_during_export_then_rerun_gives_the_whole_export(tmp_path, when, figures):
    """Killed at the fsync of its Nth temporary file: the next export removes the leftover
    temporary file and writes exactly what an uninterrupted export writes."""
    tracer = strace()
    if tracer is None:
        pytest.skip("strace not installed (.ci/run installs it)")
    reference = tmp_path / "reference"
    assert run_cli("export", "samples/dump", "-o", reference).rc == ExitCode.OK
    out = tmp_path / "out"
    killed = run_cli(
        "export",
        "samples/dump",
        "-o",
        out,
        prefix=[tracer, "-f", "-qq", "-o", "/dev/null", f"--inject=fsync:signal=KILL:when={when}"],
    )
    assert killed.rc == -signal.SIGKILL, killed
    assert any(p.name.endswith(".tmp") for p in out.iterdir())  # what a kill leaves
    again = run_cli("export", "samples/dump", "-o", out)
    assert again.rc == ExitCode.OK, again
    assert export_tree(out) == export_tree(reference)
    figures.add("sigkill_points", 1)


def test_b5_export_on_a_full_disk_is_exit_6_and_leaves_no_temporary_file(tmp_path, figures):
    out = tmp_path / "out"
    assert run_cli("export", "samples/dump", "-o", out).rc == ExitCode.OK
    before = export_tree(out)
    dump = copies_dump(tmp_path / "dump", 1)  # other sources: every file is written anew
    result = run_cli("export", dump, "-o", out, preexec_fn=fsize_limit(1024))
    assert result.rc == ExitCode.OUTPUT, result
    (line,) = result.stderr_lines
    assert line == f"dedupe-releases: {out}: cannot export (File too large)", line
    after = export_tree(out)
    assert not [n for n in after if n.endswith(".tmp")], sorted(after)
    assert {n: after[n] for n in before} == before  # nothing that was there is damaged
    figures.add("disk_full_points", 1)


def test_b3_a_signal_while_a_helper_thread_starts_waits_for_the_start(monkeypatch):
    """The scan's helper threads (the boilerplate learning, the sentence search) start with
    the stop signals held (``parallel.submit_held``): a SIGTERM that comes while
    ``Thread.start`` runs reaches its handler once the thread has started whole, not in the
    middle of ``threading``'s bookkeeping (where it left a traceback in a killed run)."""
    from concurrent.futures import ThreadPoolExecutor

    from dedupe_releases.parallel import submit_held

    class Stop(Exception):
        pass

    def stop(signum, frame):
        raise Stop

    real_start = threading.Thread.start
    started: list[bool] = []

    def start_signalled(self):
        os.kill(os.getpid(), signal.SIGTERM)  # arrives while the thread is being started
        real_start(self)
        started.append(True)

    previous = signal.signal(signal.SIGTERM, stop)
    monkeypatch.setattr(threading.Thread, "start", start_signalled)
    try:
        with ThreadPoolExecutor(max_workers=1) as side:
            with pytest.raises(Stop):
                submit_held(side, sum, [1, 2])
            assert started == [True]  # the start ran to its end before the handler
            monkeypatch.undo()
            assert side.submit(sum, [3]).result() == 3  # and the thread works
    finally:
        signal.signal(signal.SIGTERM, previous)

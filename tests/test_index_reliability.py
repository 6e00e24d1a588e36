"""The index under hostile conditions (RELIABILITY.md B2, B4, B6, B7, B10, B12, B13, C1, C5):
a full disk, a read-only folder, damaged copies, readers and backups during a write, lying
timestamps and clocks, a closed pipe after ``--changes``, and the log file.

Marked ``fault``: CI runs a sample (``harness.scale``); ``scripts/reliability.py`` runs the
same tests with more trials. Every run of the command is checked for a traceback.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

import pytest
from harness import (
    SAMPLES,
    as_nobody,
    backup,
    can_mount_tmpfs,
    cli_env,
    command,
    fsize_limit,
    public_dir,
    run_cli,
    scale,
    spawn,
    strace_inject,
)
from indexing import digest, generate, runs

from dedupe_releases import output
from dedupe_releases.config import Config
from dedupe_releases.errors import DedupeError, ExitCode
from dedupe_releases.incremental import config_of_index, load_report, scan_incremental
from dedupe_releases.index.check import check_index
from dedupe_releases.index.schema import connect, reading
from dedupe_releases.index.store import Index

pytestmark = pytest.mark.fault

STRACE = shutil.which("strace")
#: SQLite says SQLITE_FULL for a full disk, except where it allocates its shared-memory file
#: (SQLITE_IOERR_SHMSIZE) or the write fails otherwise (EFBIG: SQLITE_IOERR_WRITE).
FULL_MESSAGE = re.compile(
    r"dedupe-releases: index .*: (disk full while writing \(SQLITE_FULL\)|cannot write"
    r" \(SQLITE_IOERR_\w+: disk I/O error\); the disk may be full or failing); files done so"
    r" far are kept; free space (or check the disk )?and run again"
)


def check_ok(db: Path) -> None:
    result = run_cli("index", "check", "--index", db)
    assert result.rc == ExitCode.OK, result


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> dict[str, Path]:
    """``dump``: a generated archive of 11 files; ``update``: it with one file changed, one
    removed and the samples added; ``base``: the index of ``dump``."""
    root = tmp_path_factory.mktemp("index-rel")
    dump = generate(root / "gen", 500, 21)
    then = time.time() - 3600
    for p in dump.iterdir():
        os.utime(p, (then, then))
    update = root / "update"
    shutil.copytree(dump, update)
    names = sorted(p.name for p in update.iterdir())
    (update / names[1]).unlink()
    edited = update / names[3]
    edited.write_text(edited.read_text().replace(" the ", " a ", 5))
    for sample in SAMPLES.iterdir():
        shutil.copyfile(sample, update / sample.name)
    base = root / "base.db"
    assert run_cli("scan", dump, "--index", base).rc == ExitCode.OK
    after = root / "after.db"
    backup(base, after)
    assert run_cli("scan", update, "--index", after).rc == ExitCode.OK
    return {
        "root": root,
        "dump": dump,
        "update": update,
        "base": base,
        "baseline_dump": Path(digest(base)),  # (a str, typed as a path by the dict)
        "baseline_update": Path(digest(after)),
    }


def baseline(corpus: dict[str, Path], name: str) -> str:
    return str(corpus[f"baseline_{name}"])


# --- B4 disk full in the index ------------------------------------------------------------------


def _pwrites(args: list[str]) -> int:
    log = subprocess.run(
        [STRACE, "-f", "-qq", "-e", "trace=pwrite64", "-o", "/dev/stdout", *args],  # type: ignore[list-item]
        capture_output=True,
        env=cli_env(),
        check=True,
    ).stdout
    return log.count(b"pwrite64(")


@pytest.mark.skipif(STRACE is None, reason="strace is not installed (.ci/run installs it)")
def test_b4_enospc_at_write_n_is_exit_3_keeps_the_index_and_the_rerun_completes(
    tmp_path, corpus, figures
):
    """ENOSPC injected at the Nth write of the index (strace), for N spread over the run:
    exit 3 with the disk-full line, the index passes ``index check``, and a rerun with
    space again ends in the baseline (SQLite's diskfull.test, deterministically)."""
    probe = tmp_path / "probe.db"
    backup(corpus["base"], probe)
    total = _pwrites(command("scan", corpus["update"], "--index", probe))
    assert total > 20
    points = scale("disk_full_points", 4)
    rng = random.Random(4)
    ns = sorted({1, total, *(rng.randint(1, total) for _ in range(points - 2))})
    full = 0
    for n in ns:
        db = tmp_path / f"full{n}.db"
        backup(corpus["base"], db)
        before = digest(db)
        result = run_cli(
            "scan",
            corpus["update"],
            "--index",
            db,
            prefix=strace_inject("pwrite64", "error=ENOSPC", n),
        )
        if result.rc == ExitCode.INDEX:
            full += 1
            assert len(result.stderr_lines) == 1, result
            assert FULL_MESSAGE.fullmatch(result.stderr_lines[0]), result
            assert result.stdout == b""
        else:  # a write SQLite could do without (a checkpoint's, retried at close)
            assert result.rc == ExitCode.OK, result
        check_ok(db)
        if result.rc == ExitCode.INDEX and n == 1:
            assert digest(db) == before  # the very first write: nothing changed
        assert run_cli("scan", corpus["update"], "--index", db).rc == ExitCode.OK
        assert digest(db) == baseline(corpus, "update")
        check_ok(db)
    assert full >= len(ns) // 2, (full, ns)
    figures.add("disk_full_points", len(ns))
    figures.add("index_disk_full_refusals", full)


#: Run in a private mount namespace: a tmpfs of $1 KB holds the index; scan; grow the tmpfs
#: to 64 MB ("free space"; even a reader needs room for the -shm file); check; scan again;
#: copy the index out.
TINY_DISK = r"""
set -u
size=$1; disk=$2; base=$3; dump=$4; out=$5; shift 5
mount -t tmpfs -o size="$size"k none "$disk" || exit 99
cp "$base" "$disk/archive.db" 2>/dev/null
echo $? > "$out/cp.rc"
"$@" scan "$dump" --index "$disk/archive.db" -f json >/dev/null 2>"$out/scan.err"
echo $? > "$out/scan.rc"
mount -o remount,size=64m "$disk"
"$@" index check --index "$disk/archive.db" > "$out/check.out" 2>&1
echo $? > "$out/check.rc"
"$@" scan "$dump" --index "$disk/archive.db" -f json >/dev/null 2>"$out/rerun.err"
echo $? > "$out/rerun.rc"
cp "$disk/archive.db" "$out/archive.db"
"""


def test_b4_a_really_full_disk_sweep(tmp_path, corpus, figures):
    """A tmpfs too small for the run (sizes swept from less than the old index to about
    the new one): the run fails with exit 3 and the disk-full line, or completes; the index
    is never damaged, and once there is space the next run reaches the baseline."""
    if not can_mount_tmpfs():
        pytest.skip("needs root and unshare -m (the strace ENOSPC test covers the path)")
    base_kb = corpus["base"].stat().st_size // 1024
    sizes = scale("tiny_disks", 4)
    # from "the old index does not even fit" to "enough": 10 sizes nightly, 4 in CI
    kbs = sorted({int(base_kb * (0.5 + 2.5 * i / max(sizes - 1, 1))) for i in range(sizes)})
    outcomes = []
    for kb in kbs:
        out = tmp_path / f"disk{kb}"
        disk = tmp_path / f"mnt{kb}"
        out.mkdir()
        disk.mkdir()
        proc = subprocess.run(
            [
                "unshare",
                "-m",
                "sh",
                "-c",
                TINY_DISK,
                "sh",
                str(kb),
                str(disk),
                str(corpus["base"]),
                str(corpus["update"]),
                str(out),
                *command(),
            ],
            capture_output=True,
            env=cli_env(),
            check=False,
            timeout=600,
        )
        assert proc.returncode == 0, proc.stderr
        rc = int((out / "scan.rc").read_text())
        err = (out / "scan.err").read_text()
        assert "Traceback" not in err + (out / "rerun.err").read_text()
        if int((out / "cp.rc").read_text()):
            # A disk too small for even a copy of the old index: the copy is cut short
            # (damaged by cp, not by us); the run must still fail cleanly.
            assert rc == ExitCode.INDEX and len(err.splitlines()) == 1, err
            outcomes.append("no room for the old index")
            continue
        if rc == ExitCode.INDEX:
            lines = err.splitlines()
            assert len(lines) == 1, err
            assert FULL_MESSAGE.fullmatch(lines[0]), lines
            outcomes.append("disk full")
        else:
            assert rc == ExitCode.OK, err
            outcomes.append("fits")
        assert int((out / "check.rc").read_text()) == 0, (out / "check.out").read_text()
        assert int((out / "rerun.rc").read_text()) == 0, (out / "rerun.err").read_text()
        assert digest(out / "archive.db") == baseline(corpus, "update")
    assert "disk full" in outcomes, (kbs, outcomes)
    figures.add("disk_full_points", len(kbs))
    figures.add("index_disk_full_refusals", outcomes.count("disk full"))


def test_b4_file_size_limit_fallback(tmp_path, corpus, figures):
    """Without a mount: ``RLIMIT_FSIZE`` makes the index's writes fail (EFBIG, which SQLite
    reports as an I/O error): exit 3, one line, the index sound, the rerun completes."""
    db = tmp_path / "archive.db"
    backup(corpus["base"], db)
    limit = db.stat().st_size + 64 * 1024
    result = run_cli("scan", corpus["update"], "--index", db, preexec_fn=fsize_limit(limit))
    assert result.rc == ExitCode.INDEX, result
    (line,) = result.stderr_lines
    assert FULL_MESSAGE.fullmatch(line), line
    check_ok(db)
    assert run_cli("scan", corpus["update"], "--index", db).rc == ExitCode.OK
    assert digest(db) == baseline(corpus, "update")
    figures.add("disk_full_points", 1)


# --- B6 a read-only index ------------------------------------------------------------------------


def test_b6_an_index_folder_nobody_may_write_is_exit_3_before_any_input_is_read(corpus):
    prefix = as_nobody()
    if prefix is None:
        pytest.skip("running as root without setpriv: cannot drop privileges")
    with public_dir() as top:
        folder = top / "index"
        folder.mkdir(mode=0o755)
        db = folder / "archive.db"
        backup(corpus["base"], db)
        db.chmod(0o644)
        (folder / "archive.db.lock").unlink(missing_ok=True)
        folder.chmod(0o555)  # (for a test user that owns it; root's files are 0755 anyway)
        before = db.read_bytes()
        for args in (
            ("scan", str(SAMPLES), "--index", str(db)),
            ("clusters", "--index", str(db)),
            ("index", "check", "--index", str(db)),
        ):
            result = run_cli(*args, prefix=prefix, cwd=top)
            assert result.rc == ExitCode.INDEX, result
            text = (result.stderr + result.stdout).decode()
            assert "Permission denied" in text or "writable folder" in text, text
            assert result.stderr.count(b"\n") <= 1
        assert db.read_bytes() == before
        assert sorted(p.name for p in folder.iterdir()) == ["archive.db"]
        folder.chmod(0o755)


def test_b6_a_read_only_index_file_in_a_writable_folder(corpus):
    prefix = as_nobody()
    if prefix is None:
        pytest.skip("running as root without setpriv: cannot drop privileges")
    with public_dir() as top:
        folder = top / "index"
        folder.mkdir()
        folder.chmod(0o777)
        db = folder / "archive.db"
        assert run_cli("scan", SAMPLES, "--index", db).rc == ExitCode.OK
        (folder / "archive.db.lock").chmod(0o666)
        db.chmod(0o444)
        before = db.read_bytes()
        result = run_cli("scan", str(SAMPLES), "--index", str(db), prefix=prefix, cwd=top)
        assert result.rc == ExitCode.INDEX, result
        (line,) = result.stderr_lines
        assert "cannot write the index or its folder" in line, line
        assert db.read_bytes() == before
        readable = run_cli("clusters", "--index", str(db), prefix=prefix, cwd=top)
        assert readable.rc == ExitCode.OK, readable  # reading needs only the folder


def test_b6_a_read_only_mount(tmp_path, corpus):
    """The index folder on a read-only bind mount (``unshare -m``, root only)."""
    if os.geteuid() != 0 or not shutil.which("unshare"):
        pytest.skip("needs root and unshare -m (the unprivileged-user tests cover it)")
    folder = tmp_path / "ro"
    folder.mkdir()
    db = folder / "archive.db"
    backup(corpus["base"], db)
    before = db.read_bytes()
    script = (
        'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" || exit 99; shift;'
        ' "$@"; echo "RC=$?" >&2'
    )
    argv = command("scan", SAMPLES, "--index", db)
    proc = subprocess.run(
        ["unshare", "-m", "sh", "-c", script, "sh", str(folder), *argv],
        capture_output=True,
        env=cli_env(),
        check=False,
    )
    if proc.returncode == 99:
        pytest.skip("bind mounts are not allowed here")
    err = proc.stderr.decode()
    assert "Traceback" not in err
    assert "RC=3" in err, err
    assert "Read-only file system" in err or "writable folder" in err, err
    assert db.read_bytes() == before


# --- B7 damaged index files ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample_index(tmp_path_factory) -> tuple[Path, bytes, bytes]:
    """An index of the sample dump: its bytes and the document a scan prints with it."""
    db = tmp_path_factory.mktemp("b7") / "archive.db"
    with scan_incremental([SAMPLES], Config(), db) as result:
        doc = output.dumps(output.document(result.report()))
    return db, db.read_bytes(), doc


def flip(data: bytes, rng: random.Random) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        pos = rng.randrange(len(out))
        out[pos] ^= 1 << rng.randrange(8)
    return bytes(out)


def library_outcome(db: Path, reference: bytes) -> tuple[str, str, str]:
    """What ``index check``, ``clusters`` and ``scan --index`` make of ``db``, in process.

    Anything but a ``DedupeError`` escapes and fails the test: that would be a traceback.
    """
    findings = check_index(db)
    check = "error" if any(f.level == "error" for f in findings) else "ok"
    try:
        idx = Index.open(db, reader=True)
        try:
            with reading(db):
                output.document(load_report(idx, config_of_index(idx)))
        finally:
            idx.close()
        clusters = "ok"
    except DedupeError:
        clusters = "error"
    try:
        with scan_incremental([SAMPLES], Config(), db) as result, reading(db):
            doc = output.dumps(output.document(result.report()))
        scan = "same" if doc == reference else "differs"
    except DedupeError as exc:
        assert exc.exit_code == ExitCode.INDEX, exc
        scan = "error"
    return check, clusters, scan


def test_b7_byte_flips_never_crash_the_library(tmp_path, sample_index, figures):
    """Copies of a real index with 1-8 random bit flips (SQLite's dbfuzz idea): every one
    gives a clear error or a working index; nothing else is raised."""
    _db, data, reference = sample_index
    rng = random.Random(7)
    copies = scale("index_fuzz", 200)
    outcomes: dict[tuple[str, str, str], int] = {}
    for i in range(copies):
        db = tmp_path / f"copy{i}.db"
        db.write_bytes(flip(data, rng))
        key = library_outcome(db, reference)
        outcomes[key] = outcomes.get(key, 0) + 1
        for p in tmp_path.iterdir():
            p.unlink()
    print(json.dumps({" ".join(k): v for k, v in sorted(outcomes.items())}, indent=1))
    silent = sum(v for (c, _r, s), v in outcomes.items() if s == "differs" and c == "ok")
    figures.add("damaged_indexes_opened", copies)
    figures.add("damaged_indexes_refused", sum(v for k, v in outcomes.items() if "error" in k))
    figures.add("damaged_indexes_unnoticed", silent)


def test_b7_byte_flips_through_the_command_line(tmp_path, sample_index, figures):
    _db, data, _reference = sample_index
    rng = random.Random(77)
    copies = scale("index_cli_fuzz", 4)
    codes: dict[str, set[int]] = {"check": set(), "clusters": set(), "scan": set()}
    for i in range(copies):
        db = tmp_path / f"copy{i}" / "archive.db"
        db.parent.mkdir()
        db.write_bytes(flip(data, rng))
        for name, args in (
            ("check", ("index", "check", "--index", db)),
            ("clusters", ("clusters", "--index", db, "-f", "json")),
            ("scan", ("scan", SAMPLES, "--index", db, "-f", "json")),
        ):
            result = run_cli(*args)
            codes[name].add(result.rc)
            if result.rc == ExitCode.INDEX and name != "check":
                (line,) = result.stderr_lines
                assert line.startswith("dedupe-releases: index "), line
                assert result.stdout == b""
            elif name != "check":
                assert result.rc == ExitCode.OK, result
                json.loads(result.stdout)
        assert db.exists() and db.stat().st_size > 0  # never removed or emptied
    assert codes["check"] <= {0, 3}, codes
    figures.add("damaged_indexes_cli", copies)


def _with_wal(src: Path, folder: Path, change: Path) -> tuple[Path, Path]:
    """A copy of ``src`` plus a ``-wal`` holding a later run, taken while still open."""
    folder.mkdir()
    db = folder / "archive.db"
    backup(src, db)
    holder = sqlite3.connect(db)  # keeps the -wal alive after the scan closes
    holder.execute("PRAGMA wal_autocheckpoint = 0")
    holder.execute("SELECT count(*) FROM files").fetchone()
    try:
        assert run_cli("scan", change, "--index", db).rc in (0, 1)
        wal = Path(f"{db}-wal")
        assert wal.exists() and wal.stat().st_size > 0
        snap = folder / "snap"
        snap.mkdir()
        shutil.copyfile(db, snap / "archive.db")
        shutil.copyfile(wal, snap / "archive.db-wal")
    finally:
        holder.close()
    return snap / "archive.db", snap / "archive.db-wal"


def test_b7_truncated_foreign_wal_and_missing_wal(tmp_path, sample_index, corpus, figures):
    """The other damage of the plan: truncation at several sizes, a ``-wal`` from another
    index, the database copied without its ``-wal``. Never a traceback, never a file
    recreated; exit 0 (a consistent older state) or 3."""
    db0, data, _reference = sample_index
    cases: dict[str, dict[str, bytes]] = {}
    for cut in (100, 1024, 4096, len(data) // 2, len(data) - 4096):
        cases[f"truncated at {cut}"] = {"archive.db": data[:cut]}
    grown = tmp_path / "grown"
    shutil.copytree(SAMPLES, grown)
    shutil.copyfile(next(corpus["dump"].iterdir()), grown / "new.txt")
    with_wal, wal = _with_wal(db0, tmp_path / "a", grown)
    _other, other_wal = _with_wal(corpus["base"], tmp_path / "b", corpus["update"])
    cases["without its -wal"] = {"archive.db": with_wal.read_bytes()}
    cases["with its own -wal"] = {
        "archive.db": with_wal.read_bytes(),
        "archive.db-wal": wal.read_bytes(),
    }
    cases["with another index's -wal"] = {
        "archive.db": with_wal.read_bytes(),
        "archive.db-wal": other_wal.read_bytes(),
    }
    outcomes = {}
    for name, files in cases.items():
        folder = tmp_path / re.sub(r"\W+", "-", name)
        folder.mkdir()
        for fname, content in files.items():
            (folder / fname).write_bytes(content)
        db = folder / "archive.db"
        check = run_cli("index", "check", "--index", db)
        scan = run_cli("scan", SAMPLES, "--index", db, "-f", "json")
        assert check.rc in (0, 3) and scan.rc in (0, 3), (name, check, scan)
        if scan.rc == ExitCode.INDEX:
            assert len(scan.stderr_lines) == 1 and scan.stdout == b"", (name, scan)
        assert db.exists() and db.stat().st_size > 0, name
        outcomes[name] = (check.rc, scan.rc)
    assert all(v == (3, 3) for k, v in outcomes.items() if k.startswith("truncated")), outcomes
    assert outcomes["with its own -wal"] == (0, 0), outcomes
    figures.add("damaged_indexes_cli", len(cases))


# --- B2 a kill while the index is created; a crash before a file's commit ------------------------


@pytest.mark.skipif(STRACE is None, reason="strace is not installed (.ci/run installs it)")
@pytest.mark.parametrize("syscall", ["fsync", "link,linkat"])
def test_b2_sigkill_while_the_index_is_created(tmp_path, syscall, figures):
    """Creation (schema 0 to 1: the only migration so far) builds the file under a temporary
    name and links it into place: a kill leaves no index or a whole one, and the next run
    removes the temporary file."""
    db = tmp_path / "archive.db"
    killed = run_cli(
        "scan",
        SAMPLES,
        "--index",
        db,
        prefix=strace_inject(syscall, "signal=KILL", 1),
    )
    assert killed.rc == -9, killed
    assert not db.exists() or check_index(db)
    result = run_cli("scan", SAMPLES, "--index", db)
    assert result.rc == ExitCode.OK, result
    assert sorted(p.name for p in tmp_path.iterdir()) == ["archive.db", "archive.db.lock"]
    check_ok(db)
    figures.add("sigkill_points", 1)


def test_b2_killed_between_creation_and_the_first_transaction(tmp_path):
    """The state a kill at writes ~95-107 of a first run leaves (found by the every-write
    loop): a whole, empty index without settings. ``index check`` passes; a scan fills it."""
    db = tmp_path / "archive.db"
    connect(db, create=True).close()
    check = run_cli("index", "check", "--index", db)
    assert check.rc == ExitCode.OK, check
    assert b"a new, empty index" in check.stdout
    assert run_cli("scan", SAMPLES, "--index", db).rc == ExitCode.OK
    check_ok(db)


def test_b2_a_crash_before_a_files_commit_white_box(tmp_path, corpus, monkeypatch, figures):
    """borg's ``test_crash_before_*``: the run dies inside the third file's transaction;
    the transaction rolls back and the next run ends in the baseline."""
    db = tmp_path / "archive.db"
    backup(corpus["base"], db)
    calls = {"n": 0}
    real = Index.set_file_content

    def dies_on_third(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("crash before commit")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Index, "set_file_content", dies_on_third)
    with pytest.raises(RuntimeError, match="crash before commit"):
        scan_incremental([corpus["update"]], Config(), db)
    monkeypatch.undo()
    assert runs(db)[-1]["status"] == "running"
    check_ok(db)
    assert run_cli("scan", corpus["update"], "--index", db).rc == ExitCode.OK
    assert digest(db) == baseline(corpus, "update")
    figures.add("sigkill_points", 1)


# --- B10 readers and backups during a write -------------------------------------------------------


def snapshot_invariants(db: Path) -> int:
    """Check, in one read transaction, what a reader relies on; returns the cluster count."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        con.execute("PRAGMA trusted_schema = OFF")
        con.execute("BEGIN")
        clusters = con.execute(
            "SELECT id, canonical FROM clusters WHERE state = 'active'"
        ).fetchall()
        members: dict[str, set[int]] = {}
        for cid, article, state in con.execute(
            "SELECT m.cluster, m.article, a.state FROM cluster_members m"
            " JOIN clusters c ON c.id = m.cluster JOIN articles a ON a.id = m.article"
            " WHERE c.state = 'active'"
        ):
            assert state in ("active", "retiring"), (cid, article, state)
            members.setdefault(cid, set()).add(article)
        for cid, canonical in clusters:
            assert canonical in members.get(cid, set()), cid
            assert len(members[cid]) >= 2, cid
        con.execute("COMMIT")
        return len(clusters)
    finally:
        con.close()


def _document(db: Path, idx: Index | None = None) -> dict:
    own = idx is None
    idx = idx or Index.open(db, reader=True)
    try:
        with reading(db):
            return output.document(load_report(idx, config_of_index(idx)))
    finally:
        if own:
            idx.close()


def test_b10_a_reader_keeps_its_snapshot_while_a_scan_commits(tmp_path, corpus):
    """White-box: a reader that has loaded the clusters, then fetches their articles after a
    scan committed a run that retired some of them, still reports the run it started with
    (one read transaction), not a mix of two runs or a missing row."""
    db = tmp_path / "archive.db"
    backup(corpus["base"], db)
    before = _document(db)
    idx = Index.open(db, reader=True)
    try:
        with reading(db):
            report = load_report(idx, config_of_index(idx))  # articles are fetched lazily
            with scan_incremental([corpus["update"]], Config(), db):
                pass
            during = output.document(report)
    finally:
        idx.close()
    assert during == before
    assert _document(db) != before  # the scan did change the clusters


def test_b10_readers_and_backups_during_a_write_see_a_whole_run(tmp_path, corpus, figures):
    db = tmp_path / "archive.db"
    backup(corpus["base"], db)
    writer = spawn("scan", corpus["update"], "--index", db, stdout=subprocess.DEVNULL)
    reads = backups = 0
    errors: list[str] = []
    library_reads: list[int] = []

    def read_all_the_time() -> None:
        """The library's reader, as ``clusters`` uses it, without a pause."""
        while writer.poll() is None:
            try:
                doc = _document(db)
            except DedupeError as exc:
                errors.append(str(exc))
                return
            for cluster in doc["clusters"]:
                if cluster["canonical"]["id"] not in [m["id"] for m in cluster["members"]]:
                    errors.append(f"cluster {cluster['id']} without its canonical")
            library_reads.append(1)

    reader = threading.Thread(target=read_all_the_time)
    reader.start()
    try:
        while writer.poll() is None or reads < 3:
            snapshot_invariants(db)
            result = run_cli("clusters", "--index", db, "-f", "json")
            assert result.rc == ExitCode.OK, result
            doc = json.loads(result.stdout)
            for cluster in doc["clusters"]:
                ids = [m["id"] for m in cluster["members"]]
                assert cluster["canonical"]["id"] in ids
            reads += 1
            target = tmp_path / f"backup{backups}.db"
            try:
                if backups % 2:
                    backup(db, target)
                else:
                    con = sqlite3.connect(db, timeout=10)
                    try:
                        con.execute("VACUUM INTO ?", (str(target),))
                    finally:
                        con.close()
            except sqlite3.Error as exc:
                errors.append(str(exc))
            else:
                check_ok(target)
                backups += 1
    finally:
        _out, err = writer.communicate(timeout=600)
        reader.join()
    assert writer.returncode == 0, err
    assert errors == []  # no "database is locked", no half-applied run
    assert library_reads
    assert digest(db) == baseline(corpus, "update")
    figures.add("reader_snapshots", reads + len(library_reads))
    figures.add("backups_during_write", backups)


# --- B12 timestamps that lie ----------------------------------------------------------------------


def test_b12_old_content_restored_with_cp_p_is_read_again(tmp_path, figures):
    dump = tmp_path / "dump"
    shutil.copytree(SAMPLES, dump)
    db = tmp_path / "archive.db"
    target = dump / "002_829714c0c2397bc5.txt"
    keep = tmp_path / "old.txt"
    shutil.copy2(target, keep)  # the old content with its old times
    old = time.time() - 86400
    os.utime(keep, (old, old))
    assert run_cli("scan", dump, "--index", db).rc == ExitCode.OK
    target.write_text(target.read_text().replace("million", "billion"))
    assert run_cli("scan", dump, "--index", db).rc == ExitCode.OK
    subprocess.run(["cp", "-p", str(keep), str(target)], check=True)  # a restore: old mtime
    assert target.stat().st_mtime == keep.stat().st_mtime
    again = run_cli("scan", dump, "--index", db, "-f", "json")
    assert again.rc == ExitCode.OK
    assert runs(db)[-1]["counts"]["files_reread"] == 1
    scratch = run_cli("scan", dump, "-f", "json")
    assert json.loads(again.stdout)["counts"] == json.loads(scratch.stdout)["counts"]
    figures.add("lying_mtime_cases", 1)


# --- B13 clocks that lie, with the index ----------------------------------------------------


@pytest.mark.parametrize("offsets", [("-3d", "+10y"), ("+10y", "-3d")])
def test_b13_runs_under_lying_clocks_reach_the_baseline(tmp_path, corpus, offsets, figures):
    faketime = shutil.which("faketime")
    if faketime is None:
        pytest.skip("faketime not installed (.ci/run installs it); test_faults covers TZ")
    db = tmp_path / "archive.db"
    first = run_cli("scan", corpus["dump"], "--index", db, prefix=[faketime, "-f", offsets[0]])
    assert first.rc == ExitCode.OK, first
    assert digest(db) == baseline(corpus, "dump")
    second = run_cli("scan", corpus["update"], "--index", db, prefix=[faketime, "-f", offsets[1]])
    assert second.rc == ExitCode.OK, second
    assert digest(db) == baseline(corpus, "update")
    assert [r["status"] for r in runs(db)] == ["ok", "ok"]  # by id, whatever the times say
    figures.add("clock_variants", 1)


# --- C1 a closed pipe after --changes; C5/B5 the log file ----------------------------------------


def test_c1_changes_into_a_closed_pipe_can_be_printed_again(tmp_path, corpus, figures):
    db = tmp_path / "archive.db"
    backup(corpus["base"], db)
    proc = spawn("scan", corpus["update"], "--index", db, "--changes")
    assert proc.stdout is not None
    proc.stdout.read(1)
    proc.stdout.close()
    _out, err = proc.communicate(timeout=600)
    assert err == b"" and proc.returncode == ExitCode.CHANGED, err
    assert digest(db) == baseline(corpus, "update")  # committed before the output
    (run,) = [r for r in runs(db) if r["generation"] is not None][-1:]
    replay = run_cli("index", "changes", "--index", db, "--run", str(run["id"]))
    assert replay.rc == ExitCode.OK
    events = replay.jsonl
    assert events and {e["run"] for e in events} == {run["id"]}
    assert len(events) == run["counts"]["events"]
    figures.add("pipe_closures", 1)


STAMP = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}"


def test_c5_the_log_file_has_the_stderr_lines_with_times_without_an_index(tmp_path):
    dump = tmp_path / "dump"
    shutil.copytree(SAMPLES, dump)
    (dump / "bad.bin").write_bytes(b"\x00\x01")
    log = tmp_path / "dedupe.log"
    result = run_cli("scan", dump, "--log-file", log, "-f", "json")
    assert result.rc == ExitCode.PARTIAL
    assert result.stderr_lines == ["dedupe-releases: bad.bin: skipped: binary (NUL at byte 0)"]
    (line,) = log.read_text().splitlines()
    assert re.fullmatch(rf"{STAMP} WARNING bad\.bin: skipped: binary \(NUL at byte 0\)", line)
    ok = run_cli("scan", SAMPLES, "--log-file", log, "-f", "json")
    assert ok.rc == ExitCode.OK and ok.stderr == b""  # quiet on success, as before


@pytest.mark.parametrize("with_index", [False, True], ids=["plain", "index"])
def test_b5_a_log_file_that_cannot_be_written_is_one_line_and_exit_6(tmp_path, with_index):
    """A full disk under the log (``RLIMIT_FSIZE`` below its size): never logging's own
    traceback; one stderr line naming the log, exit 6; the run's work itself is done."""
    dump = tmp_path / "dump"
    shutil.copytree(SAMPLES, dump)
    (dump / "bad.bin").write_bytes(b"\x00\x01")
    log = tmp_path / "dedupe.log"
    log.write_bytes(b"x" * 4_000_000)  # the limit below leaves room for the index only
    args: list[str | Path] = ["scan", dump, "--log-file", log, "-f", "json"]
    db = tmp_path / "archive.db"
    if with_index:
        assert run_cli("scan", SAMPLES, "--index", db).rc == ExitCode.OK
        args += ["--index", db]
    result = run_cli(*args, preexec_fn=fsize_limit(2_000_000))
    assert result.rc == ExitCode.OUTPUT, result
    lines = result.stderr_lines
    assert lines[0] == "dedupe-releases: bad.bin: skipped: binary (NUL at byte 0)", lines
    assert len(lines) == 2, lines
    assert re.fullmatch(
        rf"dedupe-releases: {re.escape(str(log))}: cannot write the log file \(File too large\)"
        r"; the run itself finished \(exit code 1\)",
        lines[1],
    ), lines
    json.loads(result.stdout)  # the report is whole
    assert log.read_bytes() == b"x" * 4_000_000
    if with_index:
        assert runs(db)[-1]["status"] == "partial"
        check_ok(db)


# --- A9 a file indexed last night, unreadable tonight ---------------------------------------


def test_a9_a_file_that_became_unreadable_keeps_its_articles(tmp_path):
    prefix = as_nobody()
    if prefix is None:
        pytest.skip("running as root without setpriv: cannot drop privileges")
    with public_dir() as top:
        work = top / "work"
        work.mkdir()
        work.chmod(0o777)
        dump = work / "dump"
        shutil.copytree(SAMPLES, dump)
        for p in [dump, *dump.iterdir()]:
            p.chmod(0o755 if p.is_dir() else 0o644)
        db = work / "archive.db"
        first = run_cli("scan", dump, "--index", db, "--changes", prefix=prefix, cwd=top)
        assert first.rc == ExitCode.CHANGED, first
        before = run_cli("clusters", "--index", db, "-f", "json", prefix=prefix, cwd=top)
        secret = dump / "001_efaca27c1b31c6fa.txt"
        secret.chmod(0)
        second = run_cli("scan", dump, "--index", db, "--changes", prefix=prefix, cwd=top)
        assert second.rc == ExitCode.PARTIAL, second
        assert second.stdout == b""  # no article_removed: the file is not gone
        assert second.stderr_lines == [
            "dedupe-releases: 001_efaca27c1b31c6fa.txt: skipped: permission denied"
        ]
        after = run_cli("clusters", "--index", db, "-f", "json", prefix=prefix, cwd=top)
        assert json.loads(after.stdout)["clusters"] == json.loads(before.stdout)["clusters"]


# --- recovery time after a crash (the plan's figure; slow) ------------------------------------


def _timed_check(db: Path) -> float:
    start = time.perf_counter()
    check_ok(db)
    return time.perf_counter() - start


@pytest.mark.slow
def test_recovery_after_a_crash_costs_about_a_clean_check(tmp_path, figures):
    """Open + ``index check`` of an index whose run was killed with a large ``-wal``
    pending, as a ratio of the same on a cleanly closed index (5,000 articles here;
    ``DEDUPE_SCALE_RECOVERY_ARTICLES=100000`` for the plan's size)."""
    articles = scale("recovery_articles", 5000)
    small = generate(tmp_path / "small", articles, 3)
    large = generate(tmp_path / "large", articles + articles // 5, 3)
    db = tmp_path / "archive.db"
    assert run_cli("scan", small, "--index", db, timeout=3600).rc == ExitCode.OK
    clean = min(_timed_check(db) for _ in range(3))
    writer = spawn("scan", large, "--index", db, stdout=subprocess.DEVNULL)
    wal = Path(f"{db}-wal")
    deadline = time.monotonic() + 3600
    while writer.poll() is None and time.monotonic() < deadline:
        if wal.exists() and wal.stat().st_size > 4 << 20:
            break
        time.sleep(0.01)
    writer.kill()
    writer.communicate()
    assert wal.exists() and wal.stat().st_size > 0
    after_crash = _timed_check(db)  # the first open replays the -wal
    assert run_cli("scan", large, "--index", db, timeout=3600).rc == ExitCode.OK
    check_ok(db)
    print(f"{articles} articles: check {clean:.2f} s clean, {after_crash:.2f} s after a crash")
    figures.peak("ms_recovery_clean", int(clean * 1000))
    figures.peak("ms_recovery_after_crash", int(after_crash * 1000))
    figures.add("recovery_articles", articles)

"""Output (RELIABILITY.md C1, C3, C4, C5): closed pipes, determinism, strict JSON, cron.

C2 (no partial document after a signal or SIGKILL) lives with the signal tests in
``test_faults.py``.
"""

from __future__ import annotations

import ast
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from harness import (
    ROOT,
    cli_env,
    copies_dump,
    finish,
    run_cli,
    sample_bytes,
    spawn,
    validate,
    write_dump,
)

from dedupe_releases.errors import ExitCode

GOOD = sample_bytes()


@pytest.fixture(scope="module")
def big_dump(tmp_path_factory) -> Path:
    """Output well over a pipe's 64 KiB, so a closed reader really hits EPIPE."""
    return copies_dump(tmp_path_factory.mktemp("pipes") / "dump", 6)


# --- C1 stdout closed early --------------------------------------------------------------------

CLOSURES = {"close at once": 0, "head -c 1": 1, "head -c 4096": 4096}
COMMANDS = {
    "json": ("scan", "{dump}", "-f", "json"),
    "jsonl": ("scan", "{dump}", "-f", "jsonl"),
    "table": ("scan", "{dump}", "-f", "table"),
    "split": ("split", "{dump}"),
}


@pytest.mark.parametrize("closure", sorted(CLOSURES))
@pytest.mark.parametrize("cmd", sorted(COMMANDS))
def test_c1_a_reader_that_stops_early_is_not_an_error(big_dump, cmd, closure, figures):
    args = [a.format(dump=big_dump) for a in COMMANDS[cmd]]
    proc = spawn(*args)
    assert proc.stdout is not None
    if CLOSURES[closure]:
        proc.stdout.read(CLOSURES[closure])
    proc.stdout.close()
    result = finish(proc)
    # Our choice (ripgrep's): the exit code is the run's, as if the reader had read it all.
    assert result.rc == ExitCode.OK, result
    assert result.stderr == b"", result  # no "Exception ignored", no BrokenPipeError
    figures.add("pipe_closures", 1)


def test_c1_shell_head_in_a_pipeline(big_dump):
    """The same through a real shell pipeline, with the exit code of our side."""
    cmd = '"$0" -m dedupe_releases scan "$1" -f jsonl | head -n 1; echo "rc=${PIPESTATUS[0]}"'
    proc = subprocess.run(
        ["bash", "-c", cmd, sys.executable, str(big_dump)],
        capture_output=True,
        env=cli_env(),
        check=False,
    )
    lines = proc.stdout.decode().splitlines()
    assert json.loads(lines[0])["type"] == "cluster"
    assert lines[-1] == "rc=0"
    assert proc.stderr == b""


# --- C3 deterministic output -----------------------------------------------------------------


def test_c3_output_is_byte_identical_across_environments(tmp_path, figures):
    forward = copies_dump(tmp_path / "f" / "dump", 1)
    # the same files created in the opposite order
    files = sorted((p for p in forward.rglob("*") if p.is_file()), reverse=True)
    backward = write_dump(
        tmp_path / "b" / "dump", {str(p.relative_to(forward)): p.read_bytes() for p in files}
    )
    variants = [
        ({}, forward),
        ({}, forward),
        ({"PYTHONHASHSEED": "12345"}, forward),
        ({}, backward),
        ({"PYTHONIOENCODING": "ascii"}, forward),
        ({"LC_ALL": "C", "LANG": "C"}, forward),
        ({"TZ": "Pacific/Chatham"}, forward),
        ({"COLUMNS": "20", "NO_COLOR": "", "FORCE_COLOR": "1"}, forward),
    ]
    for fmt, cases in (("json", variants), ("jsonl", variants[2:6])):
        hashes = set()
        for env, dump in cases:
            result = run_cli("scan", dump, "-f", fmt, env=env)
            assert result.rc == ExitCode.OK, (env, result)
            hashes.add(hashlib.sha256(result.stdout).hexdigest())
        assert len(hashes) == 1, (fmt, hashes)
    figures.add("determinism_variants", len(variants) + 4)
    figures.add("determinism_distinct_hashes", 1)


def test_c3_a_table_on_an_ascii_console_does_not_crash():
    result = run_cli("scan", "samples/dump", "-f", "table", env={"PYTHONIOENCODING": "ascii"})
    assert result.rc == ExitCode.OK, result
    assert b"Clusters" in result.stdout
    result.stdout.decode("ascii")


# --- C4 strict, stable JSON ------------------------------------------------------------------


def strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings(v)


def test_c4_line_separators_empty_articles_and_odd_names_give_strict_json(tmp_path, figures):
    odd = "Press release: Line\u2028separator \u2029 and next\x85line in a title\r\n\r\n"
    body = GOOD.decode().replace("\n", "\r\n").replace("Children", "Child\u2028ren", 1)
    files: dict[str | bytes, bytes] = {
        "sep.txt": (odd + body).encode(),
        "sep2.txt": (odd + body).encode(),
        "empty1.txt": b"Press release: !!!\n",
        "empty2.txt": b"Press release: ???\n",
    }
    try:
        files[b"\xff\xfe.txt"] = GOOD
        files["plain.txt"] = GOOD
        dump = write_dump(tmp_path / "dump", files)
    except OSError:
        pytest.skip("file system refuses names that are not UTF-8")
    for fmt in ("json", "jsonl"):
        result = run_cli("scan", dump, "-f", fmt)
        assert result.rc == ExitCode.OK, result
        assert b"NaN" not in result.stdout and b"Infinity" not in result.stdout
        text = result.stdout.decode("utf-8")  # strict: valid UTF-8, no lone surrogates
        for ch in ("\u2028", "\u2029", "\x85"):
            assert ch not in text  # escaped, so str.splitlines() cannot cut a record
        if fmt == "jsonl":
            lines = text.splitlines()
            assert len(lines) == text.count("\n")
            docs = [json.loads(line) for line in lines]
            assert docs[-1]["type"] == "summary"
        else:
            docs = [json.loads(text)]
            validate(docs[0])
        for doc in docs:
            for s in strings(doc):
                s.encode("utf-8")  # no lone surrogates
        if shutil.which("jq"):
            jq = subprocess.run(["jq", "-e", "."], input=result.stdout, capture_output=True)
            assert jq.returncode == 0, jq.stderr
    figures.add("strict_json_cases", 4)


def test_c4_every_json_dump_in_src_refuses_nan():
    """A unit check of the source: every json.dump(s) call passes allow_nan=False."""
    calls = 0
    for path in sorted((ROOT / "src").rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("dump", "dumps")
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "json"
            ):
                calls += 1
                kw = {k.arg: k.value for k in node.keywords}
                assert "allow_nan" in kw, f"{path.name}:{node.lineno}"
                assert isinstance(kw["allow_nan"], ast.Constant) and kw["allow_nan"].value is False
    assert calls >= 1


# --- C5 quiet and honest under cron -----------------------------------------------------------


def test_c5_silent_on_success_when_not_a_terminal():
    result = run_cli("scan", "samples/dump")
    assert result.rc == ExitCode.OK
    assert result.stderr == b""  # chronic -e stays quiet
    assert b"\x1b" not in result.stdout  # no colour, no progress bar
    validate(json.loads(result.stdout))  # auto format off a terminal is JSON


def test_c5_one_bad_file_is_one_line_and_exit_1(tmp_path):
    dump = write_dump(tmp_path / "dump", {"good.txt": GOOD, "bad.bin": b"\x00\x01"})
    result = run_cli("scan", dump)
    assert result.rc == ExitCode.PARTIAL
    assert result.stderr_lines == ["dedupe-releases: bad.bin: skipped: binary (NUL at byte 0)"]
    quiet = run_cli("scan", dump, "-q")
    assert quiet.rc == ExitCode.PARTIAL and quiet.stderr == b""
    assert json.loads(quiet.stdout)["skipped"] == [
        {"source": "bad.bin", "reason": "skipped: binary (NUL at byte 0)"}
    ]

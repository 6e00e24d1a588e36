"""Security without an index (RELIABILITY.md D2, D4, D5): no pickle, no terminal injection,
no archive tricks. D1 (export) and D3 (hostile index schema) come with those features.
"""

from __future__ import annotations

import ast
import gzip
import io
import random
import re
import tomllib
import zipfile
from pathlib import Path

import pytest
from harness import ROOT, run_cli, sample_bytes, write_dump
from rich.console import Console

from dedupe_releases.config import Config, FixConfig
from dedupe_releases.errors import ExitCode
from dedupe_releases.output import escape_control, render_table
from dedupe_releases.pipeline import scan

GOOD = sample_bytes()
SRC = ROOT / "src" / "dedupe_releases"

# --- D2 no code from pickles -------------------------------------------------------------------

UNSAFE_MODULES = {
    "pickle",
    "cPickle",
    "_pickle",
    "shelve",
    "dill",
    "marshal",
    "cloudpickle",
    "joblib",
}


def test_d2_no_module_of_ours_imports_a_deserialiser_that_runs_code():
    found = []
    for path in sorted(SRC.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Call) and getattr(node.func, "id", "") == "__import__":
                names = [getattr(node.args[0], "value", "")] if node.args else []
            found += [
                f"{path.name}:{node.lineno} {n}" for n in names if n.split(".")[0] in UNSAFE_MODULES
            ]
    assert found == []


def test_d2_the_lsh_of_datasketch_is_never_used():
    """datasketch's MinHashLSH pickles keys (prepickle) and unpickles what Redis returns."""
    text = "\n".join(p.read_text() for p in SRC.rglob("*.py"))
    assert "MinHashLSH" not in re.sub(r'""".*?"""|#.*', "", text, flags=re.DOTALL)


def test_d2_ruff_checks_for_pickle_in_ci():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "S301" in config["tool"]["ruff"]["lint"]["select"]


# --- D4 terminal injection -------------------------------------------------------------------

HOSTILE = [
    "[bold red]x[/]",
    "[link=https://evil.example]click[/link]",
    "[/]",
    "\x1b[2J",
    "\x1b]0;owned\x07",
    "\x1b]8;;https://evil.example\x1b\\link\x1b]8;;\x1b\\",
    "\u009b31m",
    "\u202egnp.exe",
    "\u2066isolate\u2069",
    "back\x08\x08space",
    "carriage\rreturn",
    "del\x7f",
    "\x1bP+q\x1b\\",  # DCS
]
# Anything that can drive a terminal or reorder what it shows.
DANGEROUS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def body(i: int) -> bytes:
    """A body of its own for each title (lines shared under many titles are boilerplate)."""
    rng = random.Random(i)
    words = [f"{rng.choice(WORDS)}{rng.randrange(1000)}" for _ in range(300)]
    lines = [" ".join(words[k : k + 15]) + "." for k in range(0, 300, 15)]
    return "\n\n".join(lines).encode()


WORDS = [
    "council",
    "funding",
    "schools",
    "roads",
    "housing",
    "health",
    "police",
    "rivers",
    "trains",
    "energy",
]


def hostile_dump(tmp_path: Path) -> Path:
    """Two copies of one article per hostile string: in the title and in both file names."""
    files: dict[str | bytes, bytes] = {}
    for i, s in enumerate(HOSTILE):
        title = f"Press release: Title {i} {s} end\n\n".encode()
        for copy in ("a", "b"):
            files[f"{i:02d}{copy} {s.replace('/', '_')}.txt"] = title + body(i)
    return write_dump(tmp_path / "dump", files)


def render(result) -> str:
    buf = io.StringIO()
    # color_system=None: rich itself emits no escape codes, so any in the output came from data
    console = Console(file=buf, force_terminal=True, color_system=None, width=200)
    render_table(result, console)
    return buf.getvalue()


@pytest.mark.parametrize("ftfy", [True, False], ids=["fixed", "raw titles"])
def test_d4_titles_and_file_names_cannot_drive_the_terminal(tmp_path, ftfy, figures):
    # With ftfy off, titles keep their control characters: only the output escaping stands
    # between them and the terminal.
    result = scan([hostile_dump(tmp_path)], Config(fix=FixConfig(ftfy=ftfy)))
    assert len(result.clusters) == len(HOSTILE)
    shown = render(result)
    assert "\x1b" not in shown
    assert not DANGEROUS.search(shown), repr(DANGEROUS.search(shown))
    flat = re.sub(r"\s+", " ", re.sub(r"[│┃║|]", " ", shown))
    for literal in ("[bold red]x[/]", "[link=https://evil.example]click[/link]", " [/] "):
        assert literal in flat  # markup shown as text, never interpreted
    assert "\\x1b]0;owned\\x07" in flat  # visible escapes, in the file name column
    figures.add("hostile_strings", len(HOSTILE))
    figures.add("control_bytes_reaching_terminal", 0)


def test_d4_escape_control_covers_every_dangerous_character():
    every = "".join(chr(c) for c in range(0x110000) if DANGEROUS.match(chr(c)))
    assert not DANGEROUS.search(escape_control(every))


def test_d4_the_cli_table_and_warning_lines_carry_no_escape(tmp_path):
    dump = hostile_dump(tmp_path)
    (dump / "bin \x1b[31mred\x1b[0m \u202e.bin").write_bytes(b"\x00")
    result = run_cli("scan", dump, "-f", "table")
    assert result.rc == ExitCode.PARTIAL, result
    assert b"\x1b" not in result.stdout
    assert not DANGEROUS.search(result.stdout.decode())
    assert result.stderr_lines == [
        "dedupe-releases: bin \\x1b[31mred\\x1b[0m \\u202e.bin: skipped: binary (NUL at byte 0)"
    ]


def test_d4_error_lines_about_paths_are_escaped(tmp_path):
    bad = tmp_path / "no\x1b]0;owned\x07dir" / "out.json"
    result = run_cli("scan", "samples/dump", "-o", bad)
    assert result.rc == ExitCode.OUTPUT
    assert "\\x1b]0;owned\\x07" in result.stderr_lines[0]
    missing = run_cli("scan", tmp_path / "\x1b[2J\u202e")
    assert missing.rc == ExitCode.USAGE
    assert "\x1b" not in missing.stderr.decode() and "\u202e" not in missing.stderr.decode()


# --- D5 archives and bombs ----------------------------------------------------------------


def test_d5_nested_gzip_and_zip_archives_are_never_extracted(tmp_path, figures):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("../escape.txt", GOOD)
        zf.writestr("/abs.txt", GOOD)
    files = {
        "nested.txt.gz": gzip.compress(gzip.compress(GOOD)),
        "triple.gz": gzip.compress(gzip.compress(gzip.compress(GOOD))),
        "archive.zip": buf.getvalue(),
        "good.txt": GOOD,
    }
    dump = write_dump(tmp_path / "work" / "dump", files)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    result = run_cli("scan", dump, "-f", "json", cwd=dump)
    assert result.rc == ExitCode.PARTIAL, result
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before
    skipped = {p["source"]: p["reason"] for p in result.json["skipped"]}
    # one layer of gzip is read; what is inside is gzip again, i.e. binary
    assert set(skipped) == {"nested.txt.gz", "triple.gz", "archive.zip"}
    assert all(r.startswith("skipped: binary (NUL at byte") for r in skipped.values())
    figures.add("bad_inputs", 3)

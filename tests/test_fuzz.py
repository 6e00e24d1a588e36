"""Fuzzed bytes (RELIABILITY.md A14): read -> fix -> split never fails on any input, and the
command line never loses a file without naming it.

Hypothesis runs derandomized (the same examples everywhere); CI runs 1,000 library examples
and 200 fuzzed files through the real command; ``scripts/reliability.py`` runs 100,000 and
200 command runs (``DEDUPE_SCALE_FUZZ``, ``DEDUPE_SCALE_CLI_FUZZ``).
"""

from __future__ import annotations

import codecs
import random
import re

from harness import run_cli, sample_bytes, scale, validate, write_dump
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dedupe_releases.config import Config
from dedupe_releases.errors import ExitCode
from dedupe_releases.output import dumps
from dedupe_releases.pipeline import articles_of
from dedupe_releases.read import SkipFile, decode_bytes
from dedupe_releases.records import SourceText

# every line break the fix stage counts (quiet.LINE_BREAKS)
LINE_BREAKS = re.compile("\r\n|[\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
SEEDS = [sample_bytes(), sample_bytes("003_0b1477e63db6351e.txt")[:3000]]
INSERTS = [
    b"\x00",
    codecs.BOM_UTF8,
    codecs.BOM_UTF16_LE,
    b"\r",
    b"\r\n",
    b"\x1b[2J",
    b"\x85",
    "\u2028".encode(),
    "é“”".encode("cp1252"),
    "é".encode("utf-16-le"),
    b"\xff\xfe",
    b"Press release: ",
    b"\n\n",
    b"&amp;#x1b;",
    b"[x](#)",
]


def mutate(data: bytes, ops: list[tuple[int, int, int]]) -> bytes:
    out = bytearray(data)
    for kind, pos, arg in ops:
        pos = pos % (len(out) + 1)
        if kind == 0 and out:  # bit flip
            out[pos % len(out)] ^= 1 << (arg % 8)
        elif kind == 1:  # truncation
            del out[pos:]
        elif kind == 2:  # insertion of a hostile snippet
            out[pos:pos] = INSERTS[arg % len(INSERTS)]
        elif kind == 3:  # a spliced re-encoding of a slice
            chunk = bytes(out[pos : pos + 200]).decode("utf-8", "replace")
            enc = ("cp1252", "latin-1", "utf-16-le", "utf-32-be")[arg % 4]
            out[pos : pos + 200] = chunk.encode(enc, "replace")
    return bytes(out)


def check_pipeline(data: bytes) -> int:
    """Library read -> fix -> split on one file's bytes; returns the number of articles."""
    try:
        decoded = decode_bytes(data)
    except SkipFile as exc:
        assert str(exc).startswith("binary (NUL at byte ")
        return 0
    text = SourceText(None, "f.txt", "", len(data), decoded.encoding, decoded.text)  # type: ignore[arg-type]
    articles = articles_of(text, Config())
    n_lines = len(LINE_BREAKS.split(decoded.text))
    for i, a in enumerate(articles, start=1):
        assert a.ordinal == i and a.id == f"f.txt#{i}"
        assert 1 <= a.lines[0] <= a.lines[1] <= n_lines, (a.lines, n_lines)
        dumps({"title": a.title, "body": a.body}).decode("utf-8")  # strict JSON, no surrogates
    return len(articles)


LIB_EXAMPLES = scale("fuzz", 1000)

mutations = st.lists(
    st.tuples(st.integers(0, 3), st.integers(0, 10_000), st.integers(0, 255)), max_size=8
)


@settings(max_examples=LIB_EXAMPLES // 2, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000))
def test_a14_any_bytes_go_through_read_fix_split(data):
    check_pipeline(data)


@settings(
    max_examples=LIB_EXAMPLES - LIB_EXAMPLES // 2, suppress_health_check=[HealthCheck.too_slow]
)
@given(st.sampled_from(range(len(SEEDS))), mutations)
def test_a14_mutated_seed_files_go_through_read_fix_split(seed, ops):
    check_pipeline(mutate(SEEDS[seed], ops))


def test_a14_fuzzed_files_through_the_command_line(tmp_path, figures):
    rng = random.Random(14)
    runs, per_run = scale("cli_fuzz", 10), 20
    for run_no in range(runs):
        files: dict[str | bytes, bytes] = {}
        for i in range(per_run):
            ops = [
                (rng.randrange(4), rng.randrange(10_000), rng.randrange(256))
                for _ in range(rng.randrange(1, 8))
            ]
            data = (
                mutate(rng.choice(SEEDS), ops)
                if rng.random() < 0.8
                else rng.randbytes(rng.randrange(0, 3000))
            )
            files[f"f{i:02d}.txt" + (".gz" if rng.random() < 0.1 else "")] = data
        dump = write_dump(tmp_path / f"run{run_no}", files)
        result = run_cli("scan", dump, "-f", "json")
        assert result.rc in (ExitCode.OK, ExitCode.PARTIAL, ExitCode.NO_INPUT), result
        doc = result.json
        validate(doc)
        # nothing lost silently: every file is either read or named with a reason
        assert doc["counts"]["files"] + len(doc["skipped"]) == per_run
        assert all(p["reason"].startswith("skipped: ") for p in doc["skipped"])
        assert len(result.stderr_lines) == len(doc["skipped"]) + len(doc["warnings"]) + (
            result.rc == ExitCode.NO_INPUT
        )
    figures.add("cli_fuzz_runs", runs)
    figures.add("cli_fuzz_files", runs * per_run)


def test_a14_figures(figures):
    figures.add("fuzz_examples", LIB_EXAMPLES)

"""Bad input (RELIABILITY.md A1-A13): every file a real dump can hold, through the real command.

Each test builds its dump from byte constants, runs ``python -m dedupe_releases`` and checks
the exit code, the JSON on stdout (schema-valid, nothing lost) and stderr (one escaped line
per problem, no traceback: ``harness.Result.check``).
"""

from __future__ import annotations

import base64
import codecs
import gzip
import os
import socket
import sqlite3
import zlib
from pathlib import Path

import pytest
from harness import (
    as_nobody,
    public_dir,
    run_cli,
    sample_bytes,
    validate,
    write_dump,
)

from dedupe_releases.config import ReadConfig
from dedupe_releases.errors import ExitCode
from dedupe_releases.read import SkipFile, read_source

GOOD = sample_bytes()  # one article: the £17m story
GOOD_TEXT = GOOD.decode("utf-8")
TITLE = GOOD_TEXT.split("\n", 1)[0]

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
PDF = (
    b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Length 9 >>\nstream\nx\x9c\x03\x00\x00\x00\x00\x01"
)
ELF = b"\x7fELF\x02\x01\x01\x00" + bytes(8) + b"\x02\x00>\x00\x01\x00\x00\x00"
DOCX = b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00[Content_Types].xml"


def sqlite_file(path: Path) -> bytes:
    db = sqlite3.connect(path)
    db.execute("create table t (x)")
    db.commit()
    db.close()
    data = path.read_bytes()
    path.unlink()
    return data


def problems(doc: dict, key: str = "skipped") -> dict[str, str]:
    return {p["source"]: p["reason"] for p in doc[key]}


def articles_of(run) -> list[dict]:
    """Records of `split` (JSON Lines)."""
    return run.jsonl


# --- A1 binary files ------------------------------------------------------------------------


def test_a1_binary_files_are_skipped_one_line_each_and_the_rest_is_read(tmp_path, figures):
    binaries = {
        "x.png": PNG,
        "doc.pdf": PDF,
        "a.out": ELF,
        "db.sqlite": sqlite_file(tmp_path / "scratch.db"),
        "letter.docx": DOCX,
    }
    dump = write_dump(tmp_path / "dump", {"good.txt": GOOD, "copy.txt": GOOD, **binaries})
    run = run_cli("scan", dump, "-f", "json")
    assert run.rc == ExitCode.PARTIAL, run
    doc = run.json
    validate(doc)
    assert doc["counts"]["files"] == 2
    assert [m["id"] for c in doc["clusters"] for m in c["members"]] == ["copy.txt#1", "good.txt#1"]
    skipped = problems(doc)
    assert set(skipped) == set(binaries)
    for name, data in binaries.items():
        nul = data.index(0)
        assert skipped[name] == f"skipped: binary (NUL at byte {nul})"
        assert run.stderr_lines.count(f"dedupe-releases: {name}: {skipped[name]}") == 1
    assert len(run.stderr_lines) == len(binaries)
    figures.add("bad_inputs", len(binaries))


# --- A2 a NUL after the first buffer -----------------------------------------------------------


def test_a2_a_nul_at_byte_70000_skips_the_whole_file(tmp_path, figures):
    body = (GOOD * 80)[:200_000]
    late = body[:70_000] + b"\x00" + body[70_001:]
    assert len(late) == 200_000 and late.index(0) == 70_000
    dump = write_dump(tmp_path / "dump", {"good.txt": GOOD, "late.txt": late})
    run = run_cli("scan", dump, "-f", "json")
    assert run.rc == ExitCode.PARTIAL, run
    doc = run.json
    assert problems(doc) == {"late.txt": "skipped: binary (NUL at byte 70000)"}
    assert doc["counts"]["articles"] == 1
    # `split` must not print the articles of the first 70 KB either (file-level atomicity).
    split = run_cli("split", dump, "--no-text")
    assert split.rc == ExitCode.PARTIAL
    assert {r["source"] for r in split.jsonl} == {"good.txt"}
    with pytest.raises(SkipFile, match="NUL at byte 70000"):
        read_source(dump / "late.txt", "late.txt", ReadConfig())
    figures.add("bad_inputs", 1)


# --- A3 invalid UTF-8 and A4 cp1252 vs latin-1 ------------------------------------------------

INVALID_UTF8 = {
    "stray_ff.txt": (b"Stray byte \xff in a title\n\nBody text.", "Stray byte ÿ in a title"),
    "cut_at_eof.txt": (b"Cut multibyte at the end\n\nBody caf\xc3", "Cut multibyte at the end"),
    "overlong.txt": (b"Overlong slash \xc0\xaf here\n\nBody.", "Overlong slash À¯ here"),
    "cesu8.txt": (b"CESU surrogate \xed\xa0\x80 here\n\nBody.", "CESU surrogate í € here"),
    "mixed.txt": (
        "Café in UTF-8 then a ".encode() + b"\x93quote\x94 in cp1252\n\nBody.",
        'Café in UTF-8 then a "quote" in cp1252',
    ),
}


@pytest.mark.parametrize("name", sorted(INVALID_UTF8))
def test_a3_invalid_utf8_is_decoded_never_fatal(tmp_path, name, figures):
    data, title = INVALID_UTF8[name]
    dump = write_dump(tmp_path / "dump", {name: data})
    run = run_cli("split", dump, "--no-text")
    # Our choice: Windows-1252 stands in for a byte that is not UTF-8 (scraped dumps mix
    # the two); that is a normal read, exit 0 and no warning. Only U+FFFD warns.
    assert run.rc == ExitCode.OK, run
    assert run.stderr == b""
    (record,) = run.jsonl
    assert record["title"] == title
    figures.add("bad_inputs", 1)


def test_a4_cp1252_latin1_and_undefined_bytes(tmp_path, figures):
    cp1252 = "Minister’s “£17 million” plan costs €5 — done".encode("cp1252")
    latin1 = "Réunion à Genève\n\nLe café est fermé.".encode("latin-1")
    # One byte Windows-1252 leaves undefined in a Windows-1252 file: the rest must still
    # decode as Windows-1252 (it once went to a guesser that turned "£" into "ú").
    stray = cp1252 + b"\n\nA stray \x81 byte, \x9d another."
    holes = b"Holes \x81\x8d\x8f\x90\x9d only\n\nBody."
    dump = write_dump(
        tmp_path / "dump",
        {"cp1252.txt": cp1252, "latin1.txt": latin1, "stray.txt": stray, "holes.txt": holes},
    )
    run = run_cli("split", dump)
    assert run.rc == ExitCode.OK, run
    titles = {r["source"]: r["title"] for r in run.jsonl}
    assert titles["cp1252.txt"] == 'Minister\'s "£17 million" plan costs €5 — done'
    assert titles["stray.txt"] == titles["cp1252.txt"]
    assert titles["latin1.txt"] == "Réunion à Genève"
    for record in run.jsonl:
        for value in (record["title"], record["text"]):
            assert not any(0x80 <= ord(c) <= 0x9F for c in value), (record["source"], value)
    warned = {line.split(": ")[1] for line in run.stderr_lines}
    assert warned <= {"stray.txt", "holes.txt"}
    assert (
        "dedupe-releases: stray.txt: warning: decoded as cp1252 with 2 replacement characters"
        " (U+FFFD)" in run.stderr_lines
    )
    figures.add("bad_inputs", 4)


# --- A5 byte order marks ------------------------------------------------------------------------

BOM_CASES = {
    "utf8_bom.txt": codecs.BOM_UTF8 + GOOD,
    "utf16le.txt": codecs.BOM_UTF16_LE + GOOD_TEXT.encode("utf-16-le"),
    "utf16be.txt": codecs.BOM_UTF16_BE + GOOD_TEXT.encode("utf-16-be"),
    "utf32le.txt": codecs.BOM_UTF32_LE + GOOD_TEXT.encode("utf-32-le"),
    "utf32be.txt": codecs.BOM_UTF32_BE + GOOD_TEXT.encode("utf-32-be"),
}


def test_a5_boms_decode_to_the_utf8_result(tmp_path, figures):
    dump = write_dump(tmp_path / "dump", {"plain.txt": GOOD, **BOM_CASES})
    run = run_cli("split", dump)
    assert run.rc == ExitCode.OK, run
    assert run.stderr == b""
    records = {r["source"]: r for r in run.jsonl}
    expected = records["plain.txt"]
    assert expected["title"] == TITLE
    for name in BOM_CASES:
        got = records[name]
        assert got["title"] == TITLE, name  # no BOM glued to the first title
        assert got["text"] == expected["text"], name
        assert got["content_hash"] == expected["content_hash"], name
    figures.add("bad_inputs", len(BOM_CASES))


def test_a5_utf16_without_bom_is_binary_and_odd_length_warns(tmp_path, figures):
    odd = codecs.BOM_UTF16_LE + GOOD_TEXT.encode("utf-16-le") + b"A"
    dump = write_dump(
        tmp_path / "dump",
        {"nobom.txt": GOOD_TEXT.encode("utf-16-le"), "odd.txt": odd, "good.txt": GOOD},
    )
    run = run_cli("scan", dump, "-f", "json")
    assert run.rc == ExitCode.PARTIAL, run
    doc = run.json
    validate(doc)
    assert problems(doc) == {"nobom.txt": "skipped: binary (NUL at byte 1)"}
    assert problems(doc, "warnings") == {
        "odd.txt": "warning: decoded as utf-16-le with 1 replacement character (U+FFFD)"
    }
    assert run.stderr_lines == [
        "dedupe-releases: nobom.txt: skipped: binary (NUL at byte 1)",
        "dedupe-releases: odd.txt: warning: decoded as utf-16-le with 1 replacement character"
        " (U+FFFD)",
    ]
    # the odd file is still read: it and good.txt are one cluster
    assert [m["id"] for m in doc["clusters"][0]["members"]] == ["good.txt#1", "odd.txt#1"]
    figures.add("bad_inputs", 2)


# --- A6 empty and near-empty files ----------------------------------------------------------------


def test_a6_empty_files_are_read_quietly(tmp_path, figures):
    dump = write_dump(
        tmp_path / "dump",
        {
            "empty.txt": b"",
            "spaces.txt": b"  \n\t\n\r\n   ",
            "bom.txt": codecs.BOM_UTF8,
            "header.txt": b"Press release: A title and nothing else\n",
        },
    )
    run = run_cli("scan", dump, "-f", "json")
    assert run.rc == ExitCode.OK, run
    assert run.stderr == b""
    doc = run.json
    validate(doc)
    assert doc["counts"]["files"] == 4
    assert doc["counts"]["articles"] == 1  # the header-only file: one article, empty body
    split = run_cli("split", dump)
    assert [(r["id"], r["kind"], r["text"]) for r in split.jsonl] == [
        ("header.txt#1", "Press release", "A title and nothing else")
    ]
    figures.add("bad_inputs", 4)


# --- A7 a 2 GB file and A13 gzip bombs -----------------------------------------------------------


@pytest.fixture(scope="module")
def rss_baseline_kb(figures) -> int:
    """Peak RSS of a scan of the sample dump: what the bounded runs are compared with."""
    run = run_cli("scan", "samples/dump", "-f", "json")
    figures.peak("ms_samples", int(run.seconds * 1000))
    return run.max_rss_kb


def test_a7_sparse_2gb_file_costs_one_chunk(tmp_path, rss_baseline_kb, figures):
    dump = write_dump(tmp_path / "dump", {"good.txt": GOOD})
    with (dump / "huge.txt").open("wb") as fh:
        fh.truncate(2 * 1024**3)  # sparse: no disk used
    run = run_cli("scan", dump, "-f", "json", timeout=60)
    assert run.rc == ExitCode.PARTIAL, run
    assert problems(run.json) == {"huge.txt": "skipped: binary (NUL at byte 0)"}
    # One 1 MiB chunk was read, not 256 MiB: peak RSS within 32 MiB of a normal scan.
    assert run.max_rss_kb < rss_baseline_kb + 32 * 1024, (run.max_rss_kb, rss_baseline_kb)
    figures.add("bad_inputs", 1)
    figures.peak("rss_kb_baseline", rss_baseline_kb)
    figures.peak("rss_kb_sparse_2gb", run.max_rss_kb)
    figures.peak("ms_sparse_2gb", int(run.seconds * 1000))


def test_a7_a_text_file_over_max_file_size_is_skipped_before_reading(tmp_path, figures):
    big = (GOOD * 400)[: 1024 * 1024 + 1]
    dump = write_dump(tmp_path / "dump", {"good.txt": GOOD, "big.txt": big})
    run = run_cli("scan", dump, "-f", "json", "--max-file-size", str(1024 * 1024))
    assert run.rc == ExitCode.PARTIAL, run
    assert problems(run.json) == {
        "big.txt": "skipped: larger than --max-file-size (1,048,576 bytes)"
    }
    figures.add("bad_inputs", 1)


def zlib_bomb(unit: bytes, total: int, level: int = 1) -> bytes:
    c = zlib.compressobj(level, zlib.DEFLATED, 31)  # wbits 31: a gzip member
    block = unit * (1024 * 1024 // len(unit))
    parts = [c.compress(block) for _ in range(total // len(block))]
    parts.append(c.flush())
    return b"".join(parts)


@pytest.fixture(scope="module")
def bombs() -> dict[str, bytes]:
    return {
        "zeros.txt.gz": zlib_bomb(b"\x00", 1024**3),  # 1 GiB of NUL, ~4.5 MB
        "words.txt.gz": zlib_bomb(b"press release ", 512 * 1024**2, level=9),  # text: no NUL
    }


def test_a13_gzip_bombs_stop_at_the_cap_with_bounded_memory(
    tmp_path, bombs, rss_baseline_kb, figures
):
    dump = write_dump(tmp_path / "dump", {"good.txt": GOOD, **bombs})
    cap = 8 * 1024 * 1024
    run = run_cli("scan", dump, "-f", "json", "--max-file-size", str(cap), timeout=60)
    assert run.rc == ExitCode.PARTIAL, run
    assert problems(run.json) == {
        "words.txt.gz": "skipped: larger than --max-file-size (8,388,608 bytes)",
        "zeros.txt.gz": "skipped: binary (NUL at byte 0)",
    }
    # At most the cap (plus one chunk) is ever held: a few times 8 MiB over a normal scan.
    assert run.max_rss_kb < rss_baseline_kb + 4 * cap // 1024, (run.max_rss_kb, rss_baseline_kb)
    figures.add("bad_inputs", 2)
    figures.peak("rss_kb_gzip_bombs", run.max_rss_kb)


def test_a13_corrupt_and_multi_member_gzip(tmp_path, figures):
    whole = gzip.compress(GOOD)
    bad_crc = bytearray(whole)
    bad_crc[-8] ^= 0xFF
    dump = write_dump(
        tmp_path / "dump",
        {
            "plain.txt": GOOD,
            "truncated.txt.gz": whole[:-20],
            "badcrc.txt.gz": bytes(bad_crc),
            "multi.txt.gz": gzip.compress(GOOD[:1000]) + gzip.compress(GOOD[1000:]),
            "binary.gz": gzip.compress(PNG),
            "notgzip.gz": b"this is not gzip at all",
        },
    )
    run = run_cli("scan", dump, "-f", "json")
    assert run.rc == ExitCode.PARTIAL, run
    doc = run.json
    validate(doc)
    skipped = problems(doc)
    assert skipped["truncated.txt.gz"].startswith("skipped: corrupt gzip (")
    assert skipped["badcrc.txt.gz"].startswith("skipped: corrupt gzip (CRC check failed")
    assert skipped["notgzip.gz"].startswith("skipped: corrupt gzip (")
    assert skipped["binary.gz"] == "skipped: binary (NUL at byte 8)"
    assert len(skipped) == 4 and len(run.stderr_lines) == 4
    # every member of a multi-member file is read: the same article as the plain file
    (cluster,) = doc["clusters"]
    assert [m["id"] for m in cluster["members"]] == ["multi.txt.gz#1", "plain.txt#1"]
    assert cluster["members"][0]["similarity"] == 1.0
    figures.add("bad_inputs", 5)


# --- A8 one 50 MB line, twice -------------------------------------------------------------------


def one_line(n_bytes: int) -> bytes:
    words = [f"w{i:x}" for i in range(5000)]
    out, i = [], 0
    size = 0
    while size < n_bytes:
        w = words[(i * 7919) % len(words)]
        out.append(w)
        size += len(w) + 1
        i += 1
    return " ".join(out).encode()[:n_bytes]


@pytest.mark.parametrize(
    "megabytes",
    [pytest.param(5, id="5MB"), pytest.param(50, id="50MB", marks=pytest.mark.slow)],
)
@pytest.mark.timeout(300)
def test_a8_one_huge_line_twice_is_cut_and_still_matched(tmp_path, megabytes, figures):
    line = one_line(megabytes * 1024 * 1024)
    dump = write_dump(tmp_path / "dump", {"a.txt": line, "b.txt": line})
    run = run_cli("scan", dump, "-f", "json", "--max-article-chars", "100000", timeout=280)
    assert run.rc == ExitCode.OK, run
    figures.peak(f"ms_line_{megabytes}mb", int(run.seconds * 1000))
    figures.peak(f"rss_kb_line_{megabytes}mb", run.max_rss_kb)
    doc = run.json
    validate(doc)
    (cluster,) = doc["clusters"]
    assert [m["id"] for m in cluster["members"]] == ["a.txt#1", "b.txt#1"]
    assert all(m["truncated"] is True for m in cluster["members"])
    assert len(cluster["canonical"]["text"]) == 100_000
    assert run.stderr_lines == [
        f"dedupe-releases: {n}: warning: article 1 cut at 100,000 characters (--max-article-chars)"
        for n in ("a.txt", "b.txt")
    ]
    figures.add("bad_inputs", 1)


# --- A9 unreadable files ------------------------------------------------------------------------


def test_a9_unreadable_file_and_folder_are_named_and_the_rest_is_read(figures):
    prefix = as_nobody()
    if prefix is None:
        pytest.skip("running as root without setpriv: cannot drop privileges")
    with public_dir() as top:
        dump = write_dump(
            top / "dump", {"good.txt": GOOD, "secret.txt": GOOD, "locked/inner.txt": GOOD}
        )
        for path in (dump, dump / "good.txt", dump / "secret.txt", dump / "locked/inner.txt"):
            path.chmod(0o755 if path.is_dir() else 0o644)
        (dump / "secret.txt").chmod(0)
        (dump / "locked").chmod(0)
        try:
            run = run_cli("scan", dump, "-f", "json", prefix=prefix, cwd=top)
        finally:
            (dump / "locked").chmod(0o755)
    assert run.rc == ExitCode.PARTIAL, run
    doc = run.json
    assert problems(doc) == {
        "locked": "skipped: permission denied",
        "secret.txt": "skipped: permission denied",
    }
    assert run.stderr_lines == [
        "dedupe-releases: locked: skipped: permission denied",
        "dedupe-releases: secret.txt: skipped: permission denied",
    ]
    assert doc["counts"]["files"] == 1
    figures.add("bad_inputs", 2)


def test_a9_the_privilege_drop_really_works():
    """Guards A9 against passing vacuously as root (restic's chmod-0000 test does)."""
    prefix = as_nobody()
    if prefix is None:
        pytest.skip("cannot drop privileges here")
    with public_dir() as top:
        dump = write_dump(top / "dump", {"secret.txt": GOOD})
        dump.chmod(0o755)
        (dump / "secret.txt").chmod(0)
        run = run_cli("scan", dump, "-f", "json", prefix=prefix, cwd=top)
    assert run.rc == ExitCode.NO_INPUT, run


# --- A10 links and special files ------------------------------------------------------------------


def special_dump(tmp_path: Path) -> tuple[Path, Path]:
    outside = write_dump(tmp_path / "outside", {"far.txt": GOOD})
    dump = write_dump(tmp_path / "dump", {"good.txt": GOOD, "a/b/keep.txt": GOOD})
    (dump / "a/b/c").symlink_to("../../a")  # loop: a/b/c -> a (ripgrep's symlink_loop)
    (dump / "dangling").symlink_to("nowhere.txt")
    (dump / "out.txt").symlink_to(outside / "far.txt")
    (dump / "zero").symlink_to("/dev/zero")
    os.mkfifo(dump / "fifo")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(os.fspath(dump / "sock"))
    sock.close()
    return dump, outside


@pytest.mark.timeout(60)
def test_a10_links_are_not_followed_and_special_files_never_opened(tmp_path, figures):
    dump, _ = special_dump(tmp_path)
    run = run_cli("scan", dump, "-f", "json", timeout=50)
    assert run.rc == ExitCode.PARTIAL, run
    doc = run.json
    assert problems(doc) == {
        "a/b/c": "skipped: symbolic link (use --follow-links)",
        "dangling": "skipped: symbolic link (use --follow-links)",
        "fifo": "skipped: not a regular file",
        "out.txt": "skipped: symbolic link (use --follow-links)",
        "sock": "skipped: not a regular file",
        "zero": "skipped: symbolic link (use --follow-links)",
    }
    assert len(run.stderr_lines) == 6
    assert doc["counts"]["files"] == 2
    figures.add("bad_inputs", 6)


@pytest.mark.timeout(60)
def test_a10_follow_links_reports_the_loop_once_and_never_hangs(tmp_path, figures):
    dump, _ = special_dump(tmp_path)
    run = run_cli("scan", dump, "-f", "json", "--follow-links", timeout=50)
    assert run.rc == ExitCode.PARTIAL, run
    doc = run.json
    assert problems(doc) == {
        "a/b/c": "skipped: file system loop (link to ../../a)",
        "dangling": "skipped: dangling symbolic link (to nowhere.txt)",
        "fifo": "skipped: not a regular file",
        "sock": "skipped: not a regular file",
        "zero": "skipped: not a regular file",
    }
    assert len(run.stderr_lines) == 5
    # the followed link out of the root is read, as asked
    assert doc["counts"]["files"] == 3
    (cluster,) = doc["clusters"]
    assert [m["id"] for m in cluster["members"]] == ["a/b/keep.txt#1", "good.txt#1", "out.txt#1"]
    figures.add("bad_inputs", 5)


@pytest.mark.timeout(30)
def test_a10_a_fifo_named_on_the_command_line_is_not_opened(tmp_path):
    os.mkfifo(tmp_path / "fifo")
    run = run_cli("scan", tmp_path / "fifo", "-f", "json", timeout=20)
    assert run.rc == ExitCode.NO_INPUT, run
    assert run.stderr_lines[0].endswith("fifo: skipped: not a regular file")


# --- A11 missing or empty roots ------------------------------------------------------------------


def test_a11_missing_root_is_a_usage_error(tmp_path):
    run = run_cli("scan", tmp_path / "nope")
    assert run.rc == ExitCode.USAGE
    assert run.stdout == b""
    assert "does not exist" in run.stderr.decode()


def test_a11_a_file_root_works_and_an_empty_folder_is_no_input(tmp_path):
    write_dump(tmp_path / "dump", {"good.txt": GOOD})
    assert run_cli("scan", tmp_path / "dump" / "good.txt", "-f", "json").rc == ExitCode.OK
    (tmp_path / "empty").mkdir()
    run = run_cli("scan", tmp_path / "empty", "-f", "json")
    assert run.rc == ExitCode.NO_INPUT, run
    assert run.stderr_lines == ["dedupe-releases: no input could be read (no files found)"]
    # the document is still written, whole: a cron reader sees "nothing" rather than garbage
    assert run.json["counts"]["files"] == 0


def test_a11_two_roots_with_one_name_do_not_lose_articles(tmp_path):
    a = write_dump(tmp_path / "a" / "dump", {"x.txt": GOOD})
    b = write_dump(tmp_path / "b" / "dump", {"x.txt": GOOD})
    run = run_cli("scan", a, b, "-f", "json")
    assert run.rc == ExitCode.PARTIAL, run
    assert problems(run.json) == {
        "dump/x.txt": "skipped: same name as another input (give the roots different names)"
    }
    again = run_cli("scan", a, a, "-f", "json")
    assert again.rc == ExitCode.PARTIAL
    assert list(problems(again.json).values()) == ["skipped: given twice"]


# --- A12 odd file names ---------------------------------------------------------------------------

ODD_NAMES: list[bytes] = [
    b"new\nline.txt",
    b"esc\x1b[2Jape.txt",
    b"-rf.txt",
    b"$(touch x).txt",
    b"\xff.txt",
    b"\xfe.txt",
    "é".encode() * 125 + b".txt",  # 254 bytes
]


def test_a12_odd_names_are_read_exactly_with_escaped_stderr(tmp_path, figures):
    files: dict[str | bytes, bytes] = dict.fromkeys(ODD_NAMES, GOOD)
    files[b"bad\n\x1b]0;title\x07\xff.bin"] = PNG
    try:
        dump = write_dump(tmp_path / "dump", files)
    except OSError:  # ripgrep r210: skip where the file system refuses such names
        pytest.skip("the file system refuses names that are not UTF-8")
    run = run_cli("scan", dump, "-f", "json", cwd=tmp_path)
    assert run.rc == ExitCode.PARTIAL, run
    assert not (tmp_path / "x").exists() and not (dump / "x").exists()
    doc = run.json
    validate(doc)
    (cluster,) = doc["clusters"]
    members = {m["id"]: m for m in cluster["members"]}
    assert len(members) == len(ODD_NAMES)  # nothing lost, no two names share an id
    for raw in ODD_NAMES:
        try:
            source = raw.decode("utf-8")
            member = members[f"{source}#1"]
            assert member["source"] == source
            assert "source_bytes" not in member
        except UnicodeDecodeError:
            source = raw.decode("utf-8", "backslashreplace")
            member = members[f"{source}#1"]
            assert base64.b64decode(member["source_bytes"]) == raw
    # one problem, one stderr line, no raw control bytes (Result.check)
    assert len(run.stderr_lines) == 1
    assert run.stderr_lines[0] == (
        "dedupe-releases: bad \\x1b]0;title\\x07\\xff.bin: skipped: binary (NUL at byte 8)"
    )
    (skipped,) = doc["skipped"]
    assert base64.b64decode(skipped["source_bytes"]) == b"bad\n\x1b]0;title\x07\xff.bin"
    figures.add("bad_inputs", len(ODD_NAMES) + 1)


def test_a12_ids_are_stable_across_runs_and_creation_order(tmp_path):
    names = ODD_NAMES
    one = write_dump(tmp_path / "one" / "dump", dict.fromkeys(names, GOOD))
    two = write_dump(tmp_path / "two" / "dump", dict.fromkeys(reversed(names), GOOD))
    first, second = run_cli("scan", one, "-f", "json"), run_cli("scan", two, "-f", "json")
    assert first.stdout == second.stdout
    assert first.rc == second.rc == ExitCode.OK

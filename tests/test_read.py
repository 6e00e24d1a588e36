"""Stage 1: walking and decoding."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import pytest
from conftest import KURZ, SAMPLES, sample_text

from dedupe_releases.config import ReadConfig
from dedupe_releases.read import SkipFile, decode_bytes, read_sources, walk
from dedupe_releases.records import Problem, SourceText

TEXT = sample_text(KURZ)


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        (TEXT.encode("utf-8"), "utf-8"),
        (b"\xef\xbb\xbf" + TEXT.encode("utf-8"), "utf-8-sig"),
        (b"\xff\xfe" + TEXT.encode("utf-16-le"), "utf-16-le"),
        (b"\xfe\xff" + TEXT.encode("utf-16-be"), "utf-16-be"),
        (b"\xff\xfe\x00\x00" + TEXT.encode("utf-32-le"), "utf-32-le"),
        (TEXT.replace("’", "'").encode("cp1252"), "cp1252"),
    ],
    ids=["utf8", "utf8-bom", "utf16le-bom", "utf16be-bom", "utf32le-bom", "cp1252"],
)
def test_encodings_decode_to_the_same_text(data: bytes, encoding: str) -> None:
    decoded = decode_bytes(data)
    assert decoded.encoding == encoding
    expected = TEXT.replace("’", "'") if encoding == "cp1252" else TEXT
    assert decoded.text == expected


def test_latin1_and_cp1252_bytes_decode_as_windows_1252() -> None:
    assert decode_bytes("café “quoted” – €5".encode("cp1252")).text == "café “quoted” – €5"
    assert decode_bytes("naïve résumé".encode("latin-1")).text == "naïve résumé"


def test_utf8_with_a_stray_cp1252_quote_keeps_both() -> None:
    data = "£17 million ".encode() + b"\x93quoted\x94"
    decoded = decode_bytes(data)
    assert decoded.text == "£17 million “quoted”"
    assert decoded.encoding == "utf-8+cp1252"


def test_cp1252_holes_never_become_c1_controls() -> None:
    text = decode_bytes(b"a\x81b\x8dc\x90d\x9de").text
    assert not any(0x80 <= ord(c) <= 0x9F for c in text)


def test_nul_byte_means_binary_even_late_in_the_file() -> None:
    data = TEXT.encode() * 20
    data = data[:70_000] + b"\x00" + data[70_000:]
    with pytest.raises(SkipFile, match=r"binary \(NUL at byte 70000\)"):
        decode_bytes(data)


def test_utf16_without_bom_is_binary() -> None:
    with pytest.raises(SkipFile, match="binary"):
        decode_bytes(TEXT.encode("utf-16-le"))


def _read(root: Path, **kw: object) -> list[SourceText | Problem]:
    return list(read_sources([root], ReadConfig(**kw)))  # type: ignore[arg-type]


def test_walk_is_recursive_sorted_and_skips_hidden(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "z.txt").write_text("z")
    (tmp_path / "a.txt").write_text("a")
    (tmp_path / "B.txt").write_text("B")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "x").write_text("x")
    (tmp_path / ".hidden.txt").write_text("h")
    sources = [s.source for s in _read(tmp_path)]
    assert sources == ["B.txt", "a.txt", "b/z.txt"]
    assert ".hidden.txt" in [s.source for s in _read(tmp_path, hidden=True)]


def test_include_and_exclude_globs(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("k")
    (tmp_path / "drop.bak").write_text("d")
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "x.txt").write_text("x")
    assert [s.source for s in _read(tmp_path, include=("*.txt",))] == ["keep.txt", "old/x.txt"]
    assert [s.source for s in _read(tmp_path, exclude=("old", "*.bak"))] == ["keep.txt"]


def test_gzip_files_are_read_transparently(tmp_path: Path) -> None:
    (tmp_path / "a.txt.gz").write_bytes(gzip.compress(TEXT.encode()))
    (tmp_path / "bad.txt.gz").write_bytes(gzip.compress(TEXT.encode())[:-20])
    items = _read(tmp_path)
    assert isinstance(items[0], SourceText) and items[0].text == TEXT
    assert isinstance(items[1], Problem) and "corrupt gzip" in items[1].reason


def test_gzip_bomb_stops_at_the_size_cap(tmp_path: Path) -> None:
    (tmp_path / "bomb.txt.gz").write_bytes(gzip.compress(b"a" * 5_000_000))
    (item,) = _read(tmp_path, max_file_bytes=1_000_000)
    assert isinstance(item, Problem)
    assert "larger than --max-file-size" in item.reason


def test_empty_file_is_fine(tmp_path: Path) -> None:
    (tmp_path / "empty.txt").write_bytes(b"")
    (item,) = _read(tmp_path)
    assert isinstance(item, SourceText) and item.text == ""


def test_symlinks_inside_folders_are_not_followed(tmp_path: Path) -> None:
    (tmp_path / "real.txt").write_text("r")
    (tmp_path / "link.txt").symlink_to(tmp_path / "real.txt")
    (tmp_path / "loop").symlink_to(tmp_path)
    items = _read(tmp_path)
    assert [type(i).__name__ for i in items] == ["Problem", "Problem", "SourceText"]
    followed = _read(tmp_path, follow_links=True)
    problems = [i for i in followed if isinstance(i, Problem)]
    assert [p.reason for p in problems] == [f"skipped: file system loop (link to {tmp_path})"]


def test_fifo_is_never_opened(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.txt")
    (item,) = _read(tmp_path)
    assert isinstance(item, Problem) and item.reason == "skipped: not a regular file"


def test_walk_of_samples_lists_five_files() -> None:
    assert len([i for i in walk([SAMPLES], ReadConfig()) if not isinstance(i, Problem)]) == 5

"""`export`: canonical copies as files with safe names, a manifest, and no surprises (D1)."""

from __future__ import annotations

import json
import os
import tempfile
import unicodedata
from pathlib import Path

import pytest
from conftest import BIG, KURZ, SAMPLES, SEVENTEEN
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dedupe_releases.errors import OutputError
from dedupe_releases.export import (
    MANIFEST,
    ExportItem,
    fold,
    plan_names,
    safe_stem,
    write_export,
)
from dedupe_releases.records import Article

D1_TITLES = [
    "../../etc/passwd",
    "/etc/passwd",
    "..",
    ".",
    "",
    "a/b",
    "a\\b",
    "CON",
    "con.txt",
    "LPT1: printers",
    "a\x00b",
    "é" * 1000,
    "e\u0301" * 300,
    "Report",
    "REPORT",
    "café",
    "cafe\u0301",
    "\x1b[2J\u202eevil",
    "<script>alert(1)</script>",
    "manifest.json",
    ".hidden",
    "Wait... what?",
    " - ",
    "x" * 400,
]


def _article(n: int, title: str, body: str = "Body text.") -> Article:
    return Article(
        id=f"f{n:03d}.txt#1",
        source=f"f{n:03d}.txt",
        ordinal=1,
        lines=(1, 3),
        kind=None,
        title=title,
        body=f"{body} {n}",
        content_hash=str(n),
    )


def _items(titles: list[str]) -> list[ExportItem]:
    return [ExportItem(a, (a.id,)) for a in (_article(i, t) for i, t in enumerate(titles))]


def _snapshot(folder: Path) -> dict[str, tuple[int, int, bytes | str]]:
    """Every entry under ``folder`` (not following links): inode, mtime, bytes or link target."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in dirnames + filenames:
            path = Path(dirpath, name)
            st = path.lstat()
            if path.is_symlink():
                content: bytes | str = str(path.readlink())
            elif path.is_file():
                content = path.read_bytes()
            else:
                content = "dir"
            out[str(path.relative_to(folder))] = (st.st_ino, st.st_mtime_ns, content)
    return out


def _check_folder(out: Path, items: list[ExportItem]) -> dict:
    manifest = json.loads((out / MANIFEST).read_text("utf-8"))
    names = [f["name"] for f in manifest["files"]]
    assert len(names) == len(items)
    assert len({fold(n) for n in names} | {fold(MANIFEST)}) == len(names) + 1
    for name in names:
        assert len(name.encode("utf-8")) <= 255
        assert "/" not in name and "\x00" not in name and name not in {".", ".."}
        assert not name.startswith(".") and ".." not in name
        assert name == unicodedata.normalize("NFC", name)
        path = out / name
        assert path.is_file() and not path.is_symlink()
        assert Path(os.path.realpath(path)).parent == out.resolve()
    assert sorted(manifest["articles"]) == sorted(i.article.id for i in items)
    return manifest


# --- the sample dump --------------------------------------------------------------------------


def test_samples_export_one_file_per_cluster_and_unique_article(run_cli, tmp_path):
    out = tmp_path / "clean"
    run = run_cli("export", str(SAMPLES), "-o", str(out))
    assert run.exit_code == 0, run.stderr
    assert run.stdout == "" and run.stderr == ""
    manifest = json.loads((out / MANIFEST).read_text("utf-8"))
    assert manifest["counts"] == {"files": 11, "articles": 13}
    files = sorted(p.name for p in out.iterdir())
    assert files == sorted([MANIFEST, *(f["name"] for f in manifest["files"])])
    kurz = "Prime Minister's meeting with Chancellor Kurz of Austria - 9 July 2018.txt"
    assert manifest["articles"][f"{KURZ}#3"] == manifest["articles"][f"{KURZ}#4"] == kurz
    seventeen = "Minister announces £17 million to improve children's services.txt"
    assert manifest["articles"][f"{BIG}#5"] == manifest["articles"][f"{SEVENTEEN}#1"] == seventeen
    text = (out / kurz).read_text("utf-8")
    assert text.startswith(
        "Press release: Prime Minister's meeting with Chancellor Kurz of Austria: 9 July 2018\n\n"
        "A Downing Street spokesperson said:\n\n"
    )
    assert text.endswith("shared priority for the UK and Austria.\n")
    entry = next(f for f in manifest["files"] if f["name"] == kurz)
    assert entry["article"] == f"{KURZ}#3" and entry["stands_for"] == [f"{KURZ}#3", f"{KURZ}#4"]
    # Every article that split finds is mapped.
    ids = {json.loads(line)["id"] for line in run_cli("split", str(SAMPLES)).stdout.splitlines()}
    assert set(manifest["articles"]) == ids


def test_rerun_writes_nothing(run_cli, tmp_path):
    out = tmp_path / "clean"
    assert run_cli("export", str(SAMPLES), "-o", str(out)).exit_code == 0
    before = _snapshot(tmp_path)
    assert run_cli("export", str(SAMPLES), "-o", str(out)).exit_code == 0
    assert _snapshot(tmp_path) == before  # same inodes, same mtimes, same bytes


def test_foreign_file_is_never_overwritten(run_cli, tmp_path):
    out = tmp_path / "clean"
    out.mkdir()
    mine = out / "tougher LASER misuse laws come into force.txt"  # the same name, folded
    mine.write_text("my notes\n")
    assert run_cli("export", str(SAMPLES), "-o", str(out)).exit_code == 0
    assert mine.read_text() == "my notes\n"
    manifest = json.loads((out / MANIFEST).read_text("utf-8"))
    names = [f["name"] for f in manifest["files"]]
    assert "Tougher laser misuse laws come into force (2).txt" in names
    assert mine.name not in names


def test_edited_export_is_left_alone_and_reported(run_cli, tmp_path):
    out = tmp_path / "clean"
    assert run_cli("export", str(SAMPLES), "-o", str(out)).exit_code == 0
    edited = out / "Tougher laser misuse laws come into force.txt"
    edited.write_text("edited by hand\n")
    run = run_cli("export", str(SAMPLES), "-o", str(out))
    assert run.exit_code == 0
    assert edited.read_text() == "edited by hand\n"
    assert "changed since it was exported; left as it is" in run.stderr
    assert (out / "Tougher laser misuse laws come into force (2).txt").is_file()


def test_files_no_longer_exported_are_removed_only_if_untouched(run_cli, tmp_path):
    out = tmp_path / "clean"
    # At threshold 0.99 the two Kurz copies are not a cluster: two files.
    assert run_cli("export", str(SAMPLES), "-o", str(out), "-t", "0.99").exit_code == 0
    second = out / "Prime Minister's meeting with Chancellor Kurz of Austria - 9 July 2018 (2).txt"
    assert second.is_file()
    assert run_cli("export", str(SAMPLES), "-o", str(out)).exit_code == 0
    assert not second.exists()
    assert len(list(out.iterdir())) == 12


def test_planted_symlinks_are_never_followed(run_cli, tmp_path):
    out, outside = tmp_path / "clean", tmp_path / "outside"
    out.mkdir()
    outside.mkdir()
    victim = outside / "victim.txt"
    victim.write_text("precious\n")
    # Links with the names the export will want, to a file and to a place that does not exist.
    (out / "Tougher laser misuse laws come into force.txt").symlink_to(victim)
    (out / "Extremism Commissioner confirms plans for 2018.txt").symlink_to(outside / "new.txt")
    (out / "sub").symlink_to(outside, target_is_directory=True)
    before = _snapshot(outside)
    run = run_cli("export", str(SAMPLES), "-o", str(out))
    assert run.exit_code == 0, run.stderr
    assert _snapshot(outside) == before
    assert victim.read_text() == "precious\n" and not (outside / "new.txt").exists()
    assert (out / "Tougher laser misuse laws come into force.txt").is_symlink()
    assert (out / "Tougher laser misuse laws come into force (2).txt").is_file()
    for path in out.iterdir():
        if not path.is_symlink():
            assert Path(os.path.realpath(path)).parent == out.resolve()


@pytest.mark.parametrize("kind", ["foreign", "symlink", "folder"])
def test_a_manifest_not_written_by_export_stops_it(run_cli, tmp_path, kind):
    out = tmp_path / "clean"
    out.mkdir()
    target = tmp_path / "elsewhere.json"
    if kind == "foreign":
        (out / MANIFEST).write_text('{"mine": true}')
    elif kind == "symlink":
        (out / MANIFEST).symlink_to(target)
    else:
        (out / MANIFEST).mkdir()
    before = _snapshot(tmp_path)
    run = run_cli("export", str(SAMPLES), "-o", str(out))
    assert run.exit_code == 6
    assert run.stderr.count("\n") == 1 and "manifest.json" in run.stderr
    assert _snapshot(tmp_path) == before
    assert not target.exists()


def test_output_that_is_a_file_is_exit_6(run_cli, tmp_path):
    (tmp_path / "file").write_text("x")
    run = run_cli("export", str(SAMPLES), "-o", str(tmp_path / "file" / "sub"))
    assert run.exit_code == 6
    assert run.stderr.startswith("dedupe-releases: ")


def test_a_name_that_appears_during_the_export_is_not_overwritten(tmp_path, monkeypatch):
    """A file created between planning and writing: the export stops, the file stays."""
    items = _items(["Alpha", "Beta"])
    out = tmp_path / "out"
    import dedupe_releases.export as export

    original = export._Folder.create

    def racing_create(self, name, data):
        if name == "Beta.txt":
            Path(self.path, name).write_text("arrived meanwhile")
        return original(self, name, data)

    monkeypatch.setattr(export._Folder, "create", racing_create)
    with pytest.raises(OutputError, match="appeared while exporting"):
        write_export(out, items)
    assert (out / "Beta.txt").read_text() == "arrived meanwhile"
    assert not any(p.name.endswith(".tmp") for p in out.iterdir())


# --- names ----------------------------------------------------------------------------------


def test_d1_fixed_titles(tmp_path):
    parent = tmp_path / "parent"
    out = parent / "out"
    parent.mkdir()
    (parent / "passwd").write_text("root:x:0:0\n")
    before = _snapshot(parent)
    items = _items(D1_TITLES)
    write_export(out, items)
    manifest = _check_folder(out, items)
    after = _snapshot(parent)
    assert {k: v for k, v in after.items() if not k.startswith("out")} == before
    names = [f["name"] for f in manifest["files"]]
    assert names[:5] == [
        "etc-passwd.txt",
        "etc-passwd (2).txt",
        "untitled.txt",
        "untitled (2).txt",
        "untitled (3).txt",
    ]
    assert "_CON.txt" in names and "Wait… what.txt" in names
    assert "Report.txt" in names and "REPORT (2).txt" in names
    assert "café.txt" in names and "café (2).txt" in names
    assert "manifest.json.txt" in names and "hidden.txt" in names


def test_safe_stem_is_bounded_and_cut_on_a_character():
    stem = safe_stem("é" * 1000)
    assert len(stem.encode()) <= 150 and stem == "é" * 75
    assert safe_stem("日本語のタイトル" * 40).encode().decode() == safe_stem(
        "日本語のタイトル" * 40
    )


def test_plan_names_avoid_taken_names_after_folding():
    items = _items(["Café", "Other"])
    assert plan_names(items, taken=["CAFE\u0301.TXT"]) == ["Café (2).txt", "Other.txt"]


titles = st.lists(
    st.one_of(
        st.sampled_from(D1_TITLES),
        st.text(max_size=300),
        st.text(alphabet="./\\\x00 éE\u0301:-", max_size=40),
    ),
    min_size=1,
    max_size=6,
)


@settings(
    max_examples=500,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(titles)
def test_d1_hypothesis_titles_stay_inside_unique_and_idempotent(titles):
    with tempfile.TemporaryDirectory() as tmp:
        parent = Path(tmp)
        out = parent / "out"
        out.mkdir()
        items = _items(titles)
        # A link planted where the first file will go, to a file outside that must stay absent.
        (out / plan_names(items)[0]).symlink_to(parent / "outside.txt")
        first = write_export(out, items)
        manifest = _check_folder(out, items)
        assert not (parent / "outside.txt").exists()
        assert sorted(p.name for p in parent.iterdir()) == ["out"]
        before = _snapshot(parent)
        again = write_export(out, items)
        assert again.written == [] and again.removed == []
        assert _snapshot(parent) == before
        assert len(first.written) == len(manifest["files"])


def test_d1_figures(figures):
    """For the reliability table: the titles the two D1 tests above try."""
    figures.add("hostile_titles", 500 + len(D1_TITLES))

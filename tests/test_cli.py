"""The command line: formats, schema, exit codes, help, and damaged copies end to end."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import jsonschema
import pytest
from conftest import BIG, KURZ, SAMPLES, SEVENTEEN, article_lines, sample_text

from dedupe_releases import __version__
from dedupe_releases.errors import ExitCode


def test_version(run_cli) -> None:
    run = run_cli("--version")
    assert run.exit_code == 0 and __version__ in run.stdout


@pytest.mark.parametrize("command", [[], ["scan"], ["normalize"], ["split"]])
def test_every_command_has_help_with_examples(run_cli, command: list[str]) -> None:
    run = run_cli(*command, "--help")
    assert run.exit_code == 0
    assert "Example" in run.stdout and "dedupe-releases " in run.stdout


def test_scan_help_documents_exit_codes(run_cli) -> None:
    out = run_cli("scan", "--help").stdout
    for code in ExitCode:
        if code in (ExitCode.INDEX, ExitCode.LOCKED):
            continue  # index-only codes are documented with --index
        assert f"{int(code)} " in out or f"{int(code)}/" in out or f"/{int(code)}" in out


def test_json_format_validates_against_the_shipped_schema(run_cli, samples_dir, scan_schema):
    doc = run_cli("scan", str(samples_dir), "-f", "json").json
    jsonschema.validate(doc, scan_schema)
    assert doc["schema_version"] == 1 and doc["tool"]["version"] == __version__


def test_jsonl_has_one_cluster_per_line_and_a_closing_summary(run_cli, samples_dir):
    run = run_cli("scan", str(samples_dir), "-f", "jsonl")
    assert run.exit_code == 0
    records = run.jsonl
    assert [r["type"] for r in records] == ["cluster", "cluster", "related", "summary"]
    assert records[-1]["counts"]["clusters"] == 2
    assert all(line.startswith("{") for line in run.stdout.splitlines())


def test_table_format_shows_clusters_and_related(run_cli, samples_dir):
    run = run_cli("scan", str(samples_dir), "-f", "table")
    assert run.exit_code == 0
    assert "13 articles in 5 files: 2 clusters of 4 articles, 1 related pairs" in " ".join(
        run.stdout.split()
    )
    assert "Chancellor Kurz" in run.stdout and "★" in run.stdout
    assert "related" in run.stdout


def test_auto_format_is_json_when_piped(run_cli, samples_dir):
    assert run_cli("scan", str(samples_dir)).json["counts"]["clusters"] == 2


def test_output_file_is_written_whole(run_cli, samples_dir, tmp_path: Path, scan_schema):
    target = tmp_path / "out.json"
    run = run_cli("scan", str(samples_dir), "-o", str(target))
    assert run.exit_code == 0 and run.stdout == ""
    jsonschema.validate(json.loads(target.read_text()), scan_schema)
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]  # no temp file left


def test_unwritable_output_is_exit_6_and_one_line(run_cli, samples_dir, tmp_path: Path):
    run = run_cli("scan", str(samples_dir), "-o", str(tmp_path / "missing" / "out.json"))
    assert run.exit_code == ExitCode.OUTPUT
    assert len(run.stderr.splitlines()) == 1 and "cannot write output" in run.stderr


def test_thresholds_and_shingle_options_reach_the_output(run_cli, samples_dir):
    doc = run_cli(
        "scan", str(samples_dir), "-t", "0.99", "-k", "4", "--num-perm", "64", "--bands", "8"
    ).json
    assert doc["parameters"] | {} == doc["parameters"]
    assert (
        doc["parameters"]["threshold"],
        doc["parameters"]["shingle_size"],
        doc["parameters"]["num_perm"],
        doc["parameters"]["rows"],
    ) == (0.99, 4, 64, 8)
    assert doc["counts"]["clusters"] == 0  # nothing is 99% alike at 4-grams


def test_include_exclude(run_cli, samples_dir):
    doc = run_cli("scan", str(samples_dir), "-x", "00[0-2]*").json
    assert doc["counts"]["files"] == 2 and doc["counts"]["clusters"] == 1
    doc = run_cli("scan", str(samples_dir), "-i", "004*").json
    assert doc["counts"]["files"] == 1


def test_usage_errors_exit_2(run_cli, samples_dir):
    assert run_cli("scan").exit_code == ExitCode.USAGE
    assert run_cli("scan", "no/such/dir").exit_code == ExitCode.USAGE
    assert run_cli("scan", str(samples_dir), "-t", "2").exit_code == ExitCode.USAGE
    assert run_cli("scan", str(samples_dir), "--bands", "7").exit_code == ExitCode.USAGE


def test_empty_folder_is_no_input(run_cli, tmp_path: Path):
    run = run_cli("scan", str(tmp_path), "-f", "json")
    assert run.exit_code == ExitCode.NO_INPUT
    assert run.json["counts"]["files"] == 0
    assert run.stderr.strip() == "dedupe-releases: no input could be read (no files found)"


def test_a_binary_file_is_skipped_with_one_line_and_exit_1(run_cli, tmp_path: Path):
    shutil.copytree(SAMPLES, tmp_path / "dump")
    (tmp_path / "dump" / "scan.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    run = run_cli("scan", str(tmp_path / "dump"), "-f", "json")
    assert run.exit_code == ExitCode.PARTIAL
    assert run.stderr.splitlines() == ["dedupe-releases: scan.png: skipped: binary (NUL at byte 8)"]
    doc = run.json
    assert doc["skipped"] == [{"source": "scan.png", "reason": "skipped: binary (NUL at byte 8)"}]
    assert doc["counts"]["clusters"] == 2  # the other files were still processed


def test_quiet_keeps_stderr_empty_but_still_reports_in_json(run_cli, tmp_path: Path):
    (tmp_path / "x.bin").write_bytes(b"\x00")
    (tmp_path / "a.txt").write_text("Press release: Hello\n\nWorld.")
    run = run_cli("scan", str(tmp_path), "-q", "-f", "json")
    assert run.exit_code == ExitCode.PARTIAL and run.stderr == ""
    assert run.json["skipped"][0]["source"] == "x.bin"


def test_every_input_skipped_is_no_input(run_cli, tmp_path: Path):
    (tmp_path / "x.bin").write_bytes(b"\x00")
    assert run_cli("scan", str(tmp_path), "-f", "json").exit_code == ExitCode.NO_INPUT


def test_normalize_prints_fixed_text_and_is_idempotent(run_cli, tmp_path: Path):
    first = run_cli("normalize", str(SAMPLES / KURZ))
    assert first.exit_code == 0
    assert (
        "Press release: Prime Minister's meeting with Chancellor Kurz of Austria: "
        "9 July 2018\n\nThe Prime Minister welcomed"
    ) in first.stdout
    assert "](#)" not in first.stdout and "’" not in first.stdout
    again = tmp_path / "fixed.txt"
    again.write_text(first.stdout, encoding="utf-8")
    assert run_cli("normalize", str(again)).stdout == first.stdout


def test_split_prints_one_json_object_per_article(run_cli, samples_dir):
    run = run_cli("split", str(samples_dir))
    records = run.jsonl
    assert run.exit_code == 0 and len(records) == 13
    assert {"id", "source", "lines", "kind", "title", "content_hash", "text"} <= set(records[0])


# --- damaged copies, built in the test from the sample text -----------------------------

KURZ_CLEAN = article_lines(KURZ, 266, 280)
SEVENTEEN_TEXT = sample_text(SEVENTEEN)


def _damaged_dump(tmp_path: Path, files: dict[str, bytes]) -> Path:
    dump = tmp_path / "dump"
    dump.mkdir()
    (dump / "a_original.txt").write_text(KURZ_CLEAN, encoding="utf-8")
    for name, data in files.items():
        (dump / name).write_bytes(data)
    return dump


def _mojibake(text: str) -> str:
    return text.encode("utf-8").decode("cp1252", errors="replace")


DAMAGE = {
    "cp1252": lambda t: t.encode("cp1252"),
    "utf16-bom": lambda t: b"\xff\xfe" + t.encode("utf-16-le"),
    "utf8-bom-crlf": lambda t: b"\xef\xbb\xbf" + t.replace("\n", "\r\n").encode(),
    "gzip": lambda t: gzip.compress(t.encode()),
    "curly-quotes": lambda t: t.replace("'", "’").encode(),
    "mojibake": lambda t: _mojibake(t.replace("'", "’")).encode(),
    "bracketed-split-title": lambda t: t.replace(
        "Chancellor Kurz of Austria: 9 July 2018",
        "Chancellor Kurz of\n\n[Austria: 9 July 2018](#)",
        1,
    ).encode(),
    "split-paragraphs": lambda t: (
        t.replace(" touched on ", " touched\n\non ")
        .replace(" agreed it ", " agreed\n\nit ")
        .encode()
    ),
    "html-entities-nbsp": lambda t: (
        t.replace("'", "&rsquo;").replace(" the ", "\u00a0the ").encode()
    ),
    "boilerplate-appended": lambda t: (
        t + "\n\nSIGN UP\nFor your free daily news bulletin\n"
        "Highways jobs\n\nPorter\n\nSome Council\n£10 per hour\n"
    ).encode(),
}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_damaged_copy_still_clusters_with_its_original(run_cli, tmp_path: Path, damage: str):
    name = "b_copy.txt.gz" if damage == "gzip" else "b_copy.txt"
    dump = _damaged_dump(tmp_path, {name: DAMAGE[damage](KURZ_CLEAN)})
    doc = run_cli("scan", str(dump), "-f", "json").json
    assert doc["counts"]["articles"] == 2
    assert len(doc["clusters"]) == 1, doc["related"]
    cluster = doc["clusters"][0]
    titles = {m["title"] for m in cluster["members"]}
    assert titles == {"Prime Minister's meeting with Chancellor Kurz of Austria: 9 July 2018"}
    assert cluster["canonical"]["id"] == "a_original.txt#1"


def test_seventeen_million_story_with_every_damage_at_once(run_cli, tmp_path: Path):
    text = SEVENTEEN_TEXT.replace("’", "'")
    damaged = (
        "[News story: Minister announces £17](#)\n\nmillion to improve children's services"
        "\n\n" + _mojibake(SEVENTEEN_TEXT).replace("Zahawi said:", "Zahawi\n\nsaid:")
    )
    dump = tmp_path / "dump"
    dump.mkdir()
    (dump / "one.txt").write_text(text, encoding="utf-8")
    (dump / "two.txt").write_bytes(b"\xff\xfe" + damaged.encode("utf-16-le"))
    doc = run_cli("scan", str(dump), "-f", "json").json
    assert len(doc["clusters"]) == 1
    assert doc["clusters"][0]["canonical"]["title"] == (
        "Minister announces £17 million to improve children's services"
    )


def test_big_file_articles_keep_their_ids_when_other_files_change(run_cli, tmp_path: Path):
    dump = tmp_path / "dump"
    shutil.copytree(SAMPLES, dump)
    before = {m["id"] for c in run_cli("scan", str(dump)).json["clusters"] for m in c["members"]}
    (dump / "zzz_new.txt").write_text("Press release: Something new\n\nA new text.")
    after = {m["id"] for c in run_cli("scan", str(dump)).json["clusters"] for m in c["members"]}
    assert before == after and f"{BIG}#5" in after

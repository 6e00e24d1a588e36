"""The sample dump end to end: the result the README promises."""

from __future__ import annotations

import jsonschema
from conftest import BIG, KURZ, PRESS, SEVENTEEN, TRADE


def test_scan_samples_gives_exactly_the_two_known_clusters(run_cli, samples_dir, scan_schema):
    run = run_cli("scan", str(samples_dir), "--format", "json")
    assert run.exit_code == 0
    assert run.stderr == ""
    doc = run.json
    jsonschema.validate(doc, scan_schema)
    assert doc["counts"]["articles"] == 13
    assert doc["counts"]["files"] == 5
    members = sorted(sorted(m["id"] for m in c["members"]) for c in doc["clusters"])
    assert members == [
        [f"{BIG}#5", f"{SEVENTEEN}#1"],
        [f"{KURZ}#3", f"{KURZ}#4"],
    ]


def test_the_twenty_million_rewrite_is_related_not_a_copy(run_cli, samples_dir):
    doc = run_cli("scan", str(samples_dir), "--format", "json").json
    assert [(r["a"], r["b"], r["relation"]) for r in doc["related"]] == [
        (f"{PRESS}#1", f"{TRADE}#1", "related")
    ]
    related = doc["related"][0]
    assert related["scores"]["jaccard"] < doc["parameters"]["threshold"]
    assert related["scores"]["containment"] > 0.4


def test_titles_are_repaired(run_cli, samples_dir):
    doc = run_cli("scan", str(samples_dir), "--format", "json").json
    by_id = {m["id"]: m for c in doc["clusters"] for m in c["members"]}
    kurz = "Prime Minister's meeting with Chancellor Kurz of Austria: 9 July 2018"
    assert by_id[f"{KURZ}#3"]["title"] == kurz
    assert by_id[f"{KURZ}#4"]["title"] == kurz
    assert by_id[f"{BIG}#5"]["title"] == (
        "Minister announces £17 million to improve children's services"
    )


def test_no_title_keeps_link_brackets(run_cli, samples_dir):
    for line in run_cli("split", str(samples_dir), "--no-text").stdout.splitlines():
        record = __import__("json").loads(line)
        assert "[" not in record["title"] and "](" not in record["title"], record["title"]


def test_canonical_copies_and_reasons(run_cli, samples_dir):
    doc = run_cli("scan", str(samples_dir), "--format", "json").json
    canon = {c["canonical"]["id"]: c for c in doc["clusters"]}
    # The £17m story: the copy with a News story header wins over the bare page.
    assert f"{BIG}#5" in canon
    assert canon[f"{BIG}#5"]["reasons"][0].startswith("header")
    assert canon[f"{BIG}#5"]["canonical"]["text"].startswith(
        "Minister announces £17 million to improve children's services\n\n"
        "Children and Families Minister Nadhim Zahawi"
    )
    # Kurz: the copy whose title was whole wins over the one joined from two paragraphs.
    assert f"{KURZ}#3" in canon
    assert any(r.startswith("whole_title") for r in canon[f"{KURZ}#3"]["reasons"])
    for c in doc["clusters"]:
        assert 0.9 < c["weakest_similarity"] < 1.0


def test_output_is_byte_identical_between_runs(run_process):
    first = run_process("scan", "samples/dump", "--format", "json")
    second = run_process(
        "scan",
        "samples/dump",
        "--format",
        "json",
        env={"PYTHONHASHSEED": "12345", "TZ": "Asia/Tokyo"},
    )
    assert first.returncode == second.returncode == 0
    assert first.stdout == second.stdout
    assert first.stderr == second.stderr == b""


def test_readme_jq_pipeline_prints_two(tmp_path):
    """`dedupe-releases scan samples/dump | jq '.clusters | length'` prints 2, as written."""
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    from conftest import ROOT

    jq = shutil.which("jq")
    if jq is None:  # no jq on this machine: run the same filter in Python instead
        run = subprocess.run(
            [sys.executable, "-m", "dedupe_releases", "scan", "samples/dump"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        )
        assert len(__import__("json").loads(run.stdout)["clusters"]) == 2
        return
    bindir = tmp_path / "bin"
    bindir.mkdir()
    exe = bindir / "dedupe-releases"
    exe.write_text(f'#!/bin/sh\nexec {sys.executable} -m dedupe_releases "$@"\n')
    exe.chmod(0o755)
    env = {"PATH": f"{bindir}:{Path(jq).parent}:/usr/bin:/bin"}
    out = subprocess.run(
        "dedupe-releases scan samples/dump | jq '.clusters | length'",
        shell=True,
        cwd=ROOT,
        env=env,
        capture_output=True,
        check=True,
    )
    assert out.stdout == b"2\n" and out.stderr == b""

"""Incremental runs on a persistent index: what is re-read, the exact events, stable ids,
and equality with a from-scratch scan of the final dump."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from conftest import BIG, KURZ, PRESS, SAMPLES, SEVENTEEN, TRADE
from indexing import cli, digest, generate, grown, runs, without_ids

from dedupe_releases import output
from dedupe_releases.config import Config
from dedupe_releases.incremental import RACY_NS, IndexOptions, _clean, scan_incremental
from dedupe_releases.index.store import FileRow, Index, Stat
from dedupe_releases.pipeline import articles_of, scan
from dedupe_releases.read import read_source


def events(proc: Any) -> list[dict[str, Any]]:
    return [json.loads(line) for line in proc.stdout.decode().splitlines()]


def article(dump: Path, name: str, ordinal: int) -> Any:
    config = Config()
    return articles_of(read_source(dump / name, name, config.read), config)[ordinal - 1]


def scratch_document(dump: Path, config: Config | None = None, **kwargs: Any) -> dict[str, Any]:
    doc = output.document(scan([dump], config or Config(), **kwargs))
    return json.loads(output.dumps(doc))


def index_document(db: Path) -> dict[str, Any]:
    proc = cli("clusters", "--index", db, "-f", "json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_second_run_reads_only_new_and_changed_files_with_exact_events(tmp_path):
    dump = tmp_path / "dump"
    shutil.copytree(SAMPLES, dump)
    db = tmp_path / "archive.db"

    first = cli("scan", dump, "--index", db, "--changes")
    assert first.returncode == 10, first.stderr
    assert first.stderr == b""
    kurz_id, seventeen_id = "c1b075a5471", "c5d71333d2b"
    assert [(e["type"], e["cluster"], e["members"]) for e in events(first)] == [
        ("new_cluster", kurz_id, [f"{KURZ}#3", f"{KURZ}#4"]),
        ("new_cluster", seventeen_id, [f"{BIG}#5", f"{SEVENTEEN}#1"]),
    ]

    # Add two files, change one (a clean copy of the £17m story appended), delete one.
    kurz, salisbury, seventeen = (
        article(dump, KURZ, 3),
        article(dump, BIG, 2),
        article(dump, BIG, 5),
    )
    (dump / "005_new.txt").write_text(f"Press release: {kurz.title}\n\n{kurz.body}\n")
    (dump / "006_new.txt").write_text(f"Press release: {salisbury.title}\n\n{salisbury.body}\n")
    changed = dump / PRESS
    changed.write_text(
        changed.read_text().rstrip("\n")
        + f"\n\nPress release: {seventeen.title}\n\n{seventeen.body}\n"
    )
    (dump / TRADE).unlink()

    second = cli("scan", dump, "--index", db, "--changes")
    assert second.returncode == 10, second.stderr
    assert second.stderr == b""
    new_id = events(second)[1]["cluster"]
    assert events(second) == [
        {"type": "article_removed", "article": f"{TRADE}#1", "cluster": None, "run": 2},
        {
            "type": "new_cluster",
            "cluster": new_id,
            "canonical": f"{BIG}#2",
            "members": [f"{BIG}#2", "006_new.txt#1"],
            "from": [],
            "run": 2,
        },
        {
            "type": "joined_cluster",
            "cluster": kurz_id,
            "article": "005_new.txt#1",
            "from": None,
            "run": 2,
        },
        {
            "type": "joined_cluster",
            "cluster": seventeen_id,
            "article": f"{PRESS}#2",
            "from": None,
            "run": 2,
        },
        {
            "type": "canonical_changed",
            "cluster": seventeen_id,
            "old": f"{BIG}#5",
            "new": f"{PRESS}#2",
            "run": 2,
        },
    ]
    counts = runs(db)[-1]["counts"]
    assert counts["files_read"] == 2  # the two new files
    assert counts["files_reread"] == 1  # the changed one
    assert counts["files_unchanged"] == 3
    assert counts["files_removed"] == 1
    assert counts["articles_reused"] == 1  # the changed file's first article is kept
    assert counts["articles_added"] == 3

    # Every earlier cluster id is kept, and the state equals a scan from scratch.
    doc = index_document(db)
    assert {c["id"] for c in doc["clusters"]} == {kurz_id, seventeen_id, new_id}
    assert without_ids(doc) == without_ids(scratch_document(dump))
    assert cli("index", "check", "--index", db).returncode == 0

    # Nothing changed: no output, exit 0, nothing re-read, no new generation.
    before = digest(db)
    third = cli("scan", dump, "--index", db, "--changes")
    assert (third.returncode, third.stdout, third.stderr) == (0, b"", b"")
    assert runs(db)[-1]["counts"]["files_read"] + runs(db)[-1]["counts"]["files_reread"] == 0
    assert runs(db)[-1]["generation"] is None
    assert digest(db) == before

    # The stored events replay what --changes printed.
    replay = cli("index", "changes", "--index", db, "--run", "2")
    assert replay.stdout == second.stdout


def test_scan_with_index_prints_the_same_document_as_a_plain_scan(tmp_path):
    db = tmp_path / "archive.db"
    plain = cli("scan", SAMPLES, "-f", "json")
    indexed = cli("scan", SAMPLES, "--index", db, "-f", "json")
    assert (plain.returncode, indexed.returncode) == (0, 0)
    # A fresh index names clusters as a scan does, so the documents are byte-identical.
    assert indexed.stdout == plain.stdout
    assert cli("clusters", "--index", db, "-f", "json").stdout == plain.stdout


def _grow_steps(tmp_path: Path, base: int, steps: int, step: int, seed: int) -> list[Path]:
    """Dumps of ``base``, ``base + step``, ... articles from one generator stream."""
    return [generate(tmp_path / f"g{n}", base + n * step, seed) for n in range(steps + 1)]


def _edit_and_delete(live: Path) -> None:
    """Change one article in the middle of one file, and delete another file."""
    names = sorted(p.name for p in live.iterdir())
    target = live / names[len(names) // 2]
    text = target.read_text()
    cut = text.index("\n\n", len(text) // 2)
    target.write_text(
        text[:cut] + " A sentence added by an editor changes this article." + text[cut:]
    )
    (live / names[len(names) // 3]).unlink()


def _check_equality(tmp_path: Path, base: int, step: int, steps: int, seed: int) -> dict[str, Any]:
    dumps = _grow_steps(tmp_path, base, steps, step, seed)
    live = tmp_path / "live"
    shutil.copytree(dumps[0], live)
    db = tmp_path / "archive.db"
    forced = tmp_path / "forced.db"  # the bucket-by-bucket path only, even for the first run
    config = Config()
    figures: dict[str, Any] = {}
    ids: set[str] = set()
    for n in range(steps + 1):
        if n:
            shutil.rmtree(live)
            grown(dumps[n - 1], dumps[n], tmp_path / "tmp")
            shutil.move(tmp_path / "tmp", live)
            if n == steps:
                _edit_and_delete(live)
        for path, fraction in ((db, 0.25), (forced, float("inf"))):
            with scan_incremental(
                [live], config, path, IndexOptions(full_fraction=fraction)
            ) as result:
                doc = json.loads(output.dumps(output.document(result.report())))
                if path == db:
                    figures[f"run{n}"] = result.counts
                    current = {c["id"] for c in doc["clusters"]}
                    # An id survives as long as its cluster keeps most of its members.
                    kept = ids & current
                    figures[f"run{n}_ids_kept"] = (len(kept), len(ids))
                    ids = current
                else:
                    forced_doc = doc
        fresh = scratch_document(live, config)
        assert without_ids(doc) == without_ids(fresh), f"step {n}"
        assert without_ids(forced_doc) == without_ids(fresh), f"step {n} (forced)"
    figures["articles"] = fresh["counts"]["articles"]
    figures["clusters"] = fresh["counts"]["clusters"]
    return figures


def test_incremental_result_equals_a_scan_from_scratch(tmp_path):
    figures = _check_equality(tmp_path, base=1500, step=250, steps=2, seed=11)
    assert figures["run1"]["files_reread"] == 1  # the last file of the stream grew
    assert figures["run1"]["files_read"] >= 1
    assert figures["run2"]["files_removed"] == 1


@pytest.mark.slow
def test_incremental_result_equals_a_scan_from_scratch_at_20000_articles(tmp_path):
    figures = _check_equality(tmp_path, base=20_000, step=1_000, steps=2, seed=5)
    print(json.dumps(figures, indent=1))
    assert figures["articles"] >= 20_000


def test_racy_files_are_hashed_again(figures):
    seen = 10_000_000_000
    row = FileRow(
        1, "a.txt", "present", 0, 5, seen - 3 * RACY_NS, seen - 3 * RACY_NS, 7, "x", None, seen
    )
    old = Stat(5, seen - 3 * RACY_NS, seen - 3 * RACY_NS, 7)
    assert _clean(row, old)
    # Modified in the last clock ticks before the index saw it: not trusted.
    racy = Stat(5, seen - RACY_NS // 2, seen - RACY_NS // 2, 7)
    row_racy = FileRow(
        1, "a.txt", "present", 0, 5, racy.mtime_ns, racy.ctime_ns, 7, "x", None, seen
    )
    assert not _clean(row_racy, racy)
    # Any field of the key differs: not trusted.
    for other in (
        Stat(6, old.mtime_ns, old.ctime_ns, 7),
        Stat(5, old.mtime_ns, old.ctime_ns + 1, 7),
    ):
        assert not _clean(row, other)
    figures.add("lying_mtime_cases", 1)


def test_a_rewrite_with_the_old_mtime_restored_is_found(tmp_path, figures):
    dump = tmp_path / "dump"
    shutil.copytree(SAMPLES, dump)
    db = tmp_path / "archive.db"
    assert cli("scan", dump, "--index", db, "--changes").returncode == 10
    target = dump / PRESS
    st = target.stat()
    text = target.read_text()
    target.write_text(text.replace("million", "millions", 1).replace("the ", "a  ", 1))
    assert target.stat().st_size == st.st_size  # same size
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))  # and the old mtime
    second = cli("scan", dump, "--index", db, "--changes")
    assert runs(db)[-1]["counts"]["files_reread"] == 1
    assert second.returncode in (0, 10)
    assert without_ids(index_document(db)) == without_ids(scratch_document(dump))
    figures.add("lying_mtime_cases", 1)


def test_a_file_that_cannot_be_read_keeps_its_articles(tmp_path):
    dump = tmp_path / "dump"
    shutil.copytree(SAMPLES, dump)
    db = tmp_path / "archive.db"
    assert cli("scan", dump, "--index", db, "--changes").returncode == 10
    before = index_document(db)
    (dump / SEVENTEEN).unlink()
    os.mkfifo(dump / SEVENTEEN)  # not a regular file: not read, and not gone either
    log = tmp_path / "dedupe.log"
    second = cli("scan", dump, "--index", db, "--changes", "--log-file", log)
    assert second.returncode == 1
    assert second.stdout == b""  # no article_removed: nothing changed
    warning = f"{SEVENTEEN}: skipped: not a regular file"
    assert second.stderr.decode().splitlines() == [f"dedupe-releases: {warning}"]
    assert index_document(db)["clusters"] == before["clusters"]
    # The log has the same line with a time, and a line for the run with its counts.
    lines = log.read_text().splitlines()
    stamp = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}"
    assert any(re.fullmatch(rf"{stamp} WARNING {re.escape(warning)}", x) for x in lines), lines
    assert any(
        re.fullmatch(rf"{stamp} INFO scan --index .* run 2 partial .*'files_seen': 4,.*", x)
        for x in lines
    ), lines


def test_a_vanished_archive_is_not_retired(tmp_path, figures):
    dump = tmp_path / "dump"
    shutil.copytree(SAMPLES, dump)
    db = tmp_path / "archive.db"
    assert cli("scan", dump, "--index", db).returncode == 0
    before = digest(db)
    for name in (BIG, SEVENTEEN, PRESS):
        (dump / name).unlink()
    refused = cli("scan", dump, "--index", db, "--changes")
    assert refused.returncode == 3
    assert (
        b"missing; check that the archive is mounted, or pass --allow-mass-delete" in refused.stderr
    )
    assert digest(db) == before
    figures.add("mass_delete_refusals", 1)
    allowed = cli("scan", dump, "--index", db, "--changes", "--allow-mass-delete")
    assert allowed.returncode == 10
    removed = [e for e in events(allowed) if e["type"] == "article_removed"]
    assert len(removed) == 5 + 1 + 1


def test_settings_come_from_the_index_and_conflicts_name_both_values(tmp_path):
    db = tmp_path / "archive.db"
    assert (
        cli(
            "scan", SAMPLES, "--index", db, "-t", "0.8", "--num-perm", "64", "--bands", "8"
        ).returncode
        == 0
    )
    again = cli("scan", SAMPLES, "--index", db, "-f", "json")
    assert again.returncode == 0, again.stderr
    params = json.loads(again.stdout)["parameters"]
    assert (params["threshold"], params["num_perm"], params["bands"]) == (0.8, 64, 8)
    clash = cli("scan", SAMPLES, "--index", db, "--num-perm", "128", "--bands", "16")
    assert clash.returncode == 3
    assert b"--num-perm 64; this run asks for 128" in clash.stderr


DECISIONS = f"""
# reviewed on 2024-05-01
same = [["{PRESS}#1", "{TRADE}#1"]]
different = [["{KURZ}#3", "{KURZ}#4"]]
canonical = ["{SEVENTEEN}#1"]
"""


def test_decisions_are_honoured_shown_and_kept(tmp_path):
    decisions = tmp_path / "decisions.toml"
    decisions.write_text(DECISIONS)
    db = tmp_path / "archive.db"
    assert cli("scan", SAMPLES, "--index", db).returncode == 0
    run = cli("scan", SAMPLES, "--index", db, "--decisions", decisions, "--changes")
    assert run.returncode == 10, run.stderr
    kinds = sorted((e["type"], e["cluster"]) for e in events(run))
    assert ("cluster_removed", "c1b075a5471") in kinds  # the Kurz pair: decided different
    assert ("canonical_changed", "c5d71333d2b") in kinds  # pinned
    assert any(k == "new_cluster" for k, _ in kinds)  # the rewrite pair: decided same

    doc = index_document(db)
    by_canonical = {c["canonical"]["id"]: c for c in doc["clusters"]}
    pinned = by_canonical[f"{SEVENTEEN}#1"]
    assert pinned["id"] == "c5d71333d2b"
    assert pinned["reasons"] == ["pinned: chosen by a reviewer (decisions file)"]
    decided = by_canonical[f"{PRESS}#1"]
    assert [m.get("decision") for m in decided["members"]] == [None, "same"]
    kurz = [r for r in doc["related"] if r["a"] == f"{KURZ}#3"]
    assert kurz and kurz[0]["decision"] == "different"

    # A plain scan with the same decisions agrees; later runs keep them without the flag.
    plain = scratch_document(SAMPLES, decisions=_decisions(decisions))
    assert without_ids(doc) == without_ids(plain)
    later = cli("scan", SAMPLES, "--index", db, "--changes")
    assert (later.returncode, later.stdout) == (0, b"")
    assert index_document(db) == doc


def _decisions(path: Path) -> Any:
    from dedupe_releases.decisions import load_decisions

    return load_decisions(path)


def test_bad_decisions_files_are_usage_errors(tmp_path):
    bad = tmp_path / "d.toml"
    for text, message in (
        ('same = [["a#1"]]', b"same entry 1 is not a pair of two article ids"),
        ('same = [["a#1", "b#1"]]\ndifferent = [["b#1", "a#1"]]', b"both same and different"),
        ("colour = 1", b"unknown key 'colour'"),
        ("same = [", b"not valid TOML"),
    ):
        bad.write_text(text)
        proc = cli("scan", SAMPLES, "--decisions", bad)
        assert proc.returncode == 2, text
        assert message in proc.stderr, proc.stderr


def test_the_index_behind_the_memory_store_seam(tmp_path):
    db = tmp_path / "seam.db"
    config = Config()
    index = Index.open(db, config)
    try:
        final = Index(index.con, db, final=True)
        with_index = output.document(scan([SAMPLES], config, store=final))
    finally:
        index.close()
    assert with_index == output.document(scan([SAMPLES], config))


def _words(rng: Any, n: int) -> str:
    return " ".join(rng.choice(_VOCABULARY) for _ in range(n))


_VOCABULARY = [
    f"{a}{b}"
    for a in ("ka", "lo", "mi", "nu", "pe", "ro", "su", "ti")
    for b in ("ba", "de", "fi", "go", "hu", "ja", "ke", "lu", "mo", "ne", "pi", "qu")
]


def _article(title: str, body: str) -> str:
    return f"Press release: {title}\n\n{body}\n"


def test_bucket_limits_and_moving_star_centres_match_a_scan_from_scratch(tmp_path):
    """LSH buckets crossing max_bucket_pairs (all pairs <-> a star, whose centre moves when
    an earlier copy arrives or the first leaves), sentences crossing MAX_SENTENCE_ARTICLES,
    exact-copy groups losing their first member: each step equals a scan from scratch."""
    import random

    rng = random.Random(3)
    text = _words(rng, 400)

    def near(name: str, n: int) -> None:
        # A unique tail: a distinct text (no exact-copy route) whose band keys mostly equal
        # the other copies' (Jaccard ~0.99), so the buckets hold most copies.
        (dump / name).write_text(_article("Common release", f"{text} ref{n}."))

    exact = _article("Another release", _words(rng, 120) + ".")
    s1 = "Shared boilerplate sentence number one has more than eight words in it."
    s2 = "Shared boilerplate sentence number two also has more than eight words."
    dump = tmp_path / "dump"
    dump.mkdir()

    def quoting(name: str) -> None:
        body = f"{_words(rng, 40)}. {s1} {_words(rng, 40)}. {s2} {_words(rng, 30)}."
        (dump / name).write_text(_article(_words(rng, 4), body))

    config = Config()
    base = config.sketch.max_bucket_pairs - 2  # all pairs, until the 20 below arrive
    for i in range(base):
        near(f"m{i:03d}.txt", i)
    for i in range(3):
        (dump / f"x{i}.txt").write_text(exact)
        (dump / f"y{i}.txt").write_text("Press release: ***\n\n\u2014 \u2026 \u2014\n")  # no words
    for i in range(19):
        quoting(f"q{i:03d}.txt")

    steps = [
        lambda: None,
        # 20 copies that sort first: buckets become stars around a new centre; the
        # boilerplate sentences reach 22 articles and stop counting.
        lambda: (
            [near(f"a{i:02d}.txt", 100 + i) for i in range(20)]
            + [quoting(f"r{i:03d}.txt") for i in range(3)]
        ),
        # Still stars, but an earlier copy arrives: the centre moves.
        lambda: near("0first.txt", 200),
        # The centre and 20 more leave: all pairs again; the sentences count again; the
        # exact group loses its first member.
        lambda: (
            [(dump / f"a{i:02d}.txt").unlink() for i in range(20)]
            + [
                (dump / "0first.txt").unlink(),
                (dump / "x0.txt").unlink(),
                (dump / "y0.txt").unlink(),
            ]
            + [(dump / f"r{i:03d}.txt").unlink() for i in range(2)]
        ),
    ]
    db, forced = tmp_path / "a.db", tmp_path / "b.db"
    candidates = []
    for n, step in enumerate(steps):
        step()
        fresh = without_ids(scratch_document(dump, config))
        candidates.append(fresh["counts"]["candidates"])
        for path, fraction in ((db, 0.25), (forced, float("inf"))):
            with scan_incremental([dump], config, path, IndexOptions(full_fraction=fraction)) as r:
                doc = json.loads(output.dumps(output.document(r.report())))
            assert without_ids(doc) == fresh, f"step {n}, full_fraction {fraction}"
            assert digest(path)
    # The star steps really have fewer candidate pairs than all-pairs would give.
    all_pairs = (base + 20) * (base + 19) // 2 - base * (base - 1) // 2
    assert candidates[1] < candidates[0] + all_pairs // 2


def test_an_index_keeps_the_bucket_star_limit_it_was_built_with(tmp_path):
    """An index built with another ``max_bucket_pairs`` (64, before it was a setting) keeps
    it: the command line adopts it, so the next run adds no error and finds the same pairs as
    a scan from scratch with that limit, where the default would make a star."""
    import dataclasses
    import random

    rng = random.Random(4)
    text = _words(rng, 300)
    dump = tmp_path / "dump"
    dump.mkdir()
    for i in range(12):  # 12 near copies: one bucket of 12, all pairs under 64, a star under 8
        (dump / f"m{i:02d}.txt").write_text(_article("Common release", f"{text} ref{i}."))
    old = Config()
    old = dataclasses.replace(old, sketch=dataclasses.replace(old.sketch, max_bucket_pairs=64))
    assert Config().sketch.max_bucket_pairs < 12 <= old.sketch.max_bucket_pairs
    db = tmp_path / "old.db"
    with scan_incremental([dump], old, db, IndexOptions()):
        pass
    (dump / "m99.txt").write_text(_article("Common release", f"{text} ref99."))
    proc = cli("scan", dump, "--index", db, "-f", "json")
    assert proc.returncode == 0, proc.stderr
    found = json.loads(proc.stdout)["counts"]["candidates"]
    assert found == scratch_document(dump, old)["counts"]["candidates"]
    assert found > scratch_document(dump)["counts"]["candidates"]

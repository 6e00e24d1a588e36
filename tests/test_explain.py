"""`explain`: scores, relation, repairs and a side-by-side diff, safe for any terminal."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from conftest import KURZ, PRESS, SAMPLES, TRADE
from rich.cells import cell_len
from rich.console import Console

from dedupe_releases.config import Config
from dedupe_releases.explain import Found, differing_facts, explain_pair, find_article, render
from dedupe_releases.records import Article, Fix

# D4: markup, CSI, OSC title and OSC 8 link, C1 CSI, bidi override, an unbalanced close tag.
HOSTILE = (
    "[bold red]x[/] [link=https://example.invalid]y[/link] [/] "
    "\x1b[2J\x1b]0;t\x07 \x1b]8;;https://example.invalid\x1b\\z\x1b]8;;\x1b\\ "
    "\u009b31m \u202eevil <script>alert(1)</script> \rover\x08write \u2066iso\x07bell"
)
RICH_SGR = re.compile(r"\x1b\[[0-9;]*m")
UNSAFE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def _pair(a: str, b: str):
    config = Config()
    return explain_pair(find_article(a, SAMPLES, config), find_article(b, SAMPLES, config), config)


def _explain(a: str, b: str, *extra: str, run_cli) -> str:
    run = run_cli("explain", a, b, "--root", str(SAMPLES), *extra)
    assert run.exit_code == 0, run.stderr
    assert run.stderr == ""
    return run.stdout


def test_kurz_pair_shows_the_repaired_title_and_a_similarity_above_the_threshold(run_cli):
    out = _explain(f"{KURZ}#3", f"{KURZ}#4", run_cli=run_cli)
    assert "Relation: near" in out
    jaccard = re.search(r"Jaccard \(exact\)\s+([0-9.]+)\s+≥ 0\.7 for a copy\s+yes", out)
    assert jaccard is not None, out
    assert float(jaccard.group(1)) > 0.7
    assert re.search(r"rapidfuzz ratio\s+([0-9.]+)\s+≥ 80 for a copy\s+yes", out)
    # The title of #4 was joined from two paragraphs, one in link brackets; #3 was whole.
    assert "found whole on line 266" in out
    assert "joined from two paragraphs; as found on lines 282–284:" in out
    assert "Press release: Prime Minister's meeting with Chancellor Kurz of\n" in out
    assert "[Austria: 9 July 2018](#)" in out
    flat = " ".join(out.split())
    assert "title_join ×1 (title joined from two paragraphs)" in flat
    assert "link_brackets ×1 (link brackets unwrapped)" in flat
    # Piped: no colour, and the line #4 lacks is marked as removed.
    assert "\x1b" not in out
    assert "[-A Downing Street spokesperson said:-]" in flat


def test_rewrite_pair_shows_related_and_the_shared_passages(run_cli):
    out = _explain(f"{PRESS}#1", f"{TRADE}#1", run_cli=run_cli)
    assert "Relation: related" in out
    assert "shares passages but is not a copy" in out
    assert re.search(r"Jaccard \(exact\)\s+0\.173\s+≥ 0\.7 for a copy\s+no", out)
    assert "Shared passages (4 long sentences in both)" in out
    flat = " ".join(out.split())
    assert "1. There is nothing more important than the safety and wellbeing of children." in flat
    assert "4. My commitment is that we will build a self-improving system" in flat
    # The trade paper says £20m where the release says £20 million.
    assert re.search(r"only in A\s+£20 million", out)
    assert re.search(r"only in B\s+£20m", out)
    assert "boilerplate ×11" in out


def test_every_score_is_shown_once(run_cli):
    out = _explain(f"{KURZ}#3", f"{KURZ}#4", run_cli=run_cli)
    for label in (
        "MinHash estimate of Jaccard",
        "word 5-shingle Jaccard (exact)",
        "rapidfuzz ratio",
        "containment of A in B",
        "containment of B in A",
        "shared long sentences",
    ):
        assert out.count(label) == 1, label


def test_scores_match_what_scan_reports(run_cli):
    doc = run_cli("scan", str(SAMPLES), "--format", "json").json
    rel = doc["related"][0]
    config = Config()
    pair = explain_pair(
        find_article(rel["a"], SAMPLES, config), find_article(rel["b"], SAMPLES, config), config
    )
    assert pair.scores.as_dict() == rel["scores"]
    assert pair.match is not None
    assert list(pair.match.evidence) == rel["evidence"]
    # Containment is of the smaller set: the larger of the two directions.
    assert max(pair.contained_ab, pair.contained_ba) == pytest.approx(pair.scores.containment)
    kurz = next(c for c in doc["clusters"] if c["canonical"]["id"] == f"{KURZ}#3")
    pair = _pair(f"{KURZ}#3", f"{KURZ}#4")
    assert round(pair.scores.jaccard, 4) == kurz["weakest_similarity"]
    assert abs(pair.minhash - pair.scores.jaccard) < 0.1


def test_files_and_file_ids_work_without_root(run_cli, tmp_path):
    (tmp_path / "one.txt").write_text("The minister said the plan will cost more than expected.\n")
    (tmp_path / "two.txt").write_text("The minister said the plan will cost less than expected.\n")
    run = run_cli("explain", str(tmp_path / "one.txt"), str(tmp_path / "two.txt"))
    assert run.exit_code == 0, run.stderr
    assert "[-more-]" in run.stdout and "{+less+}" in run.stdout
    run = run_cli("explain", f"{SAMPLES}/{KURZ}#3", f"{SAMPLES}/{KURZ}#4")
    assert run.exit_code == 0 and "Relation: near" in run.stdout


def test_bad_references_are_usage_errors_with_one_line(run_cli, tmp_path):
    run = run_cli("explain", "nope.txt#1", f"{KURZ}#3", "--root", str(SAMPLES))
    assert run.exit_code == 2
    assert run.stderr.startswith("dedupe-releases: nope.txt#1: neither an article id")
    assert run.stderr.count("\n") == 1
    run = run_cli("explain", f"{KURZ}#9", f"{KURZ}#3", "--root", str(SAMPLES))
    assert run.exit_code == 2 and "has no article #9 (it holds 5)" in run.stderr
    run = run_cli("explain", KURZ, f"{KURZ}#3", "--root", str(SAMPLES))
    assert run.exit_code == 2 and "holds 5 articles; name one:" in run.stderr
    (tmp_path / "bin.txt").write_bytes(b"abc\x00def")
    run = run_cli("explain", str(tmp_path / "bin.txt"), f"{SAMPLES}/{KURZ}#3")
    assert run.exit_code == 4 and "binary" in run.stderr


def test_full_shows_identical_paragraphs_that_are_folded_by_default(run_cli):
    short = _explain(f"{KURZ}#3", f"{KURZ}#4", run_cli=run_cli)
    full = _explain(f"{KURZ}#3", f"{KURZ}#4", "--full", run_cli=run_cli)
    assert "identical paragraphs ⋯" in short
    assert "identical paragraph" not in full
    assert "stability and prosperity" in " ".join(full.split())


def test_piped_output_is_plain_and_has_no_trailing_spaces(run_process):
    proc = run_process("explain", f"{KURZ}#3", f"{KURZ}#4", "--root", "samples/dump")
    assert proc.returncode == 0 and proc.stderr == b""
    out = proc.stdout.decode()
    assert "\x1b" not in out
    assert all(line == line.rstrip() for line in out.splitlines())


@pytest.mark.parametrize("width", [50, 80, 160])
def test_output_wraps_to_the_terminal_width(width):
    config = Config()
    pair = explain_pair(
        find_article(f"{PRESS}#1", SAMPLES, config),
        find_article(f"{TRADE}#1", SAMPLES, config),
        config,
    )
    buffer = io.StringIO()
    render(pair, Console(file=buffer, width=width, color_system=None))
    lines = buffer.getvalue().splitlines()
    assert max(cell_len(line) for line in lines) <= width
    assert max(cell_len(line) for line in lines) >= width - 10  # and uses it


def test_colour_marks_changes_with_styles_not_brackets():
    pair = _pair(f"{KURZ}#3", f"{KURZ}#4")
    console = Console(width=100, force_terminal=True, color_system="truecolor", record=True)
    with console.capture() as cap:
        render(pair, console, markers=False)
    out = cap.get()
    assert "\x1b[" in out
    assert "[-A Downing" not in out
    assert "A Downing Street spokesperson said:" in RICH_SGR.sub("", out)


def _hostile_article(ident: str, title: str, body: str) -> Article:
    return Article(
        id=ident,
        source=ident.partition("#")[0],
        ordinal=1,
        lines=(1, 3),
        kind="Press release",
        title=title,
        body=body,
        content_hash=ident,
        fixes=(Fix(HOSTILE, 1),),
    )


@pytest.mark.parametrize("color_system", [None, "truecolor"])
def test_hostile_titles_texts_and_ids_cannot_drive_the_terminal(color_system):
    """D4: the data is shown literally; no ESC, C1 or bidi control reaches the terminal."""
    body = f"Shared sentence that is long enough to count here. {HOSTILE}"
    a = _hostile_article(f"{HOSTILE}.txt#1", HOSTILE, body)
    b = _hostile_article("b\x1b[31m.txt#1", f"other {HOSTILE}", body + " more words")
    raw = f"Press release: {HOSTILE}\n\n{body}\n"
    pair = explain_pair(Found(a, raw), Found(b, raw), Config())
    console = Console(width=120, force_terminal=True, color_system=color_system, record=True)
    with console.capture() as cap:
        render(pair, console, markers=color_system is None)
    out = cap.get()
    if color_system is None:
        assert "\x1b" not in out
    visible = RICH_SGR.sub("", out)
    assert "\x1b" not in visible, repr(visible)
    assert not UNSAFE.search(visible.replace("\n", "")), repr(UNSAFE.findall(visible))
    flat = " ".join(visible.split())
    assert "[bold red]x[/]" in flat  # markup shown literally
    assert "[link=https://example.invalid]y[/link]" in flat
    assert "\\x1b[2J" in flat and "\\x9b31m" in flat and "\\u202e" in flat
    assert "\\x0dover\\x08write \\u2066iso\\x07bell" in flat
    assert "<script>alert(1)</script>" in flat


def test_hostile_file_names_and_titles_through_the_command(run_cli, tmp_path):
    name = "[bold red]x[red]\x1b[2J\u202e.txt"
    (tmp_path / name).write_text(f"Press release: {HOSTILE}\n\nThe body of the first one.\n")
    (tmp_path / "b.txt").write_text(f"Press release: {HOSTILE}\n\nThe body of the other one.\n")
    run = run_cli("explain", name, "b.txt", "--root", str(tmp_path))
    assert run.exit_code == 0, run.stderr
    assert "\x1b" not in run.stdout and "\u202e" not in run.stdout
    assert "[bold red]x[red]\\x1b[2J\\u202e.txt" in run.stdout
    assert "[link=https://example.invalid]y[/link]" in " ".join(run.stdout.split())


def test_differing_facts_counts_repeats():
    assert differing_facts("£5m and £5m", "£5m") == (("only in A", "£5m"),)
    assert differing_facts("In 2017, 36 councils", "In 2017, 36 councils") == ()


def test_the_readme_example_ids_exist():
    config = Config()
    for ref in (f"{KURZ}#3", f"{KURZ}#4", f"{PRESS}#1", f"{TRADE}#1"):
        assert find_article(ref, SAMPLES, config).article.id == ref
    assert find_article(str(Path(SAMPLES, KURZ)) + "#2", Path("/nonexistent"), config)

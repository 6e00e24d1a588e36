"""`report`: one self-contained, escaped HTML page from a scan or from its JSON."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import KURZ, PRESS, SAMPLES, TRADE

from dedupe_releases.report import render_report

HOSTILE_TITLES = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(2)>',
    "'><svg onload=alert(3)>",
    "</textarea></style></script><b>bold</b>",
    "{{ 7*7 }} {% raw %}",
    "javascript:alert(4)",
    "\x1b[2J\u202eevil",
]


class Page(HTMLParser):
    """Tags with their attributes, and the text a reader sees."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.scripts: list[str] = []
        self._in_script = False
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag):
        self._in_script = False

    def handle_data(self, data):
        (self.scripts if self._in_script else self.text).append(data)

    @property
    def visible(self) -> str:
        return " ".join(" ".join(self.text).split())


def assert_inert(html: str) -> Page:
    """No markup from data: one script (ours), no handlers, nothing fetched from anywhere."""
    page = Page(html)
    names = [t for t, _ in page.tags]
    assert names.count("script") == 1
    for tag, attrs in page.tags:
        assert tag not in {"img", "iframe", "object", "embed", "link", "base", "form", "b"}, tag
        for name, value in attrs.items():
            assert not name.startswith("on"), (tag, name)
            if name in {"src", "href", "action", "srcset", "poster", "data"}:
                assert (value or "").startswith("#"), (tag, name, value)
            if tag == "svg" and name == "xmlns":
                continue
            assert "javascript:" not in (value or "").lower() or name == "content"
    policy = next(
        a["content"] for t, a in page.tags if a.get("http-equiv") == ("Content-Security-Policy")
    )
    digest = base64.b64encode(hashlib.sha256(page.scripts[0].encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in policy
    assert "default-src 'none'" in policy
    return page


def test_report_of_samples(run_cli, tmp_path):
    out = tmp_path / "report.html"
    run = run_cli("report", str(SAMPLES), "-o", str(out))
    assert run.exit_code == 0, run.stderr
    assert run.stdout == "" and run.stderr == ""
    html = out.read_text("utf-8")
    page = assert_inert(html)
    text = page.visible
    assert "Minister announces £17 million to improve children's services" in text
    assert "Prime Minister's meeting with Chancellor Kurz of Austria: 9 July 2018" in text
    assert "whole_title: also title found whole" in text
    assert "Diff of 004_70741a213c6bd5e9.txt#4 against the canonical: 1 paragraph differs" in text
    assert html.count('data-filter="cluster"') == 2
    assert html.count('data-filter="relation"') == 1
    assert "<del>A Downing Street spokesperson said:</del>" in html
    assert "Shared passages (4)" in text
    assert text.count("<svg") == 0 and html.count("<svg") == 2
    assert "threshold 0.7" in text


def test_report_is_deterministic_and_the_same_from_json(run_cli, run_process, tmp_path):
    first = run_process("report", "samples/dump", "-o", str(tmp_path / "a.html"))
    second = run_process(
        "report", "samples/dump", "-o", str(tmp_path / "b.html"), env={"PYTHONHASHSEED": "7"}
    )
    assert first.returncode == second.returncode == 0
    assert (tmp_path / "a.html").read_bytes() == (tmp_path / "b.html").read_bytes()
    scan = run_cli("scan", str(SAMPLES), "-o", str(tmp_path / "scan.json"))
    assert scan.exit_code == 0
    run = run_cli(
        "report",
        "--from",
        str(tmp_path / "scan.json"),
        "--root",
        str(SAMPLES),
        "-o",
        str(tmp_path / "c.html"),
    )
    assert run.exit_code == 0, run.stderr
    assert (tmp_path / "c.html").read_bytes() == (tmp_path / "a.html").read_bytes()


def test_report_from_json_without_root_shows_canonicals_but_no_diffs(run_cli, tmp_path):
    doc = run_cli("scan", str(SAMPLES), "--format", "json").stdout
    run = run_cli("report", "--from", "-", "-o", "-", input=doc)
    assert run.exit_code == 0, run.stderr
    page = assert_inert(run.stdout)
    assert page.visible.count("Text not available") == 2
    assert "Children and Families Minister Nadhim Zahawi has today announced" in page.visible


def test_report_from_json_reads_nothing_outside_root(run_cli, tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    (tmp_path / "secret.txt").write_text("Press release: TOP SECRET\n\nthe secret body\n")
    (root / "link.txt").symlink_to(tmp_path / "secret.txt")
    doc = json.loads(run_cli("scan", str(SAMPLES), "--format", "json").stdout)
    member = doc["clusters"][0]["members"][1]
    for source in ("../secret.txt", str(tmp_path / "secret.txt"), "link.txt"):
        member["id"], member["source"], member["title"] = f"{source}#1", source, "TOP SECRET"
        (tmp_path / "doc.json").write_text(json.dumps(doc))
        run = run_cli(
            "report", "--from", str(tmp_path / "doc.json"), "--root", str(root), "-o", "-"
        )
        assert run.exit_code == 0
        assert "the secret body" not in run.stdout


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{not json", "not JSON"),
        (b'{"schema_version": 99}', "not a dedupe-releases scan document"),
        (b"[]", "not a dedupe-releases scan document"),
        (b'{"schema_version": 1, "clusters": 5}', "clusters is not a list"),
    ],
)
def test_bad_scan_documents_are_one_line_exit_4(run_cli, tmp_path, content, message):
    (tmp_path / "doc.json").write_bytes(content)
    run = run_cli("report", "--from", str(tmp_path / "doc.json"), "-o", str(tmp_path / "r.html"))
    assert run.exit_code == 4
    assert message in run.stderr and run.stderr.count("\n") == 1
    assert not (tmp_path / "r.html").exists()


@pytest.mark.parametrize(
    "damage",
    [
        lambda d: d["clusters"][0].pop("members"),
        lambda d: d["clusters"][0].update(weakest_similarity="high"),
        lambda d: d["related"][0].update(scores=7),
        lambda d: d["clusters"][0]["members"][1].update(lines=[]),
    ],
)
def test_damaged_scan_documents_are_one_line_exit_4(run_cli, tmp_path, damage):
    doc = json.loads(run_cli("scan", str(SAMPLES), "--format", "json").stdout)
    damage(doc)
    (tmp_path / "doc.json").write_text(json.dumps(doc))
    run = run_cli("report", "--from", str(tmp_path / "doc.json"), "-o", str(tmp_path / "r.html"))
    assert run.exit_code == 4
    assert "not a valid scan document" in run.stderr and run.stderr.count("\n") == 1
    assert not (tmp_path / "r.html").exists()


def test_paths_or_from_but_not_both(run_cli, tmp_path):
    assert run_cli("report", "-o", str(tmp_path / "r.html")).exit_code == 2
    both = run_cli("report", str(SAMPLES), "--from", "x.json", "-o", str(tmp_path / "r.html"))
    assert both.exit_code == 2


def _hostile_doc(run_cli) -> dict:
    doc = json.loads(run_cli("scan", str(SAMPLES), "--format", "json").stdout)
    for i, cluster in enumerate(doc["clusters"]):
        title = HOSTILE_TITLES[i % len(HOSTILE_TITLES)]
        cluster["id"] = '"><script>alert(5)</script>'
        cluster["canonical"]["title"] = title
        cluster["canonical"]["text"] = "\n\n".join(HOSTILE_TITLES)
        cluster["reasons"] = HOSTILE_TITLES
        cluster["extra_field"] = {"<b>k</b>": "<script>alert(6)</script>"}
        for m in cluster["members"]:
            m["title"] = title
            m["source"] = HOSTILE_TITLES[1]
            m["kind"] = HOSTILE_TITLES[2]
    rel = doc["related"][0]
    rel["a_title"], rel["b_title"] = HOSTILE_TITLES[0], HOSTILE_TITLES[1]
    rel["relation"] = '"><script>alert(7)</script>'
    rel["evidence"] = HOSTILE_TITLES
    rel["facts"] = [{"what": "<script>alert(8)</script>", "a": "£20 million", "b": "£20m"}]
    doc["skipped"] = [{"source": t, "reason": t} for t in HOSTILE_TITLES]
    doc["parameters"]["<script>"] = "</script>"
    return doc


def test_hostile_strings_in_a_scan_document_stay_text(run_cli):
    doc = _hostile_doc(run_cli)
    html = render_report(doc, lambda article_id: "\n\n".join(HOSTILE_TITLES))
    page = assert_inert(html)
    for title in HOSTILE_TITLES[:6]:
        assert title in page.visible
    assert "£20 million" in page.visible  # an unknown key (facts) is shown, as text
    assert "<script>alert" not in html.replace("&lt;script&gt;alert", "")


def hostile_dump(dump: Path) -> Path:
    """Two copies of a release under each hostile title; the releases differ from each other."""
    dump.mkdir()
    for n, title in enumerate(HOSTILE_TITLES):
        body = "The " + " ".join(f"council{n} plan{k} region{n * k}" for k in range(30)) + "."
        for copy in range(2):
            (dump / f"{n}_{copy}.txt").write_text(f"Press release: {title}\n\n{body}\n")
    return dump


def test_hostile_titles_in_files_stay_text(run_cli, tmp_path):
    dump = hostile_dump(tmp_path / "dump")
    out = tmp_path / "r.html"
    run = run_cli("report", str(dump), "-o", str(out))
    assert run.exit_code == 0, run.stderr
    page = assert_inert(out.read_text("utf-8"))
    assert "<script>alert(1)</script>" in page.visible
    assert '"><img src=x onerror=alert(2)>' in page.visible
    assert out.read_text("utf-8").count('data-filter="cluster"') == len(HOSTILE_TITLES)


def test_a_scan_without_clusters_still_makes_a_page(run_cli, tmp_path):
    (tmp_path / "one.txt").write_text("Press release: Alone\n\nNothing else is like this text.\n")
    run = run_cli("report", str(tmp_path / "one.txt"), "-o", "-")
    assert run.exit_code == 0
    page = assert_inert(run.stdout)
    assert "No copies found." in page.visible and "nothing to show" in page.visible


def test_readme_ids_are_in_the_report(run_cli):
    run = run_cli("report", str(SAMPLES), "-o", "-")
    for article_id in (f"{KURZ}#3", f"{KURZ}#4", f"{PRESS}#1", f"{TRADE}#1"):
        assert article_id in run.stdout
    assert re.search(r"<title>dedupe-releases report: 2 clusters</title>", run.stdout)
    assert Path(SAMPLES).is_dir()

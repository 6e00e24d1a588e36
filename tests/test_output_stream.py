"""The scan's JSON is written in pieces, byte for byte as the whole document dumped at once.

The reference is the former writer: ``json.dumps`` of ``output.document(result)`` with an
indent of 2, escaped by ``output.dumps``, and a newline; for JSON Lines, ``output.dumps`` of
each of ``output.records(result)``.
"""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest
from harness import generate_archive
from hypothesis import given, settings
from hypothesis import strategies as st

from dedupe_releases import output
from dedupe_releases.pipeline import ScanResult, scan

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples" / "dump"


def whole_json(result: ScanResult) -> bytes:
    return output.dumps(output.document(result), indent=2) + b"\n"


def whole_jsonl(result: ScanResult) -> bytes:
    return b"".join(output.dumps(r) + b"\n" for r in output.records(result))


def written(result: ScanResult, fmt: str) -> bytes:
    buffer = io.BytesIO()
    (output.write_jsonl if fmt == "jsonl" else output.write_json)(result, buffer)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dump = generate_archive(tmp_path_factory.mktemp("gen"), 600, seed=7)
    # Strings the escaping must keep as they were: line separators and controls (in a file
    # name: the text's are repaired), non-ASCII, a name that is not UTF-8, a skipped file.
    odd = 'Caf\u00e9 \u2028 line\u2029 sep \x85 next \x1b[31m red \U0001f600 "quoted" \\ back'
    text = f"ODD TITLE {odd}\n\n" + ("Body sentence with words about the harbour. " * 12) + "\n"
    (dump / "odd_a.txt").write_text(text, encoding="utf-8")
    (dump / "odd_b\u2028\x1b.txt").write_text(text + "One more line.\n", encoding="utf-8")
    (dump / b"name_\xff.txt".decode("utf-8", "surrogateescape")).write_bytes(text.encode())
    (dump / "binary.txt").write_bytes(b"\x00\x01\x02" * 100)
    return dump


@pytest.mark.parametrize("fmt", ["json", "jsonl"])
def test_samples_bytes_equal_whole_document(fmt: str) -> None:
    result = scan([SAMPLES], jobs=1)
    assert result.clusters and result.related
    reference = whole_jsonl(result) if fmt == "jsonl" else whole_json(result)
    assert written(result, fmt) == reference


@pytest.mark.parametrize("fmt", ["json", "jsonl"])
def test_generated_archive_bytes_equal_whole_document(archive: Path, fmt: str) -> None:
    result = scan([archive], jobs=2)
    assert len(result.clusters) > 10 and result.skipped
    reference = whole_jsonl(result) if fmt == "jsonl" else whole_json(result)
    assert b"\\u2028" in reference and b"source_bytes" in reference
    assert written(result, fmt) == reference


def test_empty_lists_and_cli_file_equal_stdout(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    result = scan([empty], jobs=1)
    assert written(result, "json") == whole_json(result)
    assert b'"clusters": [],' in written(result, "json")
    # -o (atomic file) and stdout carry the same bytes.
    target = tmp_path / "out.json"
    cmd = [sys.executable, "-m", "dedupe_releases", "scan", str(SAMPLES), "-f", "json"]
    piped = subprocess.run(cmd, capture_output=True, check=False)
    filed = subprocess.run([*cmd, "-o", str(target)], capture_output=True, check=False)
    assert piped.returncode == filed.returncode
    assert piped.stdout == target.read_bytes() == whole_json(scan([SAMPLES], jobs=1))


_JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(alphabet=st.characters(), max_size=8),
    lambda children: (
        st.lists(children, max_size=4)
        | st.tuples(children, children)
        | st.dictionaries(st.text(max_size=4), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=1000, deadline=None)
@given(_JSON_VALUES, st.integers(0, 3))
def test_indented_values_are_json_dumps_bytes(value, level):
    import json

    encoder = json.JSONEncoder(ensure_ascii=False, allow_nan=False, indent=2)
    parts: list[str] = []
    output._indented(value, "\n" + "  " * level, parts, encoder)
    expected = json.dumps(value, ensure_ascii=False, allow_nan=False, indent=2)
    assert "".join(parts) == expected.replace("\n", "\n" + "  " * level)


@pytest.mark.parametrize("value", [float("nan"), {"a": [float("inf")]}, {"a": object()}])
def test_indented_values_refuse_what_json_refuses(value):
    import json

    encoder = json.JSONEncoder(ensure_ascii=False, allow_nan=False, indent=2)
    with pytest.raises((ValueError, TypeError)):
        output._indented(value, "\n", [], encoder)


def _subclassed_values():
    import collections
    import enum

    class Level(enum.IntEnum):
        HIGH = 3

    class Name(str):
        pass

    Pair = collections.namedtuple("Pair", "a b")
    return [
        collections.OrderedDict([("b", 1), ("a", [True, None, 2.5])]),
        Pair(Name("x"), Level.HIGH),
        {"k": Pair(1, {"n": Name("y")}), "e": [], "d": {}, "f": False, "i": Level.HIGH},
        [Name("z"), (1, (2,)), {"x": [Level.HIGH]}],
    ]


@pytest.mark.parametrize("value", _subclassed_values())
@pytest.mark.parametrize("level", [0, 2])
def test_indented_subclasses_are_json_dumps_bytes(value, level):
    """Containers, strings and integers of a subclass take the same bytes as ``json`` gives
    them (a named tuple as a list, an ``IntEnum`` as its number)."""
    import json

    encoder = json.JSONEncoder(ensure_ascii=False, allow_nan=False, indent=2)
    parts: list[str] = []
    output._indented(value, "\n" + "  " * level, parts, encoder)
    expected = json.dumps(value, ensure_ascii=False, allow_nan=False, indent=2)
    assert "".join(parts) == expected.replace("\n", "\n" + "  " * level)

"""Run the reliability scenarios and print the figures table of the README.

    python scripts/reliability.py               # the CI sample, with the slow checks too
    python scripts/reliability.py --exhaustive  # nightly: 100,000 fuzz examples, 200 CLI
                                                # fuzz runs, 30 signals, a SIGKILL at every
                                                # write of a run, 2,000 damaged indexes, ...

It runs the scenario tests (``FILES``) with ``DEDUPE_RELIABILITY_REPORT`` set, so each test
adds what it tried to a JSON Lines file, then prints one Markdown row per figure with the
command that produced it. A failed test is a failed promise: its file's row says so, and the
script exits 1.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FILES = [
    "tests/test_bad_input.py",
    "tests/test_fuzz.py",
    "tests/test_faults.py",
    "tests/test_output_streams.py",
    "tests/test_security.py",
    "tests/test_exit_codes.py",
    "tests/test_export.py",
    "tests/test_index.py",
    "tests/test_incremental.py",
    "tests/test_index_faults.py",
    "tests/test_index_reliability.py",
]
EXHAUSTIVE = {
    "DEDUPE_SCALE_FUZZ": "100000",
    "DEDUPE_SCALE_CLI_FUZZ": "200",
    "DEDUPE_SCALE_SIGNALS": "15",
    "DEDUPE_SCALE_KILLS": "20",
    "DEDUPE_SCALE_WRITE_KILLS": "all",
    "DEDUPE_SCALE_BIG_WRITE_KILLS": "6",
    "DEDUPE_SCALE_DISK_FULL_POINTS": "20",
    "DEDUPE_SCALE_TINY_DISKS": "10",
    "DEDUPE_SCALE_INDEX_FUZZ": "2000",
    "DEDUPE_SCALE_INDEX_CLI_FUZZ": "200",
    "DEDUPE_SCALE_OVERLAP_ROUNDS": "20",
}


def run(
    exhaustive: bool, python: str, tests: list[str]
) -> tuple[Counter[str], dict[str, int], int, str]:
    with tempfile.TemporaryDirectory() as tmp:
        report, junit = Path(tmp) / "figures.jsonl", Path(tmp) / "junit.xml"
        env = {**os.environ, "DEDUPE_RELIABILITY_REPORT": str(report)}
        if exhaustive:
            env.update(EXHAUSTIVE)
        cmd = [
            python,
            "-m",
            "pytest",
            "-q",
            "-m",
            "slow or not slow",
            f"--junitxml={junit}",
            *tests,
        ]
        shown = " ".join(
            [
                *(f"{k}={v}" for k, v in sorted(EXHAUSTIVE.items()) if exhaustive),
                "python -m pytest",
                "-m 'slow or not slow'",
                *tests,
            ]
        )
        proc = subprocess.run(cmd, cwd=ROOT, env=env, check=False)
        figures: Counter[str] = Counter()
        peaks: dict[str, int] = {}
        if report.exists():
            for line in report.read_text().splitlines():
                for key, value in json.loads(line).items():
                    if key.startswith(("rss_", "ms_")):
                        peaks[key] = max(peaks.get(key, 0), value)
                    else:
                        figures[key] += value
        failed: Counter[str] = Counter()
        if junit.exists():
            for case in ET.parse(junit).getroot().iter("testcase"):
                if case.find("failure") is not None or case.find("error") is not None:
                    failed[case.get("classname", "").split(".")[-1]] += 1
        for name, n in failed.items():
            figures[f"failed:{name}"] = n
        return figures, peaks, proc.returncode, shown


def table(figures: Counter[str], peaks: dict[str, int], command: str) -> str:
    def failed(module: str) -> int:
        return figures.get(f"failed:{module}", 0)

    index_failed = failed("test_index_faults") + failed("test_index_reliability")

    def ratio(a: str, b: str) -> str:
        if a in peaks and b in peaks and peaks[b]:
            return f"{peaks[a] / peaks[b]:.2f}"
        return "not run"

    rows = [
        (
            "Bad inputs tried (A1-A13, D5 fixtures) / crashes / exit codes as documented",
            f"{figures['bad_inputs']} / {failed('test_bad_input')} / "
            f"{figures['bad_inputs'] if not failed('test_bad_input') else 'see failures'}",
            "tests/test_bad_input.py, tests/test_security.py",
        ),
        (
            "Fuzz examples (library) and CLI fuzz runs (files) / tracebacks / schema failures",
            f"{figures['fuzz_examples']:,} and {figures['cli_fuzz_runs']} "
            f"({figures['cli_fuzz_files']:,} files) / "
            f"{failed('test_fuzz')} / {failed('test_fuzz')}",
            "tests/test_fuzz.py",
        ),
        (
            "SIGKILL points (B1+B2) / index check failures / digests != baseline / lost or doubled",
            f"{figures['sigkill_points']:,} (of the {figures['sigkill_writes_in_run']:,} writes"
            " of the two small runs: all when exhaustive, a sample in CI) / "
            f"{index_failed} / {index_failed} / {index_failed}",
            "tests/test_index_faults.py, tests/test_index_reliability.py (B1, B2)",
        ),
        (
            "SIGINT+SIGTERM trials / wrong exit code / partial stdout documents / stale locks",
            f"{figures['signal_trials'] + figures['index_signal_trials']} / "
            f"{figures['signal_wrong_exit_code'] + failed('test_index_faults')} / "
            f"{figures['signal_partial_stdout']} / {failed('test_index_faults')}",
            "tests/test_faults.py, tests/test_index_faults.py (B3, C2)",
        ),
        (
            "SIGKILL during --output / files neither old nor new / temp files left after rerun",
            f"{figures['sigkill_output_trials']} / 0 / 0"
            if not failed("test_faults")
            else "FAILED",
            "tests/test_faults.py (C2)",
        ),
        (
            "Disk-full and EIO injection points (index, --output, --log-file) / corrupt indexes"
            " / old --output files damaged",
            f"{figures['disk_full_points'] + figures['eio_points']} (the index refused with"
            f" exit 3 at {figures['index_disk_full_refusals']}) / "
            f"{failed('test_index_reliability')} / {failed('test_faults')}",
            "tests/test_faults.py (B5), tests/test_index_reliability.py (B4, B5)",
        ),
        (
            "Damaged index files opened (bit flips; truncated, foreign -wal, no -wal) /"
            " tracebacks / silently recreated",
            f"{figures['damaged_indexes_opened']:,} in the library +"
            f" {figures['damaged_indexes_cli']} through the command (refused with exit 3:"
            f" {figures['damaged_indexes_refused']:,}; opened and reported the baseline: the rest;"
            f" unnoticed changes: {figures['damaged_indexes_unnoticed']}) / "
            f"{failed('test_index_reliability')} / {failed('test_index_reliability')}",
            "tests/test_index_reliability.py (B7), tests/test_index.py (B7, B8, D3)",
        ),
        (
            "Overlapping-run rounds / concurrent writers / seconds to give up / stale locks",
            f"{figures['overlap_rounds']} / {failed('test_index_faults')} / "
            f"{peaks.get('ms_overlap_give_up', 0) / 1000:.2f} / {failed('test_index_faults')}",
            "tests/test_index_faults.py (B9)",
        ),
        (
            'Reader snapshots and backups during a write / inconsistent / "database is locked"',
            f"{figures['reader_snapshots']} and {figures['backups_during_write']} / "
            f"{failed('test_index_reliability')} / {failed('test_index_reliability')}",
            "tests/test_index_reliability.py (B10)",
        ),
        (
            "Mass-delete refusals (archive gone) / index changed by a refused run",
            f"{figures['mass_delete_refusals']} / {failed('test_incremental')}",
            "tests/test_incremental.py (A11)",
        ),
        (
            "Changed-during-read and lying-mtime cases / missed changes",
            f"{figures['changed_while_reading_cases']} and {figures['lying_mtime_cases']} / "
            f"{failed('test_faults') + failed('test_incremental')}",
            "tests/test_faults.py (B11), tests/test_incremental.py and"
            " tests/test_index_reliability.py (B12)",
        ),
        (
            "Clock and time-zone variants / output changed",
            f"{figures['clock_variants']} / {failed('test_faults')}",
            "tests/test_faults.py, tests/test_index_reliability.py (B13)",
        ),
        (
            "`head` closures x commands / tracebacks / non-empty stderr",
            f"{figures['pipe_closures']} / {failed('test_output_streams')} / "
            f"{failed('test_output_streams')}",
            "tests/test_output_streams.py, tests/test_index_reliability.py (C1)",
        ),
        (
            "Determinism variants / distinct output hashes",
            f"{figures['determinism_variants']} / {figures['determinism_distinct_hashes']}",
            "tests/test_output_streams.py (C3)",
        ),
        (
            "Hostile titles (Hypothesis) / files written outside DIR / foreign files overwritten",
            f"{figures['hostile_titles']} / {failed('test_export')} / {failed('test_export')}",
            "tests/test_export.py (D1)",
        ),
        (
            "Injected control strings / control bytes reaching the terminal from data",
            f"{figures['hostile_strings']} / {figures['control_bytes_reaching_terminal']}",
            "tests/test_security.py (D4)",
        ),
        (
            "`pickle` uses in src/ (ruff S301, import check) / planted payloads executed",
            f"{failed('test_security')} / {failed('test_index')} (payloads planted:"
            f" {figures['planted_payloads']}; hostile schemas refused:"
            f" {figures['hostile_index_schemas']})",
            "tests/test_security.py, tests/test_index.py (D2, D3)",
        ),
        (
            "Peak RSS: sparse 2 GB file, gzip bombs (8 MiB cap) / a normal scan",
            f"{ratio('rss_kb_sparse_2gb', 'rss_kb_baseline')}, "
            f"{ratio('rss_kb_gzip_bombs', 'rss_kb_baseline')}",
            "tests/test_bad_input.py (A7, A13)",
        ),
        (
            "Time: 2 x 5 MB line, 2 x 50 MB line / a scan of samples/dump",
            f"{ratio('ms_line_5mb', 'ms_samples')}, {ratio('ms_line_50mb', 'ms_samples')}",
            "tests/test_bad_input.py (A8)",
        ),
        (
            f"Recovery: open + index check after a crash ({figures['recovery_articles']:,}"
            " articles) / the same after a clean close",
            ratio("ms_recovery_after_crash", "ms_recovery_clean"),
            "tests/test_index_reliability.py (B1, slow)",
        ),
    ]
    lines = [f"Command: `{command}`", "", "| Figure | Result | From |", "|---|---|---|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--exhaustive", action="store_true", help="the nightly sizes")
    parser.add_argument("--python", default=sys.executable, help="interpreter with the test deps")
    parser.add_argument(
        "tests", nargs="*", help="test files or ids to run instead of all (rows of others read 0)"
    )
    args = parser.parse_args()
    figures, peaks, rc, command = run(args.exhaustive, args.python, args.tests or FILES)
    print()
    print(table(figures, peaks, command))
    return 0 if rc == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

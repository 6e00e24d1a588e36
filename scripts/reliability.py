"""Run the reliability scenarios and print the figures table of the README.

    python scripts/reliability.py               # the CI sample, with the slow checks too
    python scripts/reliability.py --exhaustive  # nightly: 100,000 fuzz examples, 200 CLI
                                                # fuzz runs, 30 signals, 20 kills

It runs the scenario tests (tests/test_bad_input.py, test_faults.py, test_output_streams.py,
test_security.py, test_fuzz.py, test_exit_codes.py) with ``DEDUPE_RELIABILITY_REPORT`` set,
so each test adds what it tried to a JSON Lines file, then prints one Markdown row per figure
with the command that produced it. A failed test is a failed promise: its file's row says so,
and the script exits 1. Rows that need the persistent index say "pending: index".
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
]
EXHAUSTIVE = {
    "DEDUPE_SCALE_FUZZ": "100000",
    "DEDUPE_SCALE_CLI_FUZZ": "200",
    "DEDUPE_SCALE_SIGNALS": "15",
    "DEDUPE_SCALE_KILLS": "20",
}


def run(exhaustive: bool, python: str) -> tuple[Counter[str], dict[str, int], int, str]:
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
            *FILES,
        ]
        shown = " ".join(
            [
                *(f"{k}={v}" for k, v in sorted(EXHAUSTIVE.items()) if exhaustive),
                "python -m pytest",
                "-m 'slow or not slow'",
                *FILES,
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
            "pending: index",
            "B1, B2",
        ),
        (
            "SIGINT+SIGTERM trials / wrong exit code / partial stdout documents / stale locks",
            f"{figures['signal_trials']} / {figures['signal_wrong_exit_code']} / "
            f"{figures['signal_partial_stdout']} / pending: index",
            "tests/test_faults.py (B3, C2)",
        ),
        (
            "SIGKILL during --output / files neither old nor new / temp files left after rerun",
            f"{figures['sigkill_output_trials']} / 0 / 0"
            if not failed("test_faults")
            else "FAILED",
            "tests/test_faults.py (C2)",
        ),
        (
            "Disk-full and EIO injection points / corrupt indexes / old --output files damaged",
            f"{figures['disk_full_points'] + figures['eio_points']} / pending: index / "
            f"{failed('test_faults')}",
            "tests/test_faults.py (B5)",
        ),
        ("Damaged index files opened / tracebacks / silently recreated", "pending: index", "B7"),
        (
            "Overlapping-run rounds / concurrent writers / seconds to give up / stale locks",
            "pending: index",
            "B9",
        ),
        (
            "Changed-during-read and lying-mtime cases / missed changes",
            f"{figures['changed_while_reading_cases']} (lying mtimes: pending: index) / "
            f"{failed('test_faults')}",
            "tests/test_faults.py (B11; B12 with the index)",
        ),
        (
            "Clock and time-zone variants / output changed",
            f"{figures['clock_variants']} / {failed('test_faults')}",
            "tests/test_faults.py (B13)",
        ),
        (
            "`head` closures x commands / tracebacks / non-empty stderr",
            f"{figures['pipe_closures']} / {failed('test_output_streams')} / "
            f"{failed('test_output_streams')}",
            "tests/test_output_streams.py (C1)",
        ),
        (
            "Determinism variants / distinct output hashes",
            f"{figures['determinism_variants']} / {figures['determinism_distinct_hashes']}",
            "tests/test_output_streams.py (C3)",
        ),
        (
            "Hostile titles (Hypothesis) / files written outside DIR / foreign files overwritten",
            "pending: export",
            "D1",
        ),
        (
            "Injected control strings / control bytes reaching the terminal from data",
            f"{figures['hostile_strings']} / {figures['control_bytes_reaching_terminal']}",
            "tests/test_security.py (D4)",
        ),
        (
            "`pickle` uses in src/ (ruff S301, import check) / planted payloads executed",
            f"{failed('test_security')} / pending: index",
            "tests/test_security.py (D2)",
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
        ("Recovery: open + index check after a crash (100k articles)", "pending: index", "B1"),
    ]
    lines = [f"Command: `{command}`", "", "| Figure | Result | From |", "|---|---|---|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--exhaustive", action="store_true", help="the nightly sizes")
    parser.add_argument("--python", default=sys.executable, help="interpreter with the test deps")
    args = parser.parse_args()
    figures, peaks, rc, command = run(args.exhaustive, args.python)
    print()
    print(table(figures, peaks, command))
    return 0 if rc == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

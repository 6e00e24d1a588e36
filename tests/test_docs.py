"""The README's promises: quick start commands, CI's test command, commands and exit codes."""

from __future__ import annotations

import re

from conftest import ROOT

from dedupe_releases.cli import cli
from dedupe_releases.errors import ExitCode

README = (ROOT / "README.md").read_text(encoding="utf-8")
CI = (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def _quick_start() -> list[str]:
    section = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.+?)\n```", section)


def test_quick_start_is_exactly_two_commands() -> None:
    commands = _quick_start()
    assert len(commands) == 2
    assert commands[0].endswith("dedupe-releases scan samples/dump")
    assert "pytest" in commands[1]


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    assert _quick_start()[1] in CI.splitlines()


def test_every_command_is_in_the_readme() -> None:
    for name in cli.commands:  # type: ignore[attr-defined]
        assert f"dedupe-releases {name}" in README, name


def test_every_exit_code_is_in_the_readme() -> None:
    table = README.split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    for code in ExitCode:
        if code in (ExitCode.INDEX, ExitCode.LOCKED):
            continue  # documented with the index
        assert re.search(rf"\|\s*[\d /]*\b{int(code)}\b[\d /]*\|", table), code


def test_samples_are_the_shared_seeds_byte_for_byte() -> None:
    seeds = ROOT.parent / "shared" / "seeds"
    if not seeds.is_dir():  # a clone without the shared folder beside it
        return
    for seed in sorted(seeds.iterdir()):
        assert (ROOT / "samples" / "dump" / seed.name).read_bytes() == seed.read_bytes()

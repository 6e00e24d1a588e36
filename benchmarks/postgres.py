"""Benchmark: the PostgreSQL index against the SQLite file, in one run on one machine.

Generate an archive of N articles and the same stream grown by ``--add`` articles, then time
as separate processes, on the SQLite file and on the PostgreSQL database ``--url`` (an empty
database you own; its index tables are dropped between repeats):

* ``build``: ``scan --index --changes`` of the N-article archive into a new index,
* ``add``: ``scan --index --changes`` after the new and changed files arrived (the nightly run),

and report the medians of ``--repeat`` rounds and PostgreSQL's time as a multiple of
SQLite's. The two backends must print byte-identical events (checked). Client CPU only: the
server's own CPU is not counted (wall time is). Ratios measured in the same run mean more
than the absolute numbers, which depend on the machine and its load.

Usage::

    createdb -O "$USER" bench
    python benchmarks/postgres.py --url postgresql://$USER@localhost/bench --articles 2000 \\
        --add 200 --out /tmp/bench-pg
"""

from __future__ import annotations

import argparse
import filecmp
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import corpus  # the generator next to this script
from incremental import age, run  # timed subprocess runs, aged arrivals

#: The index's tables (``src/dedupe_releases/index/schema.py``), dropped between rounds.
TABLES = (
    "events, decisions, cluster_members, clusters, relations, boilerplate, lines, sentences,"
    " bands, articles, files, runs, meta, schema_version"
)


def drop_index(url: str) -> None:
    """Drop the index tables of ``url`` (refusing a database that holds anything else)."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as con:
        names = {
            n
            for (n,) in con.execute(
                "SELECT relname FROM pg_class WHERE relkind = 'r'"
                " AND relnamespace = to_regnamespace(current_schema())"
            )
        }
        ours = {t.strip() for t in TABLES.split(",")}
        if names - ours:
            raise SystemExit(
                f"{url}: holds other tables ({sorted(names - ours)[0]}); use an empty db"
            )
        if names:
            con.execute(f"DROP TABLE IF EXISTS {TABLES} CASCADE")


def generate(folder: Path, articles: int, seed: int) -> Path:
    if not (folder / "dump").exists():
        command = [sys.executable, corpus.__file__, "--articles", str(articles)]
        subprocess.run(
            [*command, "--seed", str(seed), "--out", str(folder)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    return folder / "dump"


def one_round(out: Path, url: str, base: Path, big: Path) -> dict[str, Any]:
    live = out / "live"
    shutil.rmtree(live, ignore_errors=True)
    shutil.copytree(base, live)
    age(list(live.iterdir()), 7200)
    db = out / "index.db"
    for p in out.glob("index.db*"):
        p.unlink()
    drop_index(url)
    time.sleep(3)  # past the racy window: both indexes trust these files
    result: dict[str, Any] = {}
    for step in ("build", "add"):
        if step == "add":
            arrived = []
            for p in sorted(big.iterdir()):
                target = live / p.name
                if not target.exists() or not filecmp.cmp(p, target, shallow=False):
                    shutil.copyfile(p, target)
                    arrived.append(target)
            age(arrived)
        printed = {}
        for name, index in (("sqlite", str(db)), ("postgresql", url)):
            events = out / f"{step}-{name}.jsonl"
            with events.open("wb") as fh:
                result[f"{step}_{name}"] = run(
                    ["scan", str(live), "--index", index, "--changes"], stdout=fh
                )
            printed[name] = events.read_bytes()
        if printed["sqlite"] != printed["postgresql"]:
            raise SystemExit(f"{step}: the two indexes printed different events")
        result[f"{step}_events"] = printed["sqlite"].count(b"\n")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="an empty PostgreSQL database you own")
    parser.add_argument("--articles", type=int, default=2000)
    parser.add_argument("--add", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    base = generate(args.out / f"base{args.articles}", args.articles, args.seed)
    big = generate(args.out / f"big{args.articles}", args.articles + args.add, args.seed)
    rounds = []
    for _ in range(args.repeat):
        rounds.append(one_round(args.out, args.url, base, big))
        print(json.dumps(rounds[-1]), flush=True)

    def median(key: str, field: str) -> float:
        return round(statistics.median(r[key][field] for r in rounds), 2)

    print()
    print(
        f"{args.articles:,} articles, then {args.add:,} added; medians of {args.repeat} rounds"
        f" ({rounds[0]['build_events']:,} and {rounds[0]['add_events']:,} events, identical)"
    )
    print()
    print(
        "| step | SQLite wall s | PostgreSQL wall s | PostgreSQL / SQLite | SQLite CPU s"
        " | PostgreSQL client CPU s |"
    )
    print("|---|---|---|---|---|---|")
    for step, label in (("build", "first build"), ("add", f"nightly add of {args.add:,}")):
        sq, pg = median(f"{step}_sqlite", "wall_s"), median(f"{step}_postgresql", "wall_s")
        print(
            f"| {label} | {sq} | {pg} | {pg / sq:.2f}x | {median(f'{step}_sqlite', 'cpu_s')} |"
            f" {median(f'{step}_postgresql', 'cpu_s')} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

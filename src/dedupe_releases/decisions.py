"""Human decisions that every run honours: pairs reviewed as ``same`` or ``different``, and
pinned canonical copies.

Takes a small reviewed file (TOML or JSON, see ``load_decisions``); gives a ``Decisions``
value that wraps the verifier's verdicts before clustering. Never reads articles itself.

    # decisions.toml
    same = [["2024/05-01.txt#3", "2024/05-02.txt#7"]]       # copies, whatever the scores say
    different = [["2024/05-01.txt#4", "2024/06-11.txt#1"]]  # never copies of each other
    canonical = ["2024/05-01.txt#3"]                        # wins whenever it is in a cluster
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dedupe_releases.errors import UsageError
from dedupe_releases.records import Match, Scores

#: Evidence attached to a pair a reviewer decided.
SAME_EVIDENCE = "same: decided by a reviewer"


def _pair(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a <= b else (b, a)


@dataclass(frozen=True, slots=True)
class Decisions:
    same: frozenset[tuple[str, str]] = frozenset()
    different: frozenset[tuple[str, str]] = frozenset()
    pinned: frozenset[str] = frozenset()
    source: str = field(default="", compare=False)

    def __bool__(self) -> bool:
        return bool(self.same or self.different or self.pinned)

    def verdict(self, a: str, b: str) -> str | None:
        """``"same"``, ``"different"`` or None for an undecided pair.

        >>> Decisions(same=frozenset({("a#1", "b#1")})).verdict("b#1", "a#1")
        'same'
        """
        key = _pair(a, b)
        if key in self.same:
            return "same"
        if key in self.different:
            return "different"
        return None

    def rows(self) -> set[tuple[str, str, str]]:
        """``(kind, a, b)`` rows as the index stores them."""
        out = {("same", a, b) for a, b in self.same}
        out |= {("different", a, b) for a, b in self.different}
        out |= {("canonical", a, "") for a in self.pinned}
        return out

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[str, str, str]]) -> Decisions:
        same, different, pinned = set(), set(), set()
        for kind, a, b in rows:
            if kind == "same":
                same.add(_pair(a, b))
            elif kind == "different":
                different.add(_pair(a, b))
            elif kind == "canonical":
                pinned.add(a)
        return cls(frozenset(same), frozenset(different), frozenset(pinned))

    def articles(self) -> set[str]:
        """Every article id a decision names."""
        return {x for p in self.same | self.different for x in p} | set(self.pinned)

    def wrap(
        self,
        match: Callable[[str, str], Match | None],
        scores: Callable[[str, str], Scores],
    ) -> Callable[[str, str], Match | None]:
        """A ``match`` function that answers decided pairs as the reviewer said."""
        if not self:
            return match

        def decided(a: str, b: str) -> Match | None:
            verdict = self.verdict(a, b)
            if verdict == "different":
                return None
            found = match(a, b)
            if verdict == "same" and (found is None or found.relation not in ("exact", "near")):
                x, y = _pair(a, b)
                return Match(x, y, "near", scores(x, y), (SAME_EVIDENCE,))
            return found

        return decided

    def edges(
        self,
        matches: Iterable[Match],
        match: Callable[[str, str], Match | None],
        present: Callable[[str], bool],
    ) -> Iterator[Match]:
        """Cluster edges: verified copies a reviewer did not call different, then the pairs
        a reviewer called the same (``match`` should be the wrapped function)."""
        for m in matches:
            if m.relation in ("exact", "near") and self.verdict(m.a, m.b) != "different":
                yield m
        for a, b in sorted(self.same):
            if present(a) and present(b):
                decided = match(a, b)
                if decided is not None:
                    yield decided


def load_decisions(path: Path) -> Decisions:
    """Read a decisions file: TOML, or JSON when the name ends in ``.json``.

    Keys: ``same`` and ``different`` (lists of two-article-id lists), ``canonical`` (a list
    of article ids). Anything else is an error naming the file and the entry.
    """
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"decisions file {path}: cannot read ({exc.strerror or exc})") from None
    try:
        data: Any = (
            json.loads(raw) if path.suffix.lower() == ".json" else tomllib.loads(raw.decode())
        )
    except (ValueError, UnicodeDecodeError) as exc:
        raise UsageError(f"decisions file {path}: not valid {_fmt(path)} ({exc})") from None
    if not isinstance(data, dict):
        raise UsageError(f"decisions file {path}: expected a table of same/different/canonical")
    unknown = sorted(set(data) - {"same", "different", "canonical"})
    if unknown:
        raise UsageError(f"decisions file {path}: unknown key {unknown[0]!r}")
    same = _pairs(path, data.get("same", []), "same")
    different = _pairs(path, data.get("different", []), "different")
    both = sorted(same & different)
    if both:
        raise UsageError(
            f"decisions file {path}: {both[0][0]} and {both[0][1]} are both same and different"
        )
    pinned = data.get("canonical", [])
    if not isinstance(pinned, list) or not all(isinstance(x, str) and x for x in pinned):
        raise UsageError(f"decisions file {path}: canonical must be a list of article ids")
    return Decisions(frozenset(same), frozenset(different), frozenset(pinned), str(path))


def _fmt(path: Path) -> str:
    return "JSON" if path.suffix.lower() == ".json" else "TOML"


def _pairs(path: Path, value: Any, key: str) -> set[tuple[str, str]]:
    if not isinstance(value, list):
        raise UsageError(f"decisions file {path}: {key} must be a list of [id, id] pairs")
    out = set()
    for n, item in enumerate(value, 1):
        ok = (
            isinstance(item, list)
            and len(item) == 2
            and all(isinstance(x, str) and x for x in item)
            and item[0] != item[1]
        )
        if not ok:
            raise UsageError(
                f"decisions file {path}: {key} entry {n} is not a pair of two article ids"
            )
        out.add(_pair(item[0], item[1]))
    return out
